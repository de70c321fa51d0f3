"""The Administrative Penalties Law's safeguards on a decision, as officers and parties meet
them: the grounds for a legal review (Art. 58 ¶1), the legal reviewer's qualification
(Art. 58 ¶2), the collective decision meeting (Art. 57 ¶2) and the party's statement and
defence on evidence from electronic monitoring (Arts. 41, 45, 62).

Every rule value a story relies on is set on the case's rule set here, so the stories do
not depend on the seeded versions.
"""

import datetime

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases import rules
from cases.errors import InvalidInput, NotPermitted, WrongState
from cases.models import Case, Deadline, DecisionMeeting, Evidence, Role, RuleSet
from documents.content import format_date, letter_html
from notifications.models import Message
from tests import factories, helpers
from tests.flow_helpers import (
    MONITORING_DEVICE,
    add_evidence,
    claim,
    complete,
    event_kinds,
    last_event,
    legal_review,
    open_task,
    refresh,
    restoration_accepted,
    review,
    reviews_accepting_every_item,
    sign,
    worker_renders_letters,
)
from tests.helpers import api_token, pdf_upload, restorable_record
from workflows import actions
from workflows.selectors import tasks_queue

S = Case.Status
APPROVED = Case.Decision.APPROVED


def rules_of(record, **values) -> RuleSet:
    """The rule set ``record`` is judged by today, with ``values`` set on it."""
    rule_set = rules.rule_set_for_record(record, on=timezone.localdate())
    RuleSet.objects.filter(pk=rule_set.pk).update(**values)
    rule_set.refresh_from_db()
    return rule_set


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def accepted(company, record, applicant, staff):
    """A general restoration accepted under rules that ask for no legal review, one signer
    and no collective decision."""
    rules_of(
        record,
        legal_review_required=False,
        signers_required=1,
        collective_decision_required=False,
        monitoring_statement_days=3,
    )
    return restoration_accepted(company, [record], applicant, staff)


def workspace(name, *args):
    return reverse(f"workspace:{name}", args=args)


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def approval_letter(case, language="en") -> str:
    """The approval letter as issued (in the case's language, zh-hans), or as the same
    facts read in ``language``."""
    letter = refresh(case).letters.get(kind="approval")
    if letter.language == language:
        return letter.html
    html, _template, _version = letter_html(
        case, "approval", language, code=letter.verification_code, issued_at=letter.issued_at
    )
    return html


# --- 1. grounds for a legal review (APL Art. 58 ¶1) ------------------------------------------------


def test_a_ground_the_case_officer_records_sends_the_case_to_legal_review(
    client, accepted, staff, private_files
):
    officer = staff[Role.CASE_OFFICER]
    client.force_login(officer)
    task = open_task(accepted, "evidence_review")
    client.post(workspace("task_claim", task.pk))
    items = {f"outcome_{item.pk}": "accepted" for item in accepted.evidence.order_by("id").all()}

    response = client.post(
        workspace("task_complete", task.pk),
        {
            **items,
            "action": "complete",
            "recommendation": "approved",
            "legal_review_grounds": ["public_interest", "complex"],
        },
    )

    assert response.status_code == 302
    case = refresh(accepted)
    assert case.status == S.LEGAL_REVIEW  # the rule set does not ask for one: the grounds do
    assert case.legal_review_grounds == ["public_interest", "complex"]
    assert last_event(case, "review_completed").data["legal_review_grounds"] == [
        "public_interest",
        "complex",
    ]
    page = client.get(workspace("case", case.pk)).content.decode()
    assert "It involves a major public interest" in page
    assert "Art. 58(1), item 1" in page and "Art. 58(1), item 3" in page
    assert "Grounds for a legal review recorded" in page  # the timeline

    legal_review(case, staff[Role.LEGAL_REVIEWER])
    sign(case, staff[Role.SIGNER])
    worker_renders_letters(case)
    letter = approval_letter(case)
    assert "Record of review" in letter
    assert "It is difficult or complex and involves several legal relationships" in letter
    zh_letter = approval_letter(case, "zh-hans")
    assert "《中华人民共和国行政处罚法》第五十八条第一款第（三）项" in zh_letter


def test_no_ground_and_rules_without_legal_review_go_straight_to_sign_off(accepted, staff):
    case = review(accepted, staff[Role.CASE_OFFICER], APPROVED, legal_review_grounds=[])

    assert case.status == S.SIGN_OFF
    assert last_event(case, "review_completed").data["legal_review_grounds"] == []
    assert "legal_review_grounds_recorded" not in event_kinds(case)


