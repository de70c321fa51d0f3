"""Conflict of interest: nobody acts as an officer on a case of a subject they have a tie to.

《中华人民共和国行政处罚法》第四十三条: 执法人员与案件有直接利害关系或者有其他关系可能影响公正
执法的，应当回避. The outside security test (issue 10) found that a company's representative
who also held intake and signing roles at the agency could file a restoration for the
company, accept it and approve it. These are the stories of that person and of the ties
Redress knows (a representation, a request to act for a subject, an application, a company
account, a tie on record): at every place an officer acts on a case the person is refused
with ``conflict_of_interest``, the case stays as it was, and their colleagues work it.
"""

from __future__ import annotations

import datetime

import pytest
from django.contrib.messages import get_messages
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases import access, accounts
from cases.accounts import representation_confirm, representation_reject
from cases.errors import InvalidInput, NotPermitted
from cases.models import (
    Case,
    Evidence,
    Membership,
    Organisation,
    OrganisationMember,
    Publication,
    Record,
    Representation,
    RepresentationRequest,
    Role,
    SubjectTie,
)
from cases.selectors import representation_requests_to_decide
from tests import factories, helpers
from tests import flow_helpers as flow
from tests.helpers import pdf_bytes, pdf_upload, restorable_record, serious_record
from workflows import actions, selectors

S = Case.Status
ARTICLE = "《中华人民共和国行政处罚法》第四十三条"


@pytest.fixture(autouse=True)
def evidence_store(tmp_path, monkeypatch):
    monkeypatch.setattr(storages["evidence"], "location", str(tmp_path))


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def insider(company, agency):
    """The tester's attacker: a confirmed representative of the company who also holds
    every officer's role (intake and signing among them) at the agency that listed it."""
    user = factories.representative(company, "insider")
    for role in Role.values:
        if role != Role.AUDITOR:
            Membership.objects.create(user=user, agency=agency, role=role)
    return user


@pytest.fixture
def other_company(db):
    return factories.SubjectFactory(name="深圳市另一家科技有限公司")


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {helpers.api_token(user)}")
    return client


def browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def assert_refused_for_conflict(response):
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["code"] == "conflict_of_interest", body
    assert body["basis"] == ARTICLE
    assert "Article 43" in body["message"]


def to_sign_off(case, staff) -> Case:
    """Colleagues with no tie accept the case and review it (and pass the legal review)."""
    if flow.refresh(case).status == S.SUBMITTED:
        flow.accept(case, staff[Role.INTAKE])
    if flow.refresh(case).status == S.UNDER_REVIEW:
        flow.review(case, staff[Role.CASE_OFFICER])
    if flow.refresh(case).status == S.LEGAL_REVIEW:
        flow.step(case, "legal_review", staff[Role.LEGAL_REVIEWER], decision="pass", note="OK.")
    assert flow.refresh(case).status == S.SIGN_OFF
    return case


# --- the tester's story ----------------------------------------------------------------------


