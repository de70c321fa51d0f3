"""What the people of a case are told, and how the outbox makes sure they are told once.

Every message (to the applicant, to officers, to platforms) is a row written in the
transaction of the case change that causes it; the dispatcher is asked to deliver it
only after that commit, and the sweep delivers whatever was left behind. Emails are sent
to a real SMTP server (aiosmtpd on 127.0.0.1), in the recipient's language, with the
case's letter attached where there is one; in-app notifications are read through
``/notifications/``. A failing channel is retried with exponential backoff, goes to the
dead-letter state after ``REDRESS_NOTIFY_MAX_ATTEMPTS``, and a supervisor re-sends it.
Everything shows on the case's timeline.

No worker runs here: ``notifications.delivery.deliver`` is called in-process, as the
worker's task does. The same stories against a real Redis and worker process are in
``test_outbox_faults.py``.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.core.files.storage import FileSystemStorage
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from viewflow.workflow.timers import fire_due_timers

from cases.errors import NotPermitted, WrongState
from cases.models import Case, Deadline, Material, Role
from documents.models import Letter
from documents.services import letter_kind_for_decision, letter_render_now, letter_request
from notifications import delivery, tasks
from notifications.models import Message, Notification
from notifications.services import idempotency_key, outbox_enqueue
from tests import factories
from tests.flow_helpers import (
    APPROVED,
    REJECTED,
    accept,
    claim,
    deadline,
    file_restoration,
    let_materials_deadline_pass,
    refresh,
    request_materials_at_acceptance,
    review,
    scheduled_timer,
    sign,
)
from tests.flow_helpers import fire as fire_timers
from tests.helpers import pdf_bytes, restorable_record
from tests.notification_helpers import SmtpServer, free_port, messages_of, notification_timeline
from workflows import actions
from workflows.digest import digests_send, materials_reminders_send

SENT = Message.Status.SENT
DEAD = Message.Status.DEAD
RETRYING = Message.Status.RETRYING
PENDING = Message.Status.PENDING


# --- fixtures ----------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def letters_rendered_by_their_worker(request, monkeypatch):
    """Emails that carry a letter wait until its worker rendered it. Here the worker runs
    the moment the email is sent (on_commit never fires inside a test's transaction);
    tests about the waiting itself opt out with ``@pytest.mark.letter_worker_late``."""
    if request.node.get_closest_marker("letter_worker_late"):
        return
    from documents.models import Letter as LetterModel
    from documents.services import letter_render_now as render

    real = delivery.letters_pending

    def render_first(message):
        for letter in LetterModel.objects.filter(
            case_id=message.case_id, status=LetterModel.Status.PENDING
        ):
            render(letter)
        return real(message)

    monkeypatch.setattr(delivery, "letters_pending", render_first)


@pytest.fixture
def record(company, agency, platforms):
    return restorable_record(company, agency, platforms)


@pytest.fixture
def smtp(settings):
    """A real SMTP server, and Django's SMTP backend pointed at it."""
    server = SmtpServer().start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_HOST_USER = ""
    settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    yield server
    server.stop()


@pytest.fixture
def mail_server_down(settings):
    """Django's SMTP backend pointed at a port where nothing listens."""
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 2
    return settings


@pytest.fixture
def dispatcher(monkeypatch):
    """The broker as the web process sees it: the message ids it was asked to deliver."""
    asked: list[int] = []
    monkeypatch.setattr(
        tasks.deliver, "apply_async", lambda args, **kwargs: asked.append(args[0]), raising=True
    )
    return asked


@pytest.fixture
def letter_files(tmp_path, monkeypatch):
    """Issued letters are stored inside the test."""
    monkeypatch.setattr(
        Letter._meta.get_field("pdf"), "storage", FileSystemStorage(tmp_path / "letters")
    )


def deliver_due(case=None) -> list[str]:
    """What the worker does for each message that is due: deliver it."""
    due = Message.objects.filter(
        status__in=[PENDING, RETRYING], next_attempt_at__lte=timezone.now()
    )
    if case is not None:
        due = due.filter(case=case)
    return [delivery.deliver(pk) for pk in due.order_by("id").values_list("pk", flat=True)]


def make_due(message: Message) -> None:
    """The backoff has passed: the message may be tried again now."""
    Message.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now())


