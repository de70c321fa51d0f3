"""Mail about people's accounts goes through the outbox, like case mail.

The link that activates a new account, an invitation into a company account, the notice
to a person a colleague removed, and the password-reset link: each is written to the
outbox in the transaction of the change that calls for it, and the worker delivers it to
a real SMTP server (aiosmtpd on 127.0.0.1), with retries and a dead letter an
administrator can send again. A mail server that is down delays the mail and never
undoes the sign-up; a change that rolls back mails nothing; the answers a page gives do
not tell whether an address has an account.

No worker runs here: its sweep (``notifications.tasks.sweep``) is called in-process, as
the beat schedule does.
"""

from __future__ import annotations

import re

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import PasswordResetForm as DjangosPasswordResetForm
from django.core import mail
from django.db import transaction
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone, translation

from cases import accounts
from cases.errors import NotPermitted
from cases.models import Organisation, OrganisationMember, PortalAccount
from notifications import delivery, tasks
from notifications.models import Message
from tests import factories
from tests.notification_helpers import SmtpServer, free_port

pytestmark = pytest.mark.django_db

User = get_user_model()
PASSWORD = "Harbour-lantern-742"  # passes Django's validators
NEW_PASSWORD = "Correct-Horse-Battery-9"
SENT, RETRYING, DEAD, PENDING = (
    Message.Status.SENT,
    Message.Status.RETRYING,
    Message.Status.DEAD,
    Message.Status.PENDING,
)


class MailServer:
    """Django's SMTP backend pointed at 127.0.0.1, where a real server listens once
    ``up()`` is called; until then nothing answers there (connection refused)."""

    def __init__(self, settings):
        self.settings = settings
        self.server: SmtpServer | None = None
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = free_port()
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_TIMEOUT = 2

    def up(self) -> MailServer:
        self.server = SmtpServer().start()
        self.settings.EMAIL_PORT = self.server.port
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()

    def to(self, address: str):
        return self.server.to(address) if self.server is not None else []


@pytest.fixture
def mail_server(settings):
    server = MailServer(settings)
    yield server
    server.stop()


@pytest.fixture
def smtp(mail_server):
    return mail_server.up()


def sweep_later() -> int:
    """The worker's sweep once every waiting message is due again (after its backoff)."""
    Message.objects.exclude(status=SENT).update(next_attempt_at=timezone.now())
    return tasks.sweep()


def sign_up(client, *, username="li-ming", email="li.ming@example.test", language="en"):
    return client.post(
        reverse("portal:signup"),
        {
            "username": username,
            "email": email,
            "password1": PASSWORD,
            "password2": PASSWORD,
            "language": language,
        },
    )


def account_mails(**filters) -> list[Message]:
    return list(Message.objects.filter(case=None, **filters).order_by("id"))


def portal_link(text: str) -> str:
    return re.search(r"http://testserver(/portal/\S+/)", text).group(1)


def reset_link(text: str) -> str:
    return re.search(r"/accounts/reset/\S+/", text).group(0)


CSRF = re.compile(r'name="csrfmiddlewaretoken" value="\w+"')


def company_account(company, *people) -> Organisation:
    organisation = Organisation.objects.create(
        name=company.name, subject=company, created_by=people[0]
    )
    for person in people:
        factories.representative(company, person.username)
        OrganisationMember.objects.create(organisation=organisation, user=person)
    return organisation


def reads(person, language: str) -> None:
    PortalAccount.objects.update_or_create(user=person, defaults={"language": language})


# --- the link that activates an account -----------------------------------------------------


def test_a_sign_up_while_the_mail_server_is_down_stands_and_its_link_arrives_once_it_is_back(
    client, mail_server
):
    response = sign_up(client)

    assert response["Location"] == reverse("portal:signup_done")
    user = User.objects.get(username="li-ming")
    [message] = account_mails()
    assert (message.kind, message.recipient_email, message.status) == (
        "email_verification_requested",
        "li.ming@example.test",
        PENDING,
    )

    tasks.sweep()  # the worker tries: the server is down

    message.refresh_from_db()
    assert message.status == RETRYING
    assert "Connection refused" in message.last_error
    assert User.objects.filter(pk=user.pk, is_active=False).exists()  # the sign-up stands

    mail_server.up()
    sweep_later()

    message.refresh_from_db()
    assert message.status == SENT
    [received] = mail_server.to("li.ming@example.test")
    assert received.subject == "Redress: confirm your e-mail address"
    assert "Hello li-ming," in received.text
    verified = client.get(portal_link(received.text))
    assert "your e-mail address is verified" in verified.content.decode()
    user.refresh_from_db()
    assert user.is_active


