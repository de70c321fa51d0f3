"""Temporary restoration during a bankruptcy reorganisation or composition.

《信用修复管理办法》第二十条 (NDRC Order 36 Art. 20) and 《市场监督管理信用修复管理办法》
第二十二条 (SAMR Order 107 Art. 22): while a court-approved reorganisation plan or
composition agreement is carried out, the enterprise (or its administrator) files with
the court's ruling; within 10 working days of receipt (SAMR: 7) the agency shields the
information on every platform and lifts the measures that hinder the plan, no more than
necessary. A failed plan restores publication; once the plan is carried out, the
enterprise asks for restoration with the completion ruling.

The stories: an enterprise files with the ruling, an officer accepts, a case officer
reviews, a signer grants within the deadline, each platform is told to shield and
confirms, the record shows as shielded on the portal and in the API; then the plan fails
and each platform publishes it again. A second enterprise's plan is carried out and the
completion ruling restores the record in full. The kind is refused where the rule
version offers none, and nobody files for an enterprise they do not act for.
"""

from __future__ import annotations

import datetime
import json
import time

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient
from viewflow.workflow.status import PROCESS

from cases.clock import calendar_for
from cases.errors import InvalidInput, NotPermitted, RuleViolation, WrongState
from cases.law import cite
from cases.models import Case, Deadline, Material, Publication, Record, RuleSet, Sector
from documents.models import Letter
from notifications import signing
from notifications.models import Message
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import agency_rules, api_token, pdf_bytes, restorable_record
from tests.notification_helpers import messages_of
from workflows import actions

S = Case.Status
SECRETS = {"creditchina": "s3cret-creditchina-0123456789", "gsxt": "s3cret-gsxt-9876543210"}
ARTICLE_20 = "《信用修复管理办法》第二十条"
ARTICLE_22 = "《市场监督管理信用修复管理办法》第二十二条"
MEASURES = "暂停限制参加政府采购的措施（影响重整投资人引入）"


@pytest.fixture(autouse=True)
def _file_stores(tmp_path, monkeypatch):
    for alias in ("evidence", "letters"):
        (tmp_path / alias).mkdir()
        monkeypatch.setattr(storages[alias], "location", str(tmp_path / alias))


@pytest.fixture(autouse=True)
def _platform_secrets(platforms):
    for platform in platforms:
        platform.webhook_secret = SECRETS[platform.code]
        platform.save(update_fields=["webhook_secret"])


def rules_of(agency, *, temporary_restoration_days, citation=None) -> RuleSet:
    """The agency's own rule version for general penalties, with the values these stories
    rely on set here (not taken from the seeds)."""
    citations = {"temporary_restoration_days": [citation]} if citation is not None else {}
    return agency_rules(
        agency,
        temporary_restoration_days=temporary_restoration_days,
        citations=citations,
        acceptance_days=3,
        restoration_review_days=7,
        removal_days=3,
        letter_service_days=5,
        materials_days=10,
        legal_review_required=False,
        signers_required=1,
        required_materials=[Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF],
        barred_penalty_types=[],
    )


@pytest.fixture
def record(company, agency, platforms):
    """A general fine listed 20 days ago: no minimum period stands in the way of a
    temporary restoration (Art. 20 sets none)."""
    return restorable_record(
        company,
        agency,
        platforms,
        listed_on=timezone.localdate() - datetime.timedelta(days=20),
        restorable_from=timezone.localdate() + datetime.timedelta(days=72),
    )