def one(messages: list[Message]) -> Message:
    assert len(messages) == 1, messages
    return messages[0]


def filed(company, record, applicant, **kwargs) -> Case:
    return file_restoration(company, [record], applicant, **kwargs)


def accepted(company, record, applicant, staff, **kwargs) -> Case:
    return accept(filed(company, record, applicant, **kwargs), staff["intake"])


def decided(company, record, applicant, staff, decision=APPROVED, **kwargs) -> Case:
    case = accepted(company, record, applicant, staff, **kwargs)
    review(case, staff["case_officer"], decision)
    return sign(case, staff["signer"], decision)


# --- the outbox: written with the change, dispatched after the commit --------------------------


def test_accepting_a_case_writes_the_applicants_message_with_it_and_asks_the_dispatcher_only_after_commit(
    company, record, applicant, staff, dispatcher, django_capture_on_commit_callbacks
):
    case = filed(company, record, applicant)

    with django_capture_on_commit_callbacks(execute=False) as after_commit:
        accept(case, staff["intake"])
        message = one(messages_of(case))
        assert dispatcher == []  # nothing leaves before the case change is committed

    assert message.kind == "accepted"
    assert message.channel == Message.Channel.EMAIL
    assert message.recipient_user == applicant
    assert message.recipient_email == applicant.email
    assert message.status == PENDING
    assert message.attempts == 0
    assert re.fullmatch(r"[0-9a-f]{64}", message.idempotency_key)

    for callback in after_commit:
        callback()
    assert dispatcher == [message.pk]

    queued = case.events.get(kind="notification_queued")
    assert queued.automated is True
    assert queued.data == {
        "message": message.pk,
        "kind": "accepted",
        "channel": "email",
        "to": applicant.email,
    }
    assert Notification.objects.filter(user=applicant, case=case, kind="accepted").count() == 1


def test_a_case_change_that_rolls_back_leaves_no_message_and_no_notification(
    company, record, applicant, staff, dispatcher, django_capture_on_commit_callbacks
):
    case = filed(company, record, applicant)

    with (
        django_capture_on_commit_callbacks(execute=True) as after_commit,
        pytest.raises(RuntimeError, match="crashed"),
        transaction.atomic(),
    ):
        accept(case, staff["intake"])
        assert messages_of(case)  # written in the transaction...
        raise RuntimeError("the web process crashed before the commit")

    assert messages_of(case) == []  # ...and gone with it
    assert not Notification.objects.filter(case=case).exists()
    assert after_commit == []
    assert dispatcher == []
    assert refresh(case).status == Case.Status.SUBMITTED


def test_a_message_whose_dispatch_was_lost_after_the_commit_is_delivered_by_the_sweep(
    company, record, applicant, staff, dispatcher, mailoutbox, django_capture_on_commit_callbacks
):
    case = filed(company, record, applicant)
    with django_capture_on_commit_callbacks(execute=False):
        accept(case, staff["intake"])  # committed; the process dies before asking the broker
    message = one(messages_of(case))
    assert dispatcher == []
    assert delivery.due_message_ids() == [message.pk]

    assert tasks.sweep() == 1

    message.refresh_from_db()
    assert message.status == SENT
    assert message.attempts == 1
    assert [m.to for m in mailoutbox] == [[applicant.email]]
    assert tasks.sweep() == 0  # nothing left: the next sweep sends nothing twice
    assert len(mailoutbox) == 1
    assert notification_timeline(case) == ["notification_queued", "notification_sent"]


def test_the_dispatcher_and_the_sweep_racing_for_one_message_send_it_once(
    company, record, applicant, staff, mailoutbox
):
    case = accepted(company, record, applicant, staff)
    message = one(messages_of(case))

    assert delivery.deliver(message.pk) == "sent"
    assert delivery.deliver(message.pk) == "skipped"  # the sweep comes second
    assert tasks.sweep() == 0
    assert len(mailoutbox) == 1


