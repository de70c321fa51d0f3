"""``python manage.py export_decisions --agency CODE --from DATE --to DATE --out FILE.zip``.

An agency's decisions of a period (cases decided, not accepted or revoked on a local
date in [from, to]): their letters, a manifest and the case events, as
``documents.exports`` lays out.
"""

import datetime
import hashlib
import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.models import Agency
from documents.exports import export_write


def _date(value: str) -> datetime.date:
    try:
        return datetime.date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{value!r} is not a date: write it as YYYY-MM-DD.") from None


class Command(BaseCommand):
    help = "Export an agency's decisions of a period (letters, manifest, case events) as a ZIP."

    def add_arguments(self, parser):
        parser.add_argument("--agency", required=True, help="Agency code, e.g. SZAMR.")
        parser.add_argument(
            "--from", dest="date_from", required=True, help="First day, YYYY-MM-DD."
        )
        parser.add_argument("--to", dest="date_to", required=True, help="Last day, YYYY-MM-DD.")
        parser.add_argument("--out", required=True, help="The ZIP file to write.")

    def handle(self, *args, agency, date_from, date_to, out, **options):
        date_from, date_to = _date(date_from), _date(date_to)
        if date_to < date_from:
            raise CommandError("--to is before --from.")
        found = Agency.objects.filter(code=agency).first()
        if found is None:
            raise CommandError(f"No agency with code {agency!r}.")
        path = Path(out)
        partial = path.with_name(path.name + ".partial")
        try:
            with partial.open("wb") as handle:
                summary = export_write(handle, agency=found, date_from=date_from, date_to=date_to)
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            for chunk in iter(lambda: handle.read(1024 * 1024), b""):
                digest.update(chunk)
        if summary.unreadable:
            self.stderr.write(
                self.style.WARNING(
                    "Storage could not read these letters (listed in the manifest, missing "
                    "from the ZIP): " + ", ".join(summary.unreadable)
                )
            )
        self.stdout.write(
            self.style.SUCCESS(
                f"Wrote {path}: {summary.cases} cases, {summary.letters} letters, "
                f"{summary.events} events; SHA-256 {digest.hexdigest()}"
            )
        )
