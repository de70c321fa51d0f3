"""Service of letters, the appeal window that runs from it, appeals and their outcomes
(issue 13 item 6, decision 0023).

A decision takes effect for the party when its letter is served: in the portal with the
applicant's consent to electronic service (《市场监督管理信用修复管理办法》第十九条), by
e-mail, by post or in person. The appeal window runs from service: reconsideration
within 60 days (行政复议法第二十条), a suit within 6 months (行政诉讼法第四十六条). An
appeal's outcome that revokes the decision has the published decision withdrawn within 3
working days (行政处罚法第四十八条).
"""

from __future__ import annotations

import datetime
import io
import json
import zipfile

import pytest
from dateutil.relativedelta import relativedelta
from django.core.files.storage import storages
from django.core.management import call_command
from django.utils import timezone
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases.clock import calendar_for
from cases.errors import InvalidInput
from cases.models import Appeal, Case, Deadline, Publication, Record
from documents.exports import export_verify
from documents.models import Letter, LetterService
from documents.selectors import appeal_periods
from tests import factories
from tests import flow_helpers as flow
from tests.helpers import restorable_record
from tests.test_api import api
from workflows import actions
from workflows.flows import FLOWS

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
def rejected(company, applicant, staff, record) -> Case:
    """A restoration rejected by the agency: the record stays published, the letter is
    stored and not yet served."""
    case = flow.file_restoration(company, [record], applicant)
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.REJECTED)
    case = flow.sign(case, staff["signer"], flow.REJECTED)
    case = flow.worker_renders_letters(case)
    assert case.status == S.APPEAL_WINDOW
    return case


def last_day(case, day: datetime.date) -> datetime.date:
    """A period's last day as the agency's calendar has it: a rest day moves to the next
    working day (Civil Procedure Law Art. 85)."""
    calendar = calendar_for(case.agency)
    while not calendar.is_working_day(day):
        day += datetime.timedelta(days=1)
    return day


def decision_letter(case) -> Letter:
    return case.letters.get(kind=Letter.Kind.REJECTION, language=case.language)


def appeal_timer(case) -> Task:
    return Task.objects.get(
        process_id=case.process_id,
        flow_task=FLOWS[case.kind].instance.appeal_window,
        status=STATUS.SCHEDULED,
    )


