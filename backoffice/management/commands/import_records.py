"""``manage.py import_records PATH --agency CODE [--partial] [--dry-run]``."""

from django.core.management.base import BaseCommand, CommandError
from django.utils.translation import gettext

from cases.imports import ImportFileInvalid, import_records
from cases.models import Agency


class Command(BaseCommand):
    help = (
        "Import an agency's records from a CSV or XLSX file (format: docs/import-format.md). "
        "All or nothing unless --partial; importing the same file again changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The .csv or .xlsx file.")
        parser.add_argument(
            "--agency",
            required=True,
            metavar="CODE",
            help="Code of the agency that made the records.",
        )
        parser.add_argument(
            "--partial",
            action="store_true",
            help="Import the good rows even if other rows have errors (those are reported).",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check everything and report what would be imported, without writing.",
        )

    def handle(self, *args, path, agency, partial, dry_run, **options):
        designating_agency = Agency.objects.filter(code=agency).first()
        if designating_agency is None:
            raise CommandError(
                gettext("There is no agency with the code '%(code)s'.") % {"code": agency}
            )
        try:
            report = import_records(
                path, agency=designating_agency, partial=partial, dry_run=dry_run
            )
        except ImportFileInvalid as exc:
            raise CommandError(f"{path}: {exc.message}") from exc
        for error in report.errors:
            self.stderr.write(str(error))
        if report.rejected:
            raise CommandError(report.summary)
        self.stdout.write(report.summary)