def test_the_ground_of_another_law_names_the_provision_through_the_api(accepted, staff):
    officer = staff[Role.CASE_OFFICER]
    task = claim(accepted, "evidence_review", officer)
    body = {
        "reviews": reviews_accepting_every_item(accepted),
        "recommendation": "approved",
        "legal_review_grounds": ["other_law"],
    }

    refused = api(officer).post(f"/api/v1/tasks/{task.pk}/complete/", body, format="json")

    assert refused.status_code == 400
    assert refused.json()["field"] == "legal_review_other_basis"
    assert refresh(accepted).status == S.UNDER_REVIEW

    body["legal_review_other_basis"] = "《某省行政执法条例》第二十条"
    done = api(officer).post(f"/api/v1/tasks/{task.pk}/complete/", body, format="json")

    assert done.status_code == 200, done.content
    case = refresh(accepted)
    assert case.status == S.LEGAL_REVIEW
    detail = api(officer).get(f"/api/v1/cases/{case.pk}/").json()
    assert detail["legal_review_grounds"] == ["other_law"]


# --- 2. the legal reviewer's qualification (APL Art. 58 ¶2) ----------------------------------------


def test_a_legal_reviewer_without_the_qualification_is_neither_offered_nor_let_claim_the_task(
    client, agency, accepted, staff
):
    wang = factories.officer(Role.LEGAL_REVIEWER, agency, username="wang", qualified=False)
    review(accepted, staff[Role.CASE_OFFICER], APPROVED, legal_review_grounds=["complex"])
    task = open_task(accepted, "legal_review")

    assert task not in tasks_queue(wang)
    assert task in tasks_queue(staff[Role.LEGAL_REVIEWER])
    with pytest.raises(NotPermitted) as refused:
        actions.task_claim(task=task, user=wang)
    assert refused.value.code == "not_qualified"
    assert "Article 58(2)" in refused.value.message
    assert "Ask an administrator to record your certificate number" in refused.value.message
    claimed = api(wang).post(f"/api/v1/tasks/{task.pk}/claim/")
    assert claimed.status_code == 403
    assert claimed.json()["code"] == "not_qualified"

    # The supervisor's assign list offers only the qualified reviewer.
    client.force_login(staff[Role.SUPERVISOR])
    page = client.get(workspace("case", accepted.pk)).content.decode()
    assign_options = page.split(f'id="task-{task.pk}"')[1].split("</section>")[0]
    assert ">legal_reviewer-szamr<" in assign_options
    assert ">wang<" not in assign_options
    result = actions.tasks_assign(tasks=[task], assignee=wang, supervisor=staff[Role.SUPERVISOR])
    assert result.done == []
    assert "Article 58(2)" in result.skipped[task.pk]

    # Once an administrator records the certificate, Wang may take and do the review.
    factories.legal_qualification(wang)
    legal_review(accepted, wang)
    assert refresh(accepted).status == S.SIGN_OFF


def test_the_admin_records_the_qualification_on_the_staff_profile(admin_client, agency):
    wang = factories.officer(Role.LEGAL_REVIEWER, agency, username="wang", qualified=False)

    page = admin_client.get(reverse("admin:auth_user_change", args=[wang.pk])).content.decode()

    assert "初次从事行政处罚决定法制审核的人员" in page  # the help text cites Art. 58 ¶2
    response = admin_client.post(
        reverse("admin:cases_staffprofile_add"),
        {
            "user": wang.pk,
            "legal_qualification_no": "A20184403041234",
            "legal_qualification_recorded_on": "2026-01-05",
        },
    )
    assert response.status_code == 302
    assert wang.staff_profile.legally_qualified


# --- 3. the collective decision meeting (APL Art. 57 ¶2) -------------------------------------------


