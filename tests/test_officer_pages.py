"""The officers' workspace as the people of an agency use it in a browser.

An intake officer finds an acceptance check in the queue, claims it and decides it on
the case page; a case officer reviews the evidence item by item; a supervisor hands
out tasks and extends a deadline; an auditor reads; nobody sees another agency's cases,
and an entity's representative is not let in at all. Cases move through
``workflows.actions`` exactly as the demo moves them; the pages are driven with
Django's test client and what is asserted is what the person would see.
"""

from __future__ import annotations

import pytest
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import translation
from django.utils.html import escape
from viewflow.workflow.status import STATUS

from cases.models import Case, Evidence, Material, Role
from tests import factories
from tests import flow_helpers as flow
from tests.flow_helpers import accept, open_task, review, step
from tests.helpers import pdf_bytes, restorable_record
from workflows import actions

S = Case.Status


# --- the story's steps -----------------------------------------------------------------------


def file_restoration(company, agency, platforms, applicant, *, materials=True) -> Case:
    """The applicant files a restoration of one record, with the materials the rules ask for."""
    record = restorable_record(company, agency, platforms)
    return flow.file_restoration(company, [record], applicant, with_materials=materials)


def browser(client, user):
    client.force_login(user)
    return client


def url(name, *args):
    return reverse(f"workspace:{name}", args=args)


def page(client, name, *args):
    response = client.get(url(name, *args))
    assert response.status_code == 200, response.status_code
    return response.content.decode()


@pytest.fixture
def case(company, agency, platforms, applicant):
    return file_restoration(company, agency, platforms, applicant)


@pytest.fixture
def elsewhere(company, other_agency, platforms, applicant):
    """A case of another agency (Guangzhou), at its acceptance check."""
    return file_restoration(company, other_agency, platforms, applicant)


# --- inbox, queue and archive --------------------------------------------------------------------


def test_an_intake_officer_finds_the_acceptance_check_in_the_queue_and_nothing_of_another_agency(
    client, case, elsewhere, staff
):
    browser(client, staff["intake"])

    queue = page(client, "queue")

    assert case.reference in queue
    assert elsewhere.reference not in queue
    assert "Acceptance check" in queue
    assert case.reference not in page(client, "inbox")
    assert case.reference not in page(client, "archive")


def test_each_role_sees_only_the_steps_of_its_role_in_the_queue(client, case, staff):
    accept(case, staff["intake"])

    assert case.reference in page(browser(client, staff["case_officer"]), "queue")
    for role in ("intake", "legal_reviewer", "signer"):
        assert case.reference not in page(browser(client, staff[role]), "queue"), role


def test_an_intake_officer_of_another_agency_sees_none_of_the_agencys_tasks(
    client, case, other_agency
):
    outsider = factories.officer(Role.INTAKE, other_agency)
    browser(client, outsider)

    for name in ("queue", "inbox", "archive", "cases"):
        assert case.reference not in page(client, name), name


def test_claiming_from_the_queue_moves_the_task_to_the_inbox(client, case, staff):
    browser(client, staff["intake"])
    task = open_task(case, "acceptance_check")

    response = client.post(url("task_claim", task.pk))

    assert response.status_code == 302
    assert response["Location"] == url("case", case.pk)
    assert case.reference in page(client, "inbox")
    assert case.reference not in page(client, "queue")
    task.refresh_from_db()
    assert task.owner == staff["intake"]


def test_a_completed_task_moves_to_the_archive(client, case, staff):
    accept(case, staff["intake"])
    browser(client, staff["intake"])

    archive = page(client, "archive")

    assert case.reference in archive
    assert case.reference not in page(client, "inbox")


# --- doing a task on the case page ---------------------------------------------------------------


def test_completing_the_acceptance_check_from_the_case_page_moves_the_case_to_review(
    client, case, staff
):
    browser(client, staff["intake"])
    task = open_task(case, "acceptance_check")
    client.post(url("task_claim", task.pk))
    assert 'name="decision" value="accept"' in page(client, "case", case.pk)

    response = client.post(
        url("task_complete", task.pk), {"decision": "accept", "note": "Materials complete."}
    )

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.UNDER_REVIEW
    assert "Materials complete." in page(client, "case", case.pk)
    assert case.reference in page(browser(client, staff["case_officer"]), "queue")