def test_service_by_post_starts_the_window_and_a_revoked_refusal_is_withdrawn(
    rejected, applicant, staff, record, platforms
):
    case = rejected
    officer = api(staff["case_officer"])
    entity = api(applicant)
    letter = decision_letter(case)

    # Stored, not served: the window has not started, and the API says so.
    body = entity.get(f"/api/v1/cases/{case.pk}/").json()
    assert body["appeal_window"]["state"] == "not_served"
    assert body["appeal_window"]["ends_on"] is None

    # The case officer records service by post: the tracking number is required.
    url = f"/api/v1/cases/{case.pk}/letters/{letter.pk}/service/"
    today = timezone.localdate()
    refused = officer.post(url, {"method": "post", "served_on": f"{today}"}, format="json")
    assert refused.status_code == 400
    assert "tracking number" in refused.json()["message"]
    tomorrow = today + datetime.timedelta(days=1)
    refused = officer.post(
        url,
        {"method": "post", "served_on": f"{tomorrow}", "tracking_number": "EMS1"},
        format="json",
    )
    assert refused.status_code == 400
    assert "future" in refused.json()["message"]
    # The applicant may not record a service, an officer of another agency cannot see it.
    by_entity = {"method": "in_person", "served_on": f"{today}", "receipt_by": "张三"}
    assert entity.post(url, by_entity, format="json").status_code == 403
    served = officer.post(
        url,
        {
            "method": "post",
            "served_on": f"{today}",
            "tracking_number": "EMS1234567890CN",
            "receipt_by": "张三 (front desk)",
        },
        format="json",
    )
    assert served.status_code == 201, served.json()
    again = officer.post(
        url,
        {"method": "in_person", "served_on": f"{today}", "receipt_by": "李四"},
        format="json",
    )
    assert (again.status_code, again.json()["code"]) == (409, "already_served")

    body = entity.get(f"/api/v1/cases/{case.pk}/").json()
    window = body["appeal_window"]
    assert window["state"] == "open"
    assert window["served_on"] == f"{today}"
    periods = {p["kind"]: p["ends_on"] for p in window["periods"]}
    assert periods == {
        "reconsideration": f"{last_day(case, today + datetime.timedelta(days=60))}",
        "suit": f"{last_day(case, today + relativedelta(months=6))}",
    }
    assert body["service"][0]["tracking_number"] == "EMS1234567890CN"
    assert "letter_served" in [e["kind"] for e in body["timeline"]]
    # The route's appeal-window timer now ends the day after the last day to sue.
    ends = last_day(case, today + relativedelta(months=6)) + datetime.timedelta(days=1)
    assert timezone.localdate(appeal_timer(case).scheduled) == ends

    # The applicant records a reconsideration; the same again is refused.
    filed = {
        "kind": "reconsideration",
        "body": "深圳市人民政府",
        "filed_on": f"{today}",
        "reference": "深府复〔2026〕1号",
    }
    created = entity.post(f"/api/v1/cases/{case.pk}/appeals/", filed, format="json")
    assert created.status_code == 201, created.json()
    duplicate = entity.post(f"/api/v1/cases/{case.pk}/appeals/", filed, format="json")
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "appeal_pending")
    wrong_remedy = entity.post(
        f"/api/v1/cases/{case.pk}/appeals/",
        {**filed, "kind": "higher_court", "reference": ""},
        format="json",
    )
    assert wrong_remedy.status_code == 400

    # The reconsideration body revokes the refusal: the record is withdrawn everywhere
    # within 3 working days, each platform asked and acknowledging.
    appeal_id = created.json()["id"]
    outcome_url = f"/api/v1/cases/{case.pk}/appeals/{appeal_id}/outcome/"
    decided = officer.post(
        outcome_url,
        {"outcome": "revoked", "decided_on": f"{today}", "reference": "深府复决〔2026〕1号"},
        format="json",
    )
    assert decided.status_code == 200, decided.json()
    again = officer.post(
        outcome_url, {"outcome": "upheld", "decided_on": f"{today}"}, format="json"
    )
    assert (again.status_code, again.json()["code"]) == (409, "appeal_decided")
    record.refresh_from_db()
    assert record.status == Record.Status.REMOVED
    assert flow.publication_statuses(record) == {Publication.Status.WITHDRAWAL_REQUESTED}
    deadline = Deadline.objects.get(case=case, step=Deadline.Step.APPEAL)
    assert deadline.status == Deadline.Status.RUNNING
    assert deadline.working_days == 3

    flow.acknowledge_everywhere(record)
    deadline.refresh_from_db()
    assert deadline.status == Deadline.Status.MET
    assert flow.publication_statuses(record) == {Publication.Status.WITHDRAWN}
    kinds = [k for k in flow.event_kinds(case) if not k.startswith("notification_")]
    assert kinds[-3:] == ["appeal_decided", "platform_acknowledged", "platform_acknowledged"]
    # Each platform was asked, through the outbox, to withdraw the record.
    assert flow.last_event(case, "appeal_decided").data["withdrawals"]


def test_an_outcome_is_refused_before_its_appeal_and_an_appeal_from_the_future(
    rejected, applicant, staff
):
    case = rejected
    today = timezone.localdate()
    entity = api(applicant)
    future = entity.post(
        f"/api/v1/cases/{case.pk}/appeals/",
        {
            "kind": "suit",
            "body": "深圳市中级人民法院",
            "filed_on": f"{today + relativedelta(days=3)}",
        },
        format="json",
    )
    assert future.status_code == 400
    assert future.json()["field"] == "filed_on"
    no_appeal = api(staff["case_officer"]).post(
        f"/api/v1/cases/{case.pk}/appeals/999999/outcome/",
        {"outcome": "revoked", "decided_on": f"{today}"},
        format="json",
    )
    assert no_appeal.status_code == 404
    assert not Appeal.objects.filter(case=case).exists()