def test_the_same_cause_asked_twice_queues_one_message(company, record, applicant, staff):
    case = filed(company, record, applicant)
    key = idempotency_key(case.reference, "test-cause", applicant.pk)

    with transaction.atomic():
        first = outbox_enqueue(
            case=case, kind="accepted", channel="email", key=key, recipient_email="a@example.test"
        )
        second = outbox_enqueue(
            case=case, kind="accepted", channel="email", key=key, recipient_email="a@example.test"
        )

    assert first.pk == second.pk
    assert Message.objects.filter(idempotency_key=key).count() == 1
    assert notification_timeline(case) == ["notification_queued"]


def test_each_event_and_recipient_has_its_own_stable_key(company, record, applicant, staff):
    case = decided(company, record, applicant, staff)
    keys = list(Message.objects.filter(case=case).values_list("idempotency_key", flat=True))

    assert len(keys) == len(set(keys))  # accepted email, decided email, 2 withdrawal webhooks
    assert len(keys) == 4
    assert idempotency_key("RD", 1, "x") == idempotency_key("RD", 1, "x")
    assert idempotency_key("RD", 1, "x") != idempotency_key("RD", 2, "x")


# --- email, to a real SMTP server, in the recipient's language --------------------------------


@pytest.mark.parametrize(
    ("language", "subject", "phrases"),
    [
        (
            "zh-hans",
            "【信用修复】案件 {ref} 已受理",
            ["已由深圳市市场监督管理局受理", "办理期限：{due}（{days} 个工作日）"],
        ),
        (
            "en",
            "[Redress] Case {ref} accepted",
            ["Your credit restoration request", "Decision due by {due} ({days} working days)"],
        ),
    ],
)
def test_the_applicant_reads_the_acceptance_email_in_the_language_they_filed_in(
    company, record, applicant, staff, smtp, language, subject, phrases
):
    case = accepted(company, record, applicant, staff, language=language)
    message = one(messages_of(case))
    decision = deadline(case, Deadline.Step.DECISION)

    assert delivery.deliver(message.pk) == "sent"

    [mail] = smtp.to(applicant.email)
    assert mail.subject == subject.format(ref=case.reference)
    for phrase in phrases:
        assert (
            phrase.format(due=f"{decision.due_on:%Y-%m-%d}", days=decision.working_days)
            in mail.text
        )
    assert case.subject.name in mail.text
    assert f"/cases/{case.pk}/" in mail.text or case.reference in mail.text
    assert mail.key == message.idempotency_key
    assert mail.header("X-Redress-Case") == case.reference
    assert mail.header("Message-ID") == f"<{message.idempotency_key}@redress>"
    assert mail.mail_from == "noreply@redress.invalid"
    assert message.language == language


def test_the_request_for_missing_materials_lists_every_item_at_once_with_the_deadline(
    company, record, applicant, staff, smtp
):
    case = filed(company, record, applicant, with_materials=False, language="en")
    request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )
    message = one(messages_of(case))
    due = deadline(case, Deadline.Step.MATERIALS).due_on

    delivery.deliver(message.pk)

    [mail] = smtp.to(applicant.email)
    assert mail.subject == f"[Redress] Case {case.reference}: materials missing"
    assert "- Credit commitment letter (信用承诺书): Please supply: commitment_letter." in mail.text
    assert "- Proof the penalty was fulfilled: Please supply: fulfilment_proof." in mail.text
    assert f"Supply them by {due:%Y-%m-%d}" in mail.text
    assert "clock is stopped" in mail.text


def test_a_chinese_applicant_reads_the_missing_items_in_chinese(
    company, record, applicant, staff, smtp
):
    case = filed(company, record, applicant, with_materials=False, language="zh-hans")
    with translation.override("en"):  # the intake officer works in the English interface
        request_materials_at_acceptance(
            case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
        )
    delivery.deliver(one(messages_of(case)).pk)

    [mail] = smtp.to(applicant.email)
    assert "一次性补正以下材料" in mail.text
    assert "- 履行行政处罚的证明" in mail.text
    assert "Proof the penalty was fulfilled" not in mail.text


def test_an_english_applicant_reads_the_agencys_english_name(
    company, record, applicant, staff, smtp
):
    case = accepted(company, record, applicant, staff, language="en")
    delivery.deliver(one(messages_of(case)).pk)

    [mail] = smtp.to(applicant.email)
    assert case.agency.name_en in mail.text


