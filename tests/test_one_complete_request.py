"""One complete request for missing materials (issue 12 item 7).

《信用修复管理办法》第十六条第二款 and 《市场监督管理信用修复管理办法》第十四条第二款: an
incomplete application is told, at once (一次性告知), everything it must supply. A further
request on the same case may only name what the applicant's resubmission itself made
necessary, with that reason for each item: on the timeline and in the letter. Under SAMR
rules the clock shows when that one request is due (``materials_notice_days``).

Every rule value the stories rely on is set here, not read from the seeds.
"""

from __future__ import annotations

import pytest
from django.core.files.storage import storages
from rest_framework.test import APIClient

from cases.errors import InvalidInput
from cases.models import Case, Deadline, Material, RuleSet
from tests import flow_helpers as flow
from tests.helpers import api_token, restorable_record
from workflows import actions

S = Case.Status
COMMITMENT = Material.COMMITMENT_LETTER
PROOF = Material.FULFILMENT_PROOF
OTHER = Material.OTHER
REASON = "The resubmitted payment proof names court ruling (2026)粤0304民初123号, not on file."


@pytest.fixture(autouse=True)
def _file_stores(tmp_path, monkeypatch):
    for alias in ("evidence", "letters"):
        (tmp_path / alias).mkdir()
        monkeypatch.setattr(storages[alias], "location", str(tmp_path / alias))


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def rules(record):
    """The record's rule version: a commitment letter and a fulfilment proof required; no
    notice period unless a story sets one."""
    rule_set = flow._rule_set_today(record)
    RuleSet.objects.filter(pk=rule_set.pk).update(
        required_materials=[COMMITMENT, PROOF], materials_notice_days=None
    )
    return rule_set


@pytest.fixture
def asked_once(company, applicant, staff, record, rules) -> Case:
    """A restoration filed without its proof, asked for it at the acceptance check, and the
    proof resubmitted: the case is back at the acceptance check."""
    case = flow.submit(Case.Kind.RESTORATION, company, [record], applicant)
    flow.add_evidence(case, applicant, COMMITMENT, record=record)
    flow.request_materials_at_acceptance(case, staff["intake"], PROOF)
    flow.supply(case, applicant, PROOF)
    actions.case_resubmit(case=case, applicant=applicant, note="Proof attached.")
    case = flow.refresh(case)
    assert case.status == S.SUBMITTED
    return case


def later_request(case, intake, *, reason=REASON):
    item = {"material": OTHER, "detail": "The court ruling the proof names."}
    if reason is not None:
        item["reason"] = reason
    return flow.step(
        case,
        "acceptance_check",
        intake,
        decision="request_materials",
        missing=[item],
        note="One more item.",
    )


def test_the_first_request_lists_everything_at_once(company, applicant, staff, record, rules):
    case = flow.submit(Case.Kind.RESTORATION, company, [record], applicant)

    with pytest.raises(InvalidInput) as incomplete:
        flow.request_materials_at_acceptance(case, staff["intake"], PROOF)
    actions.task_release(task=flow.open_task(case, "acceptance_check"), user=staff["intake"])
    flow.request_materials_at_acceptance(case, staff["intake"], COMMITMENT, PROOF)

    assert incomplete.value.field == "missing"
    assert "Commitment letter" in incomplete.value.message or "信用承诺书" in (
        incomplete.value.message
    )
    case = flow.refresh(case)
    assert case.status == S.AWAITING_MATERIALS
    requested = flow.last_event(case, "materials_requested")
    assert [i["material"] for i in requested.data["missing"]] == [COMMITMENT, PROOF]
    assert "after_resubmission" not in requested.data


def test_no_second_request_while_the_first_waits_for_the_applicant(
    client, company, applicant, staff, record, rules
):
    case = flow.submit(Case.Kind.RESTORATION, company, [record], applicant)
    flow.add_evidence(case, applicant, COMMITMENT, record=record)
    done = flow.open_task(case, "acceptance_check")
    flow.request_materials_at_acceptance(case, staff["intake"], PROOF)

    # The route offers nobody a step to ask again: only the applicant's answer is open.
    assert flow.open_steps(case) == ["await_materials"]
    again = APIClient()
    again.credentials(HTTP_AUTHORIZATION=f"Token {api_token(staff['intake'])}")
    response = again.post(
        f"/api/v1/tasks/{done.pk}/complete/",
        {"decision": "request_materials", "missing": [{"material": OTHER, "detail": "More."}]},
        format="json",
    )
    client.force_login(staff["intake"])
    page = client.get(f"/workflow/cases/{case.pk}/").content.decode()

    assert response.status_code == 409
    assert response.json()["code"] == "task_closed"
    assert "Ask for missing materials" not in page
    assert flow.event_kinds(case).count("materials_requested") == 1


