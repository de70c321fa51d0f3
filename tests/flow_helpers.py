"""The route as people walk it through ``workflows.services``: file a case, find the step
that is open for someone, claim it and do it, fire the clock's timers.

Each helper names who acts, so a test still reads as the story of that person. Only
``workflows.services`` (the route's entry points) and viewflow's timer dispatcher move a
case along its route here; evidence is uploaded as the portal does it
(``cases.services.evidence_add``, through ``tests.helpers``).
"""

from __future__ import annotations

import datetime

from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS
from viewflow.workflow.timers import fire_due_timers

from cases.models import Case, Evidence, Material
from tests import helpers
from workflows import services as route
from workflows.flows import FLOWS
from workflows.models import Deadline

APPROVED = Case.Decision.APPROVED
PARTLY_APPROVED = Case.Decision.PARTLY_APPROVED
REJECTED = Case.Decision.REJECTED


# --- filing and materials ------------------------------------------------------------------


def file_restoration(subject, records, applicant, *, with_materials=True, **kwargs) -> Case:
    """The applicant files a restoration; by default with a commitment letter per record and
    proof that the penalty was fulfilled (what the rule sets require)."""
    kwargs.setdefault("grounds", "The fine was paid and the conduct corrected.")
    case = route.case_file(
        kind=Case.Kind.RESTORATION,
        subject=subject,
        records=records,
        applicant=applicant,
        **kwargs,
    )
    if with_materials:
        helpers.add_restoration_materials(case, applicant)
    return case


def file_objection(subject, records, applicant, **kwargs) -> Case:
    """The applicant files an objection with one item of evidence that the record is wrong."""
    kwargs.setdefault("grounds", "The decision names the wrong branch.")
    case = route.case_file(
        kind=Case.Kind.OBJECTION,
        subject=subject,
        records=records,
        applicant=applicant,
        **kwargs,
    )
    helpers.add_evidence(case, applicant, Material.CORRECTION_EVIDENCE)
    return case


def missing(*materials: str) -> list[dict]:
    """The complete list of missing items, as an officer states it."""
    return [{"material": m, "detail": f"Please supply: {m}."} for m in materials]


def supply(case, applicant, *materials: str) -> None:
    """The applicant uploads one item of each material asked for."""
    for material in materials:
        helpers.add_evidence(case, applicant, material)


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
    found = [t for t in route.open_tasks(refresh(case)) if t.flow_task == node(case, name)]
    assert len(found) == 1, f"expected one open {name} task, found {open_steps(case)}"
    return found[0]


def open_steps(case) -> list[str]:
    """The open steps of the case, as a queue shows them: ``name`` or ``name@owner``."""
    return [
        f"{t.flow_task.name}@{t.owner.get_username()}" if t.owner_id else t.flow_task.name
        for t in route.open_tasks(refresh(case))
    ]


def claim(case, name: str, user) -> Task:
    task = open_task(case, name)
    return route.task_claim(task=task, user=user)


def step(case, name: str, user, **data) -> Case:
    """``user`` claims the open task of step ``name`` and completes it with ``data``."""
    task = claim(case, name, user)
    return route.task_complete(task=task, user=user, data=data)


def accept(case, intake) -> Case:
    return step(case, "acceptance_check", intake, decision="accept", note="Materials complete.")


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


def review(case, officer, recommendation=APPROVED, record_outcomes=None, **data) -> Case:
    """The case officer accepts every unreviewed item and recommends ``recommendation``."""
    return step(
        case,
        "evidence_review",
        officer,
        reviews=reviews_accepting_every_item(case),
        recommendation=recommendation,
        record_outcomes=record_outcomes,
        note="Reviewed item by item.",
        **data,
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
        route.platform_acknowledge(publication=publication, note="Withdrawn.")


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