@pytest.mark.parametrize(
    "language, subject, greeting",
    [
        ("en", "Redress: confirm your e-mail address", "Hello li-ming,"),
        ("zh-hans", "Redress：请确认您的电子邮箱", "li-ming，您好："),
    ],
)
def test_the_verification_mail_is_queued_in_the_language_chosen_at_sign_up(
    client, smtp, language, subject, greeting
):
    sign_up(client, language=language)
    [message] = account_mails()

    tasks.sweep()

    message.refresh_from_db()
    assert (message.language, message.status, message.subject) == (language, SENT, subject)
    [received] = smtp.to("li.ming@example.test")
    assert received.subject == subject
    assert received.text.startswith(greeting)
    assert received.key == message.idempotency_key


def test_a_sign_up_that_rolls_back_mails_nothing(smtp):
    with pytest.raises(RuntimeError), transaction.atomic():
        accounts.account_sign_up(
            username="li-ming",
            email="li.ming@example.test",
            password=PASSWORD,
            language="en",
            site_url="http://testserver",
        )
        raise RuntimeError("the request failed after the sign-up")

    tasks.sweep()

    assert not User.objects.filter(username="li-ming").exists()
    assert account_mails() == []
    assert smtp.to("li.ming@example.test") == []


def test_asking_for_a_new_link_answers_alike_for_any_address_and_mails_only_a_waiting_account(
    client, smtp
):
    sign_up(client, username="waiting", email="waiting@example.test")
    factories.UserFactory(username="active", email="active@example.test")
    tasks.sweep()

    def ask(email):
        browser = Client()
        response = browser.post(reverse("portal:verification_resend"), {"email": email})
        page = browser.get(response["Location"]).content.decode()
        return response.status_code, response["Location"], re.sub(CSRF, "", page)

    answers = [
        ask(address)
        for address in ("waiting@example.test", "active@example.test", "nobody@example.test")
    ]
    tasks.sweep()

    assert answers[0] == answers[1] == answers[2]
    assert "a new link is on its way" in answers[0][2]
    assert [m.recipient_email for m in account_mails()] == ["waiting@example.test"] * 2
    _at_sign_up, again = smtp.to("waiting@example.test")
    assert smtp.to("active@example.test") == smtp.to("nobody@example.test") == []
    client.get(portal_link(again.text))
    assert User.objects.get(username="waiting").is_active


# --- company accounts ---------------------------------------------------------------------------


def test_an_invitation_is_queued_in_the_inviters_language_and_its_link_lets_the_colleague_in(
    client, company, applicant, smtp
):
    organisation = company_account(company, applicant)
    reads(applicant, "zh-hans")
    zhao = factories.UserFactory(username="zhao", email="zhao@example.test")
    client.force_login(applicant)

    client.post(
        reverse("portal:organisation_invite", args=[organisation.pk]),
        {"email": "zhao@example.test"},
    )
    [message] = account_mails()
    assert (message.kind, message.language, message.status) == (
        "organisation_invitation_sent",
        "zh-hans",
        PENDING,
    )
    tasks.sweep()

    [received] = smtp.to("zhao@example.test")
    assert received.subject == f"Redress：{company.name} 邀请您加入其企业账户"
    assert f"acme 邀请您在 Redress 中代理 {company.name}（{company.code}）" in received.text
    client.force_login(zhao)
    accepted = client.post(portal_link(received.text))
    assert accepted["Location"] == reverse("portal:records")
    assert organisation.members.current().filter(user=zhao).exists()


def test_a_removed_colleague_is_told_in_their_language_and_one_who_leaves_is_not(
    client, company, applicant, smtp
):
    wang = factories.UserFactory(username="wang")
    zhao = factories.UserFactory(username="zhao")
    organisation = company_account(company, applicant, wang, zhao)
    reads(wang, "zh-hans")
    remove = "portal:organisation_member_remove"

    client.force_login(applicant)
    client.post(reverse(remove, args=[organisation.pk, organisation.members.get(user=wang).pk]))
    client.force_login(zhao)
    client.post(reverse(remove, args=[organisation.pk, organisation.members.get(user=zhao).pk]))
    tasks.sweep()

    [message] = account_mails()
    assert (message.kind, message.recipient_user, message.status) == (
        "organisation_member_removed",
        wang,
        SENT,
    )
    [received] = smtp.to("wang@example.test")
    removed_on = timezone.localtime(organisation.members.get(user=wang).removed_at).date()
    assert received.subject == f"Redress：您已不再代理 {company.name}"
    assert received.text.startswith(
        f"acme 已于 {removed_on.isoformat()} 将您移出 Redress 中 {company.name}"
    )
    assert smtp.to("zhao@example.test") == []  # they left themselves