def test_a_later_request_without_a_reason_per_item_is_refused(asked_once, staff):
    with pytest.raises(InvalidInput) as refused:
        later_request(asked_once, staff["intake"], reason=None)

    assert refused.value.field == "missing"
    assert "say how the resubmission made it necessary" in refused.value.message
    assert flow.event_kinds(asked_once).count("materials_requested") == 1
    assert flow.refresh(asked_once).status == S.SUBMITTED


def test_a_later_request_after_the_resubmission_with_its_reason_is_recorded_and_told(
    client, asked_once, staff, applicant
):
    case = later_request(asked_once, staff["intake"])

    case = flow.refresh(case)
    assert case.status == S.AWAITING_MATERIALS
    requested = flow.last_event(case, "materials_requested")
    resubmitted = flow.last_event(case, "materials_resubmitted")
    assert requested.data["after_resubmission"] == resubmitted.seq
    assert requested.data["missing"][0]["reason"] == REASON
    assert REASON in requested.note
    # On the timeline: the officers' page and the applicant's API.
    client.force_login(staff["supervisor"])
    assert REASON in client.get(f"/workflow/cases/{case.pk}/").content.decode()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {api_token(applicant)}")
    timeline = api.get(f"/api/v1/cases/{case.pk}/").json()["timeline"]
    assert any(REASON in e["note"] for e in timeline if e["kind"] == "materials_requested")
    # In the letter, which says it asks only for what the resubmission made necessary.
    flow.worker_renders_letters(case)
    letter = case.letters.filter(kind="materials_request").order_by("-id").first()
    assert letter.status == "issued", letter.last_error
    assert REASON in letter.html
    if letter.language == "en":
        assert "The materials you resubmitted on" in letter.html
        assert "Why your resubmission made it necessary" in letter.html
    else:
        assert "因补正材料而需要的理由" in letter.html


def test_the_officers_page_offers_the_later_request_only_with_the_reason_field(
    client, company, agency, platforms, applicant, staff, rules, asked_once
):
    other_record = restorable_record(company, agency, platforms)
    first = flow.submit(Case.Kind.RESTORATION, company, [other_record], applicant)
    for case in (first, asked_once):
        flow.claim(case, "acceptance_check", staff["intake"])
    client.force_login(staff["intake"])

    first_page = client.get(f"/workflow/cases/{first.pk}/").content.decode()
    later_page = client.get(f"/workflow/cases/{asked_once.pk}/").content.decode()
    task = flow.open_task(asked_once, "acceptance_check")
    posted = client.post(
        f"/workflow/tasks/{task.pk}/complete/",
        {
            "decision": "request_materials",
            f"missing_{OTHER}": "on",
            f"detail_{OTHER}": "The court ruling the proof names.",
        },
    )

    assert "How the resubmission made it necessary" not in first_page
    assert 'name="why_other"' not in first_page
    assert 'name="why_other"' in later_page
    assert "Everything missing was asked for once already" in later_page
    assert posted.status_code == 400
    assert "say how the resubmission made this necessary" in posted.content.decode()
    assert flow.event_kinds(asked_once).count("materials_requested") == 1

    done = client.post(
        f"/workflow/tasks/{task.pk}/complete/",
        {
            "decision": "request_materials",
            f"missing_{OTHER}": "on",
            f"detail_{OTHER}": "The court ruling the proof names.",
            f"why_{OTHER}": REASON,
        },
    )

    assert done.status_code == 302
    assert flow.last_event(asked_once, "materials_requested").data["missing"][0]["reason"] == (
        REASON
    )


def test_under_samr_rules_the_clock_shows_when_the_one_request_is_due(
    client, company, applicant, staff, record, rules
):
    RuleSet.objects.filter(pk=rules.pk).update(materials_notice_days=2)

    case = flow.submit(Case.Kind.RESTORATION, company, [record], applicant)
    notice = Deadline.objects.get(case=case, step=Deadline.Step.NOTICE)
    client.force_login(staff["intake"])
    page = client.get(f"/workflow/cases/{case.pk}/").content.decode()
    flow.request_materials_at_acceptance(case, staff["intake"], COMMITMENT, PROOF)

    assert notice.working_days == 2
    assert "Tell the applicant everything missing, at once" in page
    assert f"{notice.due_on:%Y-%m-%d}" in page
    notice.refresh_from_db()
    assert notice.status == Deadline.Status.MET


def test_without_a_notice_period_no_notice_deadline_runs(company, applicant, record, rules):
    case = flow.submit(Case.Kind.RESTORATION, company, [record], applicant)

    assert not Deadline.objects.filter(case=case, step=Deadline.Step.NOTICE).exists()


def test_an_accepted_case_closes_the_notice_deadline(company, applicant, staff, record, rules):
    RuleSet.objects.filter(pk=rules.pk).update(materials_notice_days=2)
    case = flow.file_restoration(company, [record], applicant)

    flow.accept(case, staff["intake"])

    notice = Deadline.objects.get(case=case, step=Deadline.Step.NOTICE)
    assert notice.status == Deadline.Status.CANCELLED
