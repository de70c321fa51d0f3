"""The API's and the pages' edges, as the outside security test (issue 10) probed them.

Malformed numbers anywhere (Unicode digits, out-of-range ids) are a clear 400 or 404,
never a 500 and never another row; a platform's acknowledgement is accepted once,
whatever key a copy carries; proving a link to a subject does not tell who is listed;
a closed task is 409 before anyone's eligibility is looked at; and the OpenAPI schema
says what the code accepts.
"""

from __future__ import annotations

import datetime
import json
import re
import time

import jsonschema
import pytest
import referencing
import referencing.jsonschema
import urllib3
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.utils.html import escape
from rest_framework.test import APIClient

from cases import accounts
from cases.errors import InvalidIdentifier, NotPermitted
from cases.identifiers import make_uscc, validate_uscc
from cases.ids import id_parse, whole_number
from cases.imports import import_records
from cases.models import Case, Publication, RepresentationRequest, Role, Subject
from notifications import signing
from notifications.models import Notification, WebhookReceipt, WebhookSignature
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import api_token, pdf_bytes, restorable_record
from tests.receiver import WebhookReceiver
from workflows import actions

ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")


def arabic(number: int) -> str:
    """``number`` written in Arabic-Indic digits, which Python's ``int()`` reads."""
    return str(number).translate(ARABIC_INDIC)


def api(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def filed(company, record, applicant) -> Case:
    return flow.file_restoration(company, [record], applicant)


# --- 8: malformed numbers ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("1", 1),
        ("0042", 42),
        (str(2**63 - 1), 2**63 - 1),
        (7, 7),
        ("0", None),
        (0, None),
        (str(2**63), None),
        ("²", None),  # str.isdigit() says yes, int() says no
        ("٣", None),  # int() says 3
        ("３", None),  # a full-width digit
        ("-1", None),
        ("+1", None),
        (" 1", None),
        ("1.0", None),
        ("", None),
        (None, None),
        (True, None),
        (1.0, None),
        ("9" * 5000, None),
    ],
)
def test_an_id_is_written_in_ascii_digits_within_a_bigint(value, expected):
    assert id_parse(value) == expected


def test_a_whole_number_may_be_bounded_on_either_side_or_not_at_all():
    assert whole_number("200", minimum=1, maximum=200) == 200
    assert whole_number("201", minimum=1, maximum=200) is None
    assert whole_number(2**70) == 2**70
    assert whole_number("٢٠٠") is None


@pytest.mark.parametrize("value", ["²", "٣", "abc", "", str(2**64)])
def test_a_malformed_notification_id_is_a_400_in_the_error_shape_and_marks_nothing(
    applicant, value
):
    note = Notification.objects.create(user=applicant, kind="decided", title="Decided")

    response = signed_in(applicant).post("/notifications/", {"id": [value]})

    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_input",
        "message": "Nothing was marked read: a notification number is not valid.",
        "field": "id",
    }
    note.refresh_from_db()
    assert note.read_at is None


def test_a_notification_id_in_another_scripts_digits_does_not_name_the_notification(applicant):
    note = Notification.objects.create(user=applicant, kind="decided", title="Decided")

    response = signed_in(applicant).post("/notifications/", {"id": [arabic(note.pk)]})

    assert response.status_code == 400
    note.refresh_from_db()
    assert note.read_at is None


def test_the_portal_refuses_a_malformed_notification_id_instead_of_marking_everything_read(
    applicant,
):
    notes = [
        Notification.objects.create(user=applicant, kind="decided", title=f"Decided {n}")
        for n in range(2)
    ]

    for value in ("²", "abc", arabic(notes[0].pk)):
        response = signed_in(applicant).post(reverse("portal:notifications"), {"id": value})
        assert response.status_code == 400, value
        assert "a notification number is not valid" in response.content.decode()

    assert Notification.objects.filter(user=applicant, read_at__isnull=True).count() == 2


