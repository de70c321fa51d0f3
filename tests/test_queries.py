"""The officers' pages cost the same number of queries however much work an agency has.

An agency that grows from 10 cases to 200 (90 of them filed and worked through
``workflows.actions``: waiting in the queue, claimed, decided; the rest decided cases
of earlier years, bulk-created) must not make the inbox, the queue, the archive, the
case list or a case page run more queries; nor must a case whose evidence and events
grow from 5 to 100 items. Every page is warmed up once
first so that caches (content types, ...) do not blur the comparison.
"""

from __future__ import annotations

import datetime
import itertools

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.models import Case, CaseRecord, Deadline, Evidence, Material, Record
from tests import factories
from tests.flow_helpers import (
    MONITORING_DEVICE,
    accept,
    claim,
    complete,
    file_restoration,
    missing,
    open_task,
    review,
    supply,
)
from tests.helpers import api_token, pdf_bytes, restorable_record
from workflows import actions
from workflows.selectors import tasks_archive, tasks_inbox, tasks_queue

_serial = itertools.count(1)


def pdf() -> ContentFile:
    n = next(_serial)
    return ContentFile(pdf_bytes(f"item {n}"), name=f"item-{n}.pdf")


def queries(client, address: str) -> int:
    """How many queries a GET of ``address`` runs; none of them may count a whole list."""
    with CaptureQueriesContext(connection) as captured:
        response = client.get(address)
    assert response.status_code == 200, (address, response.status_code)
    counting = [q["sql"] for q in captured if "COUNT(" in q["sql"].upper()]
    assert not counting, (address, counting)
    return len(captured)


class Agency:
    """An agency's caseload that grows.

    Cases worked through the route: a third wait in the queue, a third are claimed by the
    intake officer, a third were decided by them (not accepted). The rest are decided
    cases of earlier years, bulk-created (they fill the case list, not the task lists).
    """

    def __init__(self, company, agency, platforms, applicant, intake):
        self.company, self.agency, self.platforms = company, agency, platforms
        self.applicant, self.intake = applicant, intake
        self.routed = 0
        self.archived = 0

    @property
    def size(self) -> int:
        return self.routed + self.archived

    def grow(self, to: int, *, routed: int) -> None:
        while self.routed < routed:
            self.file_and_work(self.routed)
            self.routed += 1
        self.bulk_archive(to - self.size)

    def file_and_work(self, n: int) -> Case:
        case = actions.case_submit(
            kind=Case.Kind.OBJECTION,
            subject=self.company,
            records=[restorable_record(self.company, self.agency, self.platforms)],
            grounds="The decision names the wrong branch.",
            applicant=self.applicant,
        )
        if n % 3:
            task = open_task(case, "acceptance_check")
            actions.task_claim(task=task, user=self.intake)
            if n % 3 == 2:
                actions.task_complete(
                    task=task,
                    user=self.intake,
                    data={"decision": "not_accept", "reasons": "Not this agency's record."},
                )
        return case

    def bulk_archive(self, count: int) -> None:
        if count <= 0:
            return
        long_ago = timezone.now() - datetime.timedelta(days=900)
        records = Record.objects.bulk_create(
            factories.RecordFactory.build(subject=self.company, agency=self.agency)
            for _ in range(count)
        )
        first = self.archived
        cases = Case.objects.bulk_create(
            Case(
                reference=f"RD-2019-{first + i:06d}",
                kind=Case.Kind.OBJECTION,
                subject=self.company,
                agency=self.agency,
                grounds="The decision names the wrong branch.",
                applicant=self.applicant,
                filed_by=self.applicant,
                status=Case.Status.CLOSED,
                decision=Case.Decision.REJECTED,
                submitted_at=long_ago,
                closed_at=long_ago,
            )
            for i in range(count)
        )
        CaseRecord.objects.bulk_create(
            CaseRecord(case=case, record=record, status_before=Record.Status.ACTIVE)
            for case, record in zip(cases, records, strict=True)
        )
        Deadline.objects.bulk_create(
            Deadline(
                case=case,
                step=Deadline.Step.DECISION,
                status=Deadline.Status.MET,
                started_on=long_ago.date(),
                working_days=20,
                due_on=long_ago.date() + datetime.timedelta(days=28),
                computation="20 working days from the acceptance.",
            )
            for case in cases
        )
        self.archived += count


@pytest.fixture
def caseload(company, agency, platforms, applicant, staff):
    return Agency(company, agency, platforms, applicant, staff["intake"])


