"""Where a record is published and shared, and what a repair asks of each platform.

Every record knows its publications: an import names the platforms (``platforms``
column) or takes the agency's defaults for the list type (``PublicationDefault``); the
admin action gives records that have none their defaults. A repair asks each platform,
for each effect it is responsible for, and tracks each acknowledgement on its own
(《信用修复管理办法》第三条; docs/decisions/0024-effects-per-platform.md):

- a platform that publishes ends the publication (终止公示);
- a platform that shares stops sharing and use (停止共享和使用), third-party credit
  service agencies included (第二十四条: where they differ, Credit China prevails);
- a platform that applies measures lifts each of the record's measures it applies
  (解除失信惩戒措施).

A platform flagged for nothing is still asked to end the publication: a publication is
never withdrawn without an acknowledgement.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.utils import timezone
from django.utils.translation import gettext as _

from cases import clock
from cases.models import (
    Agency,
    DayKind,
    Deadline,
    Measure,
    Platform,
    Publication,
    PublicationDefault,
    PublicationEffect,
    Record,
)

PLATFORM_SEPARATOR = ";"

# What a platform of each kind usually does (publishes, shares, applies measures); the
# admin sets each platform's own flags (《信用修复管理办法》第三条、第二十四条).
KIND_DUTIES = {
    Platform.Kind.CREDIT_CHINA: (True, True, False),
    Platform.Kind.CREDIT_CHINA_LOCAL: (True, True, False),
    Platform.Kind.SHARING_PLATFORM: (False, True, False),
    Platform.Kind.NECIPS: (True, False, False),
    Platform.Kind.SECTOR: (True, True, True),
    Platform.Kind.THIRD_PARTY: (True, True, False),
}


def kind_duties(kind: str) -> dict[str, bool]:
    """The flags a platform of ``kind`` takes unless the admin says otherwise."""
    publishes, shares, applies_measures = KIND_DUTIES.get(kind, (True, False, False))
    return {"publishes": publishes, "shares": shares, "applies_measures": applies_measures}


def default_platforms(agency_id: int) -> dict[int, list[Platform]]:
    """The agency's default platforms per list type (list type id -> platforms)."""
    found: dict[int, list[Platform]] = {}
    for default in (
        PublicationDefault.objects.filter(agency_id=agency_id, platform__is_active=True)
        .select_related("platform")
        .order_by("platform__code")
    ):
        found.setdefault(default.list_type_id, []).append(default.platform)
    return found


def default_measures() -> dict[int, list[Measure]]:
    """The catalogue's default measures per list type (list type id -> measures)."""
    found: dict[int, list[Measure]] = {}
    for measure in Measure.objects.filter(is_active=True, is_default=True).order_by("code"):
        found.setdefault(measure.list_type_id, []).append(measure)
    return found


def publications_give(records: Iterable[Record]) -> tuple[int, int]:
    """Give each record that has no publication its agency's defaults for its list type,
    and each record without measures its list type's default measures.

    Returns (publications created, records still without any publication: their
    agency configured no default for their list type).
    """
    records = list(records)
    with_publications = set(
        Publication.objects.filter(record__in=records).values_list("record_id", flat=True)
    )
    with_measures = set(
        Record.measures.through.objects.filter(record__in=records).values_list(
            "record_id", flat=True
        )
    )
    defaults: dict[int, dict[int, list[Platform]]] = {}
    measures = default_measures()
    publications, links, left = [], [], 0
    for record in records:
        if record.pk not in with_measures:
            links.extend(
                Record.measures.through(record_id=record.pk, measure_id=m.pk)
                for m in measures.get(record.list_type_id, [])
            )
        if record.pk in with_publications:
            continue
        if record.agency_id not in defaults:
            defaults[record.agency_id] = default_platforms(record.agency_id)
        platforms = defaults[record.agency_id].get(record.list_type_id, [])
        if not platforms:
            left += 1
        publications.extend(
            Publication(record=record, platform=platform, published_on=record.listed_on)
            for platform in platforms
        )
    Publication.objects.bulk_create(publications, ignore_conflicts=True, batch_size=500)
    Record.measures.through.objects.bulk_create(links, ignore_conflicts=True, batch_size=500)
    return len(publications), left