@pytest.mark.parametrize(
    "address",
    [
        "/api/v1/cases/{case}/",
        "/api/v1/cases/{case}/letters/",
        "/api/v1/records/{record}/",
        "/api/v1/tasks/{task}/",
    ],
)
def test_an_api_id_in_another_scripts_digits_is_not_found(filed, record, staff, address):
    task = flow.open_task(filed, "acceptance_check")
    ids = {"case": arabic(filed.pk), "record": arabic(record.pk), "task": arabic(task.pk)}
    client = api(staff["intake"])
    assert (
        client.get(address.format(case=filed.pk, record=record.pk, task=task.pk)).status_code == 200
    )

    response = client.get(address.format(**ids))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_ids_in_a_body_or_a_filter_in_another_scripts_digits_are_refused(
    filed, record, applicant, staff, company, agency, platforms
):
    other = restorable_record(company, agency, platforms)
    filing = api(applicant).post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": company.code,
            "record_ids": [arabic(other.pk)],
            "grounds": "Paid.",
        },
        format="json",
    )
    tasks = api(staff["intake"]).get("/api/v1/tasks/", {"case": arabic(filed.pk)})

    assert filing.status_code == 400
    assert filing.json()["field"] == "record_ids"
    assert Case.objects.count() == 1
    assert tasks.status_code == 400
    assert tasks.json()["field"] == "case"


def test_a_task_number_in_another_scripts_digits_or_unknown_takes_no_task(filed, staff):
    task = flow.open_task(filed, "acceptance_check")
    client, pages = api(staff["intake"]), signed_in(staff["intake"])
    claim_page = reverse("workspace:task_claim", args=[task.pk])

    for number in (arabic(task.pk), str(task.pk + 1000), "abc"):
        response = client.post(f"/api/v1/tasks/{number}/claim/")
        assert response.status_code == 404, number
        assert response.json()["code"] == "not_found"
        page = claim_page.replace(f"/{task.pk}/", f"/{number}/")
        assert pages.post(page).status_code == 404, page


def test_a_task_number_in_another_scripts_digits_claims_and_completes_nothing(filed, staff):
    task = flow.open_task(filed, "acceptance_check")
    client = api(staff["intake"])

    claimed = client.post(f"/api/v1/tasks/{arabic(task.pk)}/claim/")
    completed = client.post(
        f"/api/v1/tasks/{arabic(task.pk)}/complete/", {"decision": "accept"}, format="json"
    )

    assert (claimed.status_code, completed.status_code) == (404, 404)
    assert claimed.json()["code"] == completed.json()["code"] == "not_found"

    assert flow.open_steps(filed) == ["acceptance_check"]


def test_a_page_number_too_large_for_the_database_shows_the_first_page(filed, staff):
    client = signed_in(staff["supervisor"])
    for address in ("workspace:inbox", "workspace:queue", "workspace:cases"):
        response = client.get(reverse(address), {"page": "9" * 40})
        assert response.status_code == 200, address
        assert client.get(reverse(address), {"page": "²"}).status_code == 200


@pytest.mark.parametrize("flow_name", ["objection", "restoration"])
def test_viewflows_process_address_with_a_number_beyond_any_id_is_not_found(
    filed, staff, flow_name
):
    client = signed_in(staff["supervisor"])
    assert client.get(f"/workflow/{flow_name}/{filed.process_id}/").status_code in (302, 404)

    response = client.get(f"/workflow/{flow_name}/{'9' * 20}/")

    assert response.status_code == 404


def test_a_supervisor_cannot_name_an_officer_in_another_scripts_digits(filed, staff, agency):
    task = flow.open_task(filed, "acceptance_check")
    other = factories.officer(Role.INTAKE, agency, "intake-2")

    signed_in(staff["supervisor"]).post(
        reverse("workspace:task_assign", args=[task.pk]), {"assignee": arabic(other.pk)}
    )

    task.refresh_from_db()
    assert task.owner_id is None


# --- 10: a platform's acknowledgement is accepted once ---------------------------------------

ACK_URL = "/api/v1/platforms/{code}/acknowledgements/"
SECRET = "s3cret-creditchina-0123456789"


def signed_call(platform, body: dict, *, key: str, version: str = "v1", at=None) -> dict:
    """What a platform sends: the body's bytes and its signed headers."""
    content = json.dumps(body).encode()
    newer = {"version": version} if version != "v1" else {}  # v1 is what platforms send today
    headers = signing.signed_headers(
        SECRET,
        content,
        idempotency_key=key,
        now=at if at is not None else time.time(),
        **newer,
    )
    return {"content": content, "headers": headers}