def test_a_collective_decision_is_signed_only_once_its_meeting_is_recorded(
    client, company, agency, record, applicant, staff, private_files
):
    rules_of(
        record,
        legal_review_required=False,
        signers_required=1,
        collective_decision_required=True,
    )
    case = restoration_accepted(company, [record], applicant, staff)
    review(case, staff[Role.CASE_OFFICER], APPROVED)
    head = factories.officer(Role.SIGNER, agency, username="head", first_name="Jun")

    with pytest.raises(WrongState) as refused:
        sign(case, staff[Role.SIGNER])
    assert refused.value.code == "meeting_not_recorded"
    assert "Article 57" in refused.value.message
    assert refresh(case).status == S.SIGN_OFF
    open_task(case, "sign_off")  # still waiting for a signer

    client.force_login(staff[Role.SIGNER])
    page = client.get(workspace("case", case.pk)).content.decode()
    assert "Record the collective decision meeting" in page
    not_a_document = client.post(
        workspace("case_meeting", case.pk),
        {
            "held_on": "2026-01-05",
            "participants": [staff[Role.SIGNER].pk, head.pk],
            "minutes": SimpleUploadedFile("minutes.sh", b"#!/bin/sh\necho minutes\n"),
        },
    )
    assert not_a_document.status_code == 400
    assert not DecisionMeeting.objects.exists()

    held_on = timezone.localdate() - datetime.timedelta(days=1)
    response = client.post(
        workspace("case_meeting", case.pk),
        {
            "held_on": held_on.isoformat(),
            "participants": [staff[Role.SIGNER].pk, head.pk],
            "minutes": pdf_upload("minutes", name="minutes.pdf"),
            "note": "Heads' meeting no. 3.",
        },
    )

    assert response.status_code == 302
    meeting = DecisionMeeting.objects.get(case=case)
    assert set(meeting.participants.all()) == {staff[Role.SIGNER], head}
    assert meeting.minutes_name == "minutes.pdf"
    assert last_event(case, "decision_meeting_recorded").data["held_on"] == held_on.isoformat()
    page = client.get(workspace("case", case.pk)).content.decode()
    assert f'id="meeting-{meeting.round}"' in page and "head" in page

    complete(case, "sign_off", staff[Role.SIGNER], decision=APPROVED)  # they hold the task
    assert refresh(case).decision == APPROVED
    worker_renders_letters(case)
    letter = approval_letter(case)
    assert f"meeting of the agency's heads held on {format_date(held_on, 'en')}" in letter
    assert "Jun" in letter and "signer-szamr" in letter
    assert "集体讨论" in approval_letter(case, "zh-hans")


def test_only_people_of_the_agency_take_part_in_the_meeting(
    company, agency, other_agency, record, applicant, staff, private_files
):
    rules_of(record, legal_review_required=False, collective_decision_required=True)
    case = restoration_accepted(company, [record], applicant, staff)
    review(case, staff[Role.CASE_OFFICER], APPROVED)
    stranger = factories.officer(Role.SIGNER, other_agency, username="stranger")

    with pytest.raises(InvalidInput) as refused:
        actions.meeting_record(
            case=case,
            signer=staff[Role.SIGNER],
            held_on=timezone.localdate(),
            participants=[staff[Role.SIGNER], stranger],
            minutes=pdf_upload("minutes"),
        )

    assert refused.value.field == "participants"
    assert "stranger" in refused.value.message
    assert not DecisionMeeting.objects.exists()


# --- 4. evidence from electronic monitoring (APL Arts. 41, 45, 62) ---------------------------------


def _add_monitoring(case, staff, **monitoring) -> Evidence:
    return add_evidence(
        case,
        staff[Role.CASE_OFFICER],
        source=Evidence.Source.ELECTRONIC_MONITORING,
        monitoring={**MONITORING_DEVICE, **monitoring},
        description="Discharge monitor log, 2025-03.",
    )


def _review_with_monitoring(case, staff):
    return review(
        case,
        staff[Role.CASE_OFFICER],
        APPROVED,
        reviews=[
            {
                "evidence": item.pk,
                "outcome": Evidence.Outcome.ACCEPTED,
                "reason": "Calibration certificate checked; readings match the site visit.",
            }
            for item in case.evidence.all()
        ],
    )