def test_lists_and_case_pages_run_as_many_queries_for_200_cases_as_for_10(client, caseload, staff):
    caseload.grow(10, routed=10)
    first = Case.objects.earliest("id")
    pages = {
        "inbox": (staff["intake"], reverse("workspace:inbox")),
        "queue": (staff["intake"], reverse("workspace:queue")),
        "archive": (staff["intake"], reverse("workspace:archive")),
        "cases": (staff["intake"], reverse("workspace:cases")),
        "cases found by subject": (
            staff["intake"],
            reverse("workspace:cases") + f"?q={first.subject.code}&status=submitted",
        ),
        "agency tasks": (staff["supervisor"], reverse("workspace:agency_tasks")),
        "case page": (staff["intake"], reverse("workspace:case", args=[first.pk])),
    }

    def measure() -> dict[str, int]:
        counts = {}
        for name, (user, address) in pages.items():
            client.force_login(user)
            queries(client, address)  # warm-up
            counts[name] = queries(client, address)
        return counts

    at_10 = measure()
    # 90 worked cases: every task list has more than a page (25 rows) of them.
    caseload.grow(200, routed=90)
    at_200 = measure()

    assert Case.objects.count() == 200
    for tasks in (tasks_inbox, tasks_queue, tasks_archive):
        assert tasks(staff["intake"]).count() > 25  # more than one page
    assert at_200 == at_10


def test_a_case_page_runs_as_many_queries_with_100_evidence_items_and_events_as_with_5(
    client, company, agency, platforms, applicant, staff
):
    record = restorable_record(company, agency, platforms)
    case = actions.case_submit(
        kind=Case.Kind.OBJECTION,
        subject=company,
        records=[record],
        grounds="The decision names the wrong branch.",
        applicant=applicant,
    )
    sources = itertools.cycle([Evidence.Source.OFFICER, Evidence.Source.ELECTRONIC_MONITORING])
    officer = staff["case_officer"]

    def add_evidence(count: int) -> None:
        """The case officer adds ``count - 1`` items and reviews every fourth of them, asking
        the applicant for one more, who supplies it: the review is open again, claimed."""
        reviews = []
        for n in range(count - 1):
            source = next(sources)
            item = actions.evidence_add(
                case=case,
                uploaded_by=officer,
                upload=pdf(),
                material=Material.CORRECTION_EVIDENCE,
                record=record,
                source=source,
                monitoring=MONITORING_DEVICE
                if source == Evidence.Source.ELECTRONIC_MONITORING
                else None,
            )
            if n % 4 == 0:
                reviews.append({"evidence": item.pk, "outcome": "accepted", "reason": "Seen."})
        complete(
            case,
            "evidence_review",
            officer,
            reviews=reviews,
            action="request_materials",
            missing=missing(
                Material.CORRECTION_EVIDENCE,
                reason="The item supplied names a further ruling.",  # after the first time
            ),
        )
        supply(case, applicant, Material.CORRECTION_EVIDENCE)
        actions.case_resubmit(case=case, applicant=applicant)
        claim(case, "evidence_review", officer)

    accept(case, staff["intake"])
    claim(case, "evidence_review", officer)
    address = reverse("workspace:case", args=[case.pk])

    def measure(user) -> int:
        client.force_login(user)
        queries(client, address)  # warm-up
        return queries(client, address)

    add_evidence(5)
    at_5 = {who: measure(staff[who]) for who in ("case_officer", "supervisor", "intake")}
    add_evidence(95)
    # One extension: the rules allow one (《信用修复管理办法》第十六条第三款).
    actions.deadline_extend(
        case=case, supervisor=staff["supervisor"], step="decision", days=3, reason="More."
    )
    at_100 = {who: measure(staff[who]) for who in ("case_officer", "supervisor", "intake")}

    assert case.evidence.count() == 100
    assert case.events.count() > 120
    assert at_100 == at_5


# --- what a step's completion costs through the API (issue 16) -------------------------------


# Measured on SQLite: see bench/RESULTS.md "Cost of one completion" and "A completion's
# web side cut again (issue 16, h16)": 86 → 64 (the step's checks once, on the locked
# case; the letter and the notice print the held case and the deadline just started; the
# chain's end read once a step; no savepoint of our own inside the lock's transaction nor
# for the outbox's rows under the case's lock; the timers' processes read with them).
ACCEPT_BUDGET = 64
# 130 → 106 for the same reasons.
DECISION_BUDGET = 106
# The claim before each (the task, the lock, the checks, viewflow's assignment): 13 and 14 (the
# sign-off's four eyes); two more before (a savepoint inside the lock's transaction).
CLAIM_BUDGET = 14


