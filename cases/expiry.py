"""Publication that ends by itself at the maximum period.

《信用修复管理办法》第十二条第二款: 最长公示期届满后，相关信息自动停止公示. SAMR Order 107
Arts. 7–10 and 13 and SAMR Order 44 Art. 21 say the same of market-regulation records and
the serious list. Nobody decides it and nobody files for it: the daily task
(``cases.end_publications``) and ``manage.py end_publications`` end each due publication.

When a publication is due. ``Record.expires_on`` is the last day of the maximum period
(the corresponding day of the last month, counted from the day after listing: 民法典第二百
零一条、第二百零二条), so publication ends on the day after it: a record is due on ``on``
when ``expires_on < on``. A penalty with its own term (a suspension, a practising ban) is
not ended before that term (《信用修复管理办法》第十二条第三款, SAMR Order 107 Art. 8):
``term_ends_on`` must have passed as well. The record's rule version (the one in force on
its listing date, which gave it its ``expires_on``) must say ``auto_end``; a record whose
rule version says otherwise, or that has no ``expires_on``, is never touched here.

What ending does (``record_expire``), in one transaction: the record becomes ``expired``;
every platform still showing it is asked to withdraw it, as a decision's removal asks
(each publication goes to ``withdrawal_requested`` and its acknowledgement is tracked the
same way, ``workflows.actions.publication_acknowledge``); an event is appended to the
record's own trail (``RecordEvent``, kind ``publication_expired``), which makes the
subscribers send the signed withdrawals and tell the subject's representatives.

A record in an open case (an objection under way, a restoration not yet decided, a
removal in progress): publication still ends at the maximum, because the law ends it
whatever else is pending. The case goes on; its officers and its applicant see a
``publication_expired`` event on the case's own timeline. If the case is decided later,
an expired record stays expired (``cases.transitions._record_decided``).

Safe to run twice or at once: each record is ended in its own transaction under its row
lock, re-checked under that lock, and a row another run holds is skipped
(``skip_locked`` on PostgreSQL), so no record is ended twice. Records are read in batches
by primary key, so a million due records are never loaded at once.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Prefetch, Q, QuerySet

from cases.errors import RuleViolation
from cases.events import event_record, record_event_record
from cases.models import Case, Publication, Record, RuleSet
from cases.publications import effects_request
from cases.rules import rule_set_for_record

# A record in one of these is still published, or listed with its publication suspended or
# shielded during a reorganisation (《信用修复管理办法》第二十条): at the maximum period its
# publication ends for good all the same (第十二条), and the platforms withdraw it.
ENDABLE_STATUSES = (
    Record.Status.ACTIVE,
    Record.Status.DISPUTED,
    Record.Status.SUSPENDED,
    Record.Status.SHIELDED,
)
BATCH_SIZE = 500


@dataclass(frozen=True)
class Ending:
    """One publication that ends (or, in a dry run, would end)."""

    record_id: int
    decision_no: str
    subject_code: str
    subject_name: str
    list_type: str
    agency: str
    expires_on: datetime.date
    term_ends_on: datetime.date | None
    platforms: tuple[str, ...]
    open_cases: tuple[str, ...]
    rule_version: str
    article_zh: str
    article_en: str

    def as_data(self) -> dict:
        """What the events carry: enough for a reader and for the messages."""
        return {
            "record": self.decision_no,
            "list_type": self.list_type,
            "expires_on": f"{self.expires_on:%Y-%m-%d}",
            "term_ends_on": f"{self.term_ends_on:%Y-%m-%d}" if self.term_ends_on else None,
            "platforms": list(self.platforms),
            "open_cases": list(self.open_cases),
            "article_zh": self.article_zh,
            "article_en": self.article_en,
        }


@dataclass
class ExpiryRun:
    """What one run did (or, dry, would do)."""

    on: datetime.date
    dry_run: bool
    ended: list[Ending] = field(default_factory=list)
    # Due by date, but their rule version does not end publication by itself.
    kept: int = 0
    # Due by date, but no rule version is configured for them: an administrator must add one.
    unruled: list[str] = field(default_factory=list)
    # Held by another run or a case being decided at this moment: the next run ends them.
    skipped: int = 0

    @property
    def platforms_told(self) -> int:
        return sum(len(e.platforms) for e in self.ended)


def publications_due(*, on: datetime.date) -> QuerySet[Record]:
    """Records still published whose maximum period (and own penalty term) ended before
    ``on``; whether their rule version ends them by itself is checked per record."""
    return Record.objects.filter(status__in=ENDABLE_STATUSES, expires_on__lt=on).filter(
        Q(term_ends_on__isnull=True) | Q(term_ends_on__lt=on)
    )


def record_rule_set(record: Record) -> RuleSet:
    """The rule version a record's periods come from: the one in force on its listing
    date. Raises ``RuleViolation`` (``no_rule_set``) when none is configured."""
    return rule_set_for_record(record, on=record.listed_on)


def auto_end_article(rule_set: RuleSet) -> tuple[str, str]:
    """The article that ends the publication, in Chinese and English, as the rule version
    records it (for ``auto_end``, else for the maximum period it ends)."""
    field_name = "auto_end" if rule_set.cited("auto_end") else "max_publication_months"
    return (
        rule_set.citation_text(field_name, "zh-hans") or rule_set.legal_basis,
        rule_set.citation_text(field_name, "en") or rule_set.legal_basis,
    )


def _ending(record: Record, rule_set: RuleSet, platforms, open_cases) -> Ending:
    article_zh, article_en = auto_end_article(rule_set)
    return Ending(
        record_id=record.pk,
        decision_no=record.decision_no,
        subject_code=record.subject.code,
        subject_name=record.subject.name,
        list_type=record.list_type.code,
        agency=record.agency.code,
        expires_on=record.expires_on,
        term_ends_on=record.term_ends_on,
        platforms=tuple(platforms),
        open_cases=tuple(open_cases),
        rule_version=rule_set.label,
        article_zh=article_zh,
        article_en=article_en,
    )


def _open_cases(record_id: int) -> QuerySet[Case]:
    return Case.objects.filter(
        case_records__record_id=record_id, status__in=Case.OPEN_STATUSES
    ).order_by("pk")


class _Busy(Exception):
    """Another transaction holds a row this ending needs; the next run ends the record."""


def record_expire(
    *, record: Record, on: datetime.date, rule_set: RuleSet | None = None
) -> Ending | None:
    """End ``record``'s publication because its maximum period ended before ``on``.

    Returns what ended, or None when there is nothing to end: the record is no longer due
    (another run ended it, a decision removed it), its rule version does not end
    publication by itself, or another transaction holds it or one of its open cases
    (it stays due, and the next run ends it). See the module's docstring for what ending
    does. Raises ``RuleViolation`` when no rule version covers the record.
    """
    try:
        with transaction.atomic():
            return _record_expire(record.pk, on=on, rule_set=rule_set)
    except _Busy:
        return None


def _record_expire(record_id: int, *, on: datetime.date, rule_set: RuleSet | None) -> Ending | None:
    # The route locks a case, then its records: the same order here, so that an ending
    # and a decision on the same record cannot deadlock. A case being decided at this
    # moment is skipped, not waited for.
    wanted = list(_open_cases(record_id).values_list("pk", flat=True))
    cases = list(
        Case.objects.select_for_update(skip_locked=True, of=("self",))
        .filter(pk__in=wanted)
        .select_related("rule_set", "agency")
        .order_by("pk")
    )
    if len(cases) != len(wanted):
        raise _Busy
    record = (
        publications_due(on=on)
        .select_for_update(skip_locked=True, of=("self",))
        .select_related("list_type", "agency", "subject")
        .filter(pk=record_id)
        .first()
    )
    if record is None:
        return None
    rule_set = rule_set or record_rule_set(record)
    if not rule_set.auto_end:
        return None
    publications = list(
        record.publications.exclude(status=Publication.Status.WITHDRAWN)
        .select_related("platform")
        .order_by("platform__code")
    )
    ending = _ending(
        record,
        rule_set,
        [p.platform.code for p in publications],
        [c.reference for c in cases],
    )
    before = {"status": record.status}
    record.status = Record.Status.EXPIRED
    record.save(update_fields=["status", "updated_at"])
    # As a decision's removal asks (cases.transitions._record_decided): each platform
    # still showing the record withdraws it and acknowledges.
    Publication.objects.filter(pk__in=[p.pk for p in publications]).update(
        status=Publication.Status.WITHDRAWAL_REQUESTED, acknowledged_at=None
    )
    # Each effect each platform is responsible for (decision 0024); no case, no deadline.
    effects_request(
        Publication.objects.filter(pk__in=[p.pk for p in publications]).select_related(
            "platform", "record"
        )
    )
    data = {**ending.as_data(), "ended_on": f"{on:%Y-%m-%d}"}
    record_event_record(
        record,
        "publication_expired",
        role="system",
        before=before,
        after={"status": record.status},
        data=data,
        rule_version=rule_set.label,
    )
    for case in cases:
        event_record(
            case,
            "publication_expired",
            actor=None,
            role="system",
            automated=True,
            data=data,
        )
    return ending


def _batches(on: datetime.date, batch_size: int) -> Iterator[list[Record]]:
    """The due records, ``batch_size`` at a time, by primary key (a run that ends some
    meanwhile does not make this one skip any)."""
    last = 0
    while True:
        batch = list(
            publications_due(on=on)
            .filter(pk__gt=last)
            .select_related("list_type", "agency", "subject")
            .prefetch_related(
                Prefetch(
                    "publications",
                    queryset=Publication.objects.exclude(status=Publication.Status.WITHDRAWN)
                    .select_related("platform")
                    .order_by("platform__code"),
                    to_attr="showing",
                )
            )
            .order_by("pk")[:batch_size]
        )
        if not batch:
            return
        yield batch
        last = batch[-1].pk


def publications_end(
    *, on: datetime.date, dry_run: bool = False, batch_size: int = BATCH_SIZE
) -> ExpiryRun:
    """End every publication due on ``on`` (see the module's docstring); with
    ``dry_run``, only list what would end. A record no rule version covers is named in
    ``unruled`` and left as it is."""
    run = ExpiryRun(on=on, dry_run=dry_run)
    rule_sets: dict[tuple, RuleSet | None] = {}
    for batch in _batches(on, batch_size):
        for record in batch:
            key = (record.list_type_id, record.severity, record.agency_id, record.listed_on)
            if key not in rule_sets:
                try:
                    rule_sets[key] = record_rule_set(record)
                except RuleViolation:
                    rule_sets[key] = None
            rule_set = rule_sets[key]
            if rule_set is None:
                run.unruled.append(record.decision_no)
                continue
            if not rule_set.auto_end:
                run.kept += 1
                continue
            if dry_run:
                open_cases = _open_cases(record.pk).values_list("reference", flat=True)
                run.ended.append(
                    _ending(record, rule_set, [p.platform.code for p in record.showing], open_cases)
                )
                continue
            ending = record_expire(record=record, on=on, rule_set=rule_set)
            if ending is None:
                run.skipped += 1
            else:
                run.ended.append(ending)
    return run
