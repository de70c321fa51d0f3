"""``manage.py platform_receiver``: the reference platforms the demo talks to.

    python manage.py platform_receiver                       # port 8765, every platform
    python manage.py platform_receiver --fault thirdparty=stale --delay 2 --report-every 300

Plays every active platform whose webhook URL points at it (the demo gives Credit China,
its Shenzhen site, NECIPS and a third-party credit agency such URLs): verifies our signed
webhooks, acknowledges each after ``--delay`` seconds through the signed acknowledgement
API, and reports its holdings for reconciliation at start and every ``--report-every``
seconds. Its copy starts as what Redress sent it so far (the demo's history);
``--fault CODE=stale`` makes a platform still show what it was asked to withdraw before
it started. A demo stand-in: a real platform keeps its secret to itself, while this one
reads the shared secrets from the database. See ``backoffice.platform_receiver``.
"""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError

from backoffice.platform_receiver import FAULTS, Played, ReferencePlatforms, holding_key
from cases.models import Platform, Publication, Record

# What a platform shows of a record, by our publication's status (it shows a record
# until it has done what it was asked).
SHOWS = {
    Publication.Status.WITHDRAWN: "withdrawn",
    Publication.Status.SHIELDED: "shielded",
}


def copy_of(platform: Platform, *, stale: bool) -> dict[str, dict]:
    """What the platform holds at start: what we sent it. A stale copy still shows (and,
    where the platform shares, still shares) the records a decision repaired (a record whose publication ended at its maximum before
    the demo's day is gone from it as from every other platform)."""
    holdings = {}
    publications = platform.publications.select_related(
        "record__subject", "record__list_type"
    ).order_by("pk")
    for publication in publications.iterator(chunk_size=500):
        record = publication.record
        repaired = record.status == Record.Status.REMOVED
        state = "shown" if stale and repaired else SHOWS.get(publication.status, "shown")
        holdings[holding_key(record.decision_no, record.subject.code)] = {
            "decision_no": record.decision_no,
            "subject_code": record.subject.code,
            "state": state,
            "publication": publication.pk,
            "list_type": record.list_type.code,
        }
        if stale and repaired and platform.shares:
            # A stale copy keeps sharing it too (停止共享和使用 acknowledged, not done).
            holdings[holding_key(record.decision_no, record.subject.code)]["sharing"] = "shared"
    return holdings


class Command(BaseCommand):
    help = (
        "Run the reference platforms of the demo: receive our signed webhooks, acknowledge "
        "each after a short delay, report holdings for reconciliation. Ctrl-C stops it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument(
            "--site-url",
            default=settings.REDRESS_SITE_URL,
            help="Where Redress answers (acknowledgements and holdings are sent there).",
        )
        parser.add_argument(
            "--delay", type=float, default=2.0, help="Seconds before acknowledging."
        )
        parser.add_argument(
            "--report-every",
            type=float,
            default=300.0,
            help="Seconds between holdings reports (0: report once, at start).",
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="CODE=FAULT",
            help=f"Make a platform misbehave: {', '.join(FAULTS)}.",
        )
        parser.add_argument(
            "--platform",
            action="append",
            default=[],
            metavar="CODE",
            help="Play this platform (default: every one whose webhook URL points here).",
        )

    def handle(self, *args, host, port, site_url, delay, report_every, fault, platform, **opts):
        faults = {}
        for item in fault:
            code, _sep, kind = item.partition("=")
            if kind not in FAULTS:
                raise CommandError(f"--fault {item}: the fault must be one of {', '.join(FAULTS)}.")
            faults[code] = kind
        base = f"http://{host}:{port}/"
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        played = self.platforms_played(base, platform, faults)
        if not played and platform:
            raise CommandError(f"No active platform with a secret among {', '.join(platform)}.")
        while not played and not stop.is_set():
            # Started beside a database not yet migrated or loaded (scripts/serve on a new
            # one): wait for the demo's platforms instead of ending every process with us.
            self.stdout.write(
                f"No active platform has a webhook URL under {base} yet (load the demo); "
                "looking again in 5 s."
            )
            stop.wait(5)
            played = self.platforms_played(base, platform, faults)
        if not played:
            return
        receiver = ReferencePlatforms(site_url, played, ack_delay=delay).start(host, port)
        self.stdout.write(
            f"Reference platforms at {receiver.base_url}: {', '.join(sorted(played))}; "
            f"acknowledging after {delay:g} s, reporting holdings to {site_url}."
        )
        stop.wait(5)  # let the web server come up
        while not stop.is_set():
            for code in sorted(played):
                status, answer = receiver.report_holdings(code)
                mismatches = len(answer.get("mismatches", [])) if status == 200 else "?"
                self.stdout.write(f"{code}: holdings reported ({status}), mismatches: {mismatches}")
            if not report_every:
                stop.wait()
            else:
                stop.wait(report_every)
        receiver.stop()

    def platforms_played(self, base: str, platform: list, faults: dict) -> dict:
        """The platforms this receiver plays: those named, or those whose webhook URL points
        here; none while the database has no such platform (or no tables yet)."""
        chosen = Platform.objects.filter(is_active=True).exclude(webhook_secret="")
        chosen = (
            chosen.filter(code__in=platform)
            if platform
            else chosen.filter(webhook_url__startswith=base)
        )
        try:
            return {
                p.code: Played(
                    code=p.code,
                    secret=p.webhook_secret,
                    fault=faults.get(p.code, ""),
                    holdings=copy_of(p, stale=faults.get(p.code) == "stale"),
                )
                for p in chosen
            }
        except DatabaseError:
            return {}
