"""The demo command: what a new user gets after ``scripts/demo``."""

import pytest
from django.contrib.auth import authenticate
from django.core.management import CommandError, call_command
from django.test import RequestFactory
from django.utils import timezone

from cases.models import Agency, Case, Membership, Publication, Record, Role, Subject
from cases.rules import rule_set_in_force
from workflows.actions import open_tasks


@pytest.fixture
def demo(db, settings, capsys):
    settings.DEBUG = True
    call_command("demo", "--subjects", "20")
    return capsys.readouterr().out


def test_the_demo_refuses_to_run_with_debug_off(db, settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DEBUG is off"):
        call_command("demo")

    assert not Case.objects.exists()


def test_the_demo_prints_every_login_and_each_works_with_password_demo(demo):
    for username in [
        "acme",
        "globex",
        "intake",
        "reviewer",
        "legal",
        "signer",
        "supervisor",
        "auditor",
        "admin",
    ]:
        assert username in demo
        request = RequestFactory().post("/accounts/login/")
        assert authenticate(request, username=username, password="demo") is not None


def test_the_demo_officers_hold_their_roles_at_szamr(demo):
    szamr = Agency.objects.get(code="SZAMR")
    assert szamr.name == "深圳市市场监督管理局"
    assert szamr.region_code == "440300"
    held = set(Membership.objects.filter(agency=szamr).values_list("user__username", "role"))
    assert {
        ("intake", Role.INTAKE),
        ("reviewer", Role.CASE_OFFICER),
        ("legal", Role.LEGAL_REVIEWER),
        ("signer", Role.SIGNER),
        ("supervisor", Role.SUPERVISOR),
        ("auditor", Role.AUDITOR),
    } <= held


def test_the_demo_has_cases_in_several_states_each_with_a_live_process(demo):
    statuses = set(Case.objects.values_list("status", flat=True))

    assert {
        Case.Status.SUBMITTED,
        Case.Status.UNDER_REVIEW,
        Case.Status.AWAITING_MATERIALS,
        Case.Status.REMOVAL,
        Case.Status.WITHDRAWN,
        Case.Status.NOT_ACCEPTED,
    } <= statuses
    waiting = Case.objects.get(status=Case.Status.SUBMITTED)
    assert [t.flow_task.name for t in open_tasks(waiting)] == ["acceptance_check"]


def test_running_the_demo_twice_is_refused_unless_asked_to_skip(demo, capsys):
    with pytest.raises(CommandError, match="already loaded"):
        call_command("demo")
    call_command("demo", "--if-empty")

    assert "already loaded" in capsys.readouterr().out


def test_the_demo_records_are_as_the_rules_would_list_them(demo):
    """A newcomer reads the demo's records as real ones: the market regulator's lists are
    kept by market regulators, a list's tier follows from it (the serious list is serious,
    the abnormal list minor: Order 36 Arts. 8 and 10), and a record past its maximum
    period is shown as expired and withdrawn, not as published (Order 36 Art. 12)."""
    today = timezone.localdate()
    records = Record.objects.select_related("agency", "list_type", "subject")

    for record in records.filter(list_type__code__in=["serious_dishonesty", "abnormal_operations"]):
        assert record.agency.sector == "market_regulation", record.decision_no
    assert {r.severity for r in records.filter(list_type__code="serious_dishonesty")} == {"serious"}
    assert {r.severity for r in records.filter(list_type__code="abnormal_operations")} == {"minor"}

    past = records.filter(expires_on__lt=today)
    assert past.exists()
    assert set(past.values_list("status", flat=True)) == {Record.Status.EXPIRED}
    assert not Publication.objects.filter(record__in=past).exclude(
        status=Publication.Status.WITHDRAWN
    )
    # A natural person's record is on Credit China only where its rules say so (Order 36
    # Art. 12 says not; the version the record falls under decides).
    for publication in Publication.objects.filter(
        record__subject__kind=Subject.Kind.NATURAL, platform__kind__in=["credit_china", "credit_china_local"]
    ).select_related("record__list_type", "record__agency"):
        record = publication.record
        rules = rule_set_in_force(
            list_type=record.list_type, severity=record.severity, on=today, agency=record.agency
        )
        assert rules.natural_persons_published, record.decision_no
