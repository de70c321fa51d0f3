"""No silent refusals (issue 12, item 5).

An applicant is told before filing whether each record qualifies for a restoration, and
if not, from when and by which article; a request filed anyway is a case; the intake
officer reads the same finding and decides; a non-acceptance is a letter with the
reasons, the earliest date to apply again and the remedy (《信用修复管理办法》第十六条第二款,
第十八条); under SAMR rules the head approves it first (SAMR Order 107 Art. 14(3)).

The stories run on 2026-12-07 (a Monday) with the rule versions they rely on written
out here, so that they do not depend on the seeded rule data.
"""

from __future__ import annotations

import datetime
import re
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from cases.eligibility import Finding, restoration_eligibility
from cases.errors import InvalidInput, NotPermitted
from cases.law import cite
from cases.models import Case, ListType, Membership, Role, RuleSet, Sector
from cases.rules import publication_periods, rule_set_add_version
from documents.models import Letter
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import api_token
from tests.test_letters import issue, says

LISTED_ON = datetime.date(2026, 10, 1)
EARLIEST = datetime.date(2027, 1, 1)  # 2026-10-01 + 3 months (Order 36 Art. 12, general tier)
ORDER36_ART12_EN = "Credit Restoration Measures (NDRC Order No. 36), Art. 12"
ORDER36_ART12_ZH = "《信用修复管理办法》第十二条"

pytestmark = pytest.mark.usefixtures("private_files", "december_2026")


