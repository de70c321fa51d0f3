"""Mail about people's accounts, queued from account events.

``on_account_event`` (connected in ``NotificationsConfig.ready``) turns what
``cases.accounts`` records through ``cases.signals.account_event_recorded`` into outbox
messages: e-mail only, with no case, written in the transaction of the change and
delivered by the worker like every other message (retries, dead letters, the status in
the admin). Such a message belongs to no agency, so no supervisor sees or retries it:
its dead letter is an administrator's, in the admin
(docs/decisions/0015-account-mail-through-the-outbox.md).

The link in a sign-up, invitation or password-reset mail acts for whoever holds it
(activates the account, accepts the invitation, sets a new password): the message is
marked ``LINK_IS_CREDENTIAL`` and the admin shows its body without the link.
"""

from __future__ import annotations

import re

from django.contrib.auth.models import AbstractBaseUser
from django.template import loader
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from cases.accounts import PASSWORD_RESET_LINK_PARTS, AccountEvent
from cases.models import OrganisationInvitation, OrganisationMember
from notifications import texts
from notifications.models import Message
from notifications.services import idempotency_key, outbox_enqueue, recipient_language

LINK_IS_CREDENTIAL = "link_is_credential"  # the payload's flag
_LINK = re.compile(r"https?://\S+")

# Django's own password-reset mail (what its reset form sends), translated by Django.
RESET_MAIL_SUBJECT = "registration/password_reset_subject.txt"
RESET_MAIL_BODY = "registration/password_reset_email.html"


def on_account_event(
    sender, *, kind: str, user: AbstractBaseUser, data: dict, event: str, **kwargs
) -> Message | None:
    """Queue the mail an account event calls for, if any; one per event (its id keys it)."""
    handler = _HANDLERS.get(kind)
    if handler is None:
        return None
    return handler(kind, user, data, key=idempotency_key("account", kind, event))


def _verification(kind: str, user: AbstractBaseUser, data: dict, *, key: str) -> Message:
    """To the new account's address, in the language chosen at sign-up."""
    language = recipient_language(user, None)
    subject, body = texts.account_render(
        kind, language, username=user.get_username(), link=data["link"]
    )
    return _mail(
        kind=kind,
        user=user,
        to=user.email,
        language=language,
        subject=subject,
        body=body,
        key=key,
        link_is_credential=True,
    )


def _invitation(kind: str, inviter: AbstractBaseUser, data: dict, *, key: str) -> Message:
    """To the invited address, in the inviter's language: the invited person may have no
    account (nor a language on record) yet, and colleagues read what the inviter reads."""
    invitation = OrganisationInvitation.objects.select_related("organisation__subject").get(
        pk=data["invitation"]
    )
    organisation = invitation.organisation
    language = recipient_language(inviter, None)
    subject, body = texts.account_render(
        kind,
        language,
        inviter=inviter.get_username(),
        name=organisation.name,
        code=organisation.subject.code,
        email=invitation.email,
        link=data["link"],
    )
    return _mail(
        kind=kind,
        user=None,
        to=invitation.email,
        language=language,
        subject=subject,
        body=body,
        key=key,
        link_is_credential=True,
    )


def _removal(kind: str, person: AbstractBaseUser, data: dict, *, key: str) -> Message | None:
    """To a person a colleague removed from a company account; nobody is told of leaving."""
    member = OrganisationMember.objects.select_related("organisation__subject", "removed_by").get(
        pk=data["member"]
    )
    if member.removed_by_id == person.pk or not person.email:
        return None
    organisation = member.organisation
    language = recipient_language(person, None)
    subject, body = texts.account_render(
        kind,
        language,
        by=member.removed_by.get_username(),
        name=organisation.name,
        code=organisation.subject.code,
        date=timezone.localtime(member.removed_at).date().isoformat(),
    )
    return _mail(
        kind=kind,
        user=person,
        to=person.email,
        language=language,
        subject=subject,
        body=body,
        key=key,
        link_is_credential=False,
    )


def _password_reset(kind: str, user: AbstractBaseUser, data: dict, *, key: str) -> Message:
    """Django's reset mail, in the language the reset was asked in."""
    language = data.get("language") or recipient_language(user, None)
    context = {part: data[part] for part in PASSWORD_RESET_LINK_PARTS}
    context.update(email=user.email, user=user)
    with translation.override(language):
        subject = "".join(loader.render_to_string(RESET_MAIL_SUBJECT, context).splitlines())
        body = loader.render_to_string(RESET_MAIL_BODY, context)
    return _mail(
        kind=kind,
        user=user,
        to=user.email,
        language=language,
        subject=subject,
        body=body,
        key=key,
        link_is_credential=True,
    )


_HANDLERS = {
    AccountEvent.VERIFICATION_REQUESTED: _verification,
    AccountEvent.INVITATION_SENT: _invitation,
    AccountEvent.MEMBER_REMOVED: _removal,
    AccountEvent.PASSWORD_RESET_REQUESTED: _password_reset,
}


def _mail(
    *,
    kind: str,
    user: AbstractBaseUser | None,
    to: str,
    language: str,
    subject: str,
    body: str,
    key: str,
    link_is_credential: bool,
) -> Message:
    return outbox_enqueue(
        case=None,
        kind=str(kind),
        channel=Message.Channel.EMAIL,
        key=key,
        recipient_user=user,
        recipient_email=to,
        language=language,
        subject=subject[:300],  # a company's name can be 300 characters on its own
        body=body,
        payload={LINK_IS_CREDENTIAL: link_is_credential},
    )


def message_body_for_staff(message: Message) -> str:
    """The body as the admin shows it: without the links that act for the recipient."""
    if not message.payload.get(LINK_IS_CREDENTIAL):
        return message.body
    return _LINK.sub(_("[link hidden: it acts for the recipient]"), message.body)