def token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def ruling(label: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(f"{label}.pdf", pdf_bytes(label), "application/pdf")


def ack(client, platform, body, *, key):
    """POST a signed acknowledgement as ``platform`` would."""
    content = json.dumps(body).encode()
    headers = signing.signed_headers(
        platform.webhook_secret, content, idempotency_key=key, now=time.time()
    )
    return client.post(
        f"/api/v1/platforms/{platform.code}/acknowledgements/",
        data=content,
        content_type="application/json",
        headers={k: v for k, v in headers.items() if k != "Content-Type"},
    )


def webhooks(case, action) -> dict[str, Message]:
    return {
        m.platform.code: m for m in messages_of(case, channel=Message.Channel.WEBHOOK, kind=action)
    }


def every_platform_confirms(client, case, record, action, status) -> None:
    """Each platform holding ``record`` answers the ``action`` message it was sent."""
    for code, message in webhooks(case, action).items():
        publication = record.publications.get(platform__code=code)
        response = ack(
            client,
            publication.platform,
            {
                "publication": publication.pk,
                "status": status,
                "idempotency_key": message.idempotency_key,
            },
            key=f"{code}-{action}",
        )
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == status


def grant(case, staff, measures=MEASURES) -> Case:
    """An intake officer accepts, the case officer reviews, a signing official grants."""
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.APPROVED)
    return flow.sign(case, staff["signer"], flow.APPROVED, lifted_measures=measures)


# --- the story: shielded during the plan, published again when it fails -------------------------


