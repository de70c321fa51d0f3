"""The admin: configuration is edited here, cases and their events are only read.

An administrator (a superuser, pytest-django's ``admin_client``) browses and searches
every list; rule set versions are added, never rewritten once a case used them; case
events cannot be added, changed or deleted from here.
"""

import datetime

import pytest
from django.db import transaction
from django.urls import reverse

from cases.events import case_lock, event_record
from cases.models import Case, CaseEvent, PublicationDefault, RuleSet
from tests import factories
from workflows import actions


@pytest.fixture
def record(company, agency, platforms):
    return factories.RecordFactory(
        subject=company, agency=agency, decision_no="深市监罚〔2025〕77号", published_on=platforms
    )


@pytest.fixture
def case(company, agency, applicant, record):
    case = actions.case_submit(
        kind=Case.Kind.OBJECTION,
        subject=company,
        records=[record],
        grounds="The fine was paid on the day.",
        applicant=applicant,
    )
    officer = factories.officer("case_officer", agency, username="officer-li")
    with transaction.atomic():
        event_record(case_lock(case), "accepted", actor=officer, role="case_officer")
    return case


def national_general():
    """Order 36's penalty_publication/general version (v2, after Order 58's v1)."""
    return RuleSet.objects.get(
        list_type__code="penalty_publication",
        severity="general",
        agency=None,
        sector="",
        instrument="ndrc36",
    )


def url(name, *args):
    return reverse(f"admin:{name}", args=args)


# --- every list loads and can be searched ------------------------------------------------------

# (admin url name, a search that finds the fixture's object, text of that object in the list)
SEARCHES = [
    ("cases_agency", "SZAMR", "深圳市市场监督管理局"),
    ("cases_platform", "creditchina", "信用中国"),
    ("cases_listtype", "serious_dishonesty", "Serious illegal and dishonest enterprises"),
    ("cases_ruleset", "abnormal_operations", "Abnormal business operations"),
    ("cases_subject", "示例科技", "深圳市示例科技有限公司"),
    ("cases_record", "77号", "深市监罚〔2025〕77号"),
    ("cases_membership", "officer-li", "officer-li"),
    ("cases_representation", "acme", "acme"),
    ("auth_user", "officer-li", "officer-li"),
    ("cases_case", "RD-", "The fine was paid"),  # reference checked below
    ("cases_caseevent", "accepted", "officer-li"),
]


@pytest.mark.parametrize(("name", "query", "shown"), SEARCHES, ids=[s[0] for s in SEARCHES])
def test_an_administrator_can_open_every_list(admin_client, case, name, query, shown):
    response = admin_client.get(url(f"{name}_changelist"))

    assert response.status_code == 200
    assert response.context["cl"].result_count >= 1


@pytest.mark.parametrize(("name", "query", "shown"), SEARCHES, ids=[s[0] for s in SEARCHES])
def test_an_administrator_can_search_every_list(admin_client, case, name, query, shown):
    found = admin_client.get(url(f"{name}_changelist"), {"q": query})
    nothing = admin_client.get(url(f"{name}_changelist"), {"q": "no-such-thing-zzz"})

    assert found.status_code == 200
    assert found.context["cl"].result_count >= 1
    if name != "cases_case":  # the case list shows the reference, not the grounds
        assert shown in found.content.decode()
    assert nothing.status_code == 200
    assert nothing.context["cl"].result_count == 0


def test_a_case_is_found_by_its_reference_and_its_events_by_the_case(admin_client, case):
    cases = admin_client.get(url("cases_case_changelist"), {"q": case.reference})
    events = admin_client.get(url("cases_caseevent_changelist"), {"q": case.reference})

    assert list(cases.context["cl"].result_list) == [case]
    shown = [e.seq for e in events.context["cl"].result_list]
    assert sorted(shown) == list(CaseEvent.objects.filter(case=case).values_list("seq", flat=True))


def test_users_can_be_filtered_by_the_role_they_hold(admin_client, case):
    response = admin_client.get(url("auth_user_changelist"), {"memberships__role": "case_officer"})

    assert response.status_code == 200
    assert [u.username for u in response.context["cl"].result_list] == ["officer-li"]