def post_call(client, platform, call: dict, *, key: str | None = None):
    """POST ``call`` as captured, optionally under another ``Idempotency-Key``."""
    headers = {k: v for k, v in call["headers"].items() if k != "Content-Type"}
    if key is not None:
        headers[signing.IDEMPOTENCY_HEADER] = key
    return client.post(
        ACK_URL.format(code=platform.code),
        data=call["content"],
        content_type="application/json",
        headers=headers,
    )


@pytest.fixture
def creditchina(platforms):
    platform = platforms[0]
    platform.webhook_secret = SECRET
    platform.save(update_fields=["webhook_secret"])
    return platform


def approved_to_removal(case, staff) -> Case:
    """An accepted case reviewed, signed and its decision letter served: removal asked."""
    flow.review(case, staff["case_officer"], flow.APPROVED)
    flow.sign(case, staff["signer"], flow.APPROVED)
    case = flow.worker_renders_letters(case)
    assert case.status == Case.Status.REMOVAL
    return case


def test_an_early_acknowledgement_replayed_under_a_new_key_after_the_request_is_refused(
    client, company, record, applicant, staff, creditchina
):
    """The platform's signed 'withdrawn' was refused while the record was only disputed;
    whoever captured it cannot make it count once the withdrawal is asked for."""
    case = flow.file_objection(company, [record], applicant)
    flow.accept(case, staff["intake"])
    publication = record.publications.get(platform=creditchina)
    early = signed_call(creditchina, {"publication": publication.pk}, key="cc-early")
    assert post_call(client, creditchina, early).json()["code"] == "no_withdrawal_requested"
    approved_to_removal(case, staff)
    publication.refresh_from_db()
    assert publication.status == Publication.Status.WITHDRAWAL_REQUESTED

    replayed = post_call(client, creditchina, early, key="cc-replayed")

    assert replayed.status_code == 409
    assert replayed.json()["code"] == "replayed"
    publication.refresh_from_db()
    assert publication.status == Publication.Status.WITHDRAWAL_REQUESTED
    assert not WebhookReceipt.objects.exists()


def test_an_accepted_acknowledgement_replayed_under_a_new_key_is_refused(
    client, company, record, applicant, staff, creditchina
):
    case = flow.file_restoration(company, [record], applicant)
    flow.accept(case, staff["intake"])
    case = approved_to_removal(case, staff)
    publication = record.publications.get(platform=creditchina)
    call = signed_call(creditchina, {"publication": publication.pk}, key="cc-1")
    assert post_call(client, creditchina, call).status_code == 200
    events = case.events.count()

    for key in ("cc-2", "cc-1"):
        again = post_call(client, creditchina, call, key=key)
        assert again.status_code == 409, key
        assert again.json() == {
            "code": "replayed",
            "message": "This call was already received; nothing changed.",
        }

    assert list(WebhookReceipt.objects.values_list("idempotency_key", flat=True)) == ["cc-1"]
    assert case.events.count() == events


@pytest.fixture
def removal(company, record, applicant, staff, creditchina) -> Case:
    case = flow.file_restoration(company, [record], applicant)
    flow.accept(case, staff["intake"])
    return approved_to_removal(case, staff)


def test_a_v2_acknowledgement_signs_its_key_so_another_key_does_not_verify(
    client, removal, record, creditchina
):
    publication = record.publications.get(platform=creditchina)
    call = signed_call(creditchina, {"publication": publication.pk}, key="cc-v2", version="v2")
    assert call["headers"][signing.SIGNATURE_HEADER].startswith("v2=")

    forged = post_call(client, creditchina, call, key="cc-other")
    accepted = post_call(client, creditchina, call)

    assert forged.status_code == 401
    assert forged.json()["message"] == (
        "Refused: the signature does not match the body, timestamp and Idempotency-Key."
    )
    assert accepted.status_code == 200
    assert accepted.json() == {"status": "withdrawn", "publication": publication.pk}
    assert list(WebhookReceipt.objects.values_list("idempotency_key", flat=True)) == ["cc-v2"]