def test_a_representative_with_officer_roles_cannot_accept_or_approve_their_own_companys_case(
    company, agency, platforms, record, insider, staff
):
    client = api(insider)
    filed = client.post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": company.code,
            "record_ids": [record.pk],
            "grounds": "Paid and corrected.",
        },
        format="json",
    )
    assert filed.status_code == 201  # acting for the company is theirs to do
    case = Case.objects.get(pk=filed.json()["id"])
    flow.add_restoration_materials(case, insider)
    acceptance = flow.open_task(case, "acceptance_check")

    # Their queue does not offer the acceptance check; the API refuses it by id.
    queue = client.get("/api/v1/tasks/?box=queue").json()["results"]
    assert acceptance.pk not in {t["id"] for t in queue}
    assert_refused_for_conflict(client.post(f"/api/v1/tasks/{acceptance.pk}/claim/"))
    assert_refused_for_conflict(
        client.post(
            f"/api/v1/tasks/{acceptance.pk}/complete/", {"decision": "accept"}, format="json"
        )
    )

    # The workspace refuses it too: the case page says why and offers nothing to do.
    pages = browser(insider)
    page = pages.get(reverse("workspace:case", args=[case.pk]))
    assert page.status_code == 200
    assert "You represent" in page.context["recusal"]
    assert [row.can_claim for row in page.context["task_rows"]] == [False]
    assert "Article 43" in page.context["task_rows"][0].why_not
    claimed = pages.post(reverse("workspace:task_claim", args=[acceptance.pk]))
    assert claimed.status_code == 302
    assert any("Article 43" in m for m in messages_of(claimed))
    completed = pages.post(
        reverse("workspace:task_complete", args=[acceptance.pk]), {"decision": "accept"}
    )
    assert completed.status_code == 403
    assert flow.refresh(case).status == S.SUBMITTED
    assert flow.open_steps(case) == ["acceptance_check"]
    assert "accepted" not in flow.event_kinds(case)

    # Colleagues with no tie work the case up to the sign-off, where the insider is refused again.
    to_sign_off(case, staff)
    sign_off = flow.open_task(case, "sign_off")
    assert_refused_for_conflict(client.post(f"/api/v1/tasks/{sign_off.pk}/claim/"))
    assert_refused_for_conflict(
        client.post(
            f"/api/v1/tasks/{sign_off.pk}/complete/", {"decision": "approved"}, format="json"
        )
    )
    pages.post(reverse("workspace:task_claim", args=[sign_off.pk]))
    signed = pages.post(
        reverse("workspace:task_complete", args=[sign_off.pk]),
        {"decision": "approved", "reasons": "The fine was paid."},
    )
    assert signed.status_code == 403
    assigned = actions.tasks_assign(
        tasks=[sign_off], supervisor=staff[Role.SUPERVISOR], assignee=insider
    )
    assert assigned.done == [] and "Article 43" in assigned.skipped[sign_off.pk]

    case = flow.refresh(case)
    assert case.status == S.SIGN_OFF and case.decision == ""
    assert not case.signatures.exists()
    record.refresh_from_db()
    assert record.status == Record.Status.ACTIVE
    assert flow.publication_statuses(record) == {Publication.Status.PUBLISHED}

    # The signing official with no tie decides; the record is withdrawn on their signature.
    flow.sign(case, staff[Role.SIGNER])
    assert flow.refresh(case).status == S.REMOVAL
    assert flow.last_event(case, "decided").actor == staff[Role.SIGNER]


def test_the_refusal_reaches_a_chinese_client_in_chinese_with_the_article(
    company, agency, platforms, record, insider, staff, applicant
):
    case = flow.file_restoration(company, [record], applicant)
    task = flow.open_task(case, "acceptance_check")
    client = APIClient()
    client.credentials(
        HTTP_AUTHORIZATION=f"Token {helpers.api_token(insider)}",
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )

    response = client.post(f"/api/v1/tasks/{task.pk}/claim/")

    assert response.status_code == 403
    assert response.json()["code"] == "conflict_of_interest"
    assert "第四十三条" in response.json()["message"]
    assert company.name in response.json()["message"]


# --- every kind of tie bars; an ended one does not --------------------------------------------


def _tie_representative(user, subject, agency):
    Representation.objects.create(user=user, subject=subject, confirmed_at=timezone.now())


def _tie_request_pending(user, subject, agency):
    RepresentationRequest.objects.create(
        user=user, subject=subject, proof_name="p.pdf", proof_sha256="0" * 64, proof_size=1
    )


def _tie_request_rejected(user, subject, agency):
    RepresentationRequest.objects.create(
        user=user,
        subject=subject,
        proof_name="p.pdf",
        proof_sha256="0" * 64,
        proof_size=1,
        status=RepresentationRequest.Status.REJECTED,
    )


def _tie_left_the_company_account(user, subject, agency):
    founder = factories.representative(subject, "founder")
    organisation = Organisation.objects.create(
        name=subject.name, subject=subject, created_by=founder
    )
    OrganisationMember.objects.create(
        organisation=organisation, user=user, removed_at=timezone.now(), removed_by=user
    )


def _tie_applied_before(user, subject, agency):
    old = restorable_record(subject, agency)
    Representation.objects.create(user=user, subject=subject, confirmed_at=timezone.now())
    flow.file_objection(subject, [old], user)
    Representation.objects.filter(user=user, subject=subject).delete()


def _tie_declared(user, subject, agency):
    SubjectTie.objects.create(
        user=user, subject=subject, kind=SubjectTie.Kind.CLOSE_RELATIVE, recorded_by=user
    )


def _tie_recorded_until_today(user, subject, agency):
    admin = factories.UserFactory(username="admin-wang", is_staff=True)
    SubjectTie.objects.create(
        user=user,
        subject=subject,
        kind=SubjectTie.Kind.EMPLOYMENT,
        valid_from=timezone.localdate() - datetime.timedelta(days=400),
        valid_until=timezone.localdate(),
        recorded_by=admin,
    )


