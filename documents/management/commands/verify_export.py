"""``python manage.py verify_export FILE.zip``: check an export offline.

Every letter against the manifest's SHA-256 and the ``letter_issued`` event that
recorded it, every manifest entry has its file, every case's event chain is
unbroken. Uses no database (any ``--settings`` will do); exits 1 naming every
problem.
"""

from django.core.management.base import BaseCommand, CommandError

from documents.exports import export_verify


class Command(BaseCommand):
    help = "Verify an export ZIP offline: letters, manifest and event chains."
    requires_system_checks = []
    requires_migrations_checks = False

    def add_arguments(self, parser):
        parser.add_argument("file", help="The export ZIP.")

    def handle(self, *args, file, **options):
        report = export_verify(file)
        for problem in report.problems:
            self.stderr.write(problem)
        summary = f"{report.letters} letters, {report.cases} cases, {report.events} events checked"
        if not report.ok:
            raise CommandError(f"{len(report.problems)} problem(s) found ({summary}).")
        self.stdout.write(self.style.SUCCESS(f"Export verified: {summary}."))