def test_the_party_is_told_of_monitoring_evidence_and_the_sign_off_waits_for_its_statement(
    client, accepted, applicant, staff, private_files
):
    reading = _add_monitoring(accepted, staff)

    # The notice goes through the outbox to the applicant, naming the device and the period.
    notice = Message.objects.get(case=accepted, kind="monitoring_notified")
    assert notice.recipient_user == applicant
    period = Deadline.objects.get(case=accepted, step=Deadline.Step.STATEMENT)
    assert period.working_days == 3  # the rule set's period: the Law sets none
    assert period.status == Deadline.Status.RUNNING
    assert MONITORING_DEVICE["device"] in notice.body
    assert f"{period.due_on:%Y-%m-%d}" in notice.body
    assert reading.monitoring_approval_ref == MONITORING_DEVICE["approval_ref"]
    # The clock shows the period, to the officers and to the party.
    client.force_login(staff[Role.CASE_OFFICER])
    page = client.get(workspace("case", accepted.pk)).content.decode()
    assert f"The party may state its case and defend until {period.due_on:%Y-%m-%d}" in page
    assert "legal and technical approval" in page
    deadlines = api(applicant).get(f"/api/v1/cases/{accepted.pk}/").json()["deadlines"]
    assert {"step": "statement", "due_on": f"{period.due_on:%Y-%m-%d}"}.items() <= next(
        d for d in deadlines if d["step"] == "statement"
    ).items()

    # A person reviews the item (APL Art. 41 ¶2), then the signer may not decide yet.
    case = _review_with_monitoring(accepted, staff)
    with pytest.raises(WrongState) as refused:
        sign(case, staff[Role.SIGNER])
    assert refused.value.code == "statement_period_running"
    assert f"{period.due_on:%Y-%m-%d}" in refused.value.message
    assert refresh(case).status == S.SIGN_OFF

    # The party states its case through the API; the period ends and the signer decides.
    stated = api(applicant).post(
        f"/api/v1/cases/{case.pk}/statement/",
        {"statement": "The monitor was under maintenance that day; see the log."},
        format="json",
    )
    assert stated.status_code == 200, stated.content
    period.refresh_from_db()
    assert period.status == Deadline.Status.MET
    assert last_event(case, "statement_made").note.startswith("The monitor was under")

    complete(case, "sign_off", staff[Role.SIGNER], decision=APPROVED)  # they hold the task
    assert refresh(case).decision == APPROVED
    worker_renders_letters(case)
    letter = approval_letter(case)
    assert "Evidence from electronic monitoring (SZ-EM-0042)" in letter
    assert "Your statement and defence of" in letter


def test_once_the_period_has_ended_without_a_statement_the_signer_decides(
    client, accepted, applicant, staff, private_files
):
    _add_monitoring(accepted, staff)
    case = _review_with_monitoring(accepted, staff)
    Deadline.objects.filter(case=case, step=Deadline.Step.STATEMENT).update(
        due_on=timezone.localdate() - datetime.timedelta(days=1)
    )

    sign(case, staff[Role.SIGNER])

    case = refresh(case)
    assert case.decision == APPROVED
    period = Deadline.objects.get(case=case, step=Deadline.Step.STATEMENT)
    assert period.status != Deadline.Status.RUNNING


def test_the_party_states_its_case_from_the_portal(client, accepted, applicant, staff):
    _add_monitoring(accepted, staff)
    client.force_login(applicant)

    page = client.get(reverse("portal:case", args=[accepted.pk])).content.decode()
    assert "State your case and defend" in page
    response = client.post(
        reverse("portal:statement", args=[accepted.pk]), {"waived": "on", "statement": ""}
    )

    assert response.status_code == 302
    assert "statement_waived" in event_kinds(accepted)
    assert not Deadline.objects.filter(
        case=accepted, step=Deadline.Step.STATEMENT, status=Deadline.Status.RUNNING
    ).exists()


def test_monitoring_evidence_names_its_device_and_approval(accepted, staff):
    with pytest.raises(InvalidInput) as refused:
        _add_monitoring(accepted, staff, approval_ref="")

    assert refused.value.field == "monitoring_approval_ref"
    assert "Article 41" in refused.value.message
    assert not accepted.evidence.filter(source=Evidence.Source.ELECTRONIC_MONITORING).exists()
    assert not Message.objects.filter(kind="monitoring_notified").exists()


def test_monitoring_evidence_still_needs_a_persons_review(accepted, staff):
    _add_monitoring(accepted, staff)

    with pytest.raises(InvalidInput) as refused:
        review(accepted, staff[Role.CASE_OFFICER], APPROVED)  # accepts every item, no note

    assert refused.value.field == "reason"
    assert refresh(accepted).status == S.UNDER_REVIEW
    assert not refresh(accepted).evidence.get(source=Evidence.Source.ELECTRONIC_MONITORING).counts


# --- 5. the same safeguards through the REST API ----------------------------------------------


def _collective_case(company, record, applicant, staff) -> Case:
    rules_of(
        record, legal_review_required=False, signers_required=1, collective_decision_required=True
    )
    case = restoration_accepted(company, [record], applicant, staff)
    return review(case, staff[Role.CASE_OFFICER], APPROVED)