def test_another_entity_and_another_agency_cannot_record_an_appeal(rejected, other_agency, db):
    case = rejected
    stranger = factories.representative(factories.SubjectFactory(name="别家公司"), "globex")
    elsewhere = factories.officer("case_officer", other_agency)
    filed = {"kind": "suit", "body": "法院", "filed_on": f"{timezone.localdate()}"}
    for user in (stranger, elsewhere):
        response = api(user).post(f"/api/v1/cases/{case.pk}/appeals/", filed, format="json")
        assert response.status_code == 404
    assert not Appeal.objects.exists()


def test_a_letter_not_yet_stored_cannot_be_served(company, applicant, staff, record):
    case = flow.file_restoration(company, [record], applicant)
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.REJECTED)
    case = flow.sign(case, staff["signer"], flow.REJECTED)
    letter = case.letters.get(kind=Letter.Kind.REJECTION, language=case.language)
    assert letter.status == Letter.Status.PENDING
    response = api(staff["case_officer"]).post(
        f"/api/v1/cases/{case.pk}/letters/{letter.pk}/service/",
        {"method": "in_person", "served_on": f"{timezone.localdate()}", "receipt_by": "张三"},
        format="json",
    )
    assert (response.status_code, response.json()["code"]) == (409, "letter_not_stored")
    assert not LetterService.objects.exists()


def test_opening_the_letter_in_the_portal_serves_it_only_after_consent(client, rejected, applicant):
    case = rejected
    letter = decision_letter(case)
    client.force_login(applicant)
    url = f"/portal/cases/{case.pk}/letters/{letter.pk}/"

    # Without consent, opening the letter serves nothing; the page says it is not served.
    assert client.get(url).status_code == 200
    assert not LetterService.objects.filter(letter=letter).exists()
    page = client.get(f"/portal/cases/{case.pk}/").content.decode()
    assert "not served yet" in page

    # The applicant consents to electronic service on the case page; opening serves it.
    response = client.post(f"/portal/cases/{case.pk}/service-consent/")
    assert response.status_code == 302
    assert "service_consent_given" in flow.event_kinds(case)
    assert client.get(url).status_code == 200
    service = LetterService.objects.get(letter=letter)
    assert (service.method, service.served_on) == ("portal", timezone.localdate())
    assert service.consent.user == applicant
    assert flow.last_event(case, "letter_served").data["method"] == "portal"
    # Opening it again serves nothing more.
    client.get(url)
    assert LetterService.objects.filter(letter=letter).count() == 1

    page = client.get(f"/portal/cases/{case.pk}/").content.decode()
    ends = last_day(case, timezone.localdate() + relativedelta(months=6))
    assert f"{ends:%Y-%m-%d}" in page

    # The applicant records the suit they filed, on the case page.
    response = client.post(
        f"/portal/cases/{case.pk}/appeals/",
        {"kind": "suit", "body": "深圳市福田区人民法院", "filed_on": f"{timezone.localdate()}"},
    )
    assert response.status_code == 302
    assert case.appeals.get().body == "深圳市福田区人民法院"
    assert "深圳市福田区人民法院" in client.get(f"/portal/cases/{case.pk}/").content.decode()


def test_an_account_wide_consent_serves_every_case(client, rejected, applicant):
    case = rejected
    client.force_login(applicant)
    response = client.post("/portal/service-consent/", {"consent": "on"})
    assert response.status_code == 302
    letter = decision_letter(case)
    page = client.get(f"/portal/cases/{case.pk}/").content.decode()
    assert "Withdraw my consent for all my cases" in page
    client.get(f"/portal/cases/{case.pk}/letters/{letter.pk}/")
    assert LetterService.objects.get(letter=letter).consent.case is None

    # Withdrawn, it serves nothing more (what was served stays served).
    client.post("/portal/service-consent/", {"next": f"/portal/cases/{case.pk}/"})
    assert "I consent for all my cases" in client.get(f"/portal/cases/{case.pk}/").content.decode()
    assert LetterService.objects.filter(letter=letter).exists()


