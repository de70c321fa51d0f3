"""The route as people walk it through ``workflows.actions``: file a case, upload its
evidence, find the step that is open for someone, claim it and do it, answer, acknowledge,
fire the clock's timers.

These are the one set of steps the stories share: each helper names who acts, so a test
still reads as the story of that person, and each goes the public way the portal, the
officers' pages and the API go (``workflows.actions``; viewflow's timer dispatcher for
the clock). Nothing here calls the case transitions underneath the route
(``tests/test_layers.py`` holds every test to that).
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS
from viewflow.workflow.timers import fire_due_timers

from cases.models import Case, Deadline, Evidence, Material
from tests import helpers
from workflows import actions
from workflows.flows import FLOWS

APPROVED = Case.Decision.APPROVED
PARTLY_APPROVED = Case.Decision.PARTLY_APPROVED
REJECTED = Case.Decision.REJECTED


# --- filing and materials ------------------------------------------------------------------


def submit(kind, subject, records, applicant, **kwargs) -> Case:
    """The applicant files a case of ``kind`` with no materials yet (an officer files it
    at the counter with ``filed_by=`` and ``channel=``)."""
    kwargs.setdefault("grounds", "The fine was paid and the conduct corrected.")
    return actions.case_submit(
        kind=kind, subject=subject, records=records, applicant=applicant, **kwargs
    )


def file_restoration(subject, records, applicant, *, with_materials=True, **kwargs) -> Case:
    """The applicant files a restoration; by default with a commitment letter per record and
    proof that the penalty was fulfilled (what the rule sets require)."""
    case = submit(Case.Kind.RESTORATION, subject, records, applicant, **kwargs)
    if with_materials:
        add_restoration_materials(case, applicant)
    return case


def file_objection(subject, records, applicant, **kwargs) -> Case:
    """The applicant files an objection with one item of evidence that the record is wrong."""
    kwargs.setdefault("grounds", "The decision names the wrong branch.")
    case = submit(Case.Kind.OBJECTION, subject, records, applicant, **kwargs)
    add_evidence(case, applicant, Material.CORRECTION_EVIDENCE)
    return case


# An electronic monitoring device and its legal and technical approval (APL Art. 41).
MONITORING_DEVICE = {
    "device": "SZ-EM-0042",
    "location": "深圳市南山区科技园南区排污口",
    "approval_ref": "深市监法技审〔2024〕12号",
    "approval_on": datetime.date(2024, 6, 3),
}


def add_evidence(case, user, material=Material.OTHER, record=None, **kwargs) -> Evidence:
    """``user`` uploads one PDF of ``material`` (``source=`` for an officer's own evidence;
    an item from electronic monitoring names ``MONITORING_DEVICE`` unless told otherwise)."""
    if kwargs.get("source") == Evidence.Source.ELECTRONIC_MONITORING:
        kwargs.setdefault("monitoring", MONITORING_DEVICE)
    return actions.evidence_add(
        case=case,
        uploaded_by=user,
        upload=helpers.pdf_upload(material),
        material=material,
        record=record,
        **kwargs,
    )


def add_restoration_materials(case, applicant) -> list[Evidence]:
    """A commitment letter per record and one proof that the penalty was fulfilled."""
    items = [
        add_evidence(case, applicant, Material.COMMITMENT_LETTER, record=cr.record)
        for cr in case.case_records.select_related("record")
    ]
    items.append(add_evidence(case, applicant, Material.FULFILMENT_PROOF))
    return items


def restoration_accepted(subject, records, applicant, staff) -> Case:
    """A restoration filed with its materials and accepted by the intake officer."""
    return accept(file_restoration(subject, records, applicant), staff["intake"])


def objection_accepted(subject, records, applicant, staff) -> Case:
    """An objection filed with its evidence and accepted by the intake officer."""
    return accept(file_objection(subject, records, applicant), staff["intake"])


def missing(*materials: str, reason: str = "") -> list[dict]:
    """The complete list of missing items, as an officer states it; a later request gives
    each item's ``reason`` (how the applicant's resubmission made it necessary)."""
    items = [{"material": m, "detail": f"Please supply: {m}."} for m in materials]
    return [{**item, "reason": reason} for item in items] if reason else items


def supply(case, applicant, *materials: str) -> None:
    """The applicant uploads one item of each material asked for."""
    for material in materials:
        add_evidence(case, applicant, material)


# --- tasks ------------------------------------------------------------------------------------


def node(case, name: str):
    return getattr(FLOWS[case.kind].instance, name)


def tasks_of(case, name: str, *statuses: str) -> list[Task]:
    query = Task.objects.filter(process_id=refresh(case).process_id, flow_task=node(case, name))
    if statuses:
        query = query.filter(status__in=statuses)
    return list(query.select_related("owner").order_by("id"))


def open_task(case, name: str) -> Task:
    """The one open task of step ``name``; fails loudly when there is none or several."""
    found = [t for t in actions.open_tasks(refresh(case)) if t.flow_task == node(case, name)]
    assert len(found) == 1, f"expected one open {name} task, found {open_steps(case)}"
    return found[0]


def open_steps(case) -> list[str]:
    """The open steps of the case, as a queue shows them: ``name`` or ``name@owner``."""
    return [
        f"{t.flow_task.name}@{t.owner.get_username()}" if t.owner_id else t.flow_task.name
        for t in actions.open_tasks(refresh(case))
    ]


def claim(case, name: str, user) -> Task:
    task = open_task(case, name)
    return actions.task_claim(task=task, user=user)


def complete(case, name: str, user, **data) -> Case:
    """``user`` completes the task of step ``name`` they hold, with ``data``."""
    return actions.task_complete(task=open_task(case, name), user=user, data=data)


def step(case, name: str, user, **data) -> Case:
    """``user`` claims the open task of step ``name`` and completes it with ``data``."""
    task = claim(case, name, user)
    return actions.task_complete(task=task, user=user, data=data)


def accept(case, intake, note="Materials complete.") -> Case:
    return step(case, "acceptance_check", intake, decision="accept", note=note)


def not_accept(case, intake, reasons: str) -> Case:
    return step(case, "acceptance_check", intake, decision="not_accept", reasons=reasons)


def request_materials_at_acceptance(case, intake, *materials) -> Case:
    return step(
        case,
        "acceptance_check",
        intake,
        decision="request_materials",
        missing=missing(*materials),
        note="Please supply everything listed at once.",
    )


def reviews_accepting_every_item(case) -> list[dict]:
    return [
        {"evidence": item.pk, "outcome": Evidence.Outcome.ACCEPTED}
        for item in case.evidence.filter(review_outcome=Evidence.Outcome.PENDING)
    ]


def review(
    case, officer, recommendation=APPROVED, record_outcomes=None, *, reviews=None, **data
) -> Case:
    """The case officer reviews the evidence (by default: accepts every unreviewed item) and
    recommends ``recommendation`` (``corrections=`` for an objection upheld by correcting)."""
    return step(
        case,
        "evidence_review",
        officer,
        reviews=reviews_accepting_every_item(case) if reviews is None else reviews,
        recommendation=recommendation,
        record_outcomes=record_outcomes,
        note="Reviewed item by item.",
        **data,
    )


def request_materials_in_review(case, officer, *materials, reviews=()) -> Case:
    """The case officer records ``reviews`` and asks the applicant for ``materials``."""
    return step(
        case,
        "evidence_review",
        officer,
        reviews=list(reviews),
        action="request_materials",
        missing=missing(*materials),
        note="Please supply everything listed at once.",
    )


def legal_review(case, reviewer, *, passed=True, note="The decision has a legal basis.") -> Case:
    return step(
        case, "legal_review", reviewer, decision="pass" if passed else "send_back", note=note
    )


def sign(case, signer, decision=APPROVED, **data) -> Case:
    if decision != APPROVED:
        data.setdefault("reasons", "The evidence does not show the conduct was corrected.")
    return step(case, "sign_off", signer, decision=decision, **data)


def worker_renders_letters(case) -> Case:
    """The letter worker renders the case's pending letters and stores them; as after a
    real commit, storing a decision letter moves the route on (``letter_served``)."""
    from django.test import TestCase

    from documents import services as letters

    with TestCase.captureOnCommitCallbacks(execute=True):
        for letter in refresh(case).letters.filter(status="pending").order_by("id"):
            letters.letter_render_now(letter)
    return refresh(case)


def acknowledge_everywhere(record) -> None:
    """Every platform holding ``record`` confirms it withdrew it."""
    for publication in record.publications.order_by("platform__code"):
        actions.publication_acknowledge(publication=publication, note="Withdrawn.")


def acknowledge_published_everywhere(*records) -> None:
    """Every platform asked to publish ``records`` (again) confirms it does."""
    for record in records:
        for publication in record.publications.order_by("platform__code"):
            actions.publication_acknowledge(
                publication=publication, note="Published.", status="published"
            )


# --- revoking an approved restoration (decision 0016) ----------------------------------------


def revocation_rules(case, *, publication_months=36, bar_months=36, signers=None) -> None:
    """Give the rule versions of ``case``'s records the revocation terms (Order 36 Art. 25
    and SAMR Order 107 Art. 23: 36 months each) and, if given, the number of signers."""
    from cases.models import RuleSet

    changes = {
        "revocation_publication_months": publication_months,
        "revocation_bar_months": bar_months,
    }
    if signers is not None:
        changes["signers_required"] = signers
    versions = {case.rule_set_id} if case.rule_set_id else set()
    for cr in case.case_records.select_related("record"):
        versions.add(
            _rule_set_today(cr.record).pk  # the version in force today for the record
        )
    RuleSet.objects.filter(pk__in=versions).update(**changes)


def _rule_set_today(record):
    from cases.rules import rule_set_for_record

    return rule_set_for_record(record, on=timezone.localdate())


def propose_revocation(case, official, *, ground="false_materials", reasons=None, evidence=None):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return actions.case_revocation_propose(
        case=case,
        official=official,
        ground=ground,
        reasons=reasons or "The payment receipt was forged.",
        evidence=evidence
        or [SimpleUploadedFile("bank-letter.pdf", helpers.pdf_bytes("bank"), "application/pdf")],
    )


def second_signer(case):
    """Another signing official of the case's agency."""
    from cases.models import Role
    from tests import factories

    return factories.officer(Role.SIGNER, case.agency, username=f"second-signer-{case.agency.code}")