def test_an_enterprise_in_reorganisation_is_shielded_on_every_platform_and_republished_when_the_plan_fails(
    client, company, agency, applicant, staff, record, platforms
):
    rules_of(agency, temporary_restoration_days=10, citation=cite("ndrc36", 20))
    api = token_client(applicant)

    # The enterprise files through the API, naming the record, and uploads the ruling.
    filed = api.post(
        "/api/v1/cases/",
        {
            "kind": "reorganisation",
            "subject_code": company.code,
            "record_ids": [record.pk],
            "grounds": "法院已裁定批准重整计划，行政处罚信息影响重整投资人引入。",
            "language": "zh-hans",
        },
        format="json",
    )
    assert filed.status_code == 201, filed.json()
    case = Case.objects.get(pk=filed.json()["id"])
    assert case.kind == Case.Kind.REORGANISATION
    assert flow.open_steps(case) == ["acceptance_check"]

    # Without the court's ruling the request is not complete.
    with pytest.raises(WrongState) as incomplete:
        flow.accept(case, staff["intake"])
    assert incomplete.value.code == "materials_missing"
    assert "reorganisation plan or composition agreement" in incomplete.value.message

    uploaded = api.post(
        f"/api/v1/cases/{case.pk}/evidence/",
        {"file": ruling("approval-ruling"), "material": "court_ruling"},
        format="multipart",
    )
    assert uploaded.status_code == 201, uploaded.json()

    # Accepted (the intake officer still holds the task): the deadline runs 10 working
    # days from receipt (Art. 20).
    flow.complete(case, "acceptance_check", staff["intake"], decision="accept")
    decision = flow.deadline(case, Deadline.Step.DECISION)
    received = timezone.localdate(case.submitted_at)
    assert (decision.started_on, decision.working_days) == (received, 10)
    assert decision.due_on == calendar_for(agency).add_working_days(received, 10).due

    # Reviewed and granted; the signer names the measures lifted (minimum necessary).
    flow.review(case, staff["case_officer"], flow.APPROVED)
    with pytest.raises(InvalidInput) as unnamed:
        flow.sign(case, staff["signer"], flow.APPROVED)
    assert unnamed.value.field == "lifted_measures"
    case = flow.complete(
        case, "sign_off", staff["signer"], decision=flow.APPROVED, lifted_measures=MEASURES
    )

    assert case.status == S.REMOVAL
    assert timezone.localdate(case.decided_at) <= decision.due_on
    assert case.lifted_measures == MEASURES
    # The shielding itself is due within the 10 working days of receipt (Art. 20), not
    # within the platforms' removal days of the decision; the clock says on what basis.
    shielding = flow.deadline(case, Deadline.Step.REMOVAL)
    assert (shielding.started_on, shielding.working_days) == (received, 10)
    assert shielding.due_on == decision.due_on
    started = shielding.entries.get(kind="started")
    assert "from receipt of the request" in started.reason
    assert "Article 20" in started.reason or "Art. 20" in started.reason
    record.refresh_from_db()
    assert record.status == Record.Status.SHIELDED
    assert flow.publication_statuses(record) == {Publication.Status.SHIELD_REQUESTED}
    decided = flow.last_event(case, "decided")
    assert (decided.actor, decided.data["platform_withdrawals"]) == (staff["signer"], 2)

    # One signed shielding message per platform, through the outbox.
    asked = webhooks(case, "record_shield_requested")
    assert set(asked) == {"creditchina", "gsxt"}
    payload = asked["creditchina"].payload
    assert payload["action"] == "record_shield_requested"
    assert payload["record"]["decision_no"] == record.decision_no
    assert payload["record"]["status"] == "shielded"
    assert "notice" not in payload  # SAMR's statement is for market-regulation records
    assert not webhooks(case, "record_withdrawal_requested")

    # The decision letter names the article and the measures lifted.
    case = flow.worker_renders_letters(case)
    letter = case.letters.get(kind=Letter.Kind.TEMPORARY_RESTORATION)
    assert letter.status == Letter.Status.ISSUED
    assert "临时信用修复决定书" in letter.html
    assert ARTICLE_20 in letter.html
    assert MEASURES in letter.html
    assert "临时屏蔽该记录" in letter.html
    assert "3 个工作日内完成临时屏蔽" not in letter.html  # not the removal days
    assert flow.open_steps(case) == ["await_removal"]

    # A platform saying it withdrew the record is told it was asked to shield it.
    creditchina = platforms[0]
    wrong = ack(
        client,
        creditchina,
        {"publication": record.publications.get(platform=creditchina).pk, "status": "withdrawn"},
        key="wrong",
    )
    assert wrong.status_code == 400
    assert "not withdrawn" in wrong.json()["message"]

    # Each platform confirms the shielding; the case moves on when both have.
    every_platform_confirms(client, case, record, "record_shield_requested", "shielded")
    case = flow.refresh(case)
    assert case.status == S.APPEAL_WINDOW
    assert flow.publication_statuses(record) == {Publication.Status.SHIELDED}
    assert [e.data["platform"] for e in case.events.filter(kind="platform_shielded")] == [
        "creditchina",
        "gsxt",
    ]
    assert all(m.acknowledged_at for m in webhooks(case, "record_shield_requested").values())
    assert len(messages_of(case, kind="shield_done", channel=Message.Channel.EMAIL)) == 2

    # The enterprise sees the record shielded on the portal and in the API.
    client.force_login(applicant)
    page = client.get("/portal/records/")
    assert "Temporarily shielded (reorganisation)" in page.content.decode()
    shown = api.get(f"/api/v1/records/{record.pk}/").json()
    assert shown["status"] == "shielded"
    assert {p["status"] for p in shown["publications"]} == {"shielded"}
    detail = api.get(f"/api/v1/cases/{case.pk}/").json()
    assert detail["kind"] == "reorganisation"
    assert detail["lifted_measures"] == MEASURES

    # The officers see it too, and the case officer is offered to record a failed plan.
    client.force_login(staff["case_officer"])
    workspace = client.get(f"/workflow/cases/{case.pk}/").content.decode()
    assert "Temporarily shielded (reorganisation)" in workspace
    assert MEASURES in workspace
    assert "The plan was not carried out" in workspace

    # The court terminates the plan: the case officer records it with the ruling.
    officer_api = token_client(staff["case_officer"])
    failed = officer_api.post(
        f"/api/v1/cases/{case.pk}/plan-failed/",
        {"reasons": "人民法院裁定终止重整计划的执行。", "ruling": ruling("termination-ruling")},
        format="multipart",
    )
    assert failed.status_code == 200, failed.json()
    assert failed.json()["status"] == "plan_failed"
    case = flow.refresh(case)
    record.refresh_from_db()
    assert record.status == Record.Status.ACTIVE
    assert flow.publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    assert flow.process_status(case) == PROCESS.CANCELED
    event = flow.last_event(case, "plan_failed")
    assert event.actor == staff["case_officer"]
    assert event.data["records"] == [record.decision_no]
    assert event.data["measures_reinstated"] == MEASURES
    termination = case.evidence.get(material=Material.TERMINATION_RULING)
    assert event.data["ruling"]["sha256"] == termination.sha256
    assert len(messages_of(case, kind="plan_failed", channel=Message.Channel.EMAIL)) == 1
    # And a decision letter restores the publication, with the ruling, the records, the
    # measures that apply again, the article and the remedy.
    case = flow.worker_renders_letters(case)
    restored = case.letters.get(kind=Letter.Kind.PLAN_FAILED)
    assert restored.status == Letter.Status.ISSUED, restored.last_error
    assert restored.decided_by == staff["case_officer"]
    assert "恢复公示决定书" in restored.html
    assert "人民法院裁定终止重整计划的执行。" in restored.html
    assert record.decision_no in restored.html
    assert MEASURES in restored.html
    assert "《信用修复管理办法》第二十条第二款" in restored.html
    assert "行政复议" in restored.html
    assert "gsxt" in restored.html or "国家企业信用信息公示系统" in restored.html

    # Each platform is told to publish it again, and confirms.
    assert set(webhooks(case, "record_republication_requested")) == {"creditchina", "gsxt"}
    every_platform_confirms(client, case, record, "record_republication_requested", "published")
    assert flow.publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert case.events.filter(kind="platform_republished").count() == 2
    assert api.get(f"/api/v1/records/{record.pk}/").json()["status"] == "active"

    # Once published again, nothing is left to fail.
    again = officer_api.post(
        f"/api/v1/cases/{case.pk}/plan-failed/",
        {"reasons": "再次提交。", "ruling": ruling("termination-ruling-2")},
        format="multipart",
    )
    assert again.status_code == 409


