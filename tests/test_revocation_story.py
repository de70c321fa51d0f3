"""A revoked restoration, from the proposal to what follows it (issue 12 item 8).

《信用修复管理办法》第二十五条 and 《市场监督管理信用修复管理办法》第二十三条: a grant
obtained by deception is revoked; the prior state is restored on every platform, the
publication period restarts from the revocation with no early end, the revocation
decision is published for three years, and no new restoration of the record is
accepted for three years. The revocation is decided as a decision is (decision 0016):
a signing official proposes it, a legal reviewer who did not propose it passes it, and
the rule set's number of signers sign it, never the proposer alone.

Every rule value the story relies on is set here, not read from the seeds.
"""

from __future__ import annotations

import datetime

import pytest
from dateutil.relativedelta import relativedelta
from django.core.files.storage import storages
from django.utils import timezone, translation

from cases.eligibility import Finding, case_eligibility, restoration_eligibility
from cases.errors import NotPermitted, RuleViolation, WrongState
from cases.models import (
    REVOCATION_DECISION_LIST,
    Case,
    Membership,
    Publication,
    Record,
    Revocation,
    Role,
    RuleSet,
)
from documents.content import format_date
from notifications.models import Message
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import restorable_record
from tests.test_webhooks import ack
from workflows import actions

S = Case.Status


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
    """A restoration approved and withdrawn from both platforms; its rule version has the
    revocation terms of Order 36 Art. 25 / Order 107 Art. 23, a 12-month maximum period
    and two signers."""
    case = flow.file_restoration(company, [record], applicant)
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.APPROVED)
    RuleSet.objects.filter(pk=flow.refresh(case).rule_set_id).update(
        signers_required=1,  # the decision itself: one signer
        max_publication_months=12,
        revocation_publication_months=36,
        revocation_bar_months=36,
    )
    case = flow.sign(case, staff["signer"], flow.APPROVED)
    flow.worker_renders_letters(case)
    flow.acknowledge_everywhere(record)
    record.refresh_from_db()
    case = flow.refresh(case)
    assert (case.status, record.status) == (S.APPEAL_WINDOW, Record.Status.REMOVED)
    RuleSet.objects.filter(pk=case.rule_set_id).update(signers_required=2)
    return flow.refresh(case)


