"""Check every case's audit trail: each event must link to the one before it and match its hash.

    python manage.py verify_events                 # every case
    python manage.py verify_events --case RD-2025-000001

Prints one line per broken case (the first broken link: reference, event number,
kind, what is wrong) and exits non-zero, or a one-line summary when every chain is
intact. Cases are read one at a time, so memory use does not grow with the log.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from cases.events import BrokenLink, case_event_payloads, chain_verify
from cases.models import Case


class Command(BaseCommand):
    help = "Verify the hash chain of every case's events; report the first broken link of each."

    def add_arguments(self, parser):
        parser.add_argument(
            "--case", metavar="REFERENCE", help="Check only this case, e.g. RD-2025-000001."
        )

    def handle(self, *args, **options):
        cases = Case.objects.only("pk", "reference").order_by("reference")
        if options["case"]:
            cases = cases.filter(reference=options["case"])
            if not cases.exists():
                raise CommandError(f"No case with reference {options['case']}.")

        checked = events = 0
        broken: list[BrokenLink] = []
        for case in cases.iterator():
            checked += 1
            counted = _Counted(case_event_payloads(case))
            link = chain_verify(counted)
            events += counted.count
            if link is None and counted.count == 0:
                # case_submit writes the first event with the case: a case without
                # any has lost its whole trail, which the chain alone cannot show.
                link = BrokenLink(case.reference, 1, "submitted", "the case has no events at all")
            if link is not None:
                broken.append(link)
                self.stdout.write(self.style.ERROR(str(link)))

        if broken:
            raise CommandError(f"{len(broken)} of {checked} case chains are broken.")
        self.stdout.write(
            self.style.SUCCESS(f"Checked {checked} cases, {events} events: all chains intact.")
        )


class _Counted:
    """Pass payloads through while counting them, without keeping them."""

    def __init__(self, payloads):
        self._payloads = payloads
        self.count = 0

    def __iter__(self):
        for payload in self._payloads:
            self.count += 1
            yield payload
