"""The REST API as an entity's system and an agency's officers use it.

An entity's system logs in for a token, finds the subject's records, files a
restoration request, uploads the materials and withdraws; the agency's officers find
the task in their queue, claim it and complete it, reviewing evidence item by item.
Every refusal comes in one JSON shape: 400 naming the field, 403, 404 for what the
caller may not see (never a hint that it exists), 409 for the wrong state.
"""

from __future__ import annotations

import datetime
import hashlib

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from cases.clock import deadline_start
from cases.identifiers import make_uscc
from cases.models import Case, Deadline, Evidence, Record, Role
from documents.models import Letter
from documents.services import letter_render_now, letter_request
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import api_token, pdf_bytes, restorable_record

GROUNDS = "The fine was paid on 2025-03-01 and the conduct corrected."


# --- the people and their clients -------------------------------------------------------------


def api(user=None) -> APIClient:
    """A client that sends ``user``'s API token (anonymous without one)."""
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


@pytest.fixture(autouse=True)
def file_stores(tmp_path, monkeypatch):
    """Evidence and letters of each test in folders of their own."""
    for alias in ("evidence", "letters"):
        location = tmp_path / alias
        location.mkdir()
        monkeypatch.setattr(storages[alias], "location", str(location))
    return tmp_path


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def globex(db):
    """Entity B: another company, with its own representative and record."""
    return factories.SubjectFactory(name="广州示例贸易有限公司")


@pytest.fixture
def globex_rep(globex):
    return factories.representative(globex, "globex")


@pytest.fixture
def auditor(agency):
    return factories.officer(Role.AUDITOR, agency, "auditor-szamr")


@pytest.fixture
def elsewhere_intake(other_agency):
    return factories.officer(Role.INTAKE, other_agency, "intake-gzamr")


def file_case(client, record, **overrides):
    body = {
        "kind": "restoration",
        "subject_code": record.subject.code,
        "record_ids": [record.pk],
        "grounds": GROUNDS,
        **overrides,
    }
    return client.post("/api/v1/cases/", body, format="json")


def upload(client, case_id, content: bytes, name="evidence.pdf", **fields):
    body = {"file": SimpleUploadedFile(name, content, "application/pdf"), **fields}
    return client.post(f"/api/v1/cases/{case_id}/evidence/", body, format="multipart")


def upload_materials(client, case_id, record):
    """What the rules ask of a restoration: a commitment letter and proof of fulfilment."""
    letter = upload(
        client, case_id, pdf_bytes("commitment"), material="commitment_letter", record=record.pk
    )
    proof = upload(client, case_id, pdf_bytes("receipt"), material="fulfilment_proof")
    assert (letter.status_code, proof.status_code) == (201, 201)


@pytest.fixture
def filed(applicant, record):
    """A restoration filed through the API, with its materials."""
    client = api(applicant)
    response = file_case(client, record)
    assert response.status_code == 201, response.json()
    upload_materials(client, response.json()["id"], record)
    return Case.objects.get(pk=response.json()["id"])


def task_of(client, case, step: str, box: str) -> dict:
    response = client.get("/api/v1/tasks/", {"box": box, "case": case.pk})
    assert response.status_code == 200
    found = [t for t in response.json()["results"] if t["step"] == step]
    assert len(found) == 1, response.json()
    return found[0]


# --- logging in -----------------------------------------------------------------------------


def test_an_entitys_system_exchanges_username_and_password_for_a_token(applicant):
    anonymous = APIClient()
    response = anonymous.post(
        "/api/v1/auth/token/", {"username": "acme", "password": "pw"}, format="json"
    )
    assert response.status_code == 200
    token = response.json()["token"]

    anonymous.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    assert anonymous.get("/api/v1/cases/").status_code == 200


def test_a_wrong_password_gets_no_token(applicant):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": "acme", "password": "wrong"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_credentials"
    assert "token" not in response.json()


def test_a_token_request_without_a_password_names_the_field(applicant):
    response = APIClient().post("/api/v1/auth/token/", {"username": "acme"}, format="json")
    assert response.status_code == 400
    assert response.json()["field"] == "password"


def test_without_credentials_the_api_answers_401_in_its_error_shape(db):
    response = APIClient().get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert response["WWW-Authenticate"] == "Token"