# --- the password-reset link -------------------------------------------------------------------


def ask_reset(email: str, *, language: str = "en", address: str = "10.0.0.1"):
    return Client(HTTP_ACCEPT_LANGUAGE=language).post(
        "/accounts/password_reset/", {"email": email}, REMOTE_ADDR=address
    )


def test_a_password_reset_asked_while_the_mail_server_is_down_arrives_once_it_is_back(
    applicant, mail_server
):
    for_an_account = ask_reset("acme@example.test", address="10.0.0.1")
    for_nobody = ask_reset("nobody@example.test", address="10.0.0.2")

    assert (for_an_account.status_code, for_an_account["Location"]) == (
        for_nobody.status_code,
        for_nobody["Location"],
    )
    [message] = account_mails()  # written in the request; nothing was sent there
    assert (message.kind, message.recipient_user, message.status) == (
        "password_reset_requested",
        applicant,
        PENDING,
    )
    tasks.sweep()
    message.refresh_from_db()
    assert message.status == RETRYING

    mail_server.up()
    sweep_later()

    [received] = mail_server.to("acme@example.test")
    browser = Client()
    form = browser.get(reset_link(received.text), follow=True)
    done = browser.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert done.status_code == 302
    applicant.refresh_from_db()
    assert applicant.check_password(NEW_PASSWORD)


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_password_reset_mail_is_djangos_own_in_the_language_it_was_asked_in(
    applicant, language
):
    ask_reset("acme@example.test", language=language)
    tasks.sweep()
    [ours] = mail.outbox
    mail.outbox.clear()

    # What Django's own form mails for the same request, sent at once.
    request = RequestFactory().post("/accounts/password_reset/")
    djangos = DjangosPasswordResetForm({"email": "acme@example.test"})
    assert djangos.is_valid()
    with translation.override(language):
        djangos.save(request=request)
    [theirs] = mail.outbox

    assert ours.subject == theirs.subject
    assert ours.to == theirs.to == ["acme@example.test"]
    assert reset_link(ours.body).split("/")[3] == reset_link(theirs.body).split("/")[3]  # uid
    without_link = re.compile(r"/accounts/reset/\S+/")
    assert without_link.sub("LINK", ours.body) == without_link.sub("LINK", theirs.body)
    assert ("重置" in ours.subject) == (language == "zh-hans")


# --- a dead account mail: the administrator's -------------------------------------------------


def test_a_dead_account_mail_is_the_administrators_to_send_again_not_a_supervisors(
    client, staff, mail_server, settings
):
    settings.REDRESS_NOTIFY_MAX_ATTEMPTS = 1
    sign_up(client)
    [message] = account_mails()
    tasks.sweep()
    message.refresh_from_db()
    assert message.status == DEAD

    supervisor = staff["supervisor"]
    client.force_login(supervisor)
    page = client.get(reverse("workspace:agency_problems")).content.decode()
    assert f'data-message="{message.pk}"' not in page  # no agency's business
    assert client.post(reverse("workspace:message_retry", args=[message.pk])).status_code == 404
    with pytest.raises(NotPermitted, match="Only an administrator can retry"):
        delivery.message_retry(message=message, by=supervisor)

    admin = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    client.force_login(admin)
    listed = client.get("/admin/notifications/message/", {"status__exact": "dead"})
    shown = client.get(f"/admin/notifications/message/{message.pk}/change/").content.decode()
    retried = client.post(
        "/admin/notifications/message/",
        {"action": "retry", "_selected_action": [message.pk]},
        follow=True,
    )

    assert "li.ming@example.test" in listed.content.decode()
    assert "Hello li-ming," in shown
    assert "/portal/verify/" not in shown  # the link activates the account: hidden
    assert "[link hidden: it acts for the recipient]" in shown
    assert "Re-queued 1 message(s)." in retried.content.decode()
    mail_server.up()
    tasks.sweep()
    message.refresh_from_db()
    assert message.status == SENT
    [received] = mail_server.to("li.ming@example.test")
    assert "/portal/verify/" in received.text
