"""``manage.py load_calendar FILE [--source NOTICE] [--dry-run]``."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases.calendar import parse_schedule
from cases.errors import InvalidInput
from workflows import actions


class Command(BaseCommand):
    help = (
        "Load a year's national holiday schedule (the State Council's notice: days off and "
        "weekend days worked) from a CSV file (format: docs/calendar.md), declare the year "
        "known and recompute the open cases' deadlines."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="The schedule file (CSV, UTF-8).")
        parser.add_argument(
            "--source",
            default="",
            metavar="NOTICE",
            help="The notice the schedule comes from, if the file has no '# source:' line.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Check the file and say what it holds, without writing.",
        )

    def handle(self, *args, path, source, dry_run, **options):
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise CommandError(f"{path}: {exc.strerror}") from exc
        try:
            schedule = parse_schedule(data, source=source)
        except InvalidInput as exc:
            raise CommandError(f"{path}: {exc.message}") from exc
        summary = (
            f"{schedule.year} ({schedule.source}): {schedule.holidays} days off, "
            f"{schedule.working_days} weekend days worked"
        )
        if dry_run:
            self.stdout.write(f"Would load {summary}.")
            return
        counts = actions.calendar_load(schedule=schedule, actor=None)
        self.stdout.write(
            f"Loaded {summary}: {counts['created']} overrides created, {counts['updated']} "
            f"updated, {counts['kept']} other national overrides of {schedule.year} kept; "
            f"{counts['moved']} open deadlines recomputed."
        )