def test_the_intake_officer_asks_for_every_missing_material_at_once(
    client, company, agency, platforms, applicant, staff
):
    case = file_restoration(company, agency, platforms, applicant, materials=False)
    browser(client, staff["intake"])
    task = open_task(case, "acceptance_check")
    client.post(url("task_claim", task.pk))

    response = client.post(
        url("task_complete", task.pk),
        {
            "decision": "request_materials",
            "missing_commitment_letter": "on",
            "detail_commitment_letter": "One per record, signed and sealed.",
            "missing_fulfilment_proof": "on",
            "detail_fulfilment_proof": "The bank receipt of the fine.",
        },
    )

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.AWAITING_MATERIALS
    assert case.missing_materials == [
        {"material": "commitment_letter", "detail": "One per record, signed and sealed."},
        {"material": "fulfilment_proof", "detail": "The bank receipt of the fine."},
    ]
    assert "The bank receipt of the fine." in page(client, "case", case.pk)


def test_not_accepting_without_reasons_is_shown_on_the_form(client, case, staff):
    browser(client, staff["intake"])
    task = open_task(case, "acceptance_check")
    client.post(url("task_claim", task.pk))

    response = client.post(url("task_complete", task.pk), {"decision": "not_accept"})

    assert response.status_code == 400
    assert "Give the reasons for not accepting." in response.content.decode()
    case.refresh_from_db()
    assert case.status == S.SUBMITTED


def test_accepting_without_the_required_materials_shows_the_services_reason_with_409(
    client, company, agency, platforms, applicant, staff
):
    case = file_restoration(company, agency, platforms, applicant, materials=False)
    browser(client, staff["intake"])
    task = open_task(case, "acceptance_check")
    client.post(url("task_claim", task.pk))

    response = client.post(url("task_complete", task.pk), {"decision": "accept"})

    assert response.status_code == 409
    body = response.content.decode()
    assert "Materials are missing" in body
    assert "request them all at once instead of accepting" in body
    assert 'name="decision"' in body  # the form is shown again
    case.refresh_from_db()
    assert case.status == S.SUBMITTED


def test_completing_a_task_twice_shows_that_it_is_done_instead_of_failing(client, case, staff):
    browser(client, staff["intake"])
    task = open_task(case, "acceptance_check")
    client.post(url("task_claim", task.pk))
    client.post(url("task_complete", task.pk), {"decision": "accept"})

    response = client.post(url("task_complete", task.pk), {"decision": "accept"})

    assert response.status_code == 409
    assert f"Task {task.pk} is done: it cannot be completed." in response.content.decode()


def test_claiming_a_task_someone_else_took_says_who_has_it(client, case, staff, agency):
    colleague = factories.officer(Role.INTAKE, agency, username="intake2-szamr")
    task = open_task(case, "acceptance_check")
    actions.task_claim(task=task, user=colleague)
    browser(client, staff["intake"])

    response = client.post(url("task_claim", task.pk), follow=True)

    assert response.status_code == 200
    assert f"Task {task.pk} was already claimed by intake2-szamr." in response.content.decode()


def test_releasing_a_task_puts_it_back_in_the_queue(client, case, staff):
    browser(client, staff["intake"])
    task = open_task(case, "acceptance_check")
    client.post(url("task_claim", task.pk))

    client.post(url("task_release", task.pk))

    task.refresh_from_db()
    assert task.owner is None
    assert task.status == STATUS.NEW
    assert case.reference in page(client, "queue")