def test_the_decision_email_carries_the_letter_pdf(
    company, record, applicant, staff, smtp, monkeypatch
):
    case = decided(company, record, applicant, staff, language="en")
    decision = one(messages_of(case, kind="decided"))
    letter = pdf_bytes("decision letter")
    asked = []

    def letters(message):
        asked.append((message.case_id, message.language))
        return [("RD-decision.pdf", letter)]

    monkeypatch.setattr(delivery, "letter_attachments", letters)

    assert delivery.deliver(decision.pk) == "sent"

    [mail] = smtp.to(applicant.email)
    assert mail.subject == f"[Redress] Case {case.reference} decided: approved"
    assert "administrative reconsideration within 60 days" in mail.text
    assert mail.attachments() == [("RD-decision.pdf", "application/pdf", letter)]
    assert asked == [(case.pk, "en")]


def test_a_withdrawal_email_carries_no_letter(company, record, applicant, staff, smtp, monkeypatch):
    case = accepted(company, record, applicant, staff)
    actions.case_withdraw(case=case, applicant=applicant, reason="Settled.")
    monkeypatch.setattr(delivery, "letter_attachments", lambda m: pytest.fail("not asked"))

    delivery.deliver(one(messages_of(case, kind="withdrawn")).pk)

    [mail] = smtp.to(applicant.email)
    assert mail.attachments() == []


def test_the_decision_email_attaches_the_issued_decision_letter_from_the_documents_app(
    company, record, applicant, staff, smtp, letter_files
):
    case = decided(company, record, applicant, staff)
    letter = letter_render_now(letter_request(case, letter_kind_for_decision(case)))
    assert letter.status == Letter.Status.ISSUED, letter.last_error
    with letter.pdf.open("rb") as handle:
        content = handle.read()

    delivery.deliver(one(messages_of(case, kind="decided")).pk)

    [mail] = smtp.to(applicant.email)
    assert (letter.file_name, "application/pdf", content) in mail.attachments()


@pytest.mark.letter_worker_late
def test_the_decision_email_waits_for_its_letter_to_be_rendered(
    company, record, applicant, staff, smtp, letter_files
):
    case = decided(company, record, applicant, staff)
    # The decision's own transaction asked for the letter; a worker has not rendered it yet.
    letter = Letter.objects.get(case=case, kind=letter_kind_for_decision(case))
    message = one(messages_of(case, kind="decided"))

    assert delivery.deliver(message.pk) == "postponed"  # the dispatcher is quick; the renderer not
    assert smtp.of(message) == []
    for pending in Letter.objects.filter(case=case, status=Letter.Status.PENDING):
        letter_render_now(pending)  # the worker catches up
    make_due(message)
    tasks.sweep()

    [mail] = smtp.of(message)
    assert [name for name, _, _ in mail.attachments()] == [letter.file_name]


def test_the_acceptance_email_carries_the_acceptance_notice(
    company, record, applicant, staff, smtp, letter_files
):
    case = accepted(company, record, applicant, staff)
    letter = letter_render_now(letter_request(case, Letter.Kind.ACCEPTANCE))
    assert letter.status == Letter.Status.ISSUED, letter.last_error

    delivery.deliver(one(messages_of(case)).pk)

    [mail] = smtp.to(applicant.email)
    assert [name for name, _, _ in mail.attachments()] == [letter.file_name]


def test_a_rejection_tells_the_applicant_the_reasons_and_their_rights(
    company, record, applicant, staff, smtp
):
    case = decided(company, record, applicant, staff, REJECTED, language="zh-hans")
    message = one(messages_of(case, kind="decided"))
    assert message.payload == {"attach_letters": True}

    delivery.deliver(message.pk)

    [mail] = smtp.to(applicant.email)
    assert mail.subject == f"【信用修复】案件 {case.reference} 已作出决定：不予准许"
    assert "The evidence does not show the conduct was corrected." in mail.text
    assert "60 日内申请行政复议" in mail.text
    assert "6 个月内提起行政诉讼" in mail.text