def test_an_officer_records_service_and_an_appeal_with_its_outcome_on_the_case_page(
    client, rejected, staff, record
):
    case = rejected
    letter = decision_letter(case)
    officer = staff["case_officer"]
    client.force_login(officer)
    page = f"/workflow/cases/{case.pk}/"
    assert "not served yet" in client.get(page).content.decode()

    today = timezone.localdate()
    response = client.post(
        f"{page}service/",
        {
            "letter": letter.pk,
            "method": "in_person",
            "served_on": f"{today}",
            "receipt_by": "王五",
            "note": "Signed the receipt at the counter.",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert LetterService.objects.get(letter=letter).receipt_by == "王五"
    html = client.get(page).content.decode()
    assert "王五" in html
    assert f"{last_day(case, today + datetime.timedelta(days=60)):%Y-%m-%d}" in html

    response = client.post(
        f"{page}appeals/",
        {"kind": "reconsideration", "body": "深圳市人民政府", "filed_on": f"{today}"},
    )
    assert response.status_code == 302
    appeal = case.appeals.get()
    # A change needs to say how; refused with the reason, nothing recorded.
    response = client.post(
        f"{page}appeals/{appeal.pk}/outcome/",
        {"outcome": "changed", "decided_on": f"{today}"},
    )
    assert response.status_code == 400
    assert "how the decision was changed" in response.content.decode()
    appeal.refresh_from_db()
    assert appeal.is_pending
    response = client.post(
        f"{page}appeals/{appeal.pk}/outcome/",
        {"outcome": "upheld", "decided_on": f"{today}"},
    )
    assert response.status_code == 302
    appeal.refresh_from_db()
    assert appeal.outcome == Appeal.Outcome.UPHELD
    record.refresh_from_db()
    assert record.status == Record.Status.ACTIVE  # upheld: nothing to withdraw
    assert not Deadline.objects.filter(case=case, step=Deadline.Step.APPEAL).exists()


def test_a_withdrawal_after_an_appeal_that_is_overdue_is_escalated(rejected, staff, applicant):
    case = rejected
    today = timezone.localdate()
    appeal = actions.appeal_record(
        case=case, by=applicant, kind="reconsideration", body="深圳市人民政府", filed_on=today
    )
    actions.appeal_outcome_record(
        appeal=appeal, by=staff["case_officer"], outcome="unlawful", decided_on=today
    )
    deadline = Deadline.objects.get(case=case, step=Deadline.Step.APPEAL)
    assert actions.appeal_withdrawals_escalate(today=deadline.due_on) == 0
    later = deadline.due_on + datetime.timedelta(days=1)
    assert actions.appeal_withdrawals_escalate(today=later) == 1
    assert flow.last_event(case, "deadline_overdue").data["step"] == "appeal"
    assert actions.appeal_withdrawals_escalate(today=later) == 0  # once


def test_the_auditors_export_carries_service_appeals_and_the_window(
    rejected, staff, applicant, agency, tmp_path
):
    case = rejected
    today = timezone.localdate()
    letter = decision_letter(case)
    actions.letter_serve(
        letter=letter,
        officer=staff["case_officer"],
        method="post",
        served_on=today,
        tracking_number="EMS9876543210CN",
    )
    actions.appeal_record(
        case=case, by=applicant, kind="suit", body="深圳市福田区人民法院", filed_on=today
    )
    out = tmp_path / "export.zip"
    call_command(
        "export_decisions",
        agency=agency.code,
        date_from=f"{today - datetime.timedelta(days=1)}",
        date_to=f"{today}",
        out=str(out),
        stdout=io.StringIO(),
    )
    with zipfile.ZipFile(out) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        events = [json.loads(line)["kind"] for line in zf.read("events.jsonl").splitlines()]
    (row,) = manifest["cases"]
    assert row["appeal_window"]["served_on"] == f"{today}"
    assert {p["kind"]: p["ends_on"] for p in row["appeal_window"]["periods"]}["suit"] == (
        f"{last_day(case, today + relativedelta(months=6))}"
    )
    assert [(a["kind"], a["body"], a["outcome"]) for a in row["appeals"]] == [
        ("suit", "深圳市福田区人民法院", "")
    ]
    served = {r["verification_code"]: r["service"] for r in manifest["letters"]}
    assert served[letter.verification_code]["tracking_number"] == "EMS9876543210CN"
    assert {"letter_served", "appeal_recorded"} <= set(events)
    assert export_verify(out).ok


def test_a_court_list_decision_is_appealed_to_the_higher_court_within_10_days(
    company, agency, applicant, staff
):
    record = restorable_record(
        company, agency, list_type=factories.list_type("dishonest_debtor"), penalty_type="listing"
    )
    case = flow.accept(flow.file_objection(company, [record], applicant), staff["intake"])

    periods = appeal_periods(case, datetime.date(2026, 6, 3))

    # 10 calendar days from service on Wednesday 3 June end on Saturday 13 June: the period
    # runs to the next working day (Civil Procedure Law Art. 85).
    assert [(p.kind, p.ends_on) for p in periods] == [("higher_court", datetime.date(2026, 6, 15))]
    assert periods[0].basis.zh.endswith("第十二条")


def test_downloading_the_letter_through_the_api_after_consent_serves_it(rejected, applicant, staff):
    case = rejected
    letter = decision_letter(case)
    entity = api(applicant)
    pdf = f"/api/v1/cases/{case.pk}/letters/{letter.pk}/pdf/"

    # An officer reading the letter serves nothing; nor does the applicant without consent.
    assert api(staff["case_officer"]).get(pdf).status_code == 200
    assert entity.get(pdf).status_code == 200
    assert not LetterService.objects.filter(letter=letter).exists()

    consented = entity.post(f"/api/v1/cases/{case.pk}/service-consent/", format="json")
    assert consented.status_code == 200
    assert consented.json()["appeal_window"]["state"] == "not_served"
    assert entity.get(pdf).status_code == 200
    body = entity.get(f"/api/v1/cases/{case.pk}/").json()
    assert body["appeal_window"]["state"] == "open"
    assert body["service"][0]["method"] == "portal"
    assert body["service"][0]["consent_given_at"]


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-hans", ("撤销原决定", "恢复公示", "第四十八条")),
        ("en", ("the decision is revoked", "published again", "Art. 48")),
    ],
)
def test_an_appeal_that_revokes_an_approval_publishes_the_records_again_and_tells_the_applicant(
    company, applicant, staff, record, language, words
):
    """The restoration was granted and the record withdrawn; a reconsideration body
    revokes the approval: every platform is asked to publish the record again within 3
    working days (APL Art. 48), each confirms, and the applicant is told in their
    language."""
    from notifications.models import Message, Notification

    case = flow.file_restoration(company, [record], applicant)
    Case.objects.filter(pk=case.pk).update(language=language)
    case.refresh_from_db()
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.APPROVED)
    case = flow.sign(case, staff["signer"], flow.APPROVED)
    flow.acknowledge_everywhere(record)
    record.refresh_from_db()
    assert record.status == Record.Status.REMOVED
    assert flow.publication_statuses(record) == {Publication.Status.WITHDRAWN}

    today = timezone.localdate()
    officer = staff["case_officer"]
    appeal = actions.appeal_record(
        case=case, by=officer, kind="reconsideration", body="深圳市人民政府", filed_on=today
    )
    actions.appeal_outcome_record(
        appeal=appeal, by=officer, outcome="revoked", decided_on=today, reference="深府复决1号"
    )

    record.refresh_from_db()
    assert record.status == Record.Status.ACTIVE
    assert flow.publication_statuses(record) == {Publication.Status.PUBLICATION_REQUESTED}
    deadline = Deadline.objects.get(case=case, step=Deadline.Step.APPEAL)
    assert (deadline.status, deadline.working_days) == (Deadline.Status.RUNNING, 3)
    # Each platform is asked, through the outbox, to publish the record again.
    asked = Message.objects.filter(case=case, kind="record_republished")
    assert asked.count() == record.publications.count() >= 1
    assert {m.payload["record"]["status"] for m in asked} == {Record.Status.ACTIVE}
    # The applicant is told, in the portal and by e-mail, in the language they filed in.
    notice = Notification.objects.get(user=applicant, case=case, kind="appeal_decided")
    mail = Message.objects.get(case=case, kind="appeal_decided", recipient_user=applicant)
    for text in (notice.title + notice.body, mail.body):
        for word in words:
            assert word in text, (word, text)
    assert mail.language == language

    flow.acknowledge_published_everywhere(record)
    deadline.refresh_from_db()
    assert deadline.status == Deadline.Status.MET
    assert flow.publication_statuses(record) == {Publication.Status.PUBLISHED}
    assert flow.event_kinds(case).count("platform_published") == record.publications.count()