# --- the story: the plan is carried out, the record restored in full -----------------------------


def test_a_market_regulation_record_shielded_with_samrs_statement_is_restored_in_full_after_the_plan(
    client, company, agency, applicant, staff, platforms
):
    # Past its minimum period: the restoration after the plan is an ordinary one
    # (《信用修复管理办法》第二十条第三款: 申请信用修复), judged by the usual conditions.
    record = restorable_record(company, agency, platforms)
    agency.sector = Sector.MARKET_REGULATION
    agency.save(update_fields=["sector"])
    rules_of(agency, temporary_restoration_days=7, citation=cite("samr107", 22))

    # The enterprise files on the portal and uploads the ruling on the case page.
    client.force_login(applicant)
    form = client.get(f"/portal/file/?subject={company.pk}&kind=reorganisation")
    assert "within 7 working days of receipt" in form.content.decode()
    filed = client.post(
        "/portal/file/",
        {
            "subject": company.pk,
            "kind": "reorganisation",
            "records": [record.pk],
            "grounds": "和解协议已经人民法院裁定认可。",
            "form_token": "8d1c2a1e-5f0b-4c3a-9a55-1c2b3d4e5f60",
        },
    )
    case = Case.objects.get(kind=Case.Kind.REORGANISATION, subject=company)
    assert filed.status_code == 302
    assert filed["Location"] == f"/portal/cases/{case.pk}/"
    needed = client.get(f"/portal/cases/{case.pk}/").content.decode()
    assert "Court ruling approving the reorganisation plan or composition agreement" in needed
    uploaded = client.post(
        f"/portal/cases/{case.pk}/evidence/",
        {"material": "court_ruling", "record": "", "files": [ruling("composition-ruling")]},
    )
    assert uploaded.status_code == 302
    assert case.evidence.get().material == Material.COURT_RULING

    case = grant(case, staff)
    assert flow.deadline(case, Deadline.Step.DECISION).working_days == 7
    payload = webhooks(case, "record_shield_requested")["gsxt"].payload
    assert payload["notice"] == {"text": "重整计划或者和解协议执行中", "basis": ARTICLE_22}
    case = flow.worker_renders_letters(case)
    letter = case.letters.get(kind=Letter.Kind.TEMPORARY_RESTORATION)  # in English
    assert "Decision on Temporary Credit Restoration" in letter.html
    assert "SAMR Order No. 107), Art. 22" in letter.html
    assert "重整计划或者和解协议执行中" in letter.html
    every_platform_confirms(client, case, record, "record_shield_requested", "shielded")
    record.refresh_from_db()
    assert record.status == Record.Status.SHIELDED

    # The plan was carried out: the enterprise asks for restoration with the completion
    # ruling (Art. 22 ¶2); without it the request is not complete.
    restoration = flow.file_restoration(company, [record], applicant)
    with pytest.raises(WrongState) as incomplete:
        flow.accept(restoration, staff["intake"])
    assert "carried out" in incomplete.value.message
    flow.add_evidence(restoration, applicant, Material.COMPLETION_RULING)
    flow.complete(restoration, "acceptance_check", staff["intake"], decision="accept")
    flow.review(restoration, staff["case_officer"], flow.APPROVED)
    restoration = flow.sign(restoration, staff["signer"], flow.APPROVED)

    assert restoration.status == S.REMOVAL
    record.refresh_from_db()
    assert record.status == Record.Status.REMOVED
    assert flow.publication_statuses(record) == {Publication.Status.WITHDRAWAL_REQUESTED}
    assert set(webhooks(restoration, "record_withdrawal_requested")) == {"creditchina", "gsxt"}
    every_platform_confirms(client, restoration, record, "record_withdrawal_requested", "withdrawn")
    assert flow.refresh(restoration).status == S.APPEAL_WINDOW
    assert flow.publication_statuses(record) == {Publication.Status.WITHDRAWN}

    # Restored in full, the record no longer takes a failed plan.
    with pytest.raises(WrongState) as nothing:
        actions.case_plan_fail(
            case=case, officer=staff["case_officer"], reasons="…", ruling=ruling("late")
        )
    assert nothing.value.code == "nothing_shielded"