TIES = {
    "a confirmed representation": (_tie_representative, "representative"),
    "a request to act for it, waiting": (_tie_request_pending, "representation_requested"),
    "a request to act for it, rejected": (
        _tie_request_rejected,
        "representation_requested",
    ),
    "a company account they left": (_tie_left_the_company_account, "company_account"),
    "an earlier case they applied for": (_tie_applied_before, "applicant"),
    "a declared tie": (_tie_declared, "declared"),
    "a recorded tie in force until today": (_tie_recorded_until_today, "declared"),
}


@pytest.mark.parametrize("tie", list(TIES))
def test_every_tie_to_the_subject_bars_an_intake_officer_from_the_acceptance_check(
    company, agency, platforms, record, applicant, staff, tie
):
    make, expected = TIES[tie]
    officer = factories.officer(Role.INTAKE, agency, username="intake-li")
    make(officer, company, agency)
    case = flow.file_restoration(company, [record], applicant)
    task = flow.open_task(case, "acceptance_check")

    with pytest.raises(NotPermitted) as refused:
        actions.task_claim(task=task, user=officer)

    assert refused.value.code == "conflict_of_interest"
    assert refused.value.basis == ARTICLE
    assert access.conflict_of_interest(officer, company).tie == expected
    assert task.pk not in set(selectors.tasks_queue(officer).values_list("pk", flat=True))
    assert flow.open_steps(case) == ["acceptance_check"]


def test_a_recorded_tie_bars_only_while_it_is_in_force(
    company, agency, platforms, record, applicant, staff
):
    today = timezone.localdate()
    barred = factories.officer(Role.INTAKE, agency, username="intake-barred")
    SubjectTie.objects.create(
        user=barred, subject=company, kind=SubjectTie.Kind.SHAREHOLDING, recorded_by=barred
    )
    free = factories.officer(Role.INTAKE, agency, username="intake-free")
    SubjectTie.objects.create(  # sold the shares last year, barred until yesterday
        user=free,
        subject=company,
        kind=SubjectTie.Kind.SHAREHOLDING,
        valid_from=today - datetime.timedelta(days=400),
        valid_until=today - datetime.timedelta(days=1),
        recorded_by=free,
    )
    SubjectTie.objects.create(  # takes up a post there tomorrow
        user=free,
        subject=company,
        kind=SubjectTie.Kind.EMPLOYMENT,
        valid_from=today + datetime.timedelta(days=1),
        recorded_by=free,
    )
    case = flow.file_restoration(company, [record], applicant)

    with pytest.raises(NotPermitted) as refused:
        flow.accept(case, barred)
    assert refused.value.code == "conflict_of_interest"
    assert "shareholding" in refused.value.message
    flow.accept(case, free)
    assert flow.refresh(case).status == S.UNDER_REVIEW


def test_a_tie_to_one_company_bars_its_case_and_leaves_another_companys_case_free(
    company, other_company, agency, platforms, record, applicant, insider, staff
):
    ours = flow.file_restoration(company, [record], applicant)
    other_record = restorable_record(other_company, agency, platforms)
    theirs = flow.file_restoration(
        other_company, [other_record], factories.representative(other_company, "globex")
    )

    with pytest.raises(NotPermitted):
        flow.accept(ours, insider)
    flow.accept(theirs, insider)
    flow.review(theirs, staff[Role.CASE_OFFICER])
    flow.sign(theirs, insider)

    assert flow.refresh(ours).status == S.SUBMITTED
    assert flow.refresh(theirs).decision == Case.Decision.APPROVED
    assert flow.last_event(theirs, "decided").actor == insider


# --- every place an officer acts on a case ----------------------------------------------------


def _case_at(status, company, agency, platforms, applicant, staff, *, serious=False) -> Case:
    """A case that colleagues with no tie have brought to ``status``."""
    make = serious_record if serious else restorable_record
    case = flow.file_restoration(company, [make(company, agency, platforms)], applicant)
    if status == S.SUBMITTED:
        return case
    flow.accept(case, staff[Role.INTAKE])
    if status == S.UNDER_REVIEW:
        return flow.refresh(case)
    flow.review(case, staff[Role.CASE_OFFICER])
    if status == S.LEGAL_REVIEW:
        return flow.refresh(case)
    to_sign_off(case, staff)
    if status == S.SIGN_OFF:
        return flow.refresh(case)
    flow.sign(case, staff[Role.SIGNER])
    return flow.refresh(case)


