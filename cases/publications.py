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
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from cases.models import (
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
    before (a record withdrawn, published again, withdrawn again) is asked again."""
    now = timezone.now()
    made = []
    for publication in publications:
        measures = list(publication.record.measures.prefetch_related("platforms"))
        for kind, measure in effects_due(publication.platform, measures):
            effect, _created = PublicationEffect.objects.update_or_create(
                publication=publication,
                kind=kind,
                measure=measure,
                defaults={"requested_at": now, "acknowledged_at": None, "deadline": deadline},
            )
            made.append(effect)
    return made


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
        return _("Measure lifted: %(measure)s") % {"measure": measure_name(effect.measure)}
    return str(effect.get_kind_display())


def measure_name(measure: Measure) -> str:
    return _local_name(measure.name, measure.name_en)


def platform_name(platform: Platform) -> str:
    return _local_name(platform.name, platform.name_en)


def _local_name(name: str, name_en: str) -> str:
    """The Chinese name in Chinese, the English one (where there is one) otherwise."""
    if (get_language() or "").lower().startswith("zh") or not name_en:
        return name
    return name_en


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
    if kind not in ("platform_effect_acknowledged", "platform_acknowledged"):
        return ""
    platform = Platform.objects.filter(code=data.get("platform", "")).first()
    name = platform_name(platform) if platform else data.get("platform", "")
    if kind == "platform_acknowledged":
        return _("%(platform)s confirmed everything it was asked for.") % {"platform": name}
    what = (
        str(PublicationEffect.Kind(data["kind"]).label)
        if data.get("kind") in (PublicationEffect.Kind.values)
        else ""
    )
    if data.get("measure"):
        measure = Measure.objects.filter(code=data["measure"]).first()
        what = _("Measure lifted: %(measure)s") % {
            "measure": measure_name(measure) if measure else data["measure"]
        }
    return _("%(platform)s confirmed: %(what)s; %(pending)s more to confirm.") % {
        "platform": name,
        "what": what,
        "pending": data.get("pending", 0),
    }


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
                "words": effect_state(effect, today),
            }
        )
    return found