def test_the_case_officer_reviews_each_item_and_recommends_from_the_case_page(client, case, staff):
    accept(case, staff["intake"])
    officer = staff["case_officer"]
    browser(client, officer)
    task = open_task(case, "evidence_review")
    client.post(url("task_claim", task.pk))
    letter, receipt = case.evidence.order_by("id")

    response = client.post(
        url("task_complete", task.pk),
        {
            f"outcome_{letter.pk}": "accepted",
            f"outcome_{receipt.pk}": "accepted",
            f"reason_{receipt.pk}": "Matches the bank's record.",
            "action": "complete",
            "recommendation": "approved",
            "note": "Reviewed item by item.",
        },
    )

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == S.SIGN_OFF
    assert case.review_officer == officer
    receipt.refresh_from_db()
    assert receipt.review_outcome == Evidence.Outcome.ACCEPTED
    assert receipt.reviewed_by == officer
    assert receipt.review_reason == "Matches the bank's record."


def test_completing_the_review_with_an_unreviewed_item_keeps_the_officers_input(
    client, case, staff
):
    accept(case, staff["intake"])
    browser(client, staff["case_officer"])
    task = open_task(case, "evidence_review")
    client.post(url("task_claim", task.pk))
    letter = case.evidence.order_by("id").first()

    response = client.post(
        url("task_complete", task.pk),
        {
            f"outcome_{letter.pk}": "accepted",
            f"reason_{letter.pk}": "Signed and sealed.",
            "action": "complete",
            "recommendation": "approved",
        },
    )

    assert response.status_code == 409
    body = response.content.decode()
    assert "Review every evidence item first." in body
    assert 'value="Signed and sealed."' in body
    letter.refresh_from_db()
    assert letter.review_outcome == Evidence.Outcome.PENDING  # nothing half-done


def test_the_signer_approves_from_the_case_page(client, case, staff):
    review(accept(case, staff["intake"]), staff["case_officer"])
    browser(client, staff["signer"])
    task = open_task(case, "sign_off")
    client.post(url("task_claim", task.pk))

    refused = client.post(url("task_complete", task.pk), {"decision": "approved", "reasons": " "})
    assert refused.status_code == 400
    assert "State the reasons, tied to the evidence." in refused.content.decode()
    assert case.signatures.count() == 0

    response = client.post(
        url("task_complete", task.pk),
        {"decision": "approved", "reasons": "The fine was paid: receipt of 2026-03-02."},
    )

    assert response.status_code == 302
    case.refresh_from_db()
    assert case.decision == Case.Decision.APPROVED
    assert case.status == S.REMOVAL


def test_a_signer_is_not_offered_the_sign_off_of_a_case_they_review(client, case, staff, agency):
    all_rounder = factories.officer(Role.CASE_OFFICER, agency, username="all-rounder")
    all_rounder = factories.officer(Role.SIGNER, agency, username="all-rounder")
    review(accept(case, staff["intake"]), all_rounder)
    assert case.reference in page(browser(client, staff["signer"]), "queue")

    browser(client, all_rounder)

    assert case.reference not in page(client, "queue")
    case_page = page(client, "case", case.pk)
    assert "You reviewed this case: a different official signs it." in case_page
    assert url("task_claim", open_task(case, "sign_off").pk) not in case_page


# --- the case page ------------------------------------------------------------------------------------


def test_the_case_page_shows_subject_records_evidence_timeline_and_clock(
    client, case, staff, platforms
):
    accept(case, staff["intake"])
    browser(client, staff["case_officer"])

    body = page(client, "case", case.pk)

    record = case.records.get()
    assert case.reference in body
    assert case.subject.name in body and case.subject.code in body
    assert record.decision_no in body
    for platform in platforms:
        assert platform.name in body
    for item in case.evidence.all():
        assert item.original_name in body
        assert item.sha256 in body
        assert url("evidence_preview", item.pk) in body
        assert url("evidence_download", item.pk) in body
    assert "Submitted" in body and "Accepted" in body and "intake-szamr" in body
    for deadline in case.deadlines.all():
        assert escape(deadline.computation) in body
    assert "Started" in body  # the clock ledger


def test_a_supervisor_extends_the_decision_deadline_and_the_clock_shows_it(client, case, staff):
    accept(case, staff["intake"])
    decision = case.deadlines.get(step="decision")
    due_before = decision.due_on
    browser(client, staff["supervisor"])

    response = client.post(
        url("deadline_extend", case.pk, decision.pk),
        {"days": "5", "reason": "Expert opinion requested."},
    )

    assert response.status_code == 302
    decision.refresh_from_db()
    assert decision.due_on > due_before
    body = page(client, "case", case.pk)
    assert escape(decision.computation) in body
    assert "Extended by 5 working days (approved by supervisor-szamr" in body
    assert "Expert opinion requested." in body
    assert f"{decision.due_on:%Y-%m-%d}" in body