def _meeting_body(*participants, **changes) -> dict:
    body = {
        "held_on": (timezone.localdate() - datetime.timedelta(days=1)).isoformat(),
        "participants": [p.get_username() for p in participants],
        "minutes": SimpleUploadedFile(
            "minutes.pdf", helpers.pdf_bytes("minutes"), "application/pdf"
        ),
        "note": "Heads' meeting no. 4.",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_a_signer_records_the_meeting_through_the_api_and_then_signs(
    company, agency, record, applicant, staff, private_files
):
    case = _collective_case(company, record, applicant, staff)
    head = factories.officer(Role.SIGNER, agency, username="head", first_name="Jun")
    signer = staff[Role.SIGNER]
    with pytest.raises(WrongState) as refused:
        sign(case, signer)
    assert refused.value.code == "meeting_not_recorded"

    response = api(signer).post(
        f"/api/v1/cases/{case.pk}/meeting/", _meeting_body(signer, head), format="multipart"
    )

    assert response.status_code == 201, response.content
    assert sorted(response.json()["participants"]) == ["head", signer.get_username()]
    meeting = DecisionMeeting.objects.get(case=case)
    assert meeting.minutes_name == "minutes.pdf" and meeting.note == "Heads' meeting no. 4."
    assert last_event(case, "decision_meeting_recorded").actor == signer
    detail = api(signer).get(f"/api/v1/cases/{case.pk}/").json()
    assert detail["meetings"][0]["minutes_sha256"] == meeting.minutes_sha256
    again = api(signer).post(
        f"/api/v1/cases/{case.pk}/meeting/", _meeting_body(signer, head), format="multipart"
    )
    assert (again.status_code, again.json()["code"]) == (409, "meeting_recorded")

    complete(case, "sign_off", signer, decision=APPROVED)
    assert refresh(case).decision == APPROVED


def test_the_meeting_api_refuses_who_may_not_and_names_the_bad_field(
    company, agency, other_agency, record, applicant, staff, private_files
):
    case = _collective_case(company, record, applicant, staff)
    signer = staff[Role.SIGNER]
    stranger = factories.officer(Role.SIGNER, other_agency, username="stranger")
    url = f"/api/v1/cases/{case.pk}/meeting/"

    officer = api(staff[Role.CASE_OFFICER]).post(url, {}, format="multipart")
    party = api(applicant).post(url, _meeting_body(signer, signer), format="multipart")
    elsewhere = api(stranger).post(url, _meeting_body(stranger, signer), format="multipart")
    outsider = api(signer).post(url, _meeting_body(signer, stranger), format="multipart")
    alone = api(signer).post(url, _meeting_body(signer), format="multipart")
    future = api(signer).post(
        url,
        _meeting_body(
            signer,
            staff[Role.CASE_OFFICER],
            held_on=(timezone.localdate() + datetime.timedelta(days=1)).isoformat(),
        ),
        format="multipart",
    )
    script = api(signer).post(
        url,
        _meeting_body(
            signer,
            staff[Role.CASE_OFFICER],
            minutes=SimpleUploadedFile("minutes.sh", b"#!/bin/sh\necho minutes\n"),
        ),
        format="multipart",
    )
    no_minutes = api(signer).post(
        url, _meeting_body(signer, staff[Role.CASE_OFFICER], minutes=None), format="multipart"
    )

    assert officer.status_code == 403  # before the (empty) body is judged
    assert party.status_code == 403
    assert elsewhere.status_code == 404
    assert (outsider.status_code, outsider.json()["field"]) == (400, "participants")
    assert "stranger" in outsider.json()["message"]
    assert (alone.status_code, alone.json()["field"]) == (400, "participants")
    assert (future.status_code, future.json()["field"]) == (400, "held_on")
    assert (script.status_code, script.json()["field"]) == (400, "minutes")
    assert (no_minutes.status_code, no_minutes.json()["field"]) == (400, "minutes")
    assert not DecisionMeeting.objects.exists()


def test_a_meeting_is_refused_where_the_rules_ask_for_none(accepted, staff, private_files):
    case = review(accepted, staff[Role.CASE_OFFICER], APPROVED)
    signer = staff[Role.SIGNER]

    response = api(signer).post(
        f"/api/v1/cases/{case.pk}/meeting/",
        _meeting_body(signer, staff[Role.CASE_OFFICER]),
        format="multipart",
    )

    assert (response.status_code, response.json()["code"]) == (409, "no_collective_decision")


def _monitoring_upload(**changes) -> dict:
    body = {
        "file": SimpleUploadedFile("monitor-log.pdf", helpers.pdf_bytes("log"), "application/pdf"),
        "source": "electronic_monitoring",
        "description": "Discharge monitor log, 2025-03.",
        "monitoring_device": MONITORING_DEVICE["device"],
        "monitoring_location": MONITORING_DEVICE["location"],
        "monitoring_approval_ref": MONITORING_DEVICE["approval_ref"],
        "monitoring_approval_on": MONITORING_DEVICE["approval_on"].isoformat(),
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def test_an_officer_adds_monitoring_evidence_through_the_api_and_the_party_is_told(
    accepted, applicant, staff, private_files
):
    response = api(staff[Role.CASE_OFFICER]).post(
        f"/api/v1/cases/{accepted.pk}/evidence/", _monitoring_upload(), format="multipart"
    )

    assert response.status_code == 201, response.content
    item = accepted.evidence.get(pk=response.json()["id"])
    assert item.source == Evidence.Source.ELECTRONIC_MONITORING
    assert item.monitoring_device == MONITORING_DEVICE["device"]
    assert item.monitoring_approval_on == MONITORING_DEVICE["approval_on"]
    # As from the route: the notice goes through the outbox and the clock shows the period.
    notice = Message.objects.get(case=accepted, kind="monitoring_notified")
    assert notice.recipient_user == applicant
    period = Deadline.objects.get(case=accepted, step=Deadline.Step.STATEMENT)
    assert period.working_days == 3
    assert f"{period.due_on:%Y-%m-%d}" in notice.body
    deadlines = api(applicant).get(f"/api/v1/cases/{accepted.pk}/").json()["deadlines"]
    assert f"{period.due_on:%Y-%m-%d}" in [
        d["due_on"] for d in deadlines if d["step"] == "statement"
    ]
    # The signer waits for the party's statement.
    case = _review_with_monitoring(accepted, staff)
    with pytest.raises(WrongState) as refused:
        sign(case, staff[Role.SIGNER])
    assert refused.value.code == "statement_period_running"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"monitoring_approval_ref": None}, "monitoring_approval_ref"),
        ({"monitoring_device": ""}, "monitoring_device"),
        ({"monitoring_approval_on": "05/03/2024"}, "monitoring_approval_on"),
        ({"monitoring_approval_on": "2999-01-01"}, "monitoring_approval_on"),
        ({"source": "officer"}, "monitoring_device"),  # device facts on a plain item
        ({"source": "platform"}, "source"),
    ],
)
def test_the_api_names_what_monitoring_evidence_lacks_and_keeps_nothing(
    accepted, staff, changes, field, private_files
):
    response = api(staff[Role.CASE_OFFICER]).post(
        f"/api/v1/cases/{accepted.pk}/evidence/", _monitoring_upload(**changes), format="multipart"
    )

    assert response.status_code == 400, response.content
    assert response.json()["field"] == field
    assert not accepted.evidence.filter(description__startswith="Discharge").exists()
    assert not Message.objects.filter(kind="monitoring_notified").exists()