def test_a_request_that_lapses_tells_the_applicant_which_deadline_passed(
    company, record, applicant, staff
):
    case = filed(company, record, applicant, with_materials=False, language="en")
    request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )
    let_materials_deadline_pass(case)

    fire_due_timers()

    assert refresh(case).status == Case.Status.LAPSED
    lapsed = one(messages_of(case, kind="lapsed"))
    due = deadline(case, Deadline.Step.MATERIALS).due_on
    assert lapsed.subject == f"[Redress] Case {case.reference} lapsed"
    assert f"did not arrive by {due:%Y-%m-%d}" in lapsed.body


def test_the_applicant_is_told_each_time_a_platform_withdraws_the_record(
    company, record, applicant, staff, platforms
):
    case = decided(company, record, applicant, staff, language="zh-hans")
    assert refresh(case).status == Case.Status.REMOVAL

    for publication in record.publications.order_by("platform__code"):
        actions.publication_acknowledge(publication=publication, note="Withdrawn.")

    done = messages_of(case, kind="removal_done")
    assert [m.subject for m in done] == [
        "【信用修复】信用中国 已撤下相关信息",
        "【信用修复】国家企业信用信息公示系统 已撤下相关信息",
    ]
    assert all(record.decision_no in m.body for m in done)
    assert Notification.objects.filter(user=applicant, kind="removal_done").count() == 2


def test_the_applicant_reads_the_platforms_told_by_name_in_their_language_not_by_code(
    company, record, applicant, staff, platforms, client, monkeypatch
):
    """The timeline row of the platforms' webhooks named them by code ("to the platforms
    creditchina, gsxt"), a word no applicant knows; it names them as the rest of the page."""
    Platform = type(platforms[0])
    Platform.objects.filter(code="creditchina").update(name_en="Credit China")
    case = decided(company, record, applicant, staff)
    monkeypatch.setattr(delivery, "_send_webhook", lambda message: None)
    for message in Message.objects.filter(case=case, channel=Message.Channel.WEBHOOK):
        delivery.deliver(message.pk)
    client.force_login(applicant)
    url = reverse("portal:case", args=[case.pk])

    english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
    chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans").content.decode()

    assert "to the platforms Credit China, 国家企业信用信息公示系统" in english
    assert "信用中国" in chinese and "creditchina" not in chinese
    assert "creditchina" not in english


# --- scheduled messages: reminders and the daily digest ---------------------------------------


def test_the_applicant_is_reminded_two_working_days_before_the_materials_deadline(
    company, record, applicant, staff, smtp
):
    case = filed(company, record, applicant, with_materials=False, language="en")
    request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )
    materials = deadline(case, Deadline.Step.MATERIALS)

    assert materials_reminders_send(today=materials.started_on) == 0  # ten working days left
    assert materials_reminders_send(today=materials.due_on + datetime.timedelta(days=1)) == 0
    assert materials_reminders_send(today=materials.due_on) == 1

    reminder = one(messages_of(case, kind="materials_reminder"))
    delivery.deliver(reminder.pk)
    [mail] = [m for m in smtp.to(applicant.email) if "materials due" in m.subject]
    assert (
        mail.subject
        == f"[Redress] Case {case.reference}: materials due on {materials.due_on:%Y-%m-%d}"
    )
    assert "- Proof the penalty was fulfilled" in mail.text
    assert "- Credit commitment letter (信用承诺书)" in mail.text
    assert Notification.objects.filter(user=applicant, kind="materials_reminder").count() == 1


def test_a_case_no_longer_waiting_for_materials_gets_no_reminder(company, record, applicant, staff):
    case = filed(company, record, applicant, with_materials=False)
    request_materials_at_acceptance(
        case, staff["intake"], Material.COMMITMENT_LETTER, Material.FULFILMENT_PROOF
    )
    due = deadline(case, Deadline.Step.MATERIALS).due_on
    actions.case_withdraw(case=case, applicant=applicant, reason="No longer needed.")

    assert materials_reminders_send(today=due) == 0


