"""``python manage.py verify_export FILE.zip [--public-key PEM]``: check an export offline.

Every letter against the manifest's SHA-256 and the ``letter_issued`` event that
recorded it, every manifest entry has its file, every case's event chain is
unbroken and ends at the head the agency's key signed, every event the signed
checkpoint vouched for is there unchanged, and no case the checkpoint says was
decided or revoked in the period is left out. Uses no database (any ``--settings``
will do); exits 1 naming every problem.

``--public-key`` is the agency's public key as the auditor received it (``manage.py
audit_key`` prints it). Without it the key inside the export is used, which shows a
change made after the export but cannot show an export forged whole.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.signing import public_key_load
from documents.exports import export_verify


class Command(BaseCommand):
    help = "Verify an export ZIP offline: letters, manifest, event chains and their signatures."
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("file", help="The export ZIP.")
        parser.add_argument(
            "--public-key", metavar="PEM", help="The agency's public key (a PEM file)."
        )

    def handle(self, *args, file, public_key, **options):
        key = None
        if public_key:
            try:
                key = public_key_load(Path(public_key).read_bytes())
            except (OSError, ValueError) as exc:
                raise CommandError(f"--public-key {public_key}: {exc}") from None
        report = export_verify(file, public_key=key)
        for problem in report.problems:
            self.stderr.write(problem)
        for note in report.notes:
            self.stdout.write(self.style.WARNING(f"Note: {note}."))
        summary = f"{report.letters} letters, {report.cases} cases, {report.events} events checked"
        if not report.ok:
            raise CommandError(f"{len(report.problems)} problem(s) found ({summary}).")
        self.stdout.write(self.style.SUCCESS(f"Export verified: {summary}."))