def test_v1_acknowledgements_can_be_turned_off_once_every_platform_signs_v2(
    client, removal, record, creditchina, settings
):
    settings.REDRESS_WEBHOOK_ACCEPT_V1 = False
    publication = record.publications.get(platform=creditchina)

    v1 = post_call(
        client, creditchina, signed_call(creditchina, {"publication": publication.pk}, key="a")
    )
    v2 = post_call(
        client,
        creditchina,
        signed_call(creditchina, {"publication": publication.pk}, key="b", version="v2"),
    )

    assert v1.status_code == 401
    assert v1.json()["message"] == "Refused: v1 signatures are no longer accepted: sign with v2."
    assert v2.status_code == 200


def test_a_server_error_does_not_spend_the_signature(
    client, removal, record, creditchina, monkeypatch
):
    """The platform may send the very same call again after our 500."""

    publication = record.publications.get(platform=creditchina)
    call = signed_call(creditchina, {"publication": publication.pk}, key="cc-1")
    real = actions.publication_acknowledge

    def crash(**kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(actions, "publication_acknowledge", crash)
    with pytest.raises(RuntimeError):
        post_call(client, creditchina, call)
    monkeypatch.setattr(actions, "publication_acknowledge", real)

    assert not WebhookSignature.objects.exists()
    assert post_call(client, creditchina, call).status_code == 200


def test_signatures_are_forgotten_once_no_call_with_them_could_verify(
    client, removal, record, creditchina
):
    old = WebhookSignature.objects.create(
        platform=creditchina,
        signature="v1=" + "0" * 64,
        signed_at=datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=1),
    )
    publication = record.publications.get(platform=creditchina)

    post_call(
        client, creditchina, signed_call(creditchina, {"publication": publication.pk}, key="k")
    )

    assert not WebhookSignature.objects.filter(pk=old.pk).exists()
    assert WebhookSignature.objects.count() == 1


def test_the_reference_receiver_refuses_a_call_resent_under_a_new_key():
    """What a platform does with our v1 webhooks: the key is signed inside the body."""
    http = urllib3.PoolManager(retries=False)
    body = json.dumps({"action": "record_withdrawal_requested", "idempotency_key": "a"}).encode()
    with WebhookReceiver("k") as receiver:
        headers = signing.signed_headers("k", body, idempotency_key="a")

        def post(**changes) -> int:
            sent = {**headers, **changes}
            return http.request("POST", receiver.url, body=body, headers=sent).status

        assert post() == 200
        assert post() == 200  # the same call again: a duplicate, processed once
        assert post(**{signing.IDEMPOTENCY_HEADER: "b"}) == 400  # not the key it signed

    assert receiver.processed == ["a"]
    assert [r.verdict for r in receiver.requests] == [
        "processed",
        "duplicate",
        "key differs from body",
    ]


def test_the_reference_receiver_refuses_a_signature_seen_under_another_key():
    """A body without the key (an older sender): the signature itself is remembered."""
    http = urllib3.PoolManager(retries=False)
    body = b'{"action": "record_disputed"}'
    with WebhookReceiver("k") as receiver:
        headers = signing.signed_headers("k", body, idempotency_key="a")
        assert http.request("POST", receiver.url, body=body, headers=headers).status == 200
        replay = {**headers, signing.IDEMPOTENCY_HEADER: "b"}
        assert http.request("POST", receiver.url, body=body, headers=replay).status == 409

    assert receiver.processed == ["a"]


# --- 13: a closed task is 409 before anyone's eligibility ------------------------------------


@pytest.fixture
def accepted(filed, staff) -> Case:
    flow.accept(filed, staff["intake"])
    flow.review(filed, staff["case_officer"], flow.APPROVED)
    return filed


def test_a_second_completion_of_a_single_signer_sign_off_is_409_task_closed(accepted, staff):
    client = api(staff["signer"])
    task = flow.open_task(accepted, "sign_off")
    assert client.post(f"/api/v1/tasks/{task.pk}/claim/").status_code == 200
    body = {"decision": "approved", "reasons": "The fine was paid."}
    assert client.post(f"/api/v1/tasks/{task.pk}/complete/", body, format="json").status_code == 200

    again = client.post(f"/api/v1/tasks/{task.pk}/complete/", body, format="json")

    assert again.status_code == 409
    assert again.json() == {
        "code": "task_closed",
        "message": f"Task {task.pk} is done: it cannot be completed.",
    }
    assert accepted.signatures.count() == 1