# The queue lookup an officer's client makes before each claim (``box=queue&case=…``): the
# token, the person's memberships, their ties to subjects and the list; it built the inbox
# too, with a second read of the ties (5).
QUEUE_LOOKUP_BUDGET = 4


def test_the_queue_lookup_before_a_claim_builds_the_queue_only(
    company, agency, platforms, applicant, staff
):
    """``GET tasks/?box=queue&case=…`` built both lists whatever the box, and each read the
    person's ties to subjects: the lookup that precedes every claim asked them twice."""
    record = restorable_record(company, agency, platforms)
    case = file_restoration(company, [record], applicant)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(staff['intake'])}")
    lookup = {"box": "queue", "case": case.pk}
    assert client.get("/api/v1/tasks/", lookup).status_code == 200  # the token's first use

    with CaptureQueriesContext(connection) as captured:
        response = client.get("/api/v1/tasks/", lookup)

    assert response.status_code == 200
    assert [task["step"] for task in response.json()["results"]] == ["acceptance_check"]
    assert len(captured) <= QUEUE_LOOKUP_BUDGET, [q["sql"] for q in captured.captured_queries]


def _completion_queries(user, case, step: str, body: dict) -> tuple[int, list[str]]:
    """Queries of one ``complete`` call through the REST API (and their SQL), the task
    claimed first; the claim's count is checked against ``CLAIM_BUDGET``."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    task = open_task(case, step)
    with CaptureQueriesContext(connection) as claiming:
        assert client.post(f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    assert len(claiming) <= CLAIM_BUDGET, len(claiming)
    with CaptureQueriesContext(connection) as captured:
        response = client.post(f"/api/v1/tasks/{task.pk}/complete/", body, format="json")
    assert response.status_code == 200, response.json()
    return len(captured), [q["sql"] for q in captured.captured_queries]


def test_an_acceptance_and_a_signed_decision_through_the_api_stay_within_their_query_budget(
    company, agency, platforms, applicant, staff, private_files
):
    """One acceptance ran 97 queries (SQLite; the case selected ten times, the tie to the
    subject looked up three, the rule version three, the calendar twice): the step now
    holds its locked case for everyone inside it (``cases.held``), and asks who may do it
    once, on that case, not first outside the lock and again inside."""
    record = restorable_record(company, agency, platforms)
    case = file_restoration(company, [record], applicant)

    accepting, sql = _completion_queries(
        staff["intake"], case, "acceptance_check", {"decision": "accept"}
    )
    review(case, staff["case_officer"])
    deciding, _sql = _completion_queries(
        staff["signer"], case, "sign_off", {"decision": "approved"}
    )

    assert Case.objects.get(pk=case.pk).decision == Case.Decision.APPROVED
    assert accepting <= ACCEPT_BUDGET, accepting
    assert deciding <= DECISION_BUDGET, deciding
    # The case row is read once, locked; the tie to the subject is asked once.
    assert sum(q.startswith('SELECT "cases_case"."id"') for q in sql) == 1, sql
    assert sum('FROM "cases_subjecttie"' in q for q in sql) == 1


def test_the_officers_case_page_asks_the_tie_once_and_does_not_write_the_session(
    client, company, agency, platforms, applicant, staff
):
    """The case page ran 30 queries for the case officer of an accepted case: the session
    saved on every request (3), the tie to the subject looked up for the page and again
    for the task's eligibility."""
    record = restorable_record(company, agency, platforms)
    case = file_restoration(company, [record], applicant)
    accept(case, staff["intake"])
    client.force_login(staff["case_officer"])
    address = reverse("workspace:case", args=[case.pk])
    client.get(address)

    with CaptureQueriesContext(connection) as captured:
        response = client.get(address)

    assert response.status_code == 200
    [row] = response.context["task_rows"]
    assert row.task.flow_task.name == "evidence_review" and row.can_claim  # asked, and eligible
    sql = [q["sql"] for q in captured.captured_queries]
    assert sum('AS "source_number"' in q for q in sql) == 1  # the tie's query (its UNION)
    assert not [q for q in sql if "django_session" in q and not q.startswith("SELECT")]
    assert len(sql) <= 24, len(sql)
