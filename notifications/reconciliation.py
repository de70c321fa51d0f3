"""Reconciliation: what a platform says it holds against what it should hold.

A platform reports its holdings (``POST /api/v1/platforms/<code>/holdings/``, signed like
an acknowledgement, or a CSV loaded with ``manage.py reconcile_platform``): one row per
record, named by our publication id or by its decision document number and subject code,
with the state the platform shows it in (``shown``, ``withdrawn``, ``shielded``). Every
row is checked before anything is stored: one bad row refuses the whole report, each
row's error named (docs/decisions/0025).

A report is compared with the publications of the platform:

- still shown after repair: the platform acknowledged a withdrawal (or a shielding) and
  shows the record anyway (《信用修复管理办法》第三条: repair ends publication on every
  platform);
- shown but never sent: the platform shows a record we never sent it;
- missing: a record it should show, reported withdrawn, or left out of a report that
  says it is complete;
- different content: the list type, subject, correction or end date differ;
- still shared after repair: the platform acknowledged that it stopped sharing and use
  (停止共享和使用) and reports the record shared (``sharing: shared``);
- measure still applied after repair: it acknowledged lifting a measure (解除失信惩戒措施)
  and reports it applied (``measures``: the codes it still applies).

A platform that reports nothing of sharing or measures is not checked for them.

A request still waiting for the platform's acknowledgement is no mismatch: its deadline
and escalation watch it. Each mismatch stays open until a supervisor resolves it with a
note, or a later report shows the record as it should be.
"""

from __future__ import annotations

import csv
import datetime
import io
import logging
from dataclasses import dataclass

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from cases import access
from cases.errors import InvalidInput, NotPermitted, WrongState
from cases.ids import id_parse
from cases.models import Case, Platform, Publication, PublicationEffect, Record, Role
from cases.publications import effects_ask_again
from notifications.models import HoldingMismatch, HoldingsReport
from notifications.services import SHIELD_ACTION, idempotency_key, platform_notify

logger = logging.getLogger(__name__)

STATES = ("shown", "withdrawn", "shielded")
SHARING = ("shared", "stopped")
MEASURE_SEPARATOR = ";"
COLUMNS = (
    "decision_no",
    "subject_code",
    "state",
    "publication",
    "list_type",
    "corrected_text",
    "expires_on",
    "sharing",
    "measures",
)
MAX_ROWS = 10_000
TOO_MANY_CELLS = object()  # a CSV row longer than its header

# What a platform should show, by our publication's status; None: we wait for its answer.
EXPECTED = {
    Publication.Status.PUBLISHED: "shown",
    Publication.Status.DISPUTED: "shown",
    Publication.Status.WITHDRAWN: "withdrawn",
    Publication.Status.SHIELDED: "shielded",
    Publication.Status.WITHDRAWAL_REQUESTED: None,
    Publication.Status.SHIELD_REQUESTED: None,
    Publication.Status.PUBLICATION_REQUESTED: None,
}
# What "send again" asks, by what the platform should have done.
WITHDRAWAL = "record_withdrawal_requested"
RESEND_ACTIONS = {"withdrawn": WITHDRAWAL, "shielded": SHIELD_ACTION}
# The mismatches "send again" answers: the record, its sharing, or a measure left in place.
RESENDABLE = (
    HoldingMismatch.Kind.STILL_SHOWN,
    HoldingMismatch.Kind.STILL_SHARED,
    HoldingMismatch.Kind.MEASURE_STILL_APPLIED,
)