# --- the effects of a repair -----------------------------------------------------------


def effects_due(
    platform: Platform, measures: Iterable[Measure]
) -> list[tuple[str, Measure | None]]:
    """What ``platform`` is responsible for when a record with ``measures`` is repaired."""
    due: list[tuple[str, Measure | None]] = []
    if platform.publishes:
        due.append((PublicationEffect.Kind.PUBLICATION_ENDED, None))
    if platform.shares:
        due.append((PublicationEffect.Kind.SHARING_STOPPED, None))
    if platform.applies_measures:
        for measure in measures:
            where = {p.pk for p in measure.platforms.all()}
            if measure.is_active and (not where or platform.pk in where):
                due.append((PublicationEffect.Kind.MEASURE_LIFTED, measure))
    return due or [(PublicationEffect.Kind.PUBLICATION_ENDED, None)]


def effects_request(
    publications: Iterable[Publication], *, deadline: Deadline | None = None
) -> list[PublicationEffect]:
    """Ask each platform for every effect it is responsible for, afresh: an effect asked
    before (a record withdrawn, published again, withdrawn again) is asked again.

    ``deadline`` is the case's deadline that asks (it names the case); each effect's own
    clock counts that deadline's days from today on the agency's calendar, so an effect
    asked later than the decision is not overdue before it was asked. No deadline (a
    publication ended at its maximum): no due date.
    """
    now = timezone.now()
    made = []
    clocks = _Clocks(deadline.working_days if deadline else None, deadline)
    for publication in publications:
        measures = list(publication.record.measures.prefetch_related("platforms"))
        due_on = clocks.due(publication.record.agency_id, timezone.localdate(now))
        for kind, measure in effects_due(publication.platform, measures):
            effect, _created = PublicationEffect.objects.update_or_create(
                publication=publication,
                kind=kind,
                measure=measure,
                defaults={
                    "requested_at": now,
                    "acknowledged_at": None,
                    "deadline": deadline,
                    "due_on": due_on,
                    "working_days": clocks.days or 0,
                    "escalated_at": None,
                },
            )
            made.append(effect)
    return made


# APL Art. 48 (《中华人民共和国行政处罚法》第四十八条): 3 working days, where no case's rule
# set gives its own removal figure.
ASK_AGAIN_DAYS = 3


def effects_ask_again(
    effects: Iterable[PublicationEffect], *, case=None
) -> list[PublicationEffect]:
    """Ask again for effects a platform acknowledged and did not carry out (a withdrawal
    sent again after a mismatch, decision 0025): each is open again, with a clock of its
    own from today (the case's removal figure, else 3 working days, APL Art. 48), and
    escalated again when it passes."""
    days = ASK_AGAIN_DAYS
    if case is not None and case.rule_set_id and case.rule_set.removal_days:
        days = case.rule_set.removal_days
    now = timezone.now()
    clocks = _Clocks(days, None)
    asked = []
    for effect in effects:
        effect.requested_at = now
        effect.acknowledged_at = None
        effect.escalated_at = None
        effect.working_days = days
        effect.due_on = clocks.due(effect.publication.record.agency_id, timezone.localdate(now))
        effect.save(
            update_fields=[
                "requested_at",
                "acknowledged_at",
                "escalated_at",
                "working_days",
                "due_on",
            ]
        )
        asked.append(effect)
    return asked


class _Clocks:
    """Due dates counted on each agency's working calendar (read once per agency)."""

    def __init__(self, days: int | None, deadline: Deadline | None):
        self.days = days
        self.day_kind = deadline.day_kind if deadline is not None else DayKind.WORKING
        self.calendars: dict = {}

    def due(self, agency_id: int, on: datetime.date) -> datetime.date | None:
        if self.days is None:
            return None
        if agency_id not in self.calendars:
            self.calendars[agency_id] = clock.calendar_for(Agency.objects.get(pk=agency_id))
        return self.calendars[agency_id].add_days(on, self.days, self.day_kind).due