# --- rule sets: add versions, never rewrite one in use --------------------------------------------


def rule_set_form(**overrides):
    """The admin form for a rule set, filled in as an administrator would."""
    form = {
        "list_type": national_general().list_type_id,
        "severity": "general",
        "agency": "",
        "effective_from": "2025-07-01",
        "legal_basis": "New provincial measures",
        "min_publication_months": "6",
        "max_publication_months": "12",
        "acceptance_days": "3",
        "materials_days": "10",
        "objection_review_days": "20",
        "restoration_review_days": "5",
        "letter_service_days": "7",
        "removal_days": "3",
        "required_materials": '["commitment_letter", "fulfilment_proof"]',
        "barred_penalty_types": '["licence_revocation"]',
        "objection_window_days": "",
        "signers_required": "1",
        "published": "on",
        "natural_persons_published": "on",
        "auto_end": "on",
        "never_published_penalty_types": "[]",
        "no_early_repair_penalty_types": "[]",
        "day_kinds": "{}",
        "citations": "{}",
        "extension_days": "10",
        "monitoring_statement_days": "5",
        "note": "",
    }
    return {**form, **overrides}


def test_adding_a_rule_set_in_the_admin_creates_the_next_version_of_its_scope(admin_client, db):
    response = admin_client.post(url("cases_ruleset_add"), rule_set_form(), follow=True)

    assert response.status_code == 200
    added = RuleSet.objects.get(
        list_type__code="penalty_publication", severity="general", agency=None, version=3
    )
    assert added.effective_from == datetime.date(2025, 7, 1)
    assert added.min_publication_months == 6
    assert "Saved as version 3 of this rule set." in response.content.decode()


def test_an_agencys_first_rule_set_in_the_admin_is_its_version_1(admin_client, agency):
    admin_client.post(url("cases_ruleset_add"), rule_set_form(agency=agency.pk))

    assert RuleSet.objects.get(agency=agency).version == 1


def test_the_admin_refuses_a_rule_set_with_an_unknown_material(admin_client, db):
    response = admin_client.post(
        url("cases_ruleset_add"), rule_set_form(required_materials='["notarised_apology"]')
    )

    assert response.status_code == 200  # the form again, with the error
    assert "Unknown material codes" in response.content.decode()
    assert not RuleSet.objects.filter(effective_from=datetime.date(2025, 7, 1)).exists()


def test_a_rule_set_no_case_used_can_be_edited_and_deleted(admin_client, db):
    rule_set = national_general()

    change = admin_client.get(url("cases_ruleset_change", rule_set.pk))
    delete = admin_client.get(url("cases_ruleset_delete", rule_set.pk))

    assert 'name="min_publication_months"' in change.content.decode()
    assert delete.status_code == 200


@pytest.fixture
def rule_set_in_use(case):
    rule_set = national_general()
    Case.objects.filter(pk=case.pk).update(rule_set=rule_set)
    return rule_set


def test_a_rule_set_a_case_was_accepted_under_is_shown_read_only(admin_client, rule_set_in_use):
    response = admin_client.get(url("cases_ruleset_change", rule_set_in_use.pk))

    assert response.status_code == 200
    page = response.content.decode()
    assert 'name="min_publication_months"' not in page
    assert 'name="effective_from"' not in page


def test_posting_changes_to_a_rule_set_in_use_changes_nothing(admin_client, rule_set_in_use):
    admin_client.post(
        url("cases_ruleset_change", rule_set_in_use.pk), rule_set_form(min_publication_months="1")
    )

    rule_set_in_use.refresh_from_db()
    assert rule_set_in_use.min_publication_months == 3


def test_a_rule_set_in_use_offers_no_save_button_that_can_only_fail(admin_client, rule_set_in_use):
    page = admin_client.get(url("cases_ruleset_change", rule_set_in_use.pk)).content.decode()

    assert 'name="_save"' not in page
    assert 'name="_saveasnew"' not in page


def test_a_rule_set_in_use_links_to_a_new_version_prefilled_from_it(admin_client, rule_set_in_use):
    page = admin_client.get(url("cases_ruleset_change", rule_set_in_use.pk)).content.decode()
    add_page = admin_client.get(
        url("cases_ruleset_add") + f"?from_version={rule_set_in_use.pk}"
    ).content.decode()

    assert f"?from_version={rule_set_in_use.pk}" in page
    assert 'name="min_publication_months" value="3"' in add_page