@dataclass(frozen=True)
class Holding:
    """One row of a report, checked."""

    row: int
    decision_no: str
    subject_code: str
    state: str
    publication: int | None = None
    list_type: str = ""
    corrected_text: str | None = None
    expires_on: str = ""
    sharing: str = ""
    measures: tuple[str, ...] | None = None

    def as_dict(self) -> dict:
        data = {
            "decision_no": self.decision_no,
            "subject_code": self.subject_code,
            "state": self.state,
        }
        if self.publication is not None:
            data["publication"] = self.publication
        for name in ("list_type", "expires_on", "sharing"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        if self.measures is not None:
            data["measures"] = list(self.measures)
        if self.corrected_text is not None:
            data["corrected_text"] = self.corrected_text
        return data


class BadReport(InvalidInput):
    """A report with rows that cannot be read: nothing of it was applied."""

    code = "invalid_rows"

    def __init__(self, errors: list[dict]):
        super().__init__(
            _("%(count)s row(s) of the report cannot be read; nothing was applied.")
            % {"count": len({e["row"] for e in errors})}
        )
        self.errors = errors

    def as_dict(self) -> dict:
        return {**super().as_dict(), "errors": self.errors}


# --- reading a report -------------------------------------------------------------------------


def _text(value, *, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > limit or not value.isprintable():
        return None
    return value


def holdings_parse(rows) -> list[Holding]:
    """Check every row; raise ``BadReport`` naming each bad row and field (1-based rows)."""
    if not isinstance(rows, list):
        raise BadReport(
            [{"row": 0, "field": "holdings", "message": _("'holdings' must be a list of rows.")}]
        )
    if len(rows) > MAX_ROWS:
        raise BadReport(
            [
                {
                    "row": 0,
                    "field": "holdings",
                    "message": _("At most %(max)s rows per report.") % {"max": MAX_ROWS},
                }
            ]
        )
    errors: list[dict] = []
    holdings: list[Holding] = []
    seen: dict[tuple[str, str], int] = {}
    for number, raw in enumerate(rows, start=1):

        def bad(field: str, message: str, number=number) -> None:
            errors.append({"row": number, "field": field, "message": message})

        if raw is TOO_MANY_CELLS:
            bad("row", _("This row has more cells than the header names."))
            continue
        if not isinstance(raw, dict):
            bad("row", _("A row must be an object with decision_no, subject_code and state."))
            continue
        decision_no = _text(raw.get("decision_no"), limit=100)
        if decision_no is None:
            bad("decision_no", _("Give the decision document number (1-100 characters)."))
        subject_code = _text(raw.get("subject_code"), limit=40)
        if subject_code is None:
            bad("subject_code", _("Give the subject's code (1-40 characters)."))
        state = raw.get("state")
        if state not in STATES:
            bad(
                "state",
                _("The state must be one of %(states)s.") % {"states": ", ".join(STATES)},
            )
        publication = raw.get("publication")
        if publication in (None, ""):
            publication = None
        else:
            publication = id_parse(publication)
            if publication is None:
                bad("publication", _("The publication must be a whole number."))
        expires_on = raw.get("expires_on") or ""
        if expires_on:
            try:
                expires_on = datetime.date.fromisoformat(str(expires_on)).isoformat()
            except ValueError:
                bad("expires_on", _("The end date must be a date like 2026-12-31."))
        list_type = raw.get("list_type") or ""
        if list_type and _text(list_type, limit=40) is None:
            bad("list_type", _("The list type must be a code of 1-40 characters."))
        corrected_text = raw.get("corrected_text")
        if corrected_text is not None and not isinstance(corrected_text, str):
            bad("corrected_text", _("The corrected text must be text."))
        sharing = raw.get("sharing") or ""
        if sharing and sharing not in SHARING:
            bad(
                "sharing",
                _("Sharing must be one of %(states)s.") % {"states": ", ".join(SHARING)},
            )
        measures = raw.get("measures")
        if isinstance(measures, str):
            measures = [m.strip() for m in measures.split(MEASURE_SEPARATOR) if m.strip()]
        if measures is not None and (
            not isinstance(measures, list)
            or not all(_text(m, limit=40) is not None for m in measures)
        ):
            bad(
                "measures",
                _("Measures must be a list of measure codes (in a file: separated by ';')."),
            )
        if decision_no and subject_code:
            first = seen.setdefault((decision_no, subject_code), number)
            if first != number:
                bad(
                    "decision_no",
                    _("The same record is already in row %(row)s.") % {"row": first},
                )
        if errors and errors[-1]["row"] == number:
            continue
        holdings.append(
            Holding(
                row=number,
                decision_no=decision_no,
                subject_code=subject_code,
                state=state,
                publication=publication,
                list_type=list_type,
                corrected_text=corrected_text,
                expires_on=expires_on,
                sharing=sharing,
                measures=tuple(m.strip() for m in measures) if measures is not None else None,
            )
        )
    if errors:
        raise BadReport(errors)
    return holdings


def holdings_from_csv(data: bytes) -> list[Holding]:
    """The rows of a CSV report (UTF-8, a header row naming the columns of ``COLUMNS``)."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadReport(
            [{"row": 0, "field": "file", "message": _("The file must be UTF-8 text.")}]
        ) from None
    reader = csv.DictReader(io.StringIO(text))
    header = reader.fieldnames or []
    missing = [c for c in COLUMNS[:3] if c not in header]
    unknown = [c for c in header if c not in COLUMNS]
    if missing or unknown:
        raise BadReport(
            [
                {
                    "row": 0,
                    "field": "header",
                    "message": _(
                        "The header must name decision_no, subject_code and state, and may "
                        "name %(optional)s; missing: %(missing)s; unknown: %(unknown)s."
                    )
                    % {
                        "optional": ", ".join(COLUMNS[3:]),
                        "missing": ", ".join(missing) or "—",
                        "unknown": ", ".join(unknown) or "—",
                    },
                }
            ]
        )
    rows = []
    for row in reader:
        if None in row:  # more cells than the header names
            rows.append(TOO_MANY_CELLS)
            continue
        rows.append({k: v for k, v in row.items() if v not in (None, "")})
    return holdings_parse(rows)


# --- comparing ---------------------------------------------------------------------------------


def _expected_of(publication: Publication) -> dict:
    record = publication.record
    return {
        "publication": publication.pk,
        "decision_no": record.decision_no,
        "subject_code": record.subject.code,
        "state": EXPECTED.get(publication.status),
        "status": publication.status,
        "list_type": record.list_type.code,
        "corrected_text": record.corrected_text,
        "expires_on": record.expires_on.isoformat() if record.expires_on else "",
    }


def _differences(holding: Holding, expected: dict) -> list[str]:
    fields = []
    if holding.subject_code != expected["subject_code"]:
        fields.append("subject_code")
    if holding.list_type and holding.list_type != expected["list_type"]:
        fields.append("list_type")
    if holding.corrected_text is not None and holding.corrected_text != expected["corrected_text"]:
        fields.append("corrected_text")
    if holding.expires_on and holding.expires_on != expected["expires_on"]:
        fields.append("expires_on")
    return fields


def _effects_left(
    platform: Platform, publication: Publication, holding: Holding
) -> list[tuple[str, dict]]:
    """What the platform acknowledged (or, before effects were tracked, was withdrawn
    from) and still does by its own report: sharing, or measures it applies."""
    done = [e for e in publication.effects.all() if e.acknowledged_at is not None]
    withdrawn_whole = publication.status == Publication.Status.WITHDRAWN and not any(
        True for e in publication.effects.all()
    )
    left = []
    stopped = [e for e in done if e.kind == PublicationEffect.Kind.SHARING_STOPPED]
    if holding.sharing == "shared" and (stopped or (withdrawn_whole and platform.shares)):
        left.append(
            (
                HoldingMismatch.Kind.STILL_SHARED,
                {"sharing": "stopped", "effects": [e.pk for e in stopped]},
            )
        )
    if holding.measures:
        lifted = {
            e.measure.code: e
            for e in done
            if e.kind == PublicationEffect.Kind.MEASURE_LIFTED and e.measure_id
        }
        if withdrawn_whole and platform.applies_measures:
            lifted.update({m.code: None for m in publication.record.measures.all()})
        applied = sorted(code for code in holding.measures if code in lifted)
        if applied:
            left.append(
                (
                    HoldingMismatch.Kind.MEASURE_STILL_APPLIED,
                    {
                        "measures_lifted": applied,
                        "effects": [lifted[c].pk for c in applied if lifted[c] is not None],
                    },
                )
            )
    return left


def holdings_reconcile(
    *, platform: Platform, holdings: list[Holding], complete: bool, source: str
) -> tuple[HoldingsReport, list[HoldingMismatch]]:
    """Store a checked report and compare it: the mismatches it shows (new or still open).

    One transaction: the report, its mismatches and the mismatches it resolves are
    stored together or not at all."""
    with transaction.atomic():
        report = HoldingsReport.objects.create(
            platform=platform, source=source, complete=complete, rows=len(holdings)
        )
        publications = list(
            Publication.objects.filter(platform=platform)
            .select_related("record__subject", "record__list_type")
            .prefetch_related("effects__measure", "record__measures")
        )
        by_pk = {p.pk: p for p in publications}
        by_name = {(p.record.decision_no, p.record.subject.code): p for p in publications}
        by_decision: dict[str, list[Publication]] = {}
        for p in publications:
            by_decision.setdefault(p.record.decision_no, []).append(p)

        found: list[tuple[str, Holding | None, Publication | None, Record | None, dict]] = []
        reported: set[tuple[str, str]] = set()
        seen: set[int] = set()
        for holding in holdings:
            reported.add((holding.decision_no, holding.subject_code))
            publication = by_pk.get(holding.publication) if holding.publication else None
            publication = publication or by_name.get((holding.decision_no, holding.subject_code))
            if publication is None:
                if holding.state != "shown":
                    continue  # not shown, and nothing to show: agreed
                namesakes = by_decision.get(holding.decision_no, [])
                if len(namesakes) == 1:
                    # Our record under this number, shown for another subject.
                    publication = namesakes[0]
                else:
                    record = (
                        Record.objects.filter(
                            decision_no=holding.decision_no, subject__code=holding.subject_code
                        )
                        .select_related("subject")
                        .first()
                    )
                    expected = {"state": None, "sent": False}
                    if record is not None:
                        expected.update(status=record.status, record=record.pk)
                    found.append((HoldingMismatch.Kind.NEVER_SENT, holding, None, record, expected))
                    continue
            seen.add(publication.pk)
            expected = _expected_of(publication)
            for kind, left in _effects_left(platform, publication, holding):
                found.append((kind, holding, publication, publication.record, {**expected, **left}))
            should = expected["state"]
            if should is None:
                continue  # asked and not yet answered: the removal deadline watches it
            if holding.state == "shown" and should != "shown":
                kind = HoldingMismatch.Kind.STILL_SHOWN
            elif holding.state != "shown" and should == "shown":
                kind = HoldingMismatch.Kind.MISSING
            elif holding.state == "shown" and _differences(holding, expected):
                kind = HoldingMismatch.Kind.DIFFERENT
                expected["differs"] = _differences(holding, expected)
            else:
                continue
            found.append((kind, holding, publication, publication.record, expected))
        if complete:
            for publication in publications:
                if publication.pk in seen or EXPECTED.get(publication.status) != "shown":
                    continue
                expected = _expected_of(publication)
                reported.add((expected["decision_no"], expected["subject_code"]))
                found.append(
                    (HoldingMismatch.Kind.MISSING, None, publication, publication.record, expected)
                )

        open_ = {
            (m.kind, m.decision_no, m.subject_code): m
            for m in HoldingMismatch.objects.select_for_update().filter(
                platform=platform, resolved_at__isnull=True
            )
        }
        current: list[HoldingMismatch] = []
        for kind, holding, publication, record, expected in found:
            decision_no = holding.decision_no if holding else expected["decision_no"]
            subject_code = holding.subject_code if holding else expected["subject_code"]
            row = holding.as_dict() if holding else {}
            mismatch = open_.pop((kind, decision_no, subject_code), None)
            if mismatch is None:
                mismatch = HoldingMismatch.objects.create(
                    platform=platform,
                    kind=kind,
                    decision_no=decision_no,
                    subject_code=subject_code,
                    record=record,
                    publication=publication,
                    reported=row,
                    expected=expected,
                    first_report=report,
                    last_report=report,
                )
            else:
                mismatch.reported, mismatch.expected, mismatch.last_report = row, expected, report
                mismatch.save(update_fields=["reported", "expected", "last_report"])
            current.append(mismatch)
        # What was open and this report shows as it should be is resolved by it.
        for (_kind, decision_no, subject_code), mismatch in open_.items():
            if complete or (decision_no, subject_code) in reported:
                mismatch.resolved_at = timezone.now()
                mismatch.resolution_note = _(
                    "The platform's report %(report)s shows the record as it should be."
                ) % {"report": report.pk}
                mismatch.save(update_fields=["resolved_at", "resolution_note"])
    if current:
        logger.warning(
            "Reconciliation of %s (report %s): %d mismatch(es)",
            platform.code,
            report.pk,
            len(current),
        )
    return report, current


# --- who sees them, and what a supervisor does ---------------------------------------------


def mismatches_for(user) -> QuerySet[HoldingMismatch]:
    """Open mismatches of the records of the agencies ``user`` supervises (an administrator:
    all, those about records we do not know included)."""
    mismatches = HoldingMismatch.objects.filter(resolved_at__isnull=True).select_related(
        "platform", "record__agency", "publication"
    )
    if not user.is_superuser:
        mismatches = mismatches.filter(
            record__agency_id__in=access.agencies_of(user, Role.SUPERVISOR)
        )
    return mismatches.order_by("platform__code", "found_at", "id")


def _may_act(user, mismatch: HoldingMismatch) -> None:
    if user.is_superuser:
        return
    if mismatch.record is None or not access.has_role(
        user, Role.SUPERVISOR, mismatch.record.agency_id
    ):
        raise NotPermitted(_("Only a supervisor of the record's agency can act on this."))


def mismatch_resend(*, mismatch: HoldingMismatch, by) -> HoldingMismatch:
    """Send the withdrawal (or the shielding) again, as a new signed webhook through the
    outbox: delivered, retried and dead-lettered like the first. The mismatch stays open
    until the platform's next report shows the record withdrawn, or a note resolves it."""
    _may_act(by, mismatch)
    with transaction.atomic():
        locked = (
            HoldingMismatch.objects.select_for_update(of=("self",))
            .select_related("publication__platform", "publication__record")
            .get(pk=mismatch.pk)
        )
        if locked.resolved_at is not None:
            raise WrongState(_("This mismatch is already resolved."))
        publication = locked.publication
        expected = locked.expected or {}
        effects = None
        if locked.kind == HoldingMismatch.Kind.STILL_SHOWN:
            action = RESEND_ACTIONS.get(expected.get("state"))
        else:
            # The effects it acknowledged and did not carry out, named again (decision 0024).
            action = WITHDRAWAL
            effects = list(
                PublicationEffect.objects.filter(
                    publication=publication, pk__in=expected.get("effects") or []
                ).select_related("measure")
            )
        if locked.kind not in RESENDABLE or publication is None or not action:
            raise WrongState(
                _(
                    "Only a record still shown, shared or acted on after repair can be sent "
                    "again; resolve this one."
                )
            )
        case = (
            Case.objects.filter(case_records__record_id=publication.record_id)
            .exclude(decided_at=None)
            .order_by("-decided_at")
            .first()
        )
        if action == WITHDRAWAL:
            if effects is None:
                effects = list(
                    publication.effects.filter(
                        kind=PublicationEffect.Kind.PUBLICATION_ENDED
                    ).select_related("measure")
                )
            # Asked again, each with a clock of its own (decision 0024).
            effects = effects_ask_again(effects, case=case)
        locked.resent_times += 1
        platform_notify(
            case=case,
            publication=publication,
            action=action,
            key=idempotency_key("reconciliation", locked.pk, locked.resent_times),
            reason="reconciliation",
            effects=effects,
        )
        locked.resent_at = timezone.now()
        locked.resent_by = by
        locked.save(update_fields=["resent_times", "resent_at", "resent_by"])
    return locked


def mismatch_resolve(*, mismatch: HoldingMismatch, by, note: str) -> HoldingMismatch:
    """Close a mismatch with the supervisor's note (what was done, or why it is none)."""
    _may_act(by, mismatch)
    note = (note or "").strip()
    if not note:
        raise InvalidInput(_("Say in a note how it was resolved."), field="note")
    with transaction.atomic():
        locked = HoldingMismatch.objects.select_for_update(of=("self",)).get(pk=mismatch.pk)
        if locked.resolved_at is not None:
            raise WrongState(_("This mismatch is already resolved."))
        locked.resolved_at = timezone.now()
        locked.resolved_by = by
        locked.resolution_note = note[:2000]
        locked.save(update_fields=["resolved_at", "resolved_by", "resolution_note"])
    return locked


def mismatch_as_dict(mismatch: HoldingMismatch) -> dict:
    return {
        "id": mismatch.pk,
        "platform": mismatch.platform.code,
        "kind": mismatch.kind,
        "decision_no": mismatch.decision_no,
        "subject_code": mismatch.subject_code,
        "record": mismatch.record_id,
        "publication": mismatch.publication_id,
        "reported": mismatch.reported,
        "expected": mismatch.expected,
        "found_at": mismatch.found_at.isoformat(),
        "resent_times": mismatch.resent_times,
        "resolved_at": mismatch.resolved_at.isoformat() if mismatch.resolved_at else None,
        # What a supervisor can do: send the withdrawal again (…/resend/), resolve with a
        # note (…/resolve/).
        "actions": mismatch_actions(mismatch),
    }


def mismatch_actions(mismatch: HoldingMismatch) -> list[str]:
    if mismatch.resolved_at is not None:
        return []
    if mismatch.kind in RESENDABLE and mismatch.publication_id is not None:
        return ["resend", "resolve"]
    return ["resolve"]