def effects_recompute(agency_id: int | None = None) -> int:
    """Move the due date of each open effect after a calendar change (as
    ``clock.deadlines_recompute`` moves deadlines); the number moved."""
    open_effects = PublicationEffect.objects.filter(
        acknowledged_at__isnull=True, due_on__isnull=False
    ).select_related("publication__record", "deadline")
    if agency_id is not None:
        open_effects = open_effects.filter(publication__record__agency_id=agency_id)
    calendars: dict = {}
    moved = 0
    for effect in open_effects.iterator(chunk_size=500):
        agency = effect.publication.record.agency_id
        if agency not in calendars:
            calendars[agency] = clock.calendar_for(Agency.objects.get(pk=agency))
        kind = effect.deadline.day_kind if effect.deadline_id else DayKind.WORKING
        due = (
            calendars[agency]
            .add_days(timezone.localdate(effect.requested_at), effect.working_days, kind)
            .due
        )
        if due != effect.due_on:
            effect.due_on = due
            effect.save(update_fields=["due_on"])
            moved += 1
    return moved


def effect_payload(effect: PublicationEffect) -> dict:
    """An effect as the withdrawal webhook names it (the wire contract, decision 0024)."""
    return {
        "effect": effect.pk,
        "kind": effect.kind,
        "measure": effect.measure.code if effect.measure_id else None,
    }


def effect_words(effect: PublicationEffect) -> str:
    """What one effect is, in plain words in the active language."""
    if effect.kind == PublicationEffect.Kind.MEASURE_LIFTED and effect.measure_id:
        return measure_lifted_words(effect.measure)
    return str(effect.get_kind_display())


def measure_lifted_words(measure: Measure | None, code: str = "") -> str:
    """ "Measure lifted: <measure> (applied by <body>)", both named in the reader's language;
    a measure no longer in the catalogue by its code."""
    if measure is None:
        return _("Measure lifted: %(measure)s") % {"measure": code}
    return _("Measure lifted: %(measure)s (applied by %(body)s)") % {
        "measure": measure_name(measure),
        "body": measure.localized_applied_by(),
    }


def measure_name(measure: Measure) -> str:
    return measure.localized_name()


def platform_name(platform: Platform) -> str:
    return platform.localized_name()


def effect_state(effect: PublicationEffect, today: datetime.date | None = None) -> str:
    """Where one effect stands, in plain words."""
    if effect.acknowledged_at:
        return _("confirmed on %(date)s") % {
            "date": f"{timezone.localtime(effect.acknowledged_at):%Y-%m-%d}"
        }
    due_on = effect.due_on
    if due_on is None:
        return _("asked, waiting for the platform")
    today = today or timezone.localdate()
    if due_on < today:
        return _("asked, overdue since %(date)s") % {"date": f"{due_on:%Y-%m-%d}"}
    return _("asked, due by %(date)s") % {"date": f"{due_on:%Y-%m-%d}"}


def event_progress_words(kind: str, data: dict) -> str:
    """What a platform's acknowledgement on a case's timeline says, in plain words: which
    platform confirmed what (empty for any other event)."""
    if kind not in ("platform_effect_acknowledged", "platform_acknowledged", "deadline_overdue"):
        return ""
    if kind == "deadline_overdue" and not data.get("platform"):
        return ""
    platform = Platform.objects.filter(code=data.get("platform", "")).first()
    name = platform_name(platform) if platform else data.get("platform", "")
    if kind == "deadline_overdue":
        # One platform's effects past their own due date (decision 0024).
        return _("%(platform)s has not confirmed by %(date)s: %(what)s.") % {
            "platform": name,
            "date": data.get("due_on", ""),
            "what": "; ".join(_effect_kind_words(e) for e in data.get("effects") or []),
        }
    if kind == "platform_acknowledged":
        return _("%(platform)s confirmed everything it was asked for.") % {"platform": name}
    what = (
        str(PublicationEffect.Kind(data["kind"]).label)
        if data.get("kind") in (PublicationEffect.Kind.values)
        else ""
    )
    if data.get("measure"):
        measure = Measure.objects.filter(code=data["measure"]).first()
        what = measure_lifted_words(measure, data["measure"])
    return _("%(platform)s confirmed: %(what)s; %(pending)s more to confirm.") % {
        "platform": name,
        "what": what,
        "pending": data.get("pending", 0),
    }