# Each as the officer does it, through the route: the steps of the case are claimed and
# completed (the refusal comes when the step is claimed), the rest are actions of their own.
ACTIONS = {
    "accept": (S.SUBMITTED, lambda case, user: flow.accept(case, user)),
    "ask for missing materials": (
        S.SUBMITTED,
        lambda case, user: flow.step(
            case,
            "acceptance_check",
            user,
            decision="request_materials",
            missing=flow.missing("credit_report"),
        ),
    ),
    "refuse to accept": (S.SUBMITTED, lambda case, user: flow.not_accept(case, user, "No.")),
    "add evidence as an officer": (
        S.UNDER_REVIEW,
        lambda case, user: actions.evidence_add(
            case=case, uploaded_by=user, upload=pdf_upload(), source=Evidence.Source.OFFICER
        ),
    ),
    "review the evidence and recommend": (
        S.UNDER_REVIEW,
        lambda case, user: flow.review(case, user, Case.Decision.REJECTED),
    ),
    "ask for more during the review": (
        S.UNDER_REVIEW,
        lambda case, user: flow.request_materials_in_review(
            case,
            user,
            "credit_report",
            reviews=[{"evidence": case.evidence.first().pk, "outcome": "accepted"}],
        ),
    ),
    "do the legal review": (S.LEGAL_REVIEW, lambda case, user: flow.legal_review(case, user)),
    "sign the decision": (S.SIGN_OFF, lambda case, user: flow.sign(case, user)),
    "revoke the restoration": (
        S.REMOVAL,
        lambda case, user: (
            flow.revocation_rules(case)
            or actions.case_revocation_propose(
                case=case,
                official=user,
                ground="untrue_commitment",
                reasons="False commitment.",
                evidence=[pdf_upload("revocation")],
            )
        ),
    ),
    "extend a deadline": (
        S.UNDER_REVIEW,
        lambda case, user: actions.deadline_extend(
            case=case, supervisor=user, step="decision", days=5, reason="Busy."
        ),
    ),
}


@pytest.mark.parametrize("action", list(ACTIONS))
def test_the_insider_is_refused_every_officer_action_on_their_companys_case(
    company, agency, platforms, applicant, staff, insider, action
):
    status, act = ACTIONS[action]
    case = _case_at(
        status, company, agency, platforms, applicant, staff, serious=status == S.LEGAL_REVIEW
    )
    record = case.records.get()
    before = (flow.event_kinds(case), case.evidence.count(), flow.publication_statuses(record))

    with pytest.raises(NotPermitted) as refused:
        act(case, insider)

    assert refused.value.code == "conflict_of_interest"
    assert refused.value.basis == ARTICLE
    case = flow.refresh(case)
    assert case.status == status
    assert (flow.event_kinds(case), case.evidence.count(), flow.publication_statuses(record)) == (
        before
    )
    # The same call by a colleague with the same roles and no tie is not refused.
    colleague = factories.UserFactory(username="colleague")
    for role in (Role.INTAKE, Role.CASE_OFFICER, Role.LEGAL_REVIEWER, Role.SIGNER, Role.SUPERVISOR):
        Membership.objects.create(user=colleague, agency=agency, role=role)
    factories.legal_qualification(colleague)  # a legal reviewer's, APL Art. 58 ¶2
    act(case, colleague)
    assert flow.event_kinds(flow.refresh(case)) != before[0]


def test_an_officer_with_a_tie_cannot_file_on_the_subjects_behalf(
    company, agency, platforms, record, applicant, insider
):
    with pytest.raises(NotPermitted) as refused:
        actions.case_submit(
            kind=Case.Kind.RESTORATION,
            subject=company,
            records=[record],
            grounds="Filed at the counter.",
            applicant=applicant,
            filed_by=insider,
            channel=Case.Channel.OFFICER,
        )

    assert refused.value.code == "conflict_of_interest"
    assert not Case.objects.exists()


# --- assigning: supervisors, the choice list, bulk ---------------------------------------------