def test_a_rule_set_in_use_cannot_be_deleted(admin_client, rule_set_in_use):
    page = admin_client.get(url("cases_ruleset_delete", rule_set_in_use.pk))
    post = admin_client.post(url("cases_ruleset_delete", rule_set_in_use.pk), {"post": "yes"})

    assert page.status_code == 403
    assert post.status_code == 403
    assert RuleSet.objects.filter(pk=rule_set_in_use.pk).exists()


# --- cases and their events are read-only here ------------------------------------------------------


def test_case_events_cannot_be_added_in_the_admin(admin_client, case):
    assert admin_client.get(url("cases_caseevent_add")).status_code == 403
    assert admin_client.post(url("cases_caseevent_add"), {"note": "forged"}).status_code == 403


def test_a_case_event_can_be_read_but_not_changed_in_the_admin(admin_client, case):
    event = CaseEvent.objects.get(case=case, seq=2)

    page = admin_client.get(url("cases_caseevent_change", event.pk))
    post = admin_client.post(url("cases_caseevent_change", event.pk), {"note": "forged"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert "officer-li" in page.content.decode()
    assert post.status_code == 403
    assert CaseEvent.objects.get(pk=event.pk).note == ""


def test_a_case_event_cannot_be_deleted_in_the_admin(admin_client, case):
    event = CaseEvent.objects.get(case=case, seq=2)

    assert admin_client.get(url("cases_caseevent_delete", event.pk)).status_code == 403
    assert (
        admin_client.post(url("cases_caseevent_delete", event.pk), {"post": "yes"}).status_code
        == 403
    )
    assert CaseEvent.objects.filter(pk=event.pk).exists()


def test_case_events_cannot_be_deleted_from_the_list(admin_client, case):
    ids = [str(pk) for pk in CaseEvent.objects.filter(case=case).values_list("pk", flat=True)]

    response = admin_client.post(
        url("cases_caseevent_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )

    assert response.status_code in (200, 302)
    assert CaseEvent.objects.filter(case=case).count() == len(ids)


def test_a_case_can_be_read_but_not_changed_in_the_admin(admin_client, case):
    page = admin_client.get(url("cases_case_change", case.pk))
    post = admin_client.post(url("cases_case_change", case.pk), {"status": "closed"})

    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    assert post.status_code == 403
    assert admin_client.get(url("cases_case_delete", case.pk)).status_code == 403
    assert Case.objects.get(pk=case.pk).status == Case.Status.SUBMITTED


# --- records imported before they knew their platforms (decision 0024) ----------------


def test_the_admin_action_gives_records_without_publications_their_agencys_defaults(
    admin_client, company, agency, other_agency, platforms
):
    creditchina, gsxt = platforms
    penalty = factories.list_type("penalty_publication")
    PublicationDefault.objects.create(agency=agency, list_type=penalty, platform=creditchina)
    PublicationDefault.objects.create(agency=agency, list_type=penalty, platform=gsxt)
    bare = factories.RecordFactory(subject=company, agency=agency, decision_no="无平台1号")
    placed = factories.RecordFactory(
        subject=company, agency=agency, decision_no="已有平台2号", published_on=[gsxt]
    )
    elsewhere = factories.RecordFactory(subject=company, agency=other_agency, decision_no="外地3号")

    response = admin_client.post(
        url("cases_record_changelist"),
        {
            "action": "give_publications",
            "_selected_action": [bare.pk, placed.pk, elsewhere.pk],
        },
        follow=True,
    )

    shown = [str(m) for m in response.context["messages"]]
    assert "2 publications created." in shown
    assert any("1 records still have no platform" in m for m in shown)
    assert sorted(bare.publications.values_list("platform__code", flat=True)) == [
        "creditchina",
        "gsxt",
    ]
    # A record that already knows its platforms keeps them.
    assert list(placed.publications.values_list("platform__code", flat=True)) == ["gsxt"]
    assert not elsewhere.publications.exists()