def test_each_officer_gets_a_daily_digest_of_their_tasks_with_what_is_overdue(
    company, agency, record, applicant, staff, smtp
):
    case = filed(company, record, applicant)
    claim(case, "acceptance_check", staff["intake"])
    due = deadline(case, Deadline.Step.ACCEPTANCE).due_on

    assert digests_send(today=due + datetime.timedelta(days=1)) == 1  # only the intake officer

    digest = Message.objects.get(kind="daily_digest")
    assert digest.recipient_user == staff["intake"]
    assert digest.case is None
    delivery.deliver(digest.pk)
    [mail] = smtp.to(staff["intake"].email)
    assert mail.subject == "[Redress] 1 tasks today, 1 overdue"
    assert f"- {case.reference} Acceptance check: {due:%Y-%m-%d} (overdue)" in mail.text
    for role in ("case_officer", "signer", "supervisor", "legal_reviewer"):
        assert smtp.to(staff[role].email) == []


def test_an_officer_in_a_chinese_office_gets_the_digest_wholly_in_chinese(
    company, record, applicant, staff, settings
):
    settings.LANGUAGE_CODE = "zh-hans"  # the office's language; officers have no preference
    case = filed(company, record, applicant)
    claim(case, "acceptance_check", staff["intake"])
    due = deadline(case, Deadline.Step.ACCEPTANCE).due_on

    digests_send(today=due + datetime.timedelta(days=1))

    digest = Message.objects.get(kind="daily_digest")
    assert digest.subject == "【每日待办】1 项任务，其中 1 项已逾期"
    assert f"- {case.reference} 受理审查: {due:%Y-%m-%d}（已逾期）" in digest.body
    assert "Acceptance check" not in digest.body and "overdue" not in digest.body


def test_a_task_not_yet_due_is_listed_without_being_overdue(company, record, applicant, staff):
    case = filed(company, record, applicant)
    claim(case, "acceptance_check", staff["intake"])
    due = deadline(case, Deadline.Step.ACCEPTANCE).due_on

    digests_send(today=due)

    digest = Message.objects.get(kind="daily_digest")
    assert digest.subject == "[Redress] 1 tasks today, 0 overdue"
    assert f"- {case.reference} Acceptance check: {due:%Y-%m-%d}\n" in digest.body + "\n"


def test_the_digest_run_twice_on_one_day_sends_one_email_and_a_new_day_another(
    company, record, applicant, staff
):
    case = filed(company, record, applicant)
    claim(case, "acceptance_check", staff["intake"])
    today = deadline(case, Deadline.Step.ACCEPTANCE).due_on

    digests_send(today=today)
    digests_send(today=today)  # beat's task delivered twice
    assert Message.objects.filter(kind="daily_digest").count() == 1

    digests_send(today=today + datetime.timedelta(days=1))
    assert Message.objects.filter(kind="daily_digest").count() == 2


def test_the_digest_run_twice_on_one_day_shows_one_in_app_notification(
    company, record, applicant, staff
):
    case = filed(company, record, applicant)
    claim(case, "acceptance_check", staff["intake"])
    today = deadline(case, Deadline.Step.ACCEPTANCE).due_on

    digests_send(today=today)
    digests_send(today=today)

    assert Notification.objects.filter(user=staff["intake"], kind="daily_digest").count() == 1


# --- escalations to supervisors ---------------------------------------------------------------


def test_a_deadline_about_to_pass_is_escalated_to_the_agencys_supervisors_only(
    company, agency, other_agency, record, applicant, staff, smtp
):
    elsewhere = factories.officer(Role.SUPERVISOR, other_agency, username="supervisor-gz")
    case = filed(company, record, applicant)
    due = deadline(case, Deadline.Step.ACCEPTANCE).due_on

    fire_timers(scheduled_timer(case, "acceptance_check__timeout"))

    escalation = one(messages_of(case, kind="escalation"))
    assert escalation.recipient_user == staff["supervisor"]
    assert not Notification.objects.filter(user=elsewhere).exists()
    delivery.deliver(escalation.pk)
    [mail] = smtp.to(staff["supervisor"].email)
    assert mail.subject == f"[Redress] Case {case.reference}: Acceptance check deadline due soon"
    assert f"the Acceptance check deadline is {due:%Y-%m-%d} and is due soon" in mail.text
    assert smtp.to(elsewhere.email) == []


