"""Workload balancing that explains itself: proposals, apply, undo, absences, permissions."""

import datetime

import pytest
from django.conf import settings
from django.urls import reverse
from django.utils import timezone
from viewflow.workflow.status import STATUS

from cases.models import Membership, Role, SubjectTie
from tests import factories
from tests.flow_helpers import accept, complete, file_objection, open_task, review
from workflows import actions, balancing
from workflows.models import Absence, AssignmentBatch, WorkProfile

PAGE = "workspace:balancing"


def filed(company, agency, applicant):
    record = factories.RecordFactory(
        subject=company, agency=agency, listed_on=timezone.localdate() - datetime.timedelta(days=9)
    )
    return file_objection(company, [record], applicant)


@pytest.fixture
def intakes(agency, company, staff):
    """Three more intake officers: one with a tie to the subject, one away today, one
    who knows the case's list."""
    tied = factories.officer("intake", agency, "intake-tied")
    SubjectTie.objects.create(
        user=tied, subject=company, kind=SubjectTie.Kind.CLOSE_RELATIVE, recorded_by=tied
    )
    away = factories.officer("intake", agency, "intake-away")
    today = timezone.localdate()
    Absence.objects.create(user=away, starts_on=today, ends_on=today + datetime.timedelta(days=3))
    expert = factories.officer("intake", agency, "intake-expert")
    profile = WorkProfile.objects.create(user=expert)
    profile.list_types.add(factories.list_type())
    return {"tied": tied, "away": away, "expert": expert}


def test_the_proposal_says_why_and_leaves_out_the_absent_and_the_tied(
    company, agency, applicant, staff, intakes
):
    case = filed(company, agency, applicant)

    [proposal] = balancing.propose(staff["supervisor"])

    assert proposal.case == case
    assert proposal.assignee == intakes["expert"]
    assert proposal.reason == (
        "lowest load among 2 available intake officers (0 open for 1.0 a day); with "
        f"{case.records.first().list_type.name} experience; 1 absent today; 1 with a tie "
        "to the subject left out"
    )


def test_the_lowest_load_for_the_declared_capacity_wins(company, agency, applicant, staff):
    busy = staff["intake"]
    for _ in range(2):
        claimed = filed(company, agency, applicant)

        actions.task_claim(task=open_task(claimed, "acceptance_check"), user=busy)
    part_timer = factories.officer("intake", agency, "intake-half")
    WorkProfile.objects.create(user=part_timer, cases_per_day=1, share=50)
    filed(company, agency, applicant)

    [proposal] = balancing.propose(staff["supervisor"])

    # 2 open for 1 a day against 0 for 0.5 a day.
    assert proposal.assignee == part_timer
    assert "0 open for 0.5 a day" in proposal.reason


def test_four_eyes_keep_the_evidence_reviewer_from_signing(company, agency, applicant, staff):
    both = factories.officer("case_officer", agency, "both-roles")
    Membership.objects.create(user=both, agency=agency, role=Role.SIGNER)
    case = accept(filed(company, agency, applicant), staff["intake"])
    review(case, both)
    # The other signer is busier, but the reviewer of the case may not sign it.
    for _ in range(3):
        other = accept(filed(company, agency, applicant), staff["intake"])
        review(other, staff["case_officer"])

    for task in balancing.waiting_tasks(staff["supervisor"]).exclude(process__case=case):
        if task.flow_task.name == "sign_off":
            actions.task_claim(task=task, user=staff["signer"])

    [proposal] = [p for p in balancing.propose(staff["supervisor"]) if p.case.pk == case.pk]
    assert proposal.assignee == staff["signer"]
    assert proposal.reason == (
        "lowest load among 1 available signing officials (3 open for 1.0 a day); "
        "not a reviewer or signer of this case"
    )


def test_a_supervisor_with_a_tie_is_told_to_leave_the_task_to_another(
    company, agency, applicant, staff
):
    SubjectTie.objects.create(
        user=staff["supervisor"],
        subject=company,
        kind=SubjectTie.Kind.CLOSE_RELATIVE,
        recorded_by=staff["supervisor"],
    )
    filed(company, agency, applicant)
    [proposal] = balancing.propose(staff["supervisor"])
    assert proposal.skipped
    assert "another supervisor assigns it" in proposal.reason