def revoked(*, case, official, ground, reasons, evidence) -> Case:
    """``official`` proposes the revocation (the arguments of
    ``actions.case_revocation_propose``), the agency's legal reviewer passes it and the
    signing officials sign it: the revocation in effect, as stories about what follows
    it need it."""
    from cases.models import Role
    from tests import factories

    case = refresh(case)
    if any(
        _rule_set_today(cr.record).revocation_bar_months is None
        for cr in case.case_records.select_related("record")
    ):
        revocation_rules(case)
    actions.case_revocation_propose(
        case=case, official=official, ground=ground, reasons=reasons, evidence=evidence
    )
    reviewer = factories.officer(Role.LEGAL_REVIEWER, case.agency)
    actions.case_revocation_review(case=case, reviewer=reviewer, passed=True)
    revocation = actions.case_revocation_sign(case=case, signer=second_signer(case))
    if revocation.status != revocation.Status.REVOKED:
        actions.case_revocation_sign(case=case, signer=official)
    return refresh(case)


def revoked_after_proposal(case, staff) -> Case:
    """The proposed revocation of ``case`` passes the legal review and is signed by a
    second signing official (and the proposer, where the rules want two)."""
    actions.case_revocation_review(case=case, reviewer=staff["legal_reviewer"], passed=True)
    revocation = actions.case_revocation_sign(case=case, signer=second_signer(case))
    if revocation.status != revocation.Status.REVOKED:
        actions.case_revocation_sign(case=case, signer=revocation.proposed_by)
    return refresh(case)