def test_an_overdue_deadline_is_escalated_as_overdue(company, record, applicant, staff):
    case = filed(company, record, applicant)

    fire_timers(scheduled_timer(case, "acceptance_check__timeout_2"))

    escalation = one(messages_of(case, kind="escalation"))
    assert (
        escalation.subject == f"[Redress] Case {case.reference}: Acceptance check deadline overdue"
    )
    supervisor_sees = Notification.objects.get(user=staff["supervisor"], kind="escalation")
    assert supervisor_sees.case == case


def test_supervisors_of_a_chinese_office_read_the_escalation_in_chinese(
    company, record, applicant, staff, settings
):
    settings.LANGUAGE_CODE = "zh-hans"
    translation.deactivate()  # the worker that fires timers has no request language
    case = filed(company, record, applicant)
    due = deadline(case, Deadline.Step.ACCEPTANCE).due_on

    fire_timers(scheduled_timer(case, "acceptance_check__timeout"))

    escalation = one(messages_of(case, kind="escalation"))
    assert escalation.language == "zh-hans"
    assert escalation.subject == f"【督办】案件 {case.reference} 受理审查期限即将届满"
    assert f"的“受理审查”期限为 {due:%Y-%m-%d}，即将届满。请督办。" in escalation.body


# --- in-app notifications ---------------------------------------------------------------------


def test_the_applicant_sees_unread_notifications_and_marks_them_read(
    client, company, record, applicant, staff
):
    case = decided(company, record, applicant, staff, language="en")
    client.force_login(applicant)

    listing = client.get("/notifications/").json()
    assert listing["unread"] == 2
    assert [n["kind"] for n in listing["results"]] == ["decided", "accepted"]
    assert listing["results"][0]["title"] == f"[Redress] Case {case.reference} decided: approved"
    assert listing["results"][0]["read"] is False

    first = listing["results"][1]["id"]
    assert client.post("/notifications/", {"id": [first]}).json() == {"marked_read": 1}
    after = client.get("/notifications/").json()
    assert after["unread"] == 1
    assert {n["id"]: n["read"] for n in after["results"]}[first] is True

    assert client.post("/notifications/").json() == {"marked_read": 1}  # all the rest
    assert client.get("/notifications/").json()["unread"] == 0


def test_nobody_reads_or_marks_another_persons_notifications(
    client, company, record, applicant, staff
):
    accepted(company, record, applicant, staff)
    mine = Notification.objects.get(user=applicant)
    client.force_login(staff["intake"])

    assert client.get("/notifications/").json() == {"unread": 0, "results": []}
    assert client.post("/notifications/", {"id": [mine.pk]}).json() == {"marked_read": 0}
    mine.refresh_from_db()
    assert mine.read_at is None

    client.logout()
    assert client.get("/notifications/").status_code == 401
    assert client.post("/notifications/").status_code == 401


# --- failures: backoff, dead letters, a supervisor's retry ------------------------------------


def test_backoff_doubles_from_the_base_up_to_the_cap(settings):
    settings.REDRESS_NOTIFY_BACKOFF_SECONDS = 30
    settings.REDRESS_NOTIFY_BACKOFF_CAP_SECONDS = 3600

    waits = [delivery.backoff(n).total_seconds() for n in range(1, 9)]

    assert waits == [30, 60, 120, 240, 480, 960, 1920, 3600]


def test_an_email_that_cannot_be_sent_is_retried_after_the_backoff_not_before(
    company, record, applicant, staff, mail_server_down, settings
):
    settings.REDRESS_NOTIFY_BACKOFF_SECONDS = 30
    case = accepted(company, record, applicant, staff)
    message = one(messages_of(case))

    before = timezone.now()
    assert delivery.deliver(message.pk) == "retrying"

    message.refresh_from_db()
    assert message.status == RETRYING
    assert message.attempts == 1
    assert "ConnectionRefusedError" in message.last_error
    assert before + datetime.timedelta(seconds=30) <= message.next_attempt_at
    assert message.next_attempt_at <= timezone.now() + datetime.timedelta(seconds=30)
    assert delivery.deliver(message.pk) == "skipped"  # still backing off
    assert delivery.due_message_ids() == []

    make_due(message)
    assert delivery.deliver(message.pk) == "retrying"
    message.refresh_from_db()
    assert message.attempts == 2
    assert message.next_attempt_at >= timezone.now() + datetime.timedelta(seconds=59)

    failed = case.events.filter(kind="notification_failed").order_by("seq")
    assert [e.data["attempt"] for e in failed] == [1, 2]
    assert "ConnectionRefusedError" in failed[0].note