def test_applying_assigns_with_an_event_and_undo_within_ten_minutes_puts_it_back(
    client, company, agency, applicant, staff
):
    case = filed(company, agency, applicant)
    task = open_task(case, "acceptance_check")
    client.force_login(staff["supervisor"])

    page = client.get(reverse(PAGE), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert f'data-proposal="{task.pk}"' in page
    assert "lowest load among 1 available intake officers" in page

    response = client.post(reverse(PAGE), {"task": [task.pk]}, follow=True)
    assert "1 task assigned" in response.content.decode()
    task.refresh_from_db()
    assert task.owner == staff["intake"] and task.status == STATUS.ASSIGNED
    event = case.events.get(kind="task_assigned")
    assert event.data["reason"].startswith("lowest load among 1 available intake officers")
    assert event.note == event.data["reason"]

    batch = AssignmentBatch.objects.get()
    response = client.post(reverse("workspace:balancing_undo", args=[batch.pk]), follow=True)
    assert "1 assignment undone" in response.content.decode()
    task.refresh_from_db()
    assert task.owner is None and task.status == STATUS.NEW
    assert case.events.filter(kind="task_assignment_undone").exists()


def test_undo_after_ten_minutes_is_refused_with_a_clear_message(
    client, company, agency, applicant, staff
):
    case = filed(company, agency, applicant)
    task = open_task(case, "acceptance_check")
    applied = balancing.apply(staff["supervisor"], [task.pk])
    AssignmentBatch.objects.filter(pk=applied.batch.pk).update(
        created_at=timezone.now() - datetime.timedelta(minutes=11)
    )
    client.force_login(staff["supervisor"])

    response = client.post(
        reverse("workspace:balancing_undo", args=[applied.batch.pk]), follow=True
    )

    assert "more than 10 minutes ago: it can no longer be undone" in response.content.decode()
    task.refresh_from_db()
    assert task.owner == staff["intake"]


def test_undo_leaves_a_task_the_officer_already_worked_on(company, agency, applicant, staff):
    case = filed(company, agency, applicant)
    task = open_task(case, "acceptance_check")
    applied = balancing.apply(staff["supervisor"], [task.pk])
    complete(case, "acceptance_check", staff["intake"], decision="accept", note="Complete.")

    batch = balancing.undo(staff["supervisor"], applied.batch)

    [item] = batch.items.all()
    assert not item.undone
    assert "it is left as it is" in item.undo_refused


def test_only_supervisors_of_the_agency_balance_its_work(
    client, company, agency, applicant, staff, other_agency
):
    case = filed(company, agency, applicant)
    task = open_task(case, "acceptance_check")
    client.force_login(staff["intake"])
    assert client.get(reverse(PAGE)).status_code == 403

    elsewhere = factories.officer("supervisor", other_agency, "supervisor-gz")
    client.force_login(elsewhere)
    assert f'data-proposal="{task.pk}"' not in client.get(reverse(PAGE)).content.decode()
    client.post(reverse(PAGE), {"task": [task.pk]})
    task.refresh_from_db()
    assert task.owner is None
    assert (
        client.get(reverse("workspace:team_member", args=[staff["intake"].pk])).status_code == 404
    )

    applied = balancing.apply(staff["supervisor"], [task.pk])
    response = client.post(reverse("workspace:balancing_undo", args=[applied.batch.pk]))
    assert response.status_code == 404


def test_an_officer_declares_their_own_absence_and_cannot_touch_anothers(client, agency, staff):
    client.force_login(staff["intake"])
    client.post(
        reverse("workspace:absences"),
        {"starts_on": "2026-12-21", "ends_on": "2026-12-18", "note": ""},
    )
    assert not Absence.objects.exists()  # the last day before the first: refused
    client.post(
        reverse("workspace:absences"),
        {"starts_on": "2026-12-21", "ends_on": "2026-12-23", "note": "leave"},
    )
    absence = Absence.objects.get(user=staff["intake"])
    assert absence.created_by == staff["intake"]

    client.force_login(staff["case_officer"])
    response = client.post(reverse("workspace:absence_delete", args=[absence.pk]))
    assert response.status_code == 404

    client.force_login(staff["supervisor"])
    client.post(
        reverse("workspace:team_member", args=[staff["intake"].pk]),
        {"form": "profile", "cases_per_day": "3", "share": "50", "languages": ["en"]},
    )
    profile = WorkProfile.objects.get(user=staff["intake"])
    assert profile.capacity() == 1.5 and profile.languages == ["en"]
    client.post(reverse("workspace:absence_delete", args=[absence.pk]))
    assert not Absence.objects.exists()


def test_the_lists_an_officer_knows_are_named_in_the_readers_language(client, agency, staff):
    client.force_login(staff["supervisor"])
    page = reverse("workspace:team_member", args=[staff["intake"].pk])
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    chinese = client.get(page).content.decode()
    assert "行政处罚信息公示" in chinese and "Published administrative penalty" not in chinese
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(page).content.decode()
    assert "Published administrative penalty" in english and "行政处罚信息公示" not in english
    assert ">Languages:</label>" in english  # capitalised like the other labels


def test_an_officer_declares_their_own_capacity_and_only_their_own(
    client, agency, staff, other_agency
):
    client.force_login(staff["intake"])
    page = client.get(reverse("workspace:absences")).content.decode()
    assert 'name="cases_per_day"' in page and 'name="starts_on"' in page
    client.post(
        reverse("workspace:absences"),
        {"form": "profile", "cases_per_day": "4", "share": "50", "languages": ["zh-hans"]},
    )
    mine = WorkProfile.objects.get(user=staff["intake"])
    assert mine.capacity() == 2.0 and mine.languages == ["zh-hans"]
    # An invalid share is refused and shown, not saved.
    response = client.post(
        reverse("workspace:absences"), {"form": "profile", "cases_per_day": "4", "share": "0"}
    )
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert WorkProfile.objects.get(user=staff["intake"]).share == 50
    # The page names no other officer: a posted "user" is ignored, the signed-in one is edited.
    client.post(
        reverse("workspace:absences"),
        {"form": "profile", "user": staff["case_officer"].pk, "cases_per_day": "9", "share": "100"},
    )
    assert not WorkProfile.objects.filter(user=staff["case_officer"]).exists()
    assert WorkProfile.objects.get(user=staff["intake"]).cases_per_day == 9

    # A supervisor of another agency can neither read nor change this officer's workload.
    elsewhere = factories.officer("supervisor", other_agency, "supervisor-sz2")
    client.force_login(elsewhere)
    member = reverse("workspace:team_member", args=[staff["intake"].pk])
    assert client.get(member).status_code == 404
    client.post(member, {"form": "profile", "cases_per_day": "1", "share": "100"})
    assert WorkProfile.objects.get(user=staff["intake"]).cases_per_day == 9


def test_the_admin_lists_workload_and_keeps_assignment_batches_read_only(
    admin_client, company, agency, applicant, staff
):
    case = filed(company, agency, applicant)
    task = open_task(case, "acceptance_check")
    applied = balancing.apply(staff["supervisor"], [task.pk])
    Absence.objects.create(
        user=staff["intake"],
        starts_on=datetime.date(2026, 12, 21),
        ends_on=datetime.date(2026, 12, 23),
    )
    WorkProfile.objects.create(user=staff["case_officer"], languages=["en"])
    assert admin_client.get(reverse("admin:workflows_absence_changelist")).status_code == 200
    profiles = admin_client.get(reverse("admin:workflows_workprofile_changelist"))
    assert "English" in profiles.content.decode()
    batches = admin_client.get(reverse("admin:workflows_assignmentbatch_changelist"))
    assert staff["supervisor"].get_username() in batches.content.decode()
    detail = admin_client.get(
        reverse("admin:workflows_assignmentbatch_change", args=[applied.batch.pk])
    ).content.decode()
    assert applied.done[0].reason.split(";")[0] in detail.replace("&#x27;", "'")
    assert 'name="_save"' not in detail  # read-only: nothing to save
    response = admin_client.post(
        reverse("admin:workflows_assignmentbatch_delete", args=[applied.batch.pk]), {"post": "yes"}
    )
    assert (
        response.status_code == 403 and AssignmentBatch.objects.filter(pk=applied.batch.pk).exists()
    )