def test_a_supervisor_is_not_offered_and_cannot_assign_an_officer_with_a_tie(
    company, agency, platforms, record, applicant, staff, insider
):
    case = flow.file_restoration(company, [record], applicant)
    task = flow.open_task(case, "acceptance_check")
    supervisor = browser(staff[Role.SUPERVISOR])

    page = supervisor.get(reverse("workspace:case", args=[case.pk]))
    choices = page.context["task_rows"][0].assign_form.fields["assignee"].queryset
    assert staff[Role.INTAKE] in choices and insider not in choices

    posted = supervisor.post(
        reverse("workspace:task_assign", args=[task.pk]), {"assignee": insider.pk}
    )
    assert posted.status_code == 302
    said = " ".join(messages_of(posted))
    assert "insider has a tie to" in said and "Article 43" in said
    assert "represent" not in said  # the supervisor is told there is a tie, not which
    task.refresh_from_db()
    assert task.owner_id is None
    assert "task_assigned" not in flow.event_kinds(case)


def test_bulk_assignment_skips_each_task_of_a_subject_the_assignee_has_a_tie_to(
    company, other_company, agency, platforms, applicant, staff, insider
):
    ours = flow.file_restoration(
        company, [restorable_record(company, agency, platforms)], applicant
    )
    theirs = flow.file_restoration(
        other_company,
        [restorable_record(other_company, agency, platforms)],
        factories.representative(other_company, "globex"),
    )
    tasks = [flow.open_task(ours, "acceptance_check"), flow.open_task(theirs, "acceptance_check")]

    response = browser(staff[Role.SUPERVISOR]).post(
        reverse("workspace:tasks_assign"),
        {"assignee": insider.pk, "tasks": [t.pk for t in tasks]},
    )

    assert response.status_code == 302
    said = messages_of(response)
    assert any(f"Skipped #{tasks[0].pk}" in m and "Article 43" in m for m in said), said
    assert flow.open_steps(ours) == ["acceptance_check"]
    assert flow.open_steps(theirs) == ["acceptance_check@insider"]
    result = actions.tasks_assign(
        tasks=[tasks[0]], supervisor=staff[Role.SUPERVISOR], assignee=insider
    )
    assert result.done == [] and "Article 43" in result.skipped[tasks[0].pk]


def test_a_supervisor_with_a_tie_neither_assigns_nor_releases_nor_extends_on_the_subjects_case(
    company, agency, platforms, record, applicant, staff, insider
):
    case = flow.file_restoration(company, [record], applicant)
    task = flow.claim(case, "acceptance_check", staff[Role.INTAKE])

    page = browser(insider).get(reverse("workspace:case", args=[case.pk]))
    assert page.context["task_rows"][0].assign_form is None
    assert page.context["extend_forms"] == {}

    result = actions.tasks_assign(
        tasks=[task], supervisor=insider, assignee=factories.officer(Role.INTAKE, agency, "li")
    )
    assert result.done == [] and "Article 43" in result.skipped[task.pk]
    with pytest.raises(NotPermitted) as refused:
        actions.task_release(task=task, user=insider)
    assert refused.value.code == "conflict_of_interest"
    with pytest.raises(NotPermitted) as refused:
        actions.deadline_extend(
            case=case, supervisor=insider, step="acceptance", days=2, reason="x"
        )
    assert refused.value.code == "conflict_of_interest"
    assert flow.open_steps(case) == ["acceptance_check@intake-szamr"]


def test_an_officer_who_holds_a_task_when_a_tie_appears_sees_it_flagged_and_can_give_it_back(
    company, agency, platforms, record, applicant, staff
):
    officer = staff[Role.INTAKE]
    case = flow.file_restoration(company, [record], applicant)
    task = flow.claim(case, "acceptance_check", officer)
    accounts.subject_tie_record(
        user=officer,
        subject_code=company.code,
        kind=SubjectTie.Kind.CLOSE_RELATIVE,
        recorded_by=officer,
    )

    inbox = selectors.tasks_inbox(officer).get(pk=task.pk)
    assert inbox.conflicted is True
    with pytest.raises(NotPermitted) as refused:
        actions.task_complete(task=task, user=officer, data={"decision": "accept"})
    assert refused.value.code == "conflict_of_interest"
    actions.task_release(task=task, user=officer)
    assert flow.open_steps(case) == ["acceptance_check"]


# --- confirming links to subjects --------------------------------------------------------------


def _link_request(user, subject) -> RepresentationRequest:
    representation = Representation.objects.create(user=user, subject=subject)
    return RepresentationRequest.objects.create(
        user=user,
        subject=subject,
        representation=representation,
        proof=SimpleUploadedFile("proof.pdf", pdf_bytes("proof"), "application/pdf"),
        proof_name="proof.pdf",
        proof_sha256="0" * 64,
        proof_size=10,
        proof_content_type="application/pdf",
    )