def revoke(case, staff, *, ground="false_materials", reasons=None, evidence=None) -> Case:
    """Revoke an approved restoration as the agency does: ``staff["signer"]`` proposes,
    the legal reviewer passes it, and a second signing official signs (with the proposer
    where the rules want two). Where the rule versions set no revocation terms, they get
    those of Order 36 Art. 25 (``revocation_rules``)."""
    case = refresh(case)
    if any(
        _rule_set_today(cr.record).revocation_bar_months is None
        for cr in case.case_records.select_related("record")
    ):
        revocation_rules(case)
    propose_revocation(case, staff["signer"], ground=ground, reasons=reasons, evidence=evidence)
    actions.case_revocation_review(case=case, reviewer=staff["legal_reviewer"], passed=True)
    revocation = actions.case_revocation_sign(case=case, signer=second_signer(case))
    if revocation.status != revocation.Status.REVOKED:
        actions.case_revocation_sign(case=case, signer=staff["signer"])
    return refresh(case)


# --- reading the case ------------------------------------------------------------------------


def refresh(case) -> Case:
    case.refresh_from_db()
    return case


def process_status(case) -> str:
    process = refresh(case).process
    process.refresh_from_db()
    return process.status


def events(case) -> list:
    return list(case.events.order_by("seq").select_related("actor"))


def event_kinds(case) -> list[str]:
    return [e.kind for e in events(case)]


def last_event(case, kind: str):
    return case.events.filter(kind=kind).order_by("-seq").select_related("actor").first()


def publication_statuses(record) -> set[str]:
    return set(record.publications.values_list("status", flat=True))


def deadline(case, step: str) -> Deadline:
    return Deadline.objects.filter(case=case, step=step).latest("id")


# --- the clock's timers ----------------------------------------------------------------------


def timers(case, name: str, *statuses: str) -> list[Task]:
    """The timer tasks of node ``name`` (e.g. ``acceptance_check__timeout``) of the case."""
    return tasks_of(case, name, *statuses)


def scheduled_timer(case, name: str) -> Task:
    found = timers(case, name, STATUS.SCHEDULED)
    assert len(found) == 1, f"expected one scheduled {name}, found {len(found)}"
    return found[0]


def make_due(task: Task) -> Task:
    """Move a timer's moment into the past, as if the clock had reached it."""
    task.scheduled = timezone.now() - datetime.timedelta(minutes=1)
    task.save(update_fields=["scheduled"])
    return task


def fire(*tasks: Task) -> int:
    """Make the given timers due and run viewflow's timer dispatcher once."""
    for task in tasks:
        make_due(task)
    return fire_due_timers()


def let_materials_deadline_pass(case) -> None:
    """The applicant's materials deadline passed yesterday: its timer is due."""
    materials = Deadline.objects.get(case=case, step=Deadline.Step.MATERIALS, status="running")
    materials.due_on = timezone.localdate() - datetime.timedelta(days=1)
    materials.save(update_fields=["due_on"])
    make_due(scheduled_timer(case, "await_materials__timeout"))