def test_an_extension_without_a_reason_is_refused_on_the_form(client, case, staff):
    accept(case, staff["intake"])
    decision = case.deadlines.get(step="decision")
    browser(client, staff["supervisor"])

    response = client.post(url("deadline_extend", case.pk, decision.pk), {"days": "5"})

    assert response.status_code == 400
    assert "This field is required." in response.content.decode()


def test_an_officer_who_is_not_a_supervisor_cannot_extend_a_deadline(client, case, staff):
    accept(case, staff["intake"])
    decision = case.deadlines.get(step="decision")
    browser(client, staff["intake"])

    response = client.post(
        url("deadline_extend", case.pk, decision.pk), {"days": "5", "reason": "Busy."}
    )

    assert response.status_code == 403
    assert "supervisor of SZAMR may extend a deadline." in response.content.decode()


def test_the_case_list_filters_by_status_and_finds_a_subject_by_code(
    client, case, staff, company, agency, platforms, applicant
):
    other = file_restoration(company, agency, platforms, applicant)
    accept(other, staff["intake"])
    browser(client, staff["intake"])

    under_review = client.get(url("cases"), {"status": "under_review"}).content.decode()
    by_code = client.get(url("cases"), {"q": company.code}).content.decode()
    by_reference = client.get(url("cases"), {"q": case.reference}).content.decode()

    assert other.reference in under_review and case.reference not in under_review
    assert other.reference in by_code and case.reference in by_code
    assert case.reference in by_reference and other.reference not in by_reference


# --- evidence files -----------------------------------------------------------------------------------


