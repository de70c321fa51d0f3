"""``manage.py reconcile_platform CODE FILE.csv [--partial]``: compare a platform's holdings.

The file is what the platform says it holds, one row per record (UTF-8 CSV with a
header): ``decision_no``, ``subject_code``, ``state`` (``shown``, ``withdrawn`` or
``shielded``), and optionally ``publication`` (our id, from our webhook),
``list_type``, ``corrected_text`` and ``expires_on``. Every row is checked first: one bad
row refuses the file, each row's error named, and nothing is stored. A file is taken as
everything the platform holds (a record it leaves out is missing) unless ``--partial``.
The mismatches go to the supervisors' page and the API, like a report the platform
sends itself (``POST /api/v1/platforms/<code>/holdings/``); see
``notifications.reconciliation``.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.models import Platform
from notifications import reconciliation
from notifications.models import HoldingsReport


class Command(BaseCommand):
    help = (
        "Compare what a platform reports holding (a CSV: decision_no, subject_code, state, "
        "optionally publication, list_type, corrected_text, expires_on) with what it should "
        "hold; mismatches go to the supervisors' page. All or nothing: one bad row refuses "
        "the file. --partial: the file is not everything the platform holds."
    )

    def add_arguments(self, parser):
        parser.add_argument("code", help="The platform's code.")
        parser.add_argument("path", help="The CSV file of its holdings.")
        parser.add_argument(
            "--partial",
            action="store_true",
            help="The file lists only some records: leaving one out does not make it missing.",
        )

    def handle(self, *args, code, path, partial, **options):
        platform = Platform.objects.filter(code=code).first()
        if platform is None:
            raise CommandError(f"There is no platform with the code '{code}'.")
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        try:
            holdings = reconciliation.holdings_from_csv(data)
        except reconciliation.BadReport as exc:
            for error in exc.errors:
                self.stderr.write(f"row {error['row']}, {error['field']}: {error['message']}")
            raise CommandError(f"{path}: {exc.message}") from exc
        report, mismatches = reconciliation.holdings_reconcile(
            platform=platform,
            holdings=holdings,
            complete=not partial,
            source=HoldingsReport.Source.FILE,
        )
        for mismatch in mismatches:
            self.stdout.write(
                f"{mismatch.get_kind_display()}: {mismatch.decision_no} "
                f"({mismatch.subject_code or '—'})"
            )
        self.stdout.write(
            f"Report {report.pk} of {platform.code}: {report.rows} row(s), "
            f"{len(mismatches)} mismatch(es) open."
        )