def test_an_intake_officer_cannot_confirm_their_own_link_made_before_they_joined_the_agency(
    company, agency, record
):
    person = factories.UserFactory(username="later-officer")
    request = _link_request(person, company)
    Membership.objects.create(user=person, agency=agency, role=Role.INTAKE)

    assert request not in representation_requests_to_decide(person)
    with pytest.raises(NotPermitted) as refused:
        representation_confirm(request=request, by=person)

    assert refused.value.code == "conflict_of_interest"
    request.refresh_from_db()
    assert request.status == RepresentationRequest.Status.PENDING
    assert not Representation.objects.filter(user=person, confirmed_at__isnull=False).exists()


def test_an_intake_officer_with_a_tie_neither_confirms_nor_rejects_a_link_to_that_subject(
    company, agency, record, insider, staff
):
    stranger = factories.UserFactory(username="stranger")
    request = _link_request(stranger, company)

    assert request not in representation_requests_to_decide(insider)
    for decide in (
        lambda: representation_confirm(request=request, by=insider),
        lambda: representation_reject(request=request, by=insider, reason="Not ours."),
    ):
        with pytest.raises(NotPermitted) as refused:
            decide()
        assert refused.value.code == "conflict_of_interest"
    request.refresh_from_db()
    assert request.status == RepresentationRequest.Status.PENDING

    assert request in representation_requests_to_decide(staff[Role.INTAKE])
    representation_confirm(request=request, by=staff[Role.INTAKE])
    assert access.represents(stranger, company)


def test_a_link_is_not_confirmed_for_someone_who_has_become_an_officer(
    company, agency, record, staff
):
    person = factories.UserFactory(username="later-officer")
    request = _link_request(person, company)
    Membership.objects.create(user=person, agency=agency, role=Role.CASE_OFFICER)

    with pytest.raises(NotPermitted) as refused:
        representation_confirm(request=request, by=staff[Role.INTAKE])

    assert refused.value.code == "officer"
    assert not access.represents(person, company)


# --- an officer declares a tie ----------------------------------------------------------------


def test_an_officer_declares_a_tie_in_the_workspace_and_is_barred_from_then_on(
    company, agency, platforms, record, applicant, staff
):
    officer = staff[Role.INTAKE]
    case = flow.file_restoration(company, [record], applicant)
    pages = browser(officer)
    page = pages.get(reverse("workspace:case", args=[case.pk]))
    assert f"?subject={company.code}" in page.content.decode()

    declared = pages.post(
        reverse("workspace:ties"),
        {"subject_code": company.code, "kind": "close_relative", "note": "My sister runs it."},
    )

    assert declared.status_code == 302
    tie = SubjectTie.objects.get(user=officer)
    assert (tie.subject, tie.recorded_by, tie.valid_from) == (
        company,
        officer,
        timezone.localdate(),
    )
    listed = pages.get(reverse("workspace:ties"))
    assert company.name in listed.content.decode()
    with pytest.raises(NotPermitted) as refused:
        flow.claim(case, "acceptance_check", officer)
    assert refused.value.code == "conflict_of_interest"
    assert "close relative" in refused.value.message


def test_declaring_a_tie_to_an_unknown_code_says_so_and_records_nothing(agency, staff):
    unknown = factories.SubjectFactory.build().code

    response = browser(staff[Role.INTAKE]).post(
        reverse("workspace:ties"), {"subject_code": unknown, "kind": "employment"}
    )

    assert response.status_code == 400
    assert "No subject with the code" in response.content.decode()
    assert not SubjectTie.objects.exists()


def test_another_tie_needs_a_note_and_only_an_administrator_records_someone_elses(company, staff):
    officer = staff[Role.INTAKE]
    with pytest.raises(InvalidInput) as refused:
        accounts.subject_tie_record(
            user=officer, subject_code=company.code, kind="other", recorded_by=officer
        )
    assert refused.value.field == "note"
    with pytest.raises(NotPermitted):
        accounts.subject_tie_record(
            user=officer, subject_code=company.code, kind="employment", recorded_by=staff["signer"]
        )
    assert not SubjectTie.objects.exists()


# --- the admin warns ----------------------------------------------------------------------------


