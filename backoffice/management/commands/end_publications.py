"""``python manage.py end_publications``: end each publication whose maximum period is over.

    python manage.py end_publications                  # end what is due today
    python manage.py end_publications --dry-run        # list it, change nothing
    python manage.py end_publications --on 2026-07-02  # as if today were that day

Celery beat runs the same once a day (``cases.end_publications``). Publication ends by
itself at the maximum period (《信用修复管理办法》第十二条; SAMR Order 107 Arts. 7–10 and 13;
SAMR Order 44 Art. 21): a record still published whose ``expires_on`` has passed (and its
own penalty term, ``term_ends_on``, if any) becomes expired when its rule version says
``auto_end``; every platform still showing it is asked to withdraw it by signed webhook,
each acknowledgement is tracked, the record's trail gets a ``publication_expired`` event,
and the people who act for the subject are told. A record whose rule version says
otherwise, or that has no ``expires_on``, is not touched.

A record in an open case (an objection under way, a restoration not yet decided) ends
too, because the law ends it whatever is pending; the case goes on, and its officers and
applicant see the ending on the case's timeline. Running twice, or twice at once, ends
nothing twice. See ``cases.expiry``.
"""

import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from cases.expiry import BATCH_SIZE, publications_end


class Command(BaseCommand):
    help = (
        "End each publication whose maximum period is over (Order 36 Art. 12): the record "
        "becomes expired, every platform is asked to withdraw it, an event is written and the "
        "subject's representatives are told. A record in an open case ends too (the law ends "
        "it regardless); the case goes on and shows the ending on its timeline. Records whose "
        "rule version says auto_end false, or with no expiry date, are untouched. Safe to run "
        "twice. --dry-run lists what would end and changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run", action="store_true", help="List what would end; change nothing."
        )
        parser.add_argument(
            "--on",
            help="The day to run as (YYYY-MM-DD); default today. Records whose maximum "
            "period ended before it are due.",
        )
        parser.add_argument(
            "--batch-size", type=int, default=BATCH_SIZE, help="Records read at a time."
        )

    def handle(self, *args, dry_run, on, batch_size, **options):
        try:
            day = datetime.date.fromisoformat(on) if on else timezone.localdate()
        except ValueError as exc:
            raise CommandError(f"--on: {exc}") from exc
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        run = publications_end(on=day, dry_run=dry_run, batch_size=batch_size)
        verb = "Would end" if dry_run else "Ended"
        for ending in run.ended:
            cases = f"  open cases: {', '.join(ending.open_cases)}" if ending.open_cases else ""
            self.stdout.write(
                f"{verb}: {ending.decision_no}  {ending.subject_name} ({ending.subject_code})  "
                f"{ending.list_type}  expired {ending.expires_on:%Y-%m-%d}  "
                f"platforms: {', '.join(ending.platforms) or '-'}{cases}"
            )
        told = "would be told" if dry_run else "told"
        summary = (
            f"{verb} the publication of {len(run.ended)} records on {day:%Y-%m-%d}; "
            f"{run.platforms_told} platforms {told}; {run.kept} due by date but kept by "
            "their rule version (auto_end off)"
        )
        if run.skipped:
            summary += f"; {run.skipped} busy at this moment, left for the next run"
        self.stdout.write(summary + ".")
        if run.unruled:
            self.stderr.write(
                self.style.ERROR(
                    f"{len(run.unruled)} records are past their maximum period but no rule "
                    "version covers them; add one: " + ", ".join(run.unruled[:20])
                )
            )