def test_a_made_up_token_is_refused(db):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Token 0123456789abcdef0123456789abcdef01234567")
    assert client.get("/api/v1/records/").status_code == 401
    client.credentials(HTTP_AUTHORIZATION="Token caf\u00e9caf\u00e9")  # not UTF-8 on the wire
    assert client.get("/api/v1/records/").status_code == 401


def test_a_browser_session_works_for_reads(client, applicant, record):
    client.force_login(applicant)
    response = client.get("/api/v1/records/")
    assert response.status_code == 200
    assert [r["id"] for r in response.json()["results"]] == [record.pk]


def test_a_session_post_without_the_csrf_token_is_refused(applicant, record):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(applicant)
    response = browser.post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": record.subject.code,
            "record_ids": [record.pk],
            "grounds": GROUNDS,
        },
        content_type="application/json",
    )
    assert response.status_code == 403
    assert "CSRF" in response.json()["message"]


# --- records ----------------------------------------------------------------------------------


def test_an_entity_sees_its_subjects_records_and_filters_them(
    applicant, company, agency, platforms, globex
):
    penalty = restorable_record(company, agency, platforms)
    abnormal = restorable_record(
        company, agency, platforms, list_type=factories.list_type("abnormal_operations")
    )
    removed = restorable_record(company, agency, platforms, status=Record.Status.REMOVED)
    restorable_record(globex, agency, platforms)  # another company's: never shown
    client = api(applicant)

    def ids(**query):
        response = client.get("/api/v1/records/", query)
        assert response.status_code == 200
        return {r["id"] for r in response.json()["results"]}

    assert ids() == {penalty.pk, abnormal.pk, removed.pk}
    assert ids(subject_code=company.code) == {penalty.pk, abnormal.pk, removed.pk}
    assert ids(subject_code=globex.code) == set()
    assert ids(list_type="abnormal_operations") == {abnormal.pk}
    assert ids(status="removed") == {removed.pk}
    assert ids(status="active", list_type="penalty_publication") == {penalty.pk}


def test_an_invalid_filter_value_is_400_naming_the_filter(applicant):
    response = api(applicant).get("/api/v1/records/", {"status": "forgotten"})
    assert response.status_code == 400
    assert response.json()["field"] == "status"


def test_an_officer_sees_the_agencys_records_and_not_another_agencys(
    staff, company, agency, other_agency, platforms
):
    ours = restorable_record(company, agency, platforms)
    restorable_record(company, other_agency, platforms)
    response = api(staff["case_officer"]).get("/api/v1/records/")
    assert [r["id"] for r in response.json()["results"]] == [ours.pk]
    assert response.json()["results"][0]["publications"][0]["platform"] in {
        "creditchina",
        "gsxt",
    }


def test_a_record_list_pages_by_cursor_without_counting(applicant, company, agency, platforms):
    made = {restorable_record(company, agency, platforms).pk for _ in range(5)}
    client = api(applicant)
    first = client.get("/api/v1/records/", {"page_size": 3}).json()
    assert "count" not in first
    assert len(first["results"]) == 3 and first["next"]
    second = client.get(first["next"]).json()
    assert {r["id"] for r in first["results"] + second["results"]} == made
    assert second["next"] is None


# --- filing a case ----------------------------------------------------------------------------


def test_an_entity_files_a_restoration_and_sees_its_step_and_deadline(applicant, record):
    response = file_case(api(applicant), record)

    assert response.status_code == 201
    case = response.json()
    assert case["reference"].startswith("RD-")
    assert case["status"] == "submitted"
    assert case["kind"] == "restoration"
    assert case["subject_code"] == record.subject.code
    assert [r["record"]["id"] for r in case["records"]] == [record.pk]
    assert [s["step"] for s in case["current_steps"]] == ["acceptance_check"]
    (deadline,) = case["deadlines"]
    assert deadline["step"] == "acceptance"
    assert deadline["status"] == "running"
    assert deadline["working_days"] == 3
    assert deadline["due_on"]
    assert deadline["computation"]  # how the due date was counted, for a person to check
    assert case["timeline"][0]["kind"] == "submitted"
    assert Case.objects.get(pk=case["id"]).channel == Case.Channel.API