def test_granting_an_officer_role_to_a_representative_warns_the_administrator(
    admin_client, company, agency, applicant
):
    response = admin_client.post(
        reverse("admin:cases_membership_add"),
        {"user": applicant.pk, "agency": agency.pk, "role": "intake", "since": "2026-01-05"},
        follow=True,
    )

    assert Membership.objects.filter(user=applicant, role="intake").exists()
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1
    assert company.name in warnings[0] and "barred" in warnings[0]


def test_granting_a_role_in_the_user_page_warns_too_and_an_auditor_role_does_not(
    admin_client, company, agency, applicant
):
    def save(role):
        change = reverse("admin:auth_user_change", args=[applicant.pk])
        page = admin_client.get(change)
        form = page.context["adminform"].form
        data = {k: v for k, v in form.initial.items() if v is not None and k != "password"}
        for inline in page.context["inline_admin_formsets"]:  # every inline's management form
            management = inline.formset.management_form
            data.update({management.add_prefix(k): v for k, v in management.initial.items()})
        data.update(
            {
                "date_joined_0": "2026-01-05",
                "date_joined_1": "09:00:00",
                "memberships-TOTAL_FORMS": "1",
                "memberships-INITIAL_FORMS": "0",
                "memberships-0-agency": agency.pk,
                "memberships-0-role": role,
                "memberships-0-since": "2026-01-05",
                "staff_profile-TOTAL_FORMS": "0",  # no legal qualification recorded
                "staff_profile-INITIAL_FORMS": "0",
            }
        )
        data.pop("last_login", None)
        data.pop("groups", None)
        data.pop("user_permissions", None)
        return admin_client.post(change, data, follow=True)

    audited = save("auditor")
    assert not [m for m in audited.context["messages"] if m.level_tag == "warning"]
    Membership.objects.filter(user=applicant).delete()
    granted = save("signer")
    assert Membership.objects.filter(user=applicant, role="signer").exists()
    warnings = [str(m) for m in granted.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1 and company.name in warnings[0]


def test_confirming_a_representation_of_an_officer_in_the_admin_warns(admin_client, company, staff):
    officer = staff[Role.SIGNER]
    response = admin_client.post(
        reverse("admin:cases_representation_add"),
        {
            "user": officer.pk,
            "subject": company.pk,
            "confirmed_at_0": "2026-01-05",
            "confirmed_at_1": "09:00:00",
        },
        follow=True,
    )

    assert Representation.objects.filter(user=officer, subject=company).exists()
    warnings = [str(m) for m in response.context["messages"] if m.level_tag == "warning"]
    assert len(warnings) == 1
    assert "SZAMR" in warnings[0] and company.name in warnings[0]


def test_the_admin_lists_memberships_of_people_with_a_tie(admin_client, agency, insider, staff):
    listed = admin_client.get(reverse("admin:cases_membership_changelist"), {"tied": "yes"})

    assert listed.status_code == 200
    shown = {m.user for m in listed.context["cl"].result_list}
    assert shown == {insider}
    everyone = admin_client.get(reverse("admin:cases_membership_changelist"))
    assert {m.has_tie for m in everyone.context["cl"].result_list if m.user == insider} == {True}


def test_an_administrator_records_a_tie_and_finds_it_by_name_in_chinese(
    admin_client, admin_user, company, staff
):
    officer = staff[Role.LEGAL_REVIEWER]
    added = admin_client.post(
        reverse("admin:cases_subjecttie_add"),
        {
            "user": officer.pk,
            "subject": company.pk,
            "kind": "shareholding",
            "note": "Holds 5%.",
            "valid_from": "2026-01-05",
        },
        follow=True,
    )
    tie = SubjectTie.objects.get(user=officer)
    assert tie.recorded_by == admin_user
    assert any(m.level_tag == "warning" for m in added.context["messages"])

    found = admin_client.get(
        reverse("admin:cases_subjecttie_changelist"),
        {"q": company.name[:4], "kind__exact": "shareholding", "in_force": "yes"},
        HTTP_ACCEPT_LANGUAGE="zh-hans",
    )
    assert list(found.context["cl"].result_list) == [tie]
    assert (
        admin_client.post(
            reverse("admin:cases_subjecttie_delete", args=[tie.pk]), {"post": "yes"}
        ).status_code
        == 403
    )
    chinese = admin_client.get(
        reverse("admin:cases_subjecttie_add"), HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "利害关系" in chinese