def test_the_officers_case_page_lists_the_letters_with_number_date_and_service(
    client, rejected, staff, applicant, other_agency
):
    """Each issued letter on the officers' case page: its document number (文号), its
    date, how and when it was served, and a link to read its PDF, which only an officer
    of the case's agency may open; opening it there serves nothing."""
    case = rejected
    letter = decision_letter(case)
    assert letter.document_number
    officer = staff["case_officer"]
    client.force_login(officer)
    page = f"/workflow/cases/{case.pk}/"
    html = client.get(page).content.decode()
    row = html[html.index(f'id="letter-{letter.pk}"') :].split("</tr>")[0]
    assert letter.document_number in row
    assert f"{timezone.localtime(letter.issued_at):%Y-%m-%d}" in row
    assert "not served yet" in row
    view = f"/workflow/cases/{case.pk}/letters/{letter.pk}/"
    assert view in row

    response = client.get(view)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert b"".join(response.streaming_content).startswith(b"%PDF")
    assert not LetterService.objects.filter(letter=letter).exists()

    today = timezone.localdate()
    actions.letter_serve(
        letter=letter, officer=officer, method="post", served_on=today, tracking_number="EMS99CN"
    )
    row = client.get(page).content.decode().split(f'id="letter-{letter.pk}"')[1].split("</tr>")[0]
    assert "By post" in row and "EMS99CN" in row and f"{today:%Y-%m-%d}" in row

    # An officer of another agency, and the applicant, cannot open it here.
    client.force_login(factories.officer("case_officer", other_agency))
    assert client.get(view).status_code == 404
    client.force_login(applicant)
    assert client.get(view).status_code in (302, 403, 404)

    # The applicant's portal lists the same letter with its number, date and service.
    portal = client.get(f"/portal/cases/{case.pk}/").content.decode()
    assert letter.document_number in portal
    assert "By post" in portal