# --- where the rules offer none, and who may file -------------------------------------------------


def test_the_kind_is_refused_with_the_reason_where_the_rule_version_offers_no_temporary_restoration(
    client, company, agency, applicant, record
):
    rule_set = rules_of(agency, temporary_restoration_days=None)

    refused = token_client(applicant).post(
        "/api/v1/cases/",
        {
            "kind": "reorganisation",
            "subject_code": company.code,
            "record_ids": [record.pk],
            "grounds": "重整计划执行中。",
        },
        format="json",
    )

    assert refused.status_code == 409, refused.json()
    assert refused.json()["code"] == "temporary_restoration_not_offered"
    assert rule_set.title in refused.json()["message"]
    assert rule_set.label not in refused.json()["message"]
    assert not Case.objects.exists()
    client.force_login(applicant)
    page = client.get(f"/portal/file/?subject={company.pk}").content.decode()
    assert "offers no temporary restoration during reorganisation" in page


def test_a_natural_person_is_not_offered_temporary_restoration(agency, platforms):
    rules_of(agency, temporary_restoration_days=10)
    person = factories.PersonFactory()
    record = restorable_record(person, agency, platforms)

    with pytest.raises(RuleViolation) as refused:
        flow.submit(Case.Kind.REORGANISATION, person, [record], factories.representative(person))

    assert "not a natural person" in refused.value.message


def test_nobody_files_or_records_a_failed_plan_for_an_enterprise_they_do_not_act_for(
    company, agency, other_agency, applicant, staff, record
):
    rules_of(agency, temporary_restoration_days=10)
    stranger = factories.representative(factories.SubjectFactory(), "stranger")

    through_api = token_client(stranger).post(
        "/api/v1/cases/",
        {
            "kind": "reorganisation",
            "subject_code": company.code,
            "record_ids": [record.pk],
            "grounds": "重整计划执行中。",
        },
        format="json",
    )
    assert through_api.status_code == 400
    assert through_api.json()["field"] == "subject_code"
    with pytest.raises(NotPermitted):
        flow.submit(Case.Kind.REORGANISATION, company, [record], stranger)

    case = flow.submit(Case.Kind.REORGANISATION, company, [record], applicant)
    flow.add_evidence(case, applicant, Material.COURT_RULING)
    case = grant(case, staff)
    outsider = factories.officer("case_officer", other_agency, "outsider")
    for person in (applicant, outsider, staff["intake"]):
        with pytest.raises(NotPermitted):
            actions.case_plan_fail(case=case, officer=person, reasons="…", ruling=ruling("r"))
    record.refresh_from_db()
    assert record.status == Record.Status.SHIELDED