def test_claiming_a_done_task_is_409_task_closed_not_already_claimed(filed, staff, agency):
    task = flow.claim(filed, "acceptance_check", staff["intake"])
    actions.task_complete(task=task, user=staff["intake"], data={"decision": "accept"})
    colleague = factories.officer(Role.INTAKE, agency, "intake-2")

    for user in (staff["intake"], colleague):
        response = api(user).post(f"/api/v1/tasks/{task.pk}/claim/")
        assert response.status_code == 409
        assert response.json() == {
            "code": "task_closed",
            "message": f"Task {task.pk} is done: it cannot be claimed.",
        }


def test_a_cancelled_task_is_409_task_closed_even_for_someone_not_eligible(
    filed, applicant, staff, agency
):
    task = flow.open_task(filed, "acceptance_check")
    actions.case_withdraw(case=filed, applicant=applicant, reason="Paid elsewhere.")
    auditor = factories.officer(Role.AUDITOR, agency, "auditor-szamr")
    task.refresh_from_db()
    assert task.status == "CANCELED"

    for user in (staff["intake"], auditor, staff["signer"]):
        client = api(user)
        complete = client.post(
            f"/api/v1/tasks/{task.pk}/complete/", {"decision": "accept"}, format="json"
        )
        claim = client.post(f"/api/v1/tasks/{task.pk}/claim/")
        assert (complete.status_code, complete.json()["code"]) == (409, "task_closed"), user
        assert (
            complete.json()["message"] == f"Task {task.pk} was cancelled: it cannot be completed."
        )
        assert (claim.status_code, claim.json()["code"]) == (409, "task_closed"), user


def test_the_workspace_says_a_done_task_is_closed_before_judging_the_form(accepted, staff):
    client = signed_in(staff["signer"])
    task = flow.claim(accepted, "sign_off", staff["signer"])
    actions.task_complete(
        task=task, user=staff["signer"], data={"decision": "approved", "reasons": "Paid."}
    )

    response = client.post(reverse("workspace:task_complete", args=[task.pk]), {})

    assert response.status_code == 409
    assert f"Task {task.pk} is done: it cannot be completed." in response.content.decode()


# --- 11: proving a link does not tell who is listed ---------------------------------------------


@pytest.fixture
def proofs_store(tmp_path, monkeypatch):
    storage = RepresentationRequest._meta.get_field("proof").storage
    monkeypatch.setattr(storage, "location", str(tmp_path))


def unlisted_code() -> str:
    """A valid USCC no agency lists and Redress has never seen."""
    return make_uscc(org_body="MA5GUNL1")


def link_request(client, code: str, kind: str = "legal"):
    proof = SimpleUploadedFile("authorisation.pdf", pdf_bytes("authorisation"), "application/pdf")
    return client.post(
        reverse("portal:link_request"),
        {"kind": kind, "code": code, "proof": proof, "note": "Legal representative"},
        follow=True,
    )


def seen_by_the_person(response, code: str) -> str:
    """The page a person lands on, with the code they typed and the CSRF token blanked."""
    page = response.content.decode().replace(code, "<CODE>")
    return re.sub(r'name="csrfmiddlewaretoken" value="\w+"', 'name="csrfmiddlewaretoken"', page)


def test_the_answer_to_a_well_formed_code_is_the_same_whether_or_not_it_is_listed(
    proofs_store, company, record
):
    listed, unlisted = company.code, unlisted_code()
    first, second = factories.UserFactory(username="li-ming"), factories.UserFactory(username="x")

    on_listed = link_request(signed_in(first), listed)
    on_unlisted = link_request(signed_in(second), unlisted)

    assert [r.status_code for r in (on_listed, on_unlisted)] == [200, 200]
    assert on_listed.redirect_chain == on_unlisted.redirect_chain == [("/portal/", 302)]
    page = seen_by_the_person(on_listed, listed)
    assert page.replace("li-ming", "x") == seen_by_the_person(on_unlisted, unlisted)
    assert "Your request to act for <CODE> was received." in page
    assert company.name not in page
    assert "Waiting for confirmation" in page