def test_the_whole_revocation_story(client, approved, record, staff, company, applicant, platforms):
    case = approved
    today = timezone.localdate()
    second = flow.second_signer(case)

    # A signing official proposes; nothing changes on the records yet.
    flow.propose_revocation(case, staff["signer"], reasons="The tax receipt was forged.")
    record.refresh_from_db()
    assert record.status == Record.Status.REMOVED
    assert flow.refresh(case).status == S.APPEAL_WINDOW

    # The legal reviewer passes it; then two signers sign, the proposer being one.
    actions.case_revocation_review(
        case=case, reviewer=staff["legal_reviewer"], passed=True, note="Ground and evidence hold."
    )
    first = actions.case_revocation_sign(case=case, signer=staff["signer"])
    assert first.status == Revocation.Status.SIGN_OFF  # one of two signatures
    assert flow.last_event(case, "revocation_signed").data["signatures"] == 1
    actions.case_revocation_sign(case=case, signer=second)

    case = flow.refresh(case)
    record.refresh_from_db()
    revocation = case.revocation
    assert case.status == S.REVOKED
    assert revocation.status == Revocation.Status.REVOKED
    assert set(revocation.signers.all()) == {staff["signer"], second}
    assert flow.event_kinds(case).count("revoked") == 1
    assert [k for k in flow.event_kinds(case) if k.startswith("revocation_") or k == "revoked"] == [
        "revocation_proposed",
        "revocation_legal_review_passed",
        "revocation_signed",
        "revoked",
    ]

    # (1) The prior state is restored: the record is active and every platform is told,
    # by a signed message, to publish it again; each acknowledgement is tracked.
    assert record.status == Record.Status.ACTIVE
    assert flow.publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    republished = Message.objects.filter(case=case, kind="record_republished")
    assert sorted(m.platform.code for m in republished) == ["creditchina", "gsxt"]
    assert all(m.channel == Message.Channel.WEBHOOK for m in republished)

    # (2) The period restarts from the revocation date, with no early end.
    assert record.expires_on == today + relativedelta(months=12)
    assert record.restorable_from == record.expires_on
    assert {m.payload["record"]["expires_on"] for m in republished} == {
        f"{record.expires_on:%Y-%m-%d}"
    }

    # (3) The revocation decision is published for 36 months on the same platforms.
    decision = revocation.decision_record
    assert decision.list_type.code == REVOCATION_DECISION_LIST
    assert decision.subject == company
    assert decision.listed_on == today
    assert decision.expires_on == today + relativedelta(months=36)
    assert decision.restorable_from == decision.expires_on  # no early end
    assert sorted(decision.publications.values_list("platform__code", flat=True)) == [
        "creditchina",
        "gsxt",
    ]
    published = Message.objects.filter(case=case, kind="revocation_published")
    assert (
        sorted(m.payload["record"]["decision_no"] for m in published) == [decision.decision_no] * 2
    )
    assert {m.payload["record"]["list_type"] for m in published} == {REVOCATION_DECISION_LIST}

    # Each platform confirms, through its signed callback.
    for platform in {p.platform for p in record.publications.select_related("platform")}:
        platform.webhook_secret = f"secret-of-{platform.code}"
        platform.save(update_fields=["webhook_secret"])
    for n, publication in enumerate(
        list(record.publications.all()) + list(decision.publications.all())
    ):
        response = ack(
            client,
            publication.platform,
            {"publication": publication.pk, "status": "published"},
            key=f"republished-{n}",
        )
        assert response.status_code == 200, response.json()
        assert response.json()["status"] == "published"
    assert flow.publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert set(decision.publications.values_list("status", flat=True)) == {
        Publication.Status.PUBLISHED
    }
    confirmations = case.events.filter(kind="platform_published").order_by("seq")
    assert confirmations.count() == 4
    assert confirmations.last().data["pending"] == 0

    # (4) A new restoration of the record is refused until the bar ends, saying when.
    bar_ends_on = today + relativedelta(months=36)
    assert record.restoration_barred_until == bar_ends_on
    assert revocation.bar_ends_on == bar_ends_on
    # Filed anyway, it is a case (no silent refusal), and the acceptance check reads the
    # bar: barred until the day it ends, with both articles.
    again = flow.file_restoration(company, [record], applicant)
    (finding,) = case_eligibility(again)
    assert finding.finding == Finding.BARRED and finding.earliest == bar_ends_on
    with translation.override("en"):
        assert f"before {bar_ends_on:%Y-%m-%d}" in finding.sentence
    assert "《信用修复管理办法》第二十五条" in finding.citation_text("zh-hans")
    # The bar's article comes from the rule version (a non-market-regulation agency's).
    day_before = restoration_eligibility(record, on=bar_ends_on - datetime.timedelta(days=1))
    assert day_before.finding == Finding.BARRED
    assert restoration_eligibility(record, on=bar_ends_on).basis != "revocation_bar_months"
    # The published decision is not restorable either, for as long as it is published.
    assert decision.restorable_from == decision.expires_on

    # The letter says all of it, and so does the officers' case page.
    flow.worker_renders_letters(case)
    letter = case.letters.get(kind="revocation")
    assert letter.status == "issued", letter.last_error
    assert letter.language == "en"
    assert (
        "This revocation decision is published on the same platforms until "
        f"{format_date(decision.expires_on, 'en')}, and not ended early." in letter.html
    )
    assert f"Published until {format_date(record.expires_on, 'en')}." in letter.html
    # Said once for all the records, not again for each.
    assert letter.html.count("not ended early") == 2  # the records, the decision
    assert f"may be requested before {format_date(bar_ends_on, 'en')}" in letter.html
    client.force_login(staff["supervisor"])
    page = client.get(f"/workflow/cases/{case.pk}/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Revocation decision published" in page
    assert f"until {decision.expires_on:%Y-%m-%d}, with no early end" in page
    assert f"{bar_ends_on:%Y-%m-%d}" in page


def test_one_person_alone_cannot_complete_a_revocation(approved, record, staff, agency):
    """An official who holds every role proposes, then tries each next step themselves."""
    RuleSet.objects.filter(pk=approved.rule_set_id).update(signers_required=1)
    everything = factories.officer(Role.SIGNER, agency, username="all-roles")
    Membership.objects.create(user=everything, agency=agency, role=Role.LEGAL_REVIEWER)
    everything.__dict__.pop("_redress_roles", None)
    reviewer = staff["legal_reviewer"]  # who also signs, elsewhere
    Membership.objects.create(user=reviewer, agency=agency, role=Role.SIGNER)
    reviewer.__dict__.pop("_redress_roles", None)

    flow.propose_revocation(approved, everything)
    with pytest.raises(NotPermitted) as own_review:
        actions.case_revocation_review(case=approved, reviewer=everything, passed=True)
    with pytest.raises(WrongState) as early_signature:
        actions.case_revocation_sign(case=approved, signer=everything)
    actions.case_revocation_review(case=approved, reviewer=staff["legal_reviewer"], passed=True)
    with pytest.raises(NotPermitted) as reviewer_signs:
        actions.case_revocation_sign(case=approved, signer=staff["legal_reviewer"])
    alone = actions.case_revocation_sign(case=approved, signer=everything)
    with pytest.raises(NotPermitted) as twice:
        actions.case_revocation_sign(case=approved, signer=everything)

    assert own_review.value.code == "four_eyes"
    assert early_signature.value.code == "no_revocation"
    assert reviewer_signs.value.code == "four_eyes"
    assert twice.value.code == "already_signed"
    # One signature is all the rules ask for, but it is the proposer's: not yet.
    assert alone.status == Revocation.Status.SIGN_OFF
    assert flow.last_event(approved, "revocation_signed").data["proposer_only"] is True
    record.refresh_from_db()
    assert record.status == Record.Status.REMOVED
    assert flow.refresh(approved).status == S.APPEAL_WINDOW

    actions.case_revocation_sign(case=approved, signer=staff["signer"])

    assert flow.refresh(approved).status == S.REVOKED


def test_a_legal_review_that_does_not_pass_ends_the_proposal_and_another_may_follow(
    client, approved, record, staff
):
    flow.propose_revocation(approved, staff["signer"])

    with pytest.raises(Exception) as no_reason:
        actions.case_revocation_review(
            case=approved, reviewer=staff["legal_reviewer"], passed=False
        )
    client.force_login(staff["legal_reviewer"])
    response = client.post(
        f"/workflow/cases/{approved.pk}/revocation/review/",
        {"passed": "drop", "note": "The receipt is genuine: the bank confirmed it."},
        follow=True,
    )

    assert getattr(no_reason.value, "field", None) == "note"
    assert f"The revocation of {approved.reference} is not pursued." in response.content.decode()
    dropped = flow.last_event(approved, "revocation_dropped")
    assert dropped.note == "The receipt is genuine: the bank confirmed it."
    assert approved.revocations.get().status == Revocation.Status.DROPPED
    assert flow.refresh(approved).revocation is None
    record.refresh_from_db()
    assert record.status == Record.Status.REMOVED
    # A new proposal, on new findings, may follow.
    flow.propose_revocation(approved, staff["signer"], reasons="A second forged receipt.")
    assert flow.refresh(approved).revocation.status == Revocation.Status.PROPOSED


def test_a_rule_version_without_revocation_terms_refuses_the_proposal(approved, staff):
    RuleSet.objects.filter(pk=approved.rule_set_id).update(
        revocation_publication_months=None, revocation_bar_months=None
    )

    with pytest.raises(RuleViolation) as refused:
        flow.propose_revocation(approved, staff["signer"])

    assert refused.value.code == "no_revocation_terms"
    assert not approved.revocations.exists()


def test_the_party_may_object_to_the_published_revocation_decision(
    approved, staff, company, applicant
):
    """The revocation decision is a record of its own list; a party who says its content
    or period is wrong objects as to any record, under Order 36 Art. 18, instead of being
    refused for want of a rule version."""
    case = flow.revoke(approved, staff)
    decision = case.revocation.decision_record

    objection = flow.objection_accepted(company, [decision], applicant, staff)

    objection = flow.refresh(objection)
    assert objection.status == S.UNDER_REVIEW
    rule_set = objection.rule_set
    assert rule_set.list_type.code == REVOCATION_DECISION_LIST
    assert rule_set.objection_review_days == 7
    assert (
        rule_set.citation_text("objection_review_days", "zh-hans") == "《信用修复管理办法》第十八条"
    )
    assert rule_set.citation_text("max_publication_months", "en") == (
        "Credit Restoration Measures (NDRC Order No. 36), Art. 25"
    )
    deadline = flow.deadline(objection, "decision")
    assert deadline.working_days == 7
    # Still published for its three years, with no early end.
    assert restoration_eligibility(decision, on=timezone.localdate()).earliest == (
        decision.expires_on
    )