def _effect_kind_words(effect: dict) -> str:
    """An effect named in an event's data (``effect_payload``), in plain words."""
    if effect.get("measure"):
        measure = Measure.objects.filter(code=effect["measure"]).first()
        return measure_lifted_words(measure, effect["measure"])
    kind = effect.get("kind")
    return str(PublicationEffect.Kind(kind).label) if kind in PublicationEffect.Kind.values else ""


# --- where a case's repair stands, as data -------------------------------------------------

REQUESTED, ACKNOWLEDGED, OVERDUE = "requested", "acknowledged", "overdue"


def effect_status(effect: PublicationEffect, today: datetime.date) -> str:
    """``acknowledged``, ``overdue`` (asked, its deadline passed) or ``requested``."""
    if effect.acknowledged_at:
        return ACKNOWLEDGED
    due_on = effect.due_on
    if due_on is not None and due_on < today:
        return OVERDUE
    return REQUESTED


def case_repair(case, today: datetime.date | None = None) -> list[dict]:
    """What the case's decision asked of each platform, per record, per effect, and where
    each stands: requested, acknowledged (when), or overdue (since its deadline). Only the
    effects this case asked for (their deadline is the case's removal deadline); empty
    before a decision and for a decision that withdraws nothing.

    One query, whatever the number of records, platforms and measures."""
    today = today or timezone.localdate()
    effects = (
        PublicationEffect.objects.filter(deadline__case_id=case.pk)
        .select_related("publication__platform", "publication__record", "measure", "deadline")
        .order_by("publication__record_id", "publication__platform__code", "kind", "measure_id")
    )
    found: list[dict] = []
    for effect in effects:
        publication = effect.publication
        if not found or found[-1]["publication"] != publication.pk:
            found.append(
                {
                    "record": publication.record_id,
                    "decision_no": publication.record.decision_no,
                    "publication": publication.pk,
                    "platform": publication.platform.code,
                    "platform_name": platform_name(publication.platform),
                    "effects": [],
                }
            )
        found[-1]["effects"].append(
            {
                "effect": effect.pk,
                "kind": effect.kind,
                "measure": effect.measure.code if effect.measure_id else None,
                "what": effect_words(effect),
                "state": effect_status(effect, today),
                "requested_at": effect.requested_at,
                "acknowledged_at": effect.acknowledged_at,
                "due_on": effect.due_on,
                "overdue_since": effect.due_on if effect_status(effect, today) == OVERDUE else None,
                "escalated_at": effect.escalated_at,
                "words": effect_state(effect, today),
            }
        )
    return found


def effects_overdue(agency_ids, today: datetime.date | None = None, *, limit: int = 200) -> list:
    """The effects a case asked of a platform that are past their own due date and not
    acknowledged, for the agencies' supervisors (decision 0024): oldest due first, each
    with its platform, record and case."""
    today = today or timezone.localdate()
    return list(
        PublicationEffect.objects.filter(
            acknowledged_at__isnull=True,
            due_on__lt=today,
            deadline__case__agency_id__in=list(agency_ids),
            publication__status__in=(
                Publication.Status.WITHDRAWAL_REQUESTED,
                Publication.Status.WITHDRAWN,
            ),
        )
        .select_related("publication__platform", "publication__record", "measure", "deadline__case")
        .order_by("due_on", "publication__platform__code", "pk")[:limit]
    )