def test_asking_again_gets_the_same_answer_whether_or_not_the_code_is_listed(
    proofs_store, company, record
):
    client = signed_in(factories.UserFactory(username="li-ming"))
    answers = []
    for code in (company.code, unlisted_code()):
        link_request(client, code)
        again = link_request(client, code)
        answers.append((again.status_code, seen_by_the_person(again, code)))

    assert answers[0] == answers[1]
    assert answers[0][0] == 400
    assert "Your request for this subject is waiting for confirmation." in answers[0][1]


def test_an_officer_trying_codes_gets_the_same_refusal_for_any_well_formed_code(
    proofs_store, company, record, other_agency
):
    """The portal keeps officers out; the service, which other callers may use, does not
    tell them who is listed either."""
    officer = factories.officer(Role.INTAKE, other_agency, "intake-gzamr")
    refusals = []
    for code in (company.code, unlisted_code()):
        upload = SimpleUploadedFile("authorisation.pdf", pdf_bytes(), "application/pdf")
        with pytest.raises(NotPermitted) as refused:
            accounts.representation_request(user=officer, code=code, upload=upload, kind="legal")
        refusals.append((refused.value.code, refused.value.message))

    assert (
        refusals[0]
        == refusals[1]
        == (
            "officer",
            "Officers cannot represent subjects: use a separate account for that.",
        )
    )


def test_a_malformed_code_still_names_the_wrong_character(proofs_store, company, record):
    client = signed_in(factories.UserFactory(username="li-ming"))
    code = unlisted_code()
    wrong = code[:17] + ("1" if code[17] != "1" else "2")
    with pytest.raises(InvalidIdentifier) as expected:
        validate_uscc(wrong)

    response = link_request(client, wrong)

    assert response.status_code == 400
    assert escape(expected.value.message) in response.content.decode()
    assert not RepresentationRequest.objects.exists()
    assert not Subject.objects.filter(code=code).exists()


def test_a_request_for_an_unlisted_subject_waits_unseen_until_an_agency_lists_it(
    proofs_store, agency, tmp_path
):
    code = unlisted_code()
    person = factories.UserFactory(username="li-ming")
    intake = factories.officer(Role.INTAKE, agency)
    link_request(signed_in(person), code)
    request = RepresentationRequest.objects.get(user=person)
    assert request.status == RepresentationRequest.Status.PENDING
    officers_page = reverse("portal:officer_representations")
    assert "li-ming" not in signed_in(intake).get(officers_page).content.decode()
    assert (
        signed_in(intake).get(reverse("portal:representation_proof", args=[request.pk])).status_code
        == 404
    )

    sheet = tmp_path / "records.csv"
    sheet.write_text(
        "list_type,subject_code,subject_name,decision_no,legal_basis,severity,listed_on,"
        "penalty_type\n"
        f"penalty_publication,{code},深圳市后来列入有限公司,深市监罚〔2025〕9号,,general,"
        "2025-01-06,fine\n",
        encoding="utf-8",
    )
    report = import_records(sheet, agency=agency, today=datetime.date(2026, 1, 1))
    assert not report.errors

    page = signed_in(intake).get(officers_page).content.decode()
    assert "li-ming" in page and "深圳市后来列入有限公司" in page
    assert Subject.objects.get(code=code).name == "深圳市后来列入有限公司"


def test_the_api_answers_a_code_not_yours_as_it_answers_a_code_nobody_has(
    applicant, company, record, agency, platforms
):
    """The existing rule, pinned next to the portal's: filing for someone else's subject
    or for one nobody knows gets one answer, and so does a records filter."""
    other = factories.SubjectFactory(name="广州示例贸易有限公司")
    restorable_record(other, agency, platforms)
    client = api(applicant)

    def file_for(code):
        body = {"kind": "restoration", "subject_code": code, "record_ids": [record.pk]}
        return client.post("/api/v1/cases/", {**body, "grounds": "Paid."}, format="json")

    theirs, nobodys = file_for(other.code), file_for(unlisted_code())
    assert (theirs.status_code, theirs.json()) == (nobodys.status_code, nobodys.json())
    assert theirs.json()["field"] == "subject_code"
    filtered = [
        client.get("/api/v1/records/", {"subject_code": code}).json()
        for code in (other.code, unlisted_code())
    ]
    assert filtered[0] == filtered[1] == {"next": None, "previous": None, "results": []}


