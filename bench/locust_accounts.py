"""The people, records and API tokens ``bench/locustfile.py`` needs, in a bench database.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/redress_bench \\
        .venv/bin/python bench/locust_accounts.py --records 300 > accounts.json

Adds, beside whatever the database holds (e.g. ``bench/seed.py``'s cases): one agency
(``--agency``, LOCUST by default; a new code for each run), eight companies with a confirmed
representative each and ``--records`` restorable records spread over them, four intake
officers and one auditor of that agency; prints ``accounts.json`` (tokens valid for the
token lifetime). Each record is filed against once by the load, so give more records than
the run will file.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=300)
    parser.add_argument("--officers", type=int, default=4)
    parser.add_argument("--agency", default="LOCUST", help="a new agency's code for each run")
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import transaction

    from cases.identifiers import make_uscc
    from cases.models import Agency, Role
    from tests import factories
    from tests.helpers import api_token

    with transaction.atomic():
        if Agency.objects.filter(code=args.agency).exists():
            sys.exit(f"This database already has the agency {args.agency}: name a new one.")
        agency = factories.AgencyFactory(code=args.agency, name=f"压力测试机关{args.agency}")
        tag = args.agency.lower()
        entities, companies = [], []
        for number in range(8):
            company = factories.SubjectFactory(
                name=f"压力测试{args.agency}示例{number}科技有限公司",
                code=make_uscc(org_body=f"LC{zlib.crc32(tag.encode()) % 10000:04d}{number:02d}"),
            )
            token = api_token(factories.representative(company, f"{tag}-rep-{number}"))
            entities.append({"token": token, "subject_code": company.code, "record_ids": []})
            companies.append(company)
        for i in range(args.records):
            record = factories.RecordFactory(subject=companies[i % 8], agency=agency)
            entities[i % 8]["record_ids"].append(record.pk)
        officers = [
            api_token(factories.officer(Role.INTAKE, agency, f"{tag}-intake-{n}"))
            for n in range(args.officers)
        ]
        auditors = [api_token(factories.officer(Role.AUDITOR, agency, f"{tag}-auditor"))]
    json.dump({"entities": entities, "officers": officers, "auditors": auditors}, sys.stdout)


if __name__ == "__main__":
    main()