def test_a_deadline_is_explained_in_the_language_the_client_asks_for(applicant, company, record):
    case = flow.file_restoration(company, [record], applicant)
    decision = deadline_start(
        case, Deadline.Step.DECISION, working_days=5, actor=None, on=datetime.date(2026, 9, 30)
    )
    client = api(applicant)

    chinese = client.get(f"/api/v1/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans").json()
    english = client.get(f"/api/v1/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").json()

    (chinese_decision,) = [d for d in chinese["deadlines"] if d["step"] == "decision"]
    (english_decision,) = [d for d in english["deadlines"] if d["step"] == "decision"]
    assert chinese_decision["computation"] == "\n".join(
        [
            "自 2026-09-30 起 5 个工作日（事件当日不计入，次一工作日为第 1 日）：",
            "  跳过 2026-10-01 至 10-07：国庆节",
            "  跳过普通周末 1 天",
            "  计入 2026-10-10（星期六）：国庆节调休工作日",
            "截止日期：2026-10-13（星期二）。",
        ]
    )
    assert english_decision["computation"] == decision.computation
    assert english_decision["computation"].endswith("Due 2026-10-13 (Tuesday).")
    assert chinese_decision["due_on"] == english_decision["due_on"] == "2026-10-13"


def test_the_same_idempotency_key_returns_the_case_already_filed(applicant, record):
    client = api(applicant)
    first = client.post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": record.subject.code,
            "record_ids": [record.pk],
            "grounds": GROUNDS,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="acme-2026-0001",
    )
    again = client.post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": record.subject.code,
            "record_ids": [record.pk],
            "grounds": GROUNDS,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="acme-2026-0001",
    )
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert Case.objects.filter(applicant=applicant).count() == 1


def test_an_overlong_idempotency_key_is_refused_not_cut(applicant, record):
    response = api(applicant).post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": record.subject.code,
            "record_ids": [record.pk],
            "grounds": GROUNDS,
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="k" * 65,
    )
    assert response.status_code == 400
    assert response.json()["field"] == "Idempotency-Key"