# --- 14: the schema says what the code accepts ---------------------------------------------------


@pytest.fixture
def openapi(db) -> dict:
    response = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    return response.json()


def conforms(openapi: dict, component: str, instance) -> bool:
    """Whether ``instance`` is valid against the schema's ``component`` (refs resolved)."""
    document = {"components": openapi["components"]}
    resource = referencing.Resource.from_contents(document, referencing.jsonschema.DRAFT4)
    registry = referencing.Registry().with_resource("urn:redress", resource)
    validator = jsonschema.Draft4Validator(
        {"$ref": f"urn:redress#/components/schemas/{component}"}, registry=registry
    )
    return validator.is_valid(instance)


def parameter(openapi: dict, path: str, name: str) -> dict:
    [found] = [p for p in openapi["paths"][path]["get"]["parameters"] if p["name"] == name]
    return found["schema"]


LISTS = ["/api/v1/records/", "/api/v1/cases/", "/api/v1/tasks/", "/api/v1/cases/{case_pk}/letters/"]


def test_page_size_is_documented_as_a_whole_number_from_1_to_200_and_held_to_it(
    openapi, filed, applicant
):
    for path in LISTS:
        assert parameter(openapi, path, "page_size") == {
            "type": "integer",
            "minimum": 1,
            "maximum": 200,
            "default": 50,
        }, path
    client = api(applicant)

    for size in ("null", "", "abc", "0", "-1", "201", "1.5", "1e2", "٣"):
        response = client.get("/api/v1/cases/", {"page_size": size})
        assert response.status_code == 400, size
        assert response.json()["code"] == "invalid_input"
        assert response.json()["field"] == "page_size"
        assert response.json()["message"] == (
            "page_size: The page size is a whole number from 1 to 200."
        )
    for size in ("1", "200"):
        assert client.get("/api/v1/cases/", {"page_size": size}).status_code == 200


def test_the_tasks_case_filter_is_documented_as_an_id_and_held_to_it(openapi, filed, staff):
    assert parameter(openapi, "/api/v1/tasks/", "case") == {
        "type": "integer",
        "format": "int64",
        "minimum": 1,
        "maximum": 2**63 - 1,
    }
    client = api(staff["intake"])

    for value in ("0", str(2**63), "-3", "x"):
        response = client.get("/api/v1/tasks/", {"case": value})
        assert (response.status_code, response.json()["field"]) == (400, "case"), value
    listed = client.get("/api/v1/tasks/", {"case": filed.pk}).json()["results"]
    assert [t["case"] for t in listed] == [filed.pk]


def test_a_subject_code_is_documented_with_its_pattern_and_held_to_it(
    openapi, applicant, company, record
):
    shape = {
        "type": "string",
        "minLength": 18,
        "maxLength": 18,
        "pattern": "^[0-9A-HJ-NP-RTUWXYa-hj-np-rtuwxy]{18}$",
    }
    body_field = openapi["components"]["schemas"]["CaseCreateRequest"]["properties"]
    for documented in (
        body_field["subject_code"],
        parameter(openapi, "/api/v1/records/", "subject_code"),
        parameter(openapi, "/api/v1/cases/", "subject_code"),
    ):
        assert {k: documented[k] for k in shape} == shape
    client = api(applicant)

    lower = client.get("/api/v1/records/", {"subject_code": company.code.lower()})
    assert [r["id"] for r in lower.json()["results"]] == [record.pk]
    for wrong in (company.code[:17], f" {company.code}", company.code[:17] + "I", 123):
        filtered = client.get("/api/v1/records/", {"subject_code": wrong})
        assert (filtered.status_code, filtered.json()["field"]) == (400, "subject_code"), wrong
        filing = client.post(
            "/api/v1/cases/",
            {
                "kind": "restoration",
                "subject_code": wrong,
                "record_ids": [record.pk],
                "grounds": "Paid.",
            },
            format="json",
        )
        assert (filing.status_code, filing.json()["field"]) == (400, "subject_code"), wrong
    assert not Case.objects.exists()


