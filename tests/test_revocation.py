"""A signing official proposes to revoke an approved restoration, from the case page and
the API; a legal reviewer and the signing officials decide it (decision 0016).

NDRC Order 36 Art. 25 and SAMR Order 107 Art. 23: a restoration obtained by false
materials or a seriously untrue credit commitment, or whose subject deliberately failed
to perform its commitment, is revoked and the records are published again. The official
names the ground, writes the reasons and uploads the evidence with the proposal; once
signed, the records return to active and every platform is asked to publish them again;
the ``revoked`` event names the ground, its articles, the reasons and every evidence
file's SHA-256. Who may not propose, a case that cannot be revoked and a missing input
are each refused, clearly, and leave the case as it was. What follows a revocation (the
restarted period, the published decision, the bar) is ``tests/test_revocation_story.py``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient
from viewflow.workflow.status import PROCESS

from cases.law import Citation
from cases.models import (
    REVOCATION_BASIS,
    Case,
    Evidence,
    Membership,
    Publication,
    Record,
    Revocation,
    RevocationGround,
    Role,
)
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import api_token, pdf_bytes, restorable_record
from workflows import actions

S = Case.Status
ARTICLE_25 = "《信用修复管理办法》第二十五条"
ARTICLE_23 = "《市场监督管理信用修复管理办法》第二十三条"


@pytest.fixture(autouse=True)
def _file_stores(tmp_path, monkeypatch):
    for alias in ("evidence", "letters"):
        (tmp_path / alias).mkdir()
        monkeypatch.setattr(storages[alias], "location", str(tmp_path / alias))


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def approved(company, agency, platforms, applicant, staff, record) -> Case:
    """A restoration the signer approved: every platform is asked to withdraw the record."""
    case = flow.file_restoration(company, [record], applicant)
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.APPROVED)
    case = flow.sign(case, staff["signer"], flow.APPROVED)
    assert case.status == S.REMOVAL
    # The revocation terms of Order 36 Art. 25 (36 months each); one signer.
    flow.revocation_rules(case, publication_months=36, bar_months=36, signers=1)
    return case


def upload(label: str, content: bytes | None = None) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"{label}.pdf", content or pdf_bytes(label), "application/pdf")


def stored_files() -> set[str]:
    return {str(p) for p in Path(storages["evidence"].location).rglob("*") if p.is_file()}


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def revoke_in_the_api(client, case, **body):
    return client.post(f"/api/v1/cases/{case.pk}/revoke/", body, format="multipart")


def complete_body(**changes) -> dict:
    body = {
        "ground": RevocationGround.UNTRUE_COMMITMENT,
        "reasons": "The commitment letter says the fine was paid; the treasury has no payment.",
        "evidence": [upload("treasury-statement")],
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


def page_body(**changes) -> dict:
    """What the case page posts: the revocation, confirmed."""
    return {**complete_body(**changes), "confirm": "on"}


def assert_as_it_was(case, record) -> None:
    case.refresh_from_db()
    record.refresh_from_db()
    assert case.status == S.REMOVAL
    assert not Revocation.objects.filter(case=case).exists()
    assert not case.events.filter(kind="revoked").exists()
    assert not case.evidence.filter(source=Evidence.Source.OFFICER).exists()
    assert record.status == Record.Status.REMOVED
    assert flow.publication_statuses(record) == {Publication.Status.WITHDRAWAL_REQUESTED}


# --- the signer revokes from the case page -------------------------------------------------------


def test_a_signer_proposes_from_the_case_page_and_a_reviewer_and_a_second_signer_decide(
    client, approved, record, staff
):
    client.force_login(staff["signer"])
    page = client.get(f"/workflow/cases/{approved.pk}/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Propose to revoke this restoration" in text
    assert "goes to a legal reviewer and then to the signing officials" in text
    statement = pdf_bytes("treasury-statement")
    photo = pdf_bytes("site-visit")

    response = client.post(
        f"/workflow/cases/{approved.pk}/revoke/",
        {
            "ground": "false_materials",
            "reasons": "The payment receipt was forged: the treasury has no such payment.",
            "evidence": [upload("treasury-statement", statement), upload("site-visit", photo)],
            "confirm": "on",
        },
        follow=True,
    )

    assert response.status_code == 200
    text = response.content.decode()
    assert f"The revocation of {approved.reference} is proposed" in text
    assert "Proposed: legal review" in text
    assert "False materials were provided" in text
    assert ARTICLE_25 in text and ARTICLE_23 in text
    assert text.count("Supports the revocation") == 2
    assert "Propose to revoke this restoration" not in text  # one proposal at a time
    assert "Sign the revocation" not in text  # not signed before the legal review
    # Nothing changed on the records yet.
    assert flow.refresh(approved).status == S.REMOVAL
    record.refresh_from_db()
    assert record.status == Record.Status.REMOVED
    proposed = flow.last_event(approved, "revocation_proposed")
    assert proposed.actor == staff["signer"]
    assert [item["sha256"] for item in proposed.data["evidence"]] == [
        hashlib.sha256(statement).hexdigest(),
        hashlib.sha256(photo).hexdigest(),
    ]

    client.force_login(staff["legal_reviewer"])
    reviewed = client.post(
        f"/workflow/cases/{approved.pk}/revocation/review/",
        {"passed": "pass", "note": "The ground and the evidence hold."},
        follow=True,
    )
    assert "goes to the signing officials" in reviewed.content.decode()
    second = flow.second_signer(approved)
    client.force_login(second)
    assert "Sign the revocation" in client.get(f"/workflow/cases/{approved.pk}/").content.decode()
    signed = client.post(
        f"/workflow/cases/{approved.pk}/revocation/sign/", {"agree": "sign"}, follow=True
    )

    text = signed.content.decode()
    assert f"The restoration of {approved.reference} is revoked" in text
    assert "Restoration revoked" in text  # the status, and the timeline's entry
    assert "The payment receipt was forged" in text
    case = flow.refresh(approved)
    record.refresh_from_db()
    assert case.status == S.REVOKED
    assert record.status == Record.Status.ACTIVE
    assert flow.publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    assert flow.open_steps(case) == []
    assert flow.process_status(case) == PROCESS.CANCELED
    revoked = flow.last_event(case, "revoked")
    assert revoked.actor == second
    assert revoked.note == "The payment receipt was forged: the treasury has no such payment."
    assert revoked.data["ground"] == "false_materials"
    assert revoked.data["basis"] == f"{ARTICLE_25}；{ARTICLE_23}"
    assert revoked.data["proposed_by"] == staff["signer"].username
    assert revoked.data["legal_reviewer"] == staff["legal_reviewer"].username
    assert revoked.data["signers"] == [second.username]
    assert revoked.data["reinstated"] == [record.decision_no]
    officers = case.evidence.filter(source=Evidence.Source.OFFICER)
    assert {e.uploaded_by for e in officers} == {staff["signer"]}
    assert set(case.revocation.evidence.all()) == set(officers)


def test_the_page_asks_for_each_missing_input_and_keeps_what_was_typed(
    client, approved, record, staff
):
    client.force_login(staff["signer"])

    response = client.post(
        f"/workflow/cases/{approved.pk}/revoke/",
        {"reasons": "The commitment was untrue."},
    )

    assert response.status_code == 400
    text = response.content.decode()
    assert "Check the highlighted fields." in text
    assert "Choose the ground of the revocation." in text
    assert "Add at least one evidence file that supports the revocation." in text
    assert "Confirm that you mean to revoke this restoration." in text
    assert "The commitment was untrue.</textarea>" in text
    assert_as_it_was(approved, record)


def test_the_page_refuses_a_revocation_without_reasons(client, approved, record, staff):
    client.force_login(staff["signer"])

    response = client.post(f"/workflow/cases/{approved.pk}/revoke/", page_body(reasons="   "))

    assert response.status_code == 400
    assert "State why the restoration is revoked." in response.content.decode()
    assert_as_it_was(approved, record)


def test_the_page_refuses_a_revocation_that_is_not_confirmed(client, approved, record, staff):
    client.force_login(staff["signer"])
    body = complete_body()

    response = client.post(f"/workflow/cases/{approved.pk}/revoke/", body)

    assert response.status_code == 400
    assert "Confirm that you mean to revoke this restoration." in response.content.decode()
    assert_as_it_was(approved, record)


def test_a_refused_file_is_named_at_the_evidence_field_and_nothing_is_kept(
    client, approved, record, staff
):
    client.force_login(staff["signer"])
    before = stored_files()
    script = SimpleUploadedFile("statement.pdf", b"#!/bin/sh\necho hi\n", "application/pdf")

    response = client.post(
        f"/workflow/cases/{approved.pk}/revoke/",
        page_body(evidence=[upload("good-one"), script]),
    )

    assert response.status_code == 400
    text = response.content.decode()
    assert "statement.pdf is refused: Only PDF, PNG and JPEG files are accepted" in text
    assert_as_it_was(approved, record)
    assert stored_files() == before


@pytest.mark.parametrize("role", [Role.INTAKE, Role.CASE_OFFICER, Role.LEGAL_REVIEWER, "auditor"])
def test_only_a_signing_official_is_offered_the_form_and_others_are_refused(
    client, approved, record, staff, agency, role
):
    person = factories.officer(Role.AUDITOR, agency) if role == "auditor" else staff[role]
    client.force_login(person)

    page = client.get(f"/workflow/cases/{approved.pk}/")
    posted = client.post(f"/workflow/cases/{approved.pk}/revoke/", page_body())

    assert "Propose to revoke this restoration" not in page.content.decode()
    assert posted.status_code == 403
    assert "Only a signing official of SZAMR may revoke a restoration." in posted.content.decode()
    assert_as_it_was(approved, record)


def test_a_signer_of_another_agency_cannot_tell_the_case_exists(
    client, approved, record, other_agency
):
    client.force_login(factories.officer(Role.SIGNER, other_agency))

    assert client.post(f"/workflow/cases/{approved.pk}/revoke/", page_body()).status_code == 404
    assert_as_it_was(approved, record)


def test_a_signer_who_represents_the_subject_is_neither_offered_nor_allowed_to_revoke(
    client, approved, record, company, agency
):
    insider = factories.representative(company, "insider")
    Membership.objects.create(user=insider, agency=agency, role=Role.SIGNER)
    client.force_login(insider)

    page = client.get(f"/workflow/cases/{approved.pk}/")
    posted = client.post(f"/workflow/cases/{approved.pk}/revoke/", page_body())

    assert "Propose to revoke this restoration" not in page.content.decode()
    assert posted.status_code == 403
    assert "Article 43" in posted.content.decode()
    assert_as_it_was(approved, record)


# --- the API --------------------------------------------------------------------------------------


def test_a_signer_proposes_and_the_reviewer_and_a_second_signer_decide_through_the_api(
    approved, record, staff
):
    statement = pdf_bytes("treasury-statement")
    second = flow.second_signer(approved)

    response = revoke_in_the_api(
        token_client(staff["signer"]),
        approved,
        ground="commitment_not_performed",
        reasons="The subject promised to close the site and kept operating it.",
        evidence=[upload("inspection-report", statement)],
    )

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["status"] == "removal"  # nothing changed yet
    assert body["revocation"]["status"] == "proposed"
    assert body["revocation"]["proposed_by"] == staff["signer"].username
    assert body["revocation"]["ground"] == "commitment_not_performed"
    assert body["revocation"]["basis"] == ARTICLE_25
    (evidence_id,) = body["revocation"]["evidence"]
    item = next(e for e in body["evidence"] if e["id"] == evidence_id)
    assert item["sha256"] == hashlib.sha256(statement).hexdigest()
    assert item["source"] == "officer"

    reviewed = token_client(staff["legal_reviewer"]).post(
        f"/api/v1/cases/{approved.pk}/revocation/review/",
        {"passed": True, "note": "Sound."},
        format="json",
    )
    assert reviewed.status_code == 200, reviewed.json()
    assert reviewed.json()["revocation"]["status"] == "sign_off"
    signed = token_client(second).post(
        f"/api/v1/cases/{approved.pk}/revocation/sign/", {"agree": True}, format="json"
    )

    assert signed.status_code == 200, signed.json()
    body = signed.json()
    assert body["status"] == "revoked"
    assert body["revocation"]["status"] == "revoked"
    assert body["revocation"]["legal_reviewer"] == staff["legal_reviewer"].username
    assert body["revocation"]["signers"] == [second.username]
    assert body["revocation"]["reasons"] == (
        "The subject promised to close the site and kept operating it."
    )
    record.refresh_from_db()
    assert record.status == Record.Status.ACTIVE
    assert flow.publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    revoked = flow.last_event(approved, "revoked")
    assert revoked.data["ground"] == "commitment_not_performed"
    assert revoked.data["evidence"] == [
        {"id": evidence_id, "sha256": item["sha256"], "name": "inspection-report.pdf"}
    ]


def test_the_applicant_reads_no_proposal_only_a_revocation_in_effect(approved, staff, applicant):
    revoke_in_the_api(token_client(staff["signer"]), approved, **complete_body())
    client = token_client(applicant)

    proposed = client.get(f"/api/v1/cases/{approved.pk}/").json()
    flow.revoked_after_proposal(approved, staff)
    in_effect = client.get(f"/api/v1/cases/{approved.pk}/").json()

    assert proposed["revocation"] is None
    assert "revocation_proposed" not in [e["kind"] for e in proposed["timeline"]]
    assert in_effect["revocation"]["status"] == "revoked"


def test_a_restoration_in_its_appeal_window_is_revoked_too(approved, record, staff):
    flow.worker_renders_letters(approved)
    flow.acknowledge_everywhere(record)
    assert flow.refresh(approved).status == S.APPEAL_WINDOW

    response = revoke_in_the_api(token_client(staff["signer"]), approved, **complete_body())
    assert response.status_code == 200, response.json()
    flow.revoked_after_proposal(approved, staff)

    record.refresh_from_db()
    assert record.status == Record.Status.ACTIVE
    assert flow.publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    assert flow.process_status(approved) == PROCESS.CANCELED


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"ground": None}, "ground", "This field is required."),
        ({"ground": "changed_our_mind"}, "ground", "is not a valid choice."),
        ({"reasons": None}, "reasons", "This field is required."),
        ({"reasons": ""}, "reasons", "may not be blank."),
        ({"evidence": None}, "evidence", "This field is required."),
    ],
)
def test_the_api_names_the_missing_input(approved, record, staff, changes, field, message):
    response = revoke_in_the_api(
        token_client(staff["signer"]), approved, **complete_body(**changes)
    )

    assert response.status_code == 400
    assert response.json()["field"] == field
    assert message in response.json()["message"]
    assert_as_it_was(approved, record)


def test_the_api_refuses_blank_reasons_and_a_refused_file_by_field(approved, record, staff):
    client = token_client(staff["signer"])
    before = stored_files()

    blank = revoke_in_the_api(client, approved, **complete_body(reasons="   "))
    empty = revoke_in_the_api(
        client,
        approved,
        **complete_body(evidence=[upload("fine"), SimpleUploadedFile("empty.pdf", b"")]),
    )
    text = revoke_in_the_api(
        client,
        approved,
        **complete_body(evidence=[SimpleUploadedFile("notes.pdf", b"just some text\n")]),
    )

    assert (blank.status_code, blank.json()["field"]) == (400, "reasons")
    assert (empty.status_code, empty.json()["field"]) == (400, "evidence")
    assert (text.status_code, text.json()["field"]) == (400, "evidence")
    assert text.json()["message"].startswith("notes.pdf is refused: Only PDF, PNG and JPEG")
    assert_as_it_was(approved, record)
    assert stored_files() == before


def test_the_api_takes_at_most_ten_files(approved, record, staff):
    files = [upload(f"page-{n}") for n in range(Revocation.EVIDENCE_MAX + 1)]

    response = revoke_in_the_api(
        token_client(staff["signer"]), approved, **complete_body(evidence=files)
    )

    assert response.status_code == 400
    assert response.json()["field"] == "evidence"
    assert_as_it_was(approved, record)


def test_who_may_not_revoke_is_told_so_before_the_body_is_judged(
    approved, record, staff, applicant, agency, other_agency
):
    auditor = factories.officer(Role.AUDITOR, agency)
    other_signer = factories.officer(Role.SIGNER, other_agency)

    got = {
        who: revoke_in_the_api(token_client(person), approved).status_code
        for who, person in [
            ("case officer", staff["case_officer"]),
            ("supervisor", staff["supervisor"]),
            ("auditor", auditor),
            ("applicant", applicant),
            ("signer of another agency", other_signer),
        ]
    }
    anonymous = revoke_in_the_api(APIClient(), approved, **complete_body())

    assert got == {
        "case officer": 403,
        "supervisor": 403,
        "auditor": 403,
        "applicant": 403,
        "signer of another agency": 404,
    }
    assert anonymous.status_code == 401
    assert_as_it_was(approved, record)


def test_the_applicant_who_is_also_a_signer_is_barred_by_the_conflict_rule(
    approved, record, applicant, agency
):
    Membership.objects.create(user=applicant, agency=agency, role=Role.SIGNER)

    response = revoke_in_the_api(token_client(applicant), approved, **complete_body())

    assert response.status_code == 403
    assert response.json()["code"] == "conflict_of_interest"
    assert response.json()["basis"] == "《中华人民共和国行政处罚法》第四十三条"
    assert_as_it_was(approved, record)


# --- what cannot be revoked ---------------------------------------------------------------------


def test_an_objection_an_undecided_and_a_rejected_restoration_cannot_be_revoked(
    company, agency, platforms, applicant, staff
):
    objection = flow.file_objection(
        company, [restorable_record(company, agency, platforms)], applicant
    )
    flow.accept(objection, staff["intake"])
    flow.review(objection, staff["case_officer"], flow.APPROVED)
    flow.sign(objection, staff["signer"], flow.APPROVED)
    undecided = flow.file_restoration(
        company, [restorable_record(company, agency, platforms)], applicant
    )
    rejected = flow.file_restoration(
        company, [restorable_record(company, agency, platforms)], applicant
    )
    flow.accept(rejected, staff["intake"])
    flow.review(rejected, staff["case_officer"], flow.REJECTED)
    flow.sign(rejected, staff["signer"], flow.REJECTED)
    client = token_client(staff["signer"])

    got = {
        name: revoke_in_the_api(client, case, **complete_body()).json()
        for name, case in [
            ("objection", objection),
            ("undecided", undecided),
            ("rejected", rejected),
        ]
    }

    assert {name: body["code"] for name, body in got.items()} == dict.fromkeys(
        ("objection", "undecided", "rejected"), "not_revocable"
    )
    assert got["rejected"]["message"] == "Only an approved restoration can be revoked."
    assert not Revocation.objects.exists()


def test_a_revoked_restoration_cannot_be_revoked_again(client, approved, staff):
    flow.revoked(
        case=approved,
        official=staff["signer"],
        ground=RevocationGround.FALSE_MATERIALS,
        reasons="Forged receipt.",
        evidence=[upload("first")],
    )
    client.force_login(staff["signer"])

    in_the_api = revoke_in_the_api(token_client(staff["signer"]), approved, **complete_body())
    on_the_page = client.post(f"/workflow/cases/{approved.pk}/revoke/", page_body())

    assert in_the_api.status_code == 409
    assert in_the_api.json()["code"] == "wrong_state"
    assert "is restoration revoked; it cannot be revoked now" in in_the_api.json()["message"]
    assert on_the_page.status_code == 409
    assert Revocation.objects.filter(case=approved).count() == 1
    assert approved.events.filter(kind="revoked").count() == 1


def test_the_same_file_twice_is_one_evidence_item(approved, staff):
    content = pdf_bytes("statement")

    revocation = actions.case_revocation_propose(
        case=approved,
        official=staff["signer"],
        ground=RevocationGround.UNTRUE_COMMITMENT,
        reasons="Untrue.",
        evidence=[upload("statement", content), upload("statement-copy", content)],
    )

    assert revocation.evidence.count() == 1
    assert len(flow.last_event(approved, "revocation_proposed").data["evidence"]) == 1


def test_every_ground_carries_its_articles_as_data():
    assert set(REVOCATION_BASIS) == set(RevocationGround)
    assert all(ARTICLE_25 in basis for basis in REVOCATION_BASIS.values())
    assert ARTICLE_23 in REVOCATION_BASIS[RevocationGround.FALSE_MATERIALS]
    assert ARTICLE_23 not in REVOCATION_BASIS[RevocationGround.COMMITMENT_NOT_PERFORMED]


def test_the_api_schema_documents_the_revocation(db):
    schema = Client().get("/api/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/cases/{id}/revoke/"]["post"]
    body = operation["requestBody"]["content"]["multipart/form-data"]["schema"]
    component = schema["components"]["schemas"][body["$ref"].rsplit("/", 1)[-1]]

    assert set(component["required"]) == {"ground", "reasons", "evidence"}
    assert component["properties"]["evidence"]["type"] == "array"
    assert component["properties"]["evidence"]["maxItems"] == Revocation.EVIDENCE_MAX
    assert {"200", "400", "403", "404", "409"} <= set(operation["responses"])


@pytest.mark.parametrize("where", ["page", "api"])
def test_evidence_files_are_held_to_the_upload_limit_not_the_small_request_limit(
    client, approved, staff, settings, where
):
    """A scan of a bank statement is larger than a form: a revocation takes files up to
    REDRESS_UPLOAD_MAX_BYTES, like every other evidence upload, and a larger body is
    refused (413) before it is read."""

    def revoke(**changes):
        if where == "api":
            client = token_client(staff["signer"])
            return revoke_in_the_api(client, approved, **complete_body(**changes))
        return page_client.post(f"/workflow/cases/{approved.pk}/revoke/", page_body(**changes))

    page_client = client
    page_client.force_login(staff["signer"])
    settings.REDRESS_REQUEST_MAX_BYTES = 10 * 1024 * 1024
    settings.REDRESS_UPLOAD_MAX_BYTES = 64
    too_large = revoke(evidence=[upload("huge", pdf_bytes("huge") + b"%" * 300_000)])
    settings.REDRESS_REQUEST_MAX_BYTES = 100  # smaller than any revocation with a file
    settings.REDRESS_UPLOAD_MAX_BYTES = 20 * 1024 * 1024
    done = revoke()

    assert too_large.status_code == 413
    assert done.status_code == (200 if where == "api" else 302)
    assert flow.refresh(approved).revocation.status == Revocation.Status.PROPOSED


@pytest.mark.parametrize(
    ("language", "phrases"),
    [
        (
            "zh-hans",
            [
                "你（单位）存在故意不履行信用承诺的情形",
                f"依据{ARTICLE_25}，",
                "仍在原址经营",
                "公示期重新计算，且不得提前停止公示",
                "不得就上述记录申请信用修复",
            ],
        ),
        (
            "en",
            [
                "found that you deliberately failed to perform your credit commitment",
                # The English letter cites in English (decision 0021).
                f"under {Citation('ndrc36', 25).en}.",
                "仍在原址经营",
            ],
        ),
    ],
)
def test_the_revocation_letter_names_the_ground_and_its_articles(
    approved, staff, language, phrases
):
    Case.objects.filter(pk=approved.pk).update(language=language)
    flow.revoked(
        case=approved,
        official=staff["signer"],
        ground=RevocationGround.COMMITMENT_NOT_PERFORMED,
        reasons="承诺停止经营，经现场检查仍在原址经营。",
        evidence=[upload("inspection")],
    )

    flow.worker_renders_letters(approved)

    letter = approved.letters.get(kind="revocation")
    assert letter.status == "issued", letter.last_error
    assert letter.language == language
    for phrase in phrases:
        assert phrase in letter.html, phrase


def test_an_administrator_reads_the_revocation_on_the_case_and_cannot_change_it(
    client, approved, staff
):
    flow.revoked(
        case=approved,
        official=staff["signer"],
        ground=RevocationGround.FALSE_MATERIALS,
        reasons="Forged receipt.",
        evidence=[upload("bank-letter")],
    )
    admin = factories.UserFactory(is_staff=True, is_superuser=True)
    client.force_login(admin)

    page = client.get(f"/admin/cases/case/{approved.pk}/change/")

    assert page.status_code == 200
    text = page.content.decode()
    assert "False materials were provided" in text
    assert "Forged receipt." in text
    assert 'name="revocation-0-reasons"' not in text  # shown, not editable


def test_a_chinese_reading_signer_reads_the_form_in_chinese(client, approved, staff):
    client.force_login(staff["signer"])

    page = client.get(f"/workflow/cases/{approved.pk}/", HTTP_ACCEPT_LANGUAGE="zh-hans")
    refused = client.post(
        f"/workflow/cases/{approved.pk}/revoke/", {}, HTTP_ACCEPT_LANGUAGE="zh-hans"
    )

    text = page.content.decode()
    assert "提议撤销该信用修复决定" in text
    assert "信用承诺严重不实（《信用修复管理办法》第二十五条" in text
    assert "请至少上传一份支持撤销的证据材料。" in refused.content.decode()