def test_after_the_last_attempt_a_message_is_dead_and_a_supervisor_sends_it_again(
    company, record, applicant, staff, mail_server_down, settings
):
    settings.REDRESS_NOTIFY_MAX_ATTEMPTS = 3
    case = accepted(company, record, applicant, staff)
    message = one(messages_of(case))

    outcomes = []
    for _ in range(3):
        outcomes.append(delivery.deliver(message.pk))
        make_due(message)
    message.refresh_from_db()
    assert outcomes == ["retrying", "retrying", "dead"]
    assert message.status == DEAD
    assert delivery.due_message_ids() == []  # the sweep leaves a dead letter alone
    assert delivery.deliver(message.pk) == "skipped"

    # The mail server is back; the supervisor re-sends the message by hand.
    server = SmtpServer().start()
    try:
        settings.EMAIL_PORT = server.port
        with transaction.atomic():
            delivery.message_retry(message=message, by=staff["supervisor"])
        message.refresh_from_db()
        assert (message.status, message.attempts) == (PENDING, 0)
        assert delivery.deliver(message.pk) == "sent"
        assert len(server.to(applicant.email)) == 1
    finally:
        server.stop()

    assert notification_timeline(case) == [
        "notification_queued",
        "notification_failed",
        "notification_failed",
        "notification_dead",
        "notification_retried",
        "notification_sent",
    ]
    retried = case.events.get(kind="notification_retried")
    assert (retried.actor, retried.actor_role) == (staff["supervisor"], Role.SUPERVISOR)
    dead = case.events.get(kind="notification_dead")
    assert dead.data["attempt"] == 3


def test_a_supervisors_retry_asks_the_dispatcher_after_commit(
    company,
    record,
    applicant,
    staff,
    mail_server_down,
    settings,
    dispatcher,
    django_capture_on_commit_callbacks,
):
    settings.REDRESS_NOTIFY_MAX_ATTEMPTS = 1
    case = accepted(company, record, applicant, staff)
    message = one(messages_of(case))
    assert delivery.deliver(message.pk) == "dead"

    with django_capture_on_commit_callbacks(execute=True):
        delivery.message_retry(message=message, by=staff["supervisor"])

    assert dispatcher == [message.pk]


def test_only_a_supervisor_of_the_cases_agency_retries_and_only_a_dead_message(
    company, record, applicant, staff, other_agency, mail_server_down, settings
):
    settings.REDRESS_NOTIFY_MAX_ATTEMPTS = 1
    case = accepted(company, record, applicant, staff)
    message = one(messages_of(case))
    elsewhere = factories.officer(Role.SUPERVISOR, other_agency, username="supervisor-gz")

    with pytest.raises(WrongState, match="given up"):
        delivery.message_retry(message=message, by=staff["supervisor"])  # still pending
    assert delivery.deliver(message.pk) == "dead"
    for someone in (elsewhere, staff["case_officer"], applicant):
        with pytest.raises(NotPermitted, match="supervisor"):
            delivery.message_retry(message=message, by=someone)

    message.refresh_from_db()
    assert message.status == DEAD
    assert "notification_retried" not in notification_timeline(case)


def test_an_administrator_sees_dead_letters_and_retries_them_from_the_admin(
    client, company, record, applicant, staff, mail_server_down, settings
):
    settings.REDRESS_NOTIFY_MAX_ATTEMPTS = 1
    case = accepted(company, record, applicant, staff)
    message = one(messages_of(case))
    delivery.deliver(message.pk)
    admin = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)

    page = client.get("/admin/notifications/message/", {"status__exact": "dead"})
    assert page.status_code == 200
    assert applicant.email in page.content.decode()

    response = client.post(
        "/admin/notifications/message/",
        {"action": "retry", "_selected_action": [message.pk]},
        follow=True,
    )

    assert "Re-queued 1 message(s)." in response.content.decode()
    message.refresh_from_db()
    assert message.status == PENDING
    assert notification_timeline(case)[-1] == "notification_retried"