def test_the_complete_body_is_documented_per_step_and_each_step_takes_only_its_own(
    openapi, filed, staff
):
    schemas = openapi["components"]["schemas"]
    body = openapi["paths"]["/api/v1/tasks/{id}/complete/"]["post"]["requestBody"]
    [(media, content)] = body["content"].items()
    assert media == "application/json"
    steps = [
        ref["$ref"].rsplit("/", 1)[1]
        for ref in schemas[content["schema"]["$ref"].rsplit("/", 1)[1]]["oneOf"]
    ]
    assert steps == [
        "AcceptanceCheckRequest",
        "RefusalApprovalRequest",
        "EvidenceReviewRequest",
        "LegalReviewRequest",
        "SignOffRequest",
    ]
    assert all(schemas[name]["additionalProperties"] is False for name in steps)
    decisions = {
        name: schemas[schemas[name]["properties"]["decision"]["$ref"].rsplit("/", 1)[1]]["enum"]
        for name in steps
        if "decision" in schemas[name]["properties"]
    }
    assert decisions == {
        "AcceptanceCheckRequest": ["accept", "request_materials", "not_accept"],
        "RefusalApprovalRequest": ["approve", "decline"],
        "LegalReviewRequest": ["pass", "send_back"],
        "SignOffRequest": ["approved", "partly_approved", "rejected"],
    }
    accept = {"decision": "accept", "note": "Complete."}
    with_another_steps_field = {"decision": "accept", "recommendation": "approved"}
    assert conforms(openapi, "TaskCompletionRequest", accept)
    assert not conforms(openapi, "TaskCompletionRequest", with_another_steps_field)
    assert not conforms(openapi, "TaskCompletionRequest", {"decision": "accept", "note": 1})
    task = flow.claim(filed, "acceptance_check", staff["intake"])
    client = api(staff["intake"])

    refused = client.post(
        f"/api/v1/tasks/{task.pk}/complete/", with_another_steps_field, format="json"
    )
    not_text = client.post(
        f"/api/v1/tasks/{task.pk}/complete/", {"decision": "accept", "note": 1}, format="json"
    )
    done = client.post(f"/api/v1/tasks/{task.pk}/complete/", accept, format="json")

    assert refused.status_code == 400
    assert refused.json()["field"] == "recommendation"
    assert refused.json()["message"] == (
        "recommendation: This field does not apply at acceptance_check."
    )
    assert (not_text.status_code, not_text.json()["field"]) == (400, "note")
    assert done.status_code == 200


@pytest.mark.parametrize(
    ("address", "field"),
    [
        ("/api/v1/cases/{case}/withdraw/", "reason"),
        ("/api/v1/cases/{case}/resubmit/", "note"),
    ],
)
@pytest.mark.parametrize("value", [0, 1.5, True, ["x"], {"x": 1}])
def test_text_fields_refuse_anything_but_text(filed, applicant, address, field, value):
    response = api(applicant).post(address.format(case=filed.pk), {field: value}, format="json")

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert response.json()["message"].startswith(f"{field}: Send text (a JSON string), not ")
    assert flow.refresh(filed).status == Case.Status.SUBMITTED


def test_a_text_field_documented_as_a_string_refuses_a_number_in_schema_and_code(
    openapi, filed, applicant
):
    assert not conforms(openapi, "ReasonRequest", {"reason": 0})
    assert conforms(openapi, "ReasonRequest", {"reason": "Settled."})
    grounds = api(applicant).post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": filed.subject.code,
            "record_ids": [1],
            "grounds": 7,
        },
        format="json",
    )
    assert (grounds.status_code, grounds.json()["field"]) == (400, "grounds")


def test_the_token_endpoint_takes_a_username_and_password_as_text_only(applicant):
    response = APIClient().post(
        "/api/v1/auth/token/", {"username": 123, "password": 456}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_input"
    assert response.json()["field"] == "username"