@pytest.mark.parametrize(
    ("language", "words"),
    [
        ("zh-hans", ("变更原决定", "恢复公示", "其余信息仍不公示")),
        ("en", ("the decision is changed", "published again", "the others stay withdrawn")),
    ],
)
def test_a_change_of_an_approval_publishes_again_only_the_records_it_names(
    client, company, agency, platforms, applicant, staff, language, words
):
    """Two records restored; the reconsideration body changes the approval for one of
    them. The officer names it on the case page (a change that names none, or a record of
    another case, is refused with the reason): only that record is published again, only
    its platforms are asked, the other stays withdrawn, and the applicant's notice names
    the record in their language (APL Art. 48)."""
    from notifications.models import Message, Notification

    first = restorable_record(company, agency, platforms)
    second = restorable_record(company, agency, platforms)
    case = flow.file_restoration(company, [first, second], applicant)
    Case.objects.filter(pk=case.pk).update(language=language)
    case.refresh_from_db()
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.APPROVED)
    case = flow.sign(case, staff["signer"], flow.APPROVED)
    flow.acknowledge_everywhere(first)
    flow.acknowledge_everywhere(second)
    other = restorable_record(company, agency)  # a record of no case of theirs

    today = timezone.localdate()
    officer = staff["case_officer"]
    appeal = actions.appeal_record(
        case=case, by=officer, kind="reconsideration", body="深圳市人民政府", filed_on=today
    )
    client.force_login(officer)
    page = f"/workflow/cases/{case.pk}/"
    assert f'value="{second.pk}"' in client.get(page).content.decode()  # a record to name
    changed = {
        "outcome": "changed",
        "decided_on": f"{today}",
        "note": "变更为对其中一条信息不予信用修复。",
    }
    # Naming no record: refused with the reason, nothing recorded.
    response = client.post(f"{page}appeals/{appeal.pk}/outcome/", changed)
    assert response.status_code == 400
    assert "Name the records of this case the change concerns" in response.content.decode()
    # A record of another case: refused too (the form offers only this case's records,
    # the function refuses it whoever calls).
    with pytest.raises(InvalidInput) as refused:
        actions.appeal_outcome_record(
            appeal=appeal,
            by=officer,
            outcome="changed",
            decided_on=today,
            note="变更。",
            records=[second.pk, other.pk],
        )
    assert refused.value.field == "records"
    assert case.reference in refused.value.message
    appeal.refresh_from_db()
    assert appeal.is_pending

    response = client.post(
        f"{page}appeals/{appeal.pk}/outcome/", {**changed, "records": [second.pk]}
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    first.refresh_from_db()
    second.refresh_from_db()
    assert second.status == Record.Status.ACTIVE
    assert flow.publication_statuses(second) == {Publication.Status.PUBLICATION_REQUESTED}
    assert first.status == Record.Status.REMOVED  # not named: stays withdrawn
    assert flow.publication_statuses(first) == {Publication.Status.WITHDRAWN}
    appeal.refresh_from_db()
    assert list(appeal.changed_records.all()) == [second]

    # Only the named record's platforms are asked to publish it again.
    asked = Message.objects.filter(case=case, kind="record_republished")
    assert asked.count() == second.publications.count() >= 1
    assert {m.payload["record"]["decision_no"] for m in asked} == {second.decision_no}
    # The applicant is told which record, in their language.
    notice = Notification.objects.get(user=applicant, case=case, kind="appeal_decided")
    mail = Message.objects.get(case=case, kind="appeal_decided", recipient_user=applicant)
    for text in (notice.body, mail.body):
        assert second.decision_no in text and first.decision_no not in text
        for word in words:
            assert word in text, (word, text)
    # The case page says which record the change concerns.
    appeals = client.get(page).content.decode().split("<h3>")
    listed = next(part for part in appeals if "Decision changed" in part or "变更" in part)
    assert second.decision_no in listed

    deadline = Deadline.objects.get(case=case, step=Deadline.Step.APPEAL)
    flow.acknowledge_published_everywhere(second)
    deadline.refresh_from_db()
    assert deadline.status == Deadline.Status.MET


def test_a_change_through_the_api_names_records_of_the_case(
    company, agency, platforms, applicant, staff
):
    first = restorable_record(company, agency, platforms)
    second = restorable_record(company, agency, platforms)
    case = flow.file_restoration(company, [first, second], applicant)
    flow.accept(case, staff["intake"])
    flow.review(case, staff["case_officer"], flow.APPROVED)
    case = flow.sign(case, staff["signer"], flow.APPROVED)
    flow.acknowledge_everywhere(first)
    flow.acknowledge_everywhere(second)
    today = timezone.localdate()
    officer = api(staff["case_officer"])
    created = officer.post(
        f"/api/v1/cases/{case.pk}/appeals/",
        {"kind": "suit", "body": "深圳市福田区人民法院", "filed_on": f"{today}"},
        format="json",
    )
    url = f"/api/v1/cases/{case.pk}/appeals/{created.json()['id']}/outcome/"
    change = {"outcome": "changed", "decided_on": f"{today}", "note": "变更。"}
    refused = officer.post(url, change, format="json")
    assert (refused.status_code, refused.json()["field"]) == (400, "records")
    decided = officer.post(url, {**change, "records": [first.pk]}, format="json")
    assert decided.status_code == 200, decided.json()
    assert decided.json()["records"] == [first.pk]
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (Record.Status.ACTIVE, Record.Status.REMOVED)


def test_a_revoked_refusal_says_the_agency_decides_again(client, rejected, staff, applicant):
    """The applicant won: the refusal is revoked. What it kept published is withdrawn and
    the case page and the notice say the agency must decide again (行政复议法第六十四条)."""
    from notifications.models import Notification

    case = rejected
    today = timezone.localdate()
    appeal = actions.appeal_record(
        case=case, by=applicant, kind="reconsideration", body="深圳市人民政府", filed_on=today
    )
    actions.appeal_outcome_record(
        appeal=appeal, by=staff["case_officer"], outcome="revoked", decided_on=today
    )
    client.force_login(staff["case_officer"])
    html = client.get(f"/workflow/cases/{case.pk}/").content.decode()
    assert "the agency must decide the application again" in html
    notice = Notification.objects.get(user=applicant, case=case, kind="appeal_decided")
    assert "decides the application again" in notice.body or "重新作出决定" in notice.body