@pytest.fixture
def december_2026(monkeypatch):
    """The clock reads Monday 2026-12-07, 10:00 in Beijing, and keeps running from there."""
    moment = datetime.datetime(2026, 12, 7, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    real_now = timezone.now
    offset = moment - real_now()
    monkeypatch.setattr(timezone, "now", lambda: real_now() + offset)


def order36_general(**fields):
    """The Order 36 version for general penalties, as its text writes it (Art. 12: at least
    3 months, at most 1 year), from 2026-04-01."""
    values = {
        "list_type": ListType.objects.get(code="penalty_publication"),
        "severity": "general",
        "effective_from": datetime.date(2026, 4, 1),
        "instrument": "ndrc36",
        "min_publication_months": 3,
        "max_publication_months": 12,
        "acceptance_days": 3,
        "required_materials": [],
        "citations": {
            "min_publication_months": [cite("ndrc36", 12)],
            "max_publication_months": [cite("ndrc36", 12)],
            "acceptance_days": [cite("ndrc36", 16, 2)],
        },
    }
    values.update(fields)
    seeded = RuleSet.objects.filter(
        list_type=values["list_type"],
        severity=values["severity"],
        agency=values.get("agency"),
        sector=values.get("sector", ""),
        effective_from=values["effective_from"],
    ).first()
    if seeded is None:
        return rule_set_add_version(**values)
    # The seeded version of that day (cases/seeds.py), with the values these stories rely
    # on written out here, so the stories read the same whatever the seeds say besides.
    for name, value in values.items():
        setattr(seeded, name, value)
    seeded.save()
    return seeded


@pytest.fixture
def order36(db):
    return order36_general()


@pytest.fixture
def samr(agency, order36):
    """The market-regulation version: a non-acceptance needs the head's approval."""
    agency.sector = Sector.MARKET_REGULATION
    agency.save(update_fields=["sector"])
    return order36_general(
        sector=Sector.MARKET_REGULATION,
        instrument="samr107",
        acceptance_days=2,
        refusal_needs_head_approval=True,
        citations={
            "min_publication_months": [cite("ndrc36", 12)],
            "refusal_needs_head_approval": [cite("samr107", 14, 3)],
        },
    )


def general_penalty(company, agency, platforms, rule_set, listed_on=LISTED_ON):
    restorable_from, expires_on = publication_periods(rule_set, listed_on)
    return factories.RecordFactory(
        subject=company,
        agency=agency,
        listed_on=listed_on,
        restorable_from=restorable_from,
        expires_on=expires_on,
        published_on=list(platforms),
    )


@pytest.fixture
def early(company, agency, platforms, order36):
    """A general penalty listed 2026-10-01: restorable from 2027-01-01."""
    return general_penalty(company, agency, platforms, order36)


@pytest.fixture
def portal(client, applicant):
    client.force_login(applicant)
    return client


def api(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {api_token(user)}")
    return client


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def portal_file(client, record, grounds="罚款已缴清，违法行为已改正。"):
    page = text(client.get(reverse("portal:file")))
    token = re.search(r'name="form_token" value="([^"]+)"', page).group(1)
    return client.post(
        reverse("portal:file"),
        {
            "subject": record.subject_id,
            "kind": "restoration",
            "records": [record.pk],
            "grounds": grounds,
            "form_token": token,
        },
    )


def workspace_case(client, officer, case) -> str:
    client.force_login(officer)
    return text(client.get(reverse("workspace:case", args=[case.pk])))


# --- the finding --------------------------------------------------------------------------


def test_a_record_past_its_minimum_period_qualifies(company, agency, platforms, order36):
    record = general_penalty(
        company, agency, platforms, order36, listed_on=datetime.date(2026, 5, 4)
    )

    finding = restoration_eligibility(record, on=datetime.date(2026, 12, 7))

    assert finding.finding == Finding.QUALIFIES
    assert finding.earliest == datetime.date(2026, 8, 4)
    assert finding.sentence == "Qualifies: a restoration can be requested now."


def test_a_barred_penalty_is_barred_naming_the_article(company, agency, platforms, order36):
    barring = order36_general(
        effective_from=datetime.date(2026, 4, 2),
        barred_penalty_types=["licence_revocation"],
        citations={"barred_penalty_types": [cite("ndrc36", 2)]},
    )
    record = general_penalty(company, agency, platforms, barring)
    record.penalty_types = ["fine", "licence_revocation"]
    record.save()

    finding = restoration_eligibility(record, on=datetime.date(2026, 12, 7))

    assert finding.finding == Finding.BARRED
    assert finding.penalty_types == ("licence_revocation",)
    assert "cannot be restored" in finding.sentence
    assert "Credit Restoration Measures (NDRC Order No. 36), Art. 2" in finding.sentence


def test_a_penalty_with_no_early_restoration_is_barred_until_publication_ends(
    company, agency, platforms, order36
):
    no_early = order36_general(
        effective_from=datetime.date(2026, 4, 3),
        no_early_repair_penalty_types=["licence_revocation"],
        citations={"no_early_repair_penalty_types": [cite("samr107", 8, None, 3)]},
    )
    record = general_penalty(company, agency, platforms, no_early)
    record.penalty_type = "licence_revocation"
    record.save()

    finding = restoration_eligibility(record, on=datetime.date(2026, 12, 7))

    assert (finding.finding, finding.ends_on) == (Finding.BARRED, datetime.date(2027, 10, 1))
    assert finding.sentence == (
        "Barred: no early restoration for licence revocation; publication ends on 2027-10-01. "
        "Market Regulation Credit Restoration Measures (SAMR Order No. 107), Art. 8, item 3"
    )


# --- (d) a record that qualifies shows as qualifying -----------------------------------------


def test_the_portal_and_the_api_show_a_qualifying_record_as_qualifying(
    portal, applicant, company, agency, platforms, order36
):
    record = general_penalty(
        company, agency, platforms, order36, listed_on=datetime.date(2026, 5, 4)
    )

    records_page = text(portal.get(reverse("portal:records")))
    filing_page = text(portal.get(reverse("portal:file")))
    answer = api(applicant).get(f"/api/v1/records/{record.pk}/eligibility/")

    assert "Restoration possible now" in records_page
    assert "Qualifies: a restoration can be requested now." in records_page
    assert "Qualifies: a restoration can be requested now." in filing_page
    assert answer.status_code == 200
    assert answer.json()["finding"] == "qualifies"
    assert answer.json()["earliest"] == "2026-08-04"


# --- (a) through the portal --------------------------------------------------------------------


def test_an_early_restoration_filed_through_the_portal_ends_in_a_reasoned_non_acceptance(
    client, portal, applicant, company, early, staff
):
    # Before filing: the records page and the filing form say when and by which article.
    records_page = text(portal.get(reverse("portal:records")))
    filing_page = text(portal.get(reverse("portal:file")))
    expected = f"Not yet: from 2027-01-01, {ORDER36_ART12_EN}."
    assert expected in records_page
    assert expected in filing_page
    assert "You may file anyway" in filing_page
    portal.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = text(portal.get(reverse("portal:records")))
    assert "2027-01-01" in chinese and ORDER36_ART12_ZH in chinese
    portal.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"

    # Filing anyway gives a case.
    filed = portal_file(portal, early)
    case = Case.objects.get()
    assert filed.status_code == 302
    assert filed["Location"] == reverse("portal:case", args=[case.pk])
    assert case.status == Case.Status.SUBMITTED
    assert flow.open_steps(case) == ["acceptance_check"]
    submitted = flow.last_event(case, "submitted")
    assert submitted.data["eligibility"][0]["finding"] == "not_yet"

    # The intake officer sees the finding, and the reasons drafted from it.
    intake = staff["intake"]
    flow.claim(case, "acceptance_check", intake)
    page = workspace_case(client, intake, case)
    assert f"{early.decision_no}</strong>: Not yet: from 2027-01-01" in page
    drafted = page.split('name="reasons"')[1].split("</textarea>")[0]
    assert f"Record {early.decision_no}: Not yet: from 2027-01-01, {ORDER36_ART12_EN}." in drafted

    # The officer decides: not accepted, with the reasons they confirm.
    response = client.post(
        reverse("workspace:task_complete", args=[flow.open_task(case, "acceptance_check").pk]),
        {
            "decision": "not_accept",
            "reasons": "申请时最短公示期尚未届满。",
            "note": "",
        },
    )
    assert response.status_code == 302
    case = flow.refresh(case)
    assert case.status == Case.Status.NOT_ACCEPTED
    decided = flow.last_event(case, "not_accepted")
    assert decided.actor == intake
    assert decided.data["findings"][0]["earliest"] == "2027-01-01"

    _letter, letter_text = issue(case, Letter.Kind.NON_ACCEPTANCE, decided_by=intake)
    assert says(letter_text, "不予受理", "申请时最短公示期尚未届满。")
    assert says(letter_text, "自 2027年1月1日 起方可申请信用修复", ORDER36_ART12_ZH)
    assert says(letter_text, "最早可于 2027年1月1日 起重新提出申请")
    assert says(letter_text, "《信用修复管理办法》第十八条", "异议申诉")
    assert says(letter_text, "60 日内", "行政复议")
    assert not says(letter_text, "负责人批准")

    _letter, english = issue(case, Letter.Kind.NON_ACCEPTANCE, language="en")
    assert says(english, "from 1 January 2027", ORDER36_ART12_EN, "You may file again from")


# --- (b) over the API ---------------------------------------------------------------------------


def test_an_early_restoration_filed_over_the_api_is_a_case_the_officer_decides_with_the_finding(
    applicant, company, early, staff
):
    client = api(applicant)

    before = client.get(f"/api/v1/records/{early.pk}/eligibility/")
    filed = client.post(
        "/api/v1/cases/",
        {
            "kind": "restoration",
            "subject_code": company.code,
            "record_ids": [early.pk],
            "grounds": "罚款已缴清。",
        },
        format="json",
    )

    assert before.status_code == 200
    body = before.json()
    assert (body["finding"], body["earliest"]) == ("not_yet", "2027-01-01")
    assert body["citations"][0]["zh"] == ORDER36_ART12_ZH
    assert body["message"] == f"Not yet: from 2027-01-01, {ORDER36_ART12_EN}."
    assert filed.status_code == 201, filed.json()

    officer = api(staff["intake"])
    case_id = filed.json()["id"]
    detail = officer.get(f"/api/v1/cases/{case_id}/").json()
    assert detail["eligibility"][0]["finding"] == "not_yet"
    assert detail["eligibility"][0]["earliest"] == "2027-01-01"
    task = detail["current_steps"][0]["task"]
    assert officer.post(f"/api/v1/tasks/{task}/claim/").status_code == 200
    done = officer.post(
        f"/api/v1/tasks/{task}/complete/",
        {"decision": "not_accept", "reasons": "Minimum period not over."},
        format="json",
    )
    assert done.status_code == 200, done.json()
    case = Case.objects.get(pk=case_id)
    assert case.status == Case.Status.NOT_ACCEPTED
    _letter, letter_text = issue(case, Letter.Kind.NON_ACCEPTANCE)
    assert says(letter_text, "2027年1月1日", ORDER36_ART12_ZH)


def test_the_eligibility_endpoint_is_in_the_openapi_schema(db):
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")

    operation = schema.json()["paths"]["/api/v1/records/{id}/eligibility/"]["get"]
    body = operation["responses"]["200"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/Eligibility"}
    components = schema.json()["components"]["schemas"]
    assert components["FindingEnum"]["enum"] == ["qualifies", "not_yet", "barred"]
    assert "earliest" in components["Eligibility"]["required"]


def test_the_officer_may_accept_a_request_that_did_not_qualify(applicant, company, early, staff):
    case = flow.file_restoration(company, [early], applicant)

    case = flow.accept(case, staff["intake"], note="The term was miscomputed: it ended in June.")

    assert case.status == Case.Status.UNDER_REVIEW


# --- (c) SAMR: the head approves a non-acceptance ---------------------------------------------


def test_under_samr_rules_a_non_acceptance_waits_for_another_officials_approval(
    client, applicant, company, agency, platforms, samr, staff
):
    record = general_penalty(company, agency, platforms, samr)
    case = flow.file_restoration(company, [record], applicant)
    intake, head = staff["intake"], staff["signer"]

    case = flow.not_accept(case, intake, reasons="最短公示期尚未届满。")

    # Proposed, not decided: no decision, no letter, a task for a signing official.
    assert case.status == Case.Status.SUBMITTED
    assert case.non_acceptance_proposed_by == intake
    assert not case.letters.filter(kind=Letter.Kind.NON_ACCEPTANCE).exists()
    assert flow.open_steps(case) == ["refusal_approval"]
    assert flow.event_kinds(case)[-1] == "non_acceptance_proposed"

    # The proposer may not approve their own proposal, even holding the signer role.
    Membership.objects.create(user=intake, agency=agency, role=Role.SIGNER)
    intake.__dict__.pop("_redress_roles", None)
    with pytest.raises(NotPermitted):
        flow.claim(case, "refusal_approval", intake)

    # The head sees the proposal and the finding, and approves it.
    flow.claim(case, "refusal_approval", head)
    page = workspace_case(client, head, case)
    assert "proposes not to accept this case" in page
    assert "最短公示期尚未届满。" in page
    assert "Not yet: from 2027-01-01" in page
    response = client.post(
        reverse("workspace:task_complete", args=[flow.open_task(case, "refusal_approval").pk]),
        {"decision": "approve", "note": ""},
    )
    assert response.status_code == 302

    case = flow.refresh(case)
    assert case.status == Case.Status.NOT_ACCEPTED
    assert case.non_acceptance_approved_by == head
    decided = flow.last_event(case, "not_accepted")
    assert (decided.actor, decided.actor_role) == (head, Role.SIGNER)
    assert decided.data["proposed_by"] == intake.get_username()
    _letter, letter_text = issue(case, Letter.Kind.NON_ACCEPTANCE, decided_by=head)
    assert says(letter_text, "本决定已经本机关负责人批准")
    assert says(letter_text, "《市场监督管理信用修复管理办法》第十四条第三款")
    assert says(letter_text, "2027年1月1日", ORDER36_ART12_ZH)


def test_a_head_who_does_not_approve_sends_the_case_back_to_the_acceptance_check(
    applicant, company, agency, platforms, samr, staff
):
    record = general_penalty(company, agency, platforms, samr)
    case = flow.file_restoration(company, [record], applicant)
    case = flow.not_accept(case, staff["intake"], reasons="最短公示期尚未届满。")

    flow.claim(case, "refusal_approval", staff["signer"])
    with pytest.raises(InvalidInput) as unexplained:
        flow.complete(case, "refusal_approval", staff["signer"], decision="decline", note="")
    case = flow.complete(
        case,
        "refusal_approval",
        staff["signer"],
        decision="decline",
        note="The penalty was imposed in 2025: check the listing date.",
    )

    assert unexplained.value.field == "note"
    assert case.status == Case.Status.SUBMITTED
    assert case.non_acceptance_proposed_by is None
    assert flow.open_steps(case) == ["acceptance_check"]
    assert flow.last_event(case, "non_acceptance_declined").actor == staff["signer"]
    assert not case.letters.filter(kind=Letter.Kind.NON_ACCEPTANCE).exists()


def test_without_the_heads_approval_the_non_acceptance_does_not_take_effect(
    applicant, company, agency, platforms, samr, staff
):
    record = general_penalty(company, agency, platforms, samr)
    case = flow.file_restoration(company, [record], applicant)
    case = flow.not_accept(case, staff["intake"], reasons="最短公示期尚未届满。")

    with pytest.raises(NotPermitted) as not_a_signer:
        flow.claim(case, "refusal_approval", staff["intake"])
    case = flow.worker_renders_letters(case)

    assert not_a_signer.value.code == "not_eligible"
    assert case.status == Case.Status.SUBMITTED
    assert case.decided_at is None
    assert not case.letters.filter(kind=Letter.Kind.NON_ACCEPTANCE).exists()
    assert flow.open_steps(case) == ["refusal_approval"]