def test_a_case_without_grounds_is_400_naming_the_field(applicant, record):
    response = api(applicant).post(
        "/api/v1/cases/",
        {"kind": "restoration", "subject_code": record.subject.code, "record_ids": [record.pk]},
        format="json",
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid_input"
    assert body["field"] == "grounds"
    assert "grounds" in body["message"]


def test_blank_grounds_are_refused_too(applicant, record):
    response = file_case(api(applicant), record, grounds="   ")
    assert response.status_code == 400
    assert response.json()["field"] == "grounds"


def test_an_entity_cannot_file_for_a_subject_it_does_not_act_for(applicant, globex, agency):
    theirs = restorable_record(globex, agency)
    response = file_case(api(applicant), theirs)
    assert response.status_code == 400
    assert response.json()["field"] == "subject_code"
    # The same answer as for a valid code nobody has: nothing about globex is revealed.
    unknown = file_case(api(applicant), theirs, subject_code=make_uscc(org_body="MA5XXXXX"))
    assert unknown.json()["message"] == response.json()["message"]


def test_a_mistyped_subject_code_is_told_what_is_wrong_with_it(applicant, record):
    code = record.subject.code
    mistyped = code[:-1] + ("0" if code[-1] != "0" else "1")

    response = file_case(api(applicant), record, subject_code=mistyped)

    assert response.status_code == 400
    assert response.json()["code"] == "check"
    assert response.json()["field"] == "subject_code"
    assert response.json()["message"].startswith("Check character should be")
    assert not Case.objects.exists()


def test_a_record_of_another_subject_cannot_be_slipped_into_a_case(
    applicant, record, globex, agency
):
    theirs = restorable_record(globex, agency)
    response = file_case(api(applicant), record, record_ids=[record.pk, theirs.pk])
    assert response.status_code == 400
    assert response.json()["field"] == "record_ids"


def test_a_restoration_before_the_minimum_period_is_told_before_filing_and_filed_anyway(
    applicant, company, agency
):
    early = factories.RecordFactory(subject=company, agency=agency, listed_on=timezone.localdate())
    told = api(applicant).get(f"/api/v1/records/{early.pk}/eligibility/")
    response = file_case(api(applicant), early)
    assert told.status_code == 200
    assert told.json()["finding"] == "not_yet"
    assert told.json()["earliest"] == f"{early.restorable_from:%Y-%m-%d}"
    assert response.status_code == 201
    assert Case.objects.get().status == Case.Status.SUBMITTED


# --- evidence ---------------------------------------------------------------------------------


def test_an_uploaded_pdf_is_kept_with_its_sha256(applicant, record):
    client = api(applicant)
    case_id = file_case(client, record).json()["id"]
    content = pdf_bytes("commitment letter")

    response = upload(client, case_id, content, material="commitment_letter", record=record.pk)

    assert response.status_code == 201
    item = response.json()
    assert item["sha256"] == hashlib.sha256(content).hexdigest()
    assert item["content_type"] == "application/pdf"
    assert item["size"] == len(content)
    assert item["material"] == "commitment_letter"
    assert item["record"] == record.pk
    assert item["review_outcome"] == "pending"
    detail = client.get(f"/api/v1/cases/{case_id}/").json()
    assert [e["sha256"] for e in detail["evidence"]] == [item["sha256"]]


def test_a_program_renamed_to_pdf_is_refused_by_its_content(applicant, record):
    client = api(applicant)
    case_id = file_case(client, record).json()["id"]
    program = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\x00" * 64 + b"PE\x00\x00"

    response = upload(client, case_id, program, name="invoice.pdf")

    assert response.status_code == 400
    assert response.json()["code"] == "type_not_allowed"
    assert response.json()["field"] == "file"
    assert not Evidence.objects.filter(case_id=case_id).exists()


def test_an_oversized_file_is_refused(applicant, record, settings):
    settings.REDRESS_UPLOAD_MAX_BYTES = 1024
    client = api(applicant)
    case_id = file_case(client, record).json()["id"]

    response = upload(client, case_id, pdf_bytes("x" * 2000))

    assert response.status_code == 400
    assert response.json()["code"] == "too_large"
    assert response.json()["field"] == "file"


def test_an_upload_without_a_file_names_the_field(applicant, record):
    client = api(applicant)
    case_id = file_case(client, record).json()["id"]
    response = client.post(
        f"/api/v1/cases/{case_id}/evidence/", {"material": "other"}, format="multipart"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "file"


def test_evidence_for_a_record_outside_the_case_is_refused(applicant, record, company, agency):
    other = restorable_record(company, agency)
    client = api(applicant)
    case_id = file_case(client, record).json()["id"]
    response = upload(client, case_id, pdf_bytes(), record=other.pk)
    assert response.status_code == 400
    assert response.json()["field"] == "record"


# --- withdrawing and answering ---------------------------------------------------------------


def test_the_applicant_withdraws_an_undecided_case(applicant, filed):
    response = api(applicant).post(
        f"/api/v1/cases/{filed.pk}/withdraw/", {"reason": "Settled otherwise."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert flow.open_steps(filed) == []


def test_withdrawing_a_decided_case_is_409(applicant, filed, staff):
    flow.accept(filed, staff["intake"])
    flow.review(filed, staff["case_officer"])
    flow.sign(filed, staff["signer"])
    assert flow.refresh(filed).decision == Case.Decision.APPROVED

    response = api(applicant).post(f"/api/v1/cases/{filed.pk}/withdraw/", {}, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "wrong_state"
    assert filed.reference in response.json()["message"]


def test_the_applicant_answers_a_request_for_missing_materials(applicant, company, record, staff):
    client = api(applicant)
    case_id = file_case(client, record).json()["id"]
    case = Case.objects.get(pk=case_id)
    flow.request_materials_at_acceptance(
        case, staff["intake"], "commitment_letter", "fulfilment_proof"
    )

    too_soon = client.post(f"/api/v1/cases/{case_id}/resubmit/", {}, format="json")
    assert too_soon.status_code == 409
    assert too_soon.json()["code"] == "materials_missing"

    upload_materials(client, case_id, record)
    response = client.post(
        f"/api/v1/cases/{case_id}/resubmit/", {"note": "Both attached."}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "submitted"
    detail = client.get(f"/api/v1/cases/{case_id}/").json()
    assert [s["step"] for s in detail["current_steps"]] == ["acceptance_check"]
    assert any(e["kind"] == "stopped" for e in detail["clock"])


# --- who sees what ----------------------------------------------------------------------------


def test_entity_b_cannot_tell_entity_as_case_exists(filed, globex_rep):
    client = api(globex_rep)
    for address in (
        f"/api/v1/cases/{filed.pk}/",
        f"/api/v1/cases/{filed.pk}/letters/",
    ):
        response = client.get(address)
        assert response.status_code == 404, address
        assert response.json() == {"code": "not_found", "message": "Not found."}
    assert client.post(f"/api/v1/cases/{filed.pk}/withdraw/", {}, format="json").status_code == 404
    assert upload(client, filed.pk, pdf_bytes()).status_code == 404
    assert client.get("/api/v1/cases/").json()["results"] == []


def test_an_officer_of_another_agency_cannot_tell_the_case_exists(filed, elsewhere_intake):
    client = api(elsewhere_intake)
    assert client.get(f"/api/v1/cases/{filed.pk}/").status_code == 404
    assert client.get("/api/v1/cases/").json()["results"] == []
    task = flow.open_task(filed, "acceptance_check")
    assert client.get(f"/api/v1/tasks/{task.pk}/").status_code == 404
    assert client.post(f"/api/v1/tasks/{task.pk}/claim/").status_code == 404


@pytest.mark.parametrize(
    "address",
    [
        "/api/v1/cases/abc/",
        "/api/v1/cases/0/",
        "/api/v1/cases/-1/",
        "/api/v1/cases/99999999999999999999999999/",
        "/api/v1/records/9223372036854775808/",
        "/api/v1/tasks/abc/",
        "/api/v1/cases/abc/letters/",
        "/api/v1/cases/1/letters/x/pdf/",
        "/api/v1/no-such-endpoint/",
    ],
)
def test_malformed_ids_are_not_found_not_a_server_error(applicant, address):
    response = api(applicant).get(address)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_malformed_ids_in_actions_are_not_found(staff):
    client = api(staff["intake"])
    assert client.post("/api/v1/tasks/abc/claim/").status_code == 404
    assert client.post("/api/v1/tasks/99999999999999999999/complete/", {}).status_code == 404


# --- officers: tasks ---------------------------------------------------------------------------


def test_the_intake_officer_claims_from_the_queue_and_accepts(filed, staff):
    client = api(staff["intake"])
    queued = task_of(client, filed, "acceptance_check", "queue")
    assert queued["owner"] is None
    assert queued["reference"] == filed.reference
    assert queued["due_on"]
    assert client.get("/api/v1/tasks/", {"box": "inbox"}).json()["results"] == []

    claimed = client.post(f"/api/v1/tasks/{queued['id']}/claim/")
    assert claimed.status_code == 200
    assert claimed.json()["owner"] == staff["intake"].username
    assert task_of(client, filed, "acceptance_check", "inbox")["id"] == queued["id"]

    done = client.post(
        f"/api/v1/tasks/{queued['id']}/complete/",
        {"decision": "accept", "note": "Materials complete."},
        format="json",
    )
    assert done.status_code == 200
    assert done.json()["status"] == "DONE"
    assert flow.refresh(filed).status == Case.Status.UNDER_REVIEW


def test_claiming_a_task_twice_is_409_already_claimed(filed, staff, agency):
    second = factories.officer(Role.INTAKE, agency, "intake-2")
    task = flow.open_task(filed, "acceptance_check")
    assert api(staff["intake"]).post(f"/api/v1/tasks/{task.pk}/claim/").status_code == 200

    response = api(second).post(f"/api/v1/tasks/{task.pk}/claim/")

    assert response.status_code == 409
    assert response.json()["code"] == "already_claimed"
    assert staff["intake"].username in response.json()["message"]


def test_the_case_officer_reviews_each_item_and_recommends(filed, staff):
    flow.accept(filed, staff["intake"])
    client = api(staff["case_officer"])
    task = task_of(client, filed, "evidence_review", "queue")
    client.post(f"/api/v1/tasks/{task['id']}/claim/")
    items = list(filed.evidence.order_by("id"))

    response = client.post(
        f"/api/v1/tasks/{task['id']}/complete/",
        {
            "reviews": [
                {"evidence": items[0].pk, "outcome": "accepted"},
                {"evidence": items[1].pk, "outcome": "accepted", "reason": "Receipt matches."},
            ],
            "recommendation": "approved",
            "note": "Reviewed item by item.",
        },
        format="json",
    )

    assert response.status_code == 200, response.json()
    assert flow.refresh(filed).status == Case.Status.SIGN_OFF
    outcomes = dict(filed.evidence.values_list("pk", "review_outcome"))
    assert outcomes == {items[0].pk: "accepted", items[1].pk: "accepted"}
    detail = api(staff["case_officer"]).get(f"/api/v1/cases/{filed.pk}/").json()
    assert [s["step"] for s in detail["current_steps"]] == ["sign_off"]


def test_a_rejected_item_needs_a_reason_named_in_the_error(filed, staff):
    flow.accept(filed, staff["intake"])
    client = api(staff["case_officer"])
    task = flow.claim(filed, "evidence_review", staff["case_officer"])
    item = filed.evidence.first()

    response = client.post(
        f"/api/v1/tasks/{task.pk}/complete/",
        {"reviews": [{"evidence": item.pk, "outcome": "rejected"}], "recommendation": "rejected"},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["field"] == "reason"
    assert flow.refresh(filed).status == Case.Status.UNDER_REVIEW
    assert Evidence.objects.get(pk=item.pk).review_outcome == "pending"  # nothing half-done


def test_a_decision_the_step_does_not_take_is_400(filed, staff):
    task = flow.claim(filed, "acceptance_check", staff["intake"])
    response = api(staff["intake"]).post(
        f"/api/v1/tasks/{task.pk}/complete/", {"decision": "approved"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["field"] == "decision"


def _walk(client, url, params=None) -> tuple[list[int], dict]:
    """Follow "next" from ``url`` to the end: every id in order, and the last page."""
    ids, page = [], client.get(url, params).json()
    while True:
        ids += [task["id"] for task in page["results"]]
        if not page["next"]:
            return ids, page
        page = client.get(page["next"]).json()


def _tasks_by_page_in_both_boxes(company, agency, applicant, staff, platforms):
    intake = staff["intake"]
    cases = [
        flow.file_restoration(company, [restorable_record(company, agency, platforms)], applicant)
        for _ in range(7)
    ]
    for case in cases[1::2]:
        flow.claim(case, "acceptance_check", intake)
    client = api(intake)
    everything = sorted(
        (
            pk
            for box in ("inbox", "queue")
            for pk in _walk(client, "/api/v1/tasks/", {"box": box})[0]
        ),
        reverse=True,
    )
    assert len(everything) == 7
    # Two at a time, each list cut to the page inside its branch of the union on
    # PostgreSQL (issue 16): the same tasks in the same order, none twice, none lost.
    ids, last = _walk(client, "/api/v1/tasks/", {"page_size": 2})
    assert ids == everything
    back = client.get(last["previous"]).json()
    assert [task["id"] for task in back["results"]] == everything[-3:-1]
    assert client.get(back["previous"]).json()["results"][0]["id"] == everything[2]


def test_the_task_list_of_both_boxes_pages_through_inbox_and_queue(
    company, agency, applicant, staff, platforms
):
    _tasks_by_page_in_both_boxes(company, agency, applicant, staff, platforms)


def test_completing_an_unclaimed_task_is_403(filed, staff):
    task = flow.open_task(filed, "acceptance_check")
    response = api(staff["intake"]).post(
        f"/api/v1/tasks/{task.pk}/complete/", {"decision": "accept"}, format="json"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_owner"


def test_record_outcomes_keyed_by_something_else_than_a_record_id_are_400(filed, staff):
    flow.accept(filed, staff["intake"])
    task = flow.claim(filed, "evidence_review", staff["case_officer"])
    response = api(staff["case_officer"]).post(
        f"/api/v1/tasks/{task.pk}/complete/",
        {"recommendation": "partly_approved", "record_outcomes": {"first": "upheld"}},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["field"] == "record_outcomes"


def test_a_caseless_entity_has_no_tasks(applicant, filed):
    client = api(applicant)
    assert client.get("/api/v1/tasks/").json()["results"] == []
    task = flow.open_task(filed, "acceptance_check")
    assert client.post(f"/api/v1/tasks/{task.pk}/claim/").status_code == 404


# --- auditors ----------------------------------------------------------------------------------


def test_an_auditor_reads_the_agencys_cases_records_and_tasks(filed, auditor, record):
    client = api(auditor)
    assert [c["id"] for c in client.get("/api/v1/cases/").json()["results"]] == [filed.pk]
    assert client.get(f"/api/v1/cases/{filed.pk}/").status_code == 200
    assert client.get(f"/api/v1/records/{record.pk}/").status_code == 200
    task = flow.open_task(filed, "acceptance_check")
    assert client.get(f"/api/v1/tasks/{task.pk}/").status_code == 200


def test_an_auditor_changes_nothing(filed, auditor, staff):
    client = api(auditor)
    task = flow.open_task(filed, "acceptance_check")

    claim = client.post(f"/api/v1/tasks/{task.pk}/claim/")
    complete = client.post(
        f"/api/v1/tasks/{task.pk}/complete/", {"decision": "accept"}, format="json"
    )
    withdraw = client.post(f"/api/v1/cases/{filed.pk}/withdraw/", {}, format="json")
    evidence = upload(client, filed.pk, pdf_bytes())

    assert claim.status_code == 403 and claim.json()["code"] == "not_eligible"
    assert complete.status_code == 403
    assert withdraw.status_code == 403 and withdraw.json()["code"] == "not_applicant"
    assert evidence.status_code == 403
    assert flow.open_steps(filed) == ["acceptance_check"]
    assert flow.refresh(filed).status == Case.Status.SUBMITTED
    assert filed.evidence.count() == 2


# --- letters -----------------------------------------------------------------------------------


@pytest.fixture
def acceptance_letters(filed, staff):
    """The acceptance notice, issued (rendered), and a second one still pending."""
    flow.accept(filed, staff["intake"])
    issued = letter_render_now(letter_request(filed, Letter.Kind.ACCEPTANCE, language="en"))
    pending = letter_request(filed, Letter.Kind.ACCEPTANCE, language="zh-hans")
    return issued, pending


def test_the_applicant_lists_the_issued_letters_and_downloads_the_pdf(
    applicant, filed, acceptance_letters
):
    issued, pending = acceptance_letters
    client = api(applicant)

    listed = client.get(f"/api/v1/cases/{filed.pk}/letters/")

    assert listed.status_code == 200
    mine = [
        letter for letter in listed.json()["results"] if letter["id"] in {issued.pk, pending.pk}
    ]
    assert [letter["id"] for letter in mine] == [issued.pk]  # not the one still rendering
    assert mine[0]["sha256"] == issued.sha256
    pdf = client.get(mine[0]["pdf"])
    assert pdf.status_code == 200
    assert pdf["Content-Type"] == "application/pdf"
    body = b"".join(pdf.streaming_content)
    assert body.startswith(b"%PDF")
    assert hashlib.sha256(body).hexdigest() == issued.sha256


def test_an_officer_sees_a_pending_letter_but_it_has_no_pdf_yet(filed, staff, acceptance_letters):
    issued, pending = acceptance_letters
    client = api(staff["case_officer"])
    listed = client.get(f"/api/v1/cases/{filed.pk}/letters/", {"status": "pending"}).json()
    assert pending.pk in [letter["id"] for letter in listed["results"]]
    assert issued.pk not in [letter["id"] for letter in listed["results"]]

    response = client.get(f"/api/v1/cases/{filed.pk}/letters/{pending.pk}/pdf/")

    assert response.status_code == 409
    assert response.json()["code"] == "letter_not_issued"


def test_another_entity_cannot_fetch_the_letter(globex_rep, filed, acceptance_letters):
    issued, _ = acceptance_letters
    response = api(globex_rep).get(f"/api/v1/cases/{filed.pk}/letters/{issued.pk}/pdf/")
    assert response.status_code == 404


# --- the schema and its docs --------------------------------------------------------------------


def test_the_openapi_schema_and_the_docs_are_served(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    for path in (
        "/api/v1/auth/token/",
        "/api/v1/records/",
        "/api/v1/cases/",
        "/api/v1/cases/{id}/",
        "/api/v1/cases/{id}/evidence/",
        "/api/v1/cases/{id}/withdraw/",
        "/api/v1/cases/{id}/resubmit/",
        "/api/v1/cases/{case_pk}/letters/",
        "/api/v1/cases/{case_pk}/letters/{id}/pdf/",
        "/api/v1/tasks/",
        "/api/v1/tasks/{id}/claim/",
        "/api/v1/tasks/{id}/complete/",
    ):
        assert path in paths, path
    components = schema.json()["components"]["schemas"]
    repair = components["RepairEffect"]["properties"]
    assert "repair" in components["CaseDetail"]["properties"]
    assert set(components["RepairEffectStateEnum"]["enum"]) == {
        "requested",
        "acknowledged",
        "overdue",
    }
    assert {"kind", "measure", "state", "acknowledged_at", "due_on"} <= set(repair)
    error = schema.json()["components"]["schemas"]["Error"]
    assert set(error["required"]) == {"code", "message"}
    docs = APIClient().get("/api/docs/")
    assert docs.status_code == 200
    assert b"swagger-ui" in docs.content