def test_an_officer_previews_and_downloads_evidence_with_safe_headers(client, case, staff):
    item = case.evidence.order_by("id").first()
    content = item.file.storage.open(item.file.name).read()
    browser(client, staff["intake"])

    preview = client.get(url("evidence_preview", item.pk))
    download = client.get(url("evidence_download", item.pk))

    assert preview.status_code == 200
    assert b"".join(preview.streaming_content) == content
    assert preview["Content-Type"] == "application/pdf"
    assert preview["Content-Disposition"] == f'inline; filename="{item.original_name}"'
    assert preview["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in preview["Content-Security-Policy"]
    assert download.status_code == 200
    assert download["Content-Disposition"] == f'attachment; filename="{item.original_name}"'
    assert download["X-Content-Type-Options"] == "nosniff"


def test_a_downloaded_name_is_the_sanitised_original_name(client, case, applicant, staff):
    item = actions.evidence_add(
        case=case,
        uploaded_by=applicant,
        upload=ContentFile(pdf_bytes("odd name"), name="../../etc/承诺书\x07.pdf"),
        material=Material.OTHER,
    )
    browser(client, staff["intake"])

    download = client.get(url("evidence_download", item.pk))

    assert item.original_name == "承诺书.pdf"
    assert "filename*=utf-8''%E6%89%BF%E8%AF%BA%E4%B9%A6.pdf" in download["Content-Disposition"]


def test_an_officer_of_another_agency_cannot_tell_a_case_or_its_evidence_exists(
    client, case, staff, other_agency
):
    outsider = factories.officer(Role.SUPERVISOR, other_agency)
    factories.officer(Role.INTAKE, other_agency, username=outsider.username)
    item = case.evidence.first()
    task = open_task(case, "acceptance_check")
    browser(client, outsider)

    assert client.get(url("case", case.pk)).status_code == 404
    assert client.get(url("evidence_preview", item.pk)).status_code == 404
    assert client.get(url("evidence_download", item.pk)).status_code == 404
    for action in ("task_claim", "task_release", "task_complete", "task_assign"):
        assert client.post(url(action, task.pk)).status_code == 404, action
    deadline = case.deadlines.first()
    assert (
        client.post(
            url("deadline_extend", case.pk, deadline.pk), {"days": "1", "reason": "x"}
        ).status_code
        == 404
    )
    task.refresh_from_db()
    assert task.owner is None


# --- who gets in ------------------------------------------------------------------------------------


def test_an_entity_representative_is_refused_the_officers_workspace(client, case, applicant):
    browser(client, applicant)

    for address in (url("inbox"), url("queue"), url("cases"), url("case", case.pk)):
        assert client.get(address).status_code == 403, address
    item = case.evidence.first()
    assert client.get(url("evidence_preview", item.pk)).status_code == 403


def test_anonymous_visitors_are_sent_to_log_in(client, case):
    for address in (url("inbox"), url("case", case.pk), "/workflow/"):
        response = client.get(address)
        assert response.status_code == 302, address
        assert response["Location"].startswith("/accounts/login/"), address
    assert client.get("/")["Location"] == "/accounts/login/"
    login = client.get("/accounts/login/")
    assert login.status_code == 200
    assert "csrfmiddlewaretoken" in login.content.decode()


def test_an_officer_logs_in_and_lands_in_the_inbox(client, staff):
    response = client.post(
        "/accounts/login/", {"username": "intake-szamr", "password": "pw"}, follow=True
    )

    assert response.redirect_chain[-1][0] == url("inbox")
    assert response.status_code == 200


def test_an_auditor_reads_the_case_page_but_has_no_task_actions(client, case, agency):
    auditor = factories.officer(Role.AUDITOR, agency)
    task = open_task(case, "acceptance_check")
    browser(client, auditor)

    start = client.get("/workflow/")
    body = page(client, "case", case.pk)
    response = client.post(url("task_claim", task.pk), follow=True)

    assert start["Location"] == url("cases")
    assert case.subject.name in body
    assert url("task_claim", task.pk) not in body
    assert url("task_complete", task.pk) not in body
    assert "intake officer of SZAMR." in response.content.decode()  # why the claim was refused
    task.refresh_from_db()
    assert task.owner is None


# --- a supervisor hands out tasks --------------------------------------------------------------------


def test_a_supervisor_assigns_queue_tasks_in_bulk_and_sees_the_one_already_claimed_skipped(
    client, company, agency, platforms, applicant, staff
):
    intake = staff["intake"]
    colleague = factories.officer(Role.INTAKE, agency, username="intake2-szamr")
    first, second, taken = (
        file_restoration(company, agency, platforms, applicant) for _ in range(3)
    )
    tasks = [open_task(c, "acceptance_check") for c in (first, second, taken)]
    browser(client, staff["supervisor"])
    listed = page(client, "agency_tasks")
    assert all(f'value="{t.pk}"' in listed for t in tasks)
    actions.task_claim(task=tasks[2], user=colleague)  # while the supervisor looks at the list

    response = client.post(
        url("tasks_assign"),
        {"tasks": [t.pk for t in tasks], "assignee": intake.pk},
        follow=True,
    )

    body = response.content.decode()
    for task in tasks:
        task.refresh_from_db()
    assert [t.owner for t in tasks] == [intake, intake, colleague]
    assert f"Assigned to intake-szamr: #{tasks[0].pk} {first.reference}" in body
    assert (
        f"Skipped #{tasks[2].pk} {taken.reference} Acceptance check: "
        f"Task {tasks[2].pk} was already claimed by intake2-szamr."
    ) in body


def test_a_bulk_assignment_reports_tasks_the_officer_may_not_do(
    client, company, agency, platforms, applicant, staff
):
    waiting = file_restoration(company, agency, platforms, applicant)
    in_review = accept(file_restoration(company, agency, platforms, applicant), staff["intake"])
    tasks = [open_task(waiting, "acceptance_check"), open_task(in_review, "evidence_review")]
    browser(client, staff["supervisor"])

    response = client.post(
        url("tasks_assign"),
        {"tasks": [t.pk for t in tasks], "assignee": staff["intake"].pk},
        follow=True,
    )

    body = response.content.decode()
    assert f"Skipped #{tasks[1].pk} {in_review.reference} Evidence review: " in body
    assert "case officer of SZAMR." in body  # why it was skipped
    tasks[0].refresh_from_db()
    assert tasks[0].owner == staff["intake"]


def test_a_bulk_assignment_of_another_agencys_task_reveals_nothing(
    client, elsewhere, staff, agency
):
    task = open_task(elsewhere, "acceptance_check")
    browser(client, staff["supervisor"])

    response = client.post(
        url("tasks_assign"), {"tasks": [task.pk], "assignee": staff["intake"].pk}, follow=True
    )

    body = response.content.decode()
    assert f"Skipped #{task.pk}: No such open task in your agency." in body
    assert elsewhere.reference not in body
    task.refresh_from_db()
    assert task.owner is None


def test_only_a_supervisor_sees_the_agency_tasks(client, staff):
    assert client.get(url("agency_tasks")).status_code == 302  # log in first
    browser(client, staff["intake"])

    assert client.get(url("agency_tasks")).status_code == 403
    assert client.post(url("tasks_assign"), {}).status_code == 403


def test_a_supervisor_reassigns_a_claimed_task_from_the_case_page(client, case, staff, agency):
    colleague = factories.officer(Role.INTAKE, agency, username="intake2-szamr")
    task = open_task(case, "acceptance_check")
    actions.task_claim(task=task, user=staff["intake"])
    browser(client, staff["supervisor"])
    assert url("task_assign", task.pk) in page(client, "case", case.pk)

    response = client.post(url("task_assign", task.pk), {"assignee": colleague.pk}, follow=True)

    task.refresh_from_db()
    assert task.owner == colleague
    assert "Acceptance check is now assigned to intake2-szamr." in response.content.decode()
    assert case.events.filter(kind="task_assigned").exists()


def test_the_case_page_offers_a_supervisor_only_officers_who_may_take_the_step(
    client, case, staff, agency
):
    all_rounder = factories.officer(Role.CASE_OFFICER, agency, username="all-rounder")
    all_rounder = factories.officer(Role.SIGNER, agency, username="all-rounder")
    review(accept(case, staff["intake"]), all_rounder)
    browser(client, staff["supervisor"])

    body = page(client, "case", case.pk)

    assert f'<option value="{staff["signer"].pk}">signer-szamr</option>' in body
    assert f'<option value="{all_rounder.pk}">' not in body


# --- viewflow's own task links --------------------------------------------------------------------


def test_viewflows_execute_link_of_a_task_opens_the_case_page(client, case, staff):
    task = open_task(case, "acceptance_check")
    actions.task_claim(task=task, user=staff["intake"])
    browser(client, staff["intake"])

    response = client.get(task.flow_task.reverse("execute", args=[task.process_id, task.pk]))

    assert response.status_code == 302
    assert response["Location"] == url("case", case.pk)


def test_an_officer_reads_the_case_page_in_chinese_down_to_the_waiting_step_and_the_clock(
    client, case, staff
):
    review(accept(case, staff["intake"]), staff["case_officer"])
    step(case, "sign_off", staff["signer"], decision="approved")
    client = browser(client, staff["supervisor"])

    response = client.get(url("case", case.pk), HTTP_ACCEPT_LANGUAGE="zh-hans")

    text = response.content.decode()
    assert response.status_code == 200
    assert "送达决定书" in text  # the route waits for the decision letter
    assert "个工作日" in text  # each deadline's computation, in Chinese
    assert "Decision letter" not in text and "working days from" not in text


def test_the_case_page_names_the_acceptance_date_as_acceptance_in_chinese(client, case, staff):
    # Seen in the demo: the date a case was accepted (受理) read "已接收" (received), the
    # word of an accepted piece of evidence.
    accept(case, staff["intake"])
    browser(client, staff["case_officer"])
    client.cookies["django_language"] = "zh-hans"

    body = page(client, "case", case.pk)

    assert "<dt>受理时间</dt>" in body
    assert "<dt>已接收</dt>" not in body
    # The subject's kind in Chinese brackets (seen in the demo: "(法人和其他组织)").
    with translation.override("zh-hans"):
        kind = case.subject.get_kind_display()
    assert f"（{kind}）" in body
    assert f"({kind})" not in body
