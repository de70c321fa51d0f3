"""``python manage.py audit_checkpoint``: sign a checkpoint of each agency's case heads now.

    python manage.py audit_checkpoint               # agencies whose cases changed
    python manage.py audit_checkpoint --force       # every agency, changed or not
    python manage.py audit_checkpoint --adopt       # first sign the heads of older cases

Celery beat does the same every ``REDRESS_AUDIT_CHECKPOINT_MINUTES``. Each checkpoint
is kept in the database and copied to the write-once checkpoint store. ``--adopt`` is
for the cases recorded before chains were anchored: run it once after upgrading.
"""

import json

from django.core.management.base import BaseCommand, CommandError

from cases.anchoring import checkpoints_take, heads_adopt
from cases.models import Agency


class Command(BaseCommand):
    help = "Sign a checkpoint of every agency's case heads; copy it to the write-once store."

    def add_arguments(self, parser):
        parser.add_argument("--agency", help="Only this agency (its code, e.g. SZAMR).")
        parser.add_argument(
            "--force", action="store_true", help="Take one even if nothing changed."
        )
        parser.add_argument(
            "--adopt",
            action="store_true",
            help="First sign the head of every case that has none (from before anchoring).",
        )

    def handle(self, *args, agency, force, adopt, **options):
        agencies = Agency.objects.order_by("code")
        if agency:
            agencies = agencies.filter(code=agency)
            if not agencies.exists():
                raise CommandError(f"No agency with code {agency!r}.")
        if adopt:
            adopted, refused = heads_adopt(agency=agencies.first() if agency else None)
            self.stdout.write(f"Adopted {len(adopted)} cases from before anchoring.")
            for problem in refused:
                self.stderr.write(self.style.ERROR(problem))
        run = checkpoints_take(force=force, agencies=list(agencies))
        for checkpoint in run.taken:
            body = json.loads(checkpoint.body)
            self.stdout.write(
                f"{checkpoint.agency.code}: checkpoint #{checkpoint.seq}, "
                f"{body['case_count']} cases."
            )
            for reference, problem in body["problems"]:
                self.stderr.write(self.style.ERROR(f"{reference}: {problem}"))
            for problem in body["reference_problems"]:
                self.stderr.write(self.style.ERROR(problem))
        if run.unchanged:
            self.stdout.write("Unchanged since their last checkpoint: " + ", ".join(run.unchanged))
        if run.unpublished:
            raise CommandError(
                "Not written to the write-once checkpoint store (see the log): "
                + ", ".join(run.unpublished)
            )