def test_only_a_case_officer_adds_monitoring_evidence(accepted, applicant, staff, private_files):
    as_party = api(applicant).post(
        f"/api/v1/cases/{accepted.pk}/evidence/", _monitoring_upload(), format="multipart"
    )
    as_signer = api(staff[Role.SIGNER]).post(
        f"/api/v1/cases/{accepted.pk}/evidence/", _monitoring_upload(), format="multipart"
    )

    assert as_party.status_code == 403
    assert as_signer.status_code == 403
    assert not accepted.evidence.filter(source=Evidence.Source.ELECTRONIC_MONITORING).exists()


def test_the_schema_documents_the_meeting_and_the_monitoring_fields(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    components = schema["components"]["schemas"]

    def body(path):
        operation = schema["paths"][path]["post"]
        ref = operation["requestBody"]["content"]["multipart/form-data"]["schema"]["$ref"]
        return operation, components[ref.rsplit("/", 1)[-1]]

    operation, meeting = body("/api/v1/cases/{id}/meeting/")
    assert set(meeting["required"]) == {"held_on", "participants", "minutes"}
    assert {"201", "400", "403", "404", "409"} <= set(operation["responses"])
    _, evidence = body("/api/v1/cases/{id}/evidence/")
    assert {
        "monitoring_device",
        "monitoring_location",
        "monitoring_approval_ref",
        "monitoring_approval_on",
    } <= set(evidence["properties"])
