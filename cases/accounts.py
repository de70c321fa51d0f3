"""Writes the entity portal needs that are not case-state changes, and people's accounts.

Sign-up and e-mail verification, API tokens (issued at each login, revoked one by one,
all at once, on a new password and on signing out), the limit on password-reset mails,
company accounts (organisations, their members and invitations: sending, accepting,
revoking; removing a member or leaving), and the proof that a person acts for a subject
(representation requests and their confirmation). Case writes stay in ``cases.transitions``
and ``workflows.actions``; the portal's views call those directly.

Every function validates, writes in one transaction and returns what it made. What a
person is to be told by mail is recorded as an account event (``account_event_record``)
in that transaction; the notifications outbox composes the mail and its worker delivers
it, so a mail server that is down delays a mail but cannot undo the change. Failures a
person can act on raise a ``RedressError`` with a message saying what to do.
"""

from __future__ import annotations

import datetime
import enum
import logging
import math
import uuid

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from cases import access
from cases.errors import Duplicate, InvalidInput, NotPermitted, TooManyRequests, WrongState
from cases.identifiers import subject_code_identify, validate_subject_code
from cases.models import (
    ApiToken,
    CaseUserObjectPermission,
    Organisation,
    OrganisationInvitation,
    OrganisationMember,
    PasswordResetRequest,
    PortalAccount,
    Record,
    Representation,
    RepresentationRequest,
    ServiceConsent,
    Subject,
    SubjectTie,
)
from cases.selectors import INVITATION_VALID_FOR, invitations_open
from cases.signals import account_event_recorded
from cases.transitions import subject_for_code
from cases.uploads import upload_check

logger = logging.getLogger(__name__)

VERIFY_SALT = "redress.portal.email-verification"
VERIFY_MAX_AGE = 2 * 24 * 3600  # the link in the sign-up mail works for two days
INVITE_SALT = "redress.portal.organisation-invitation"
INVITE_MAX_AGE = int(INVITATION_VALID_FOR.total_seconds())
REPRESENTATIVE = "representative"  # the capacity of a representative who confirms a colleague


def language_normalise(language: str | None) -> str:
    """One of ``settings.LANGUAGES``' codes for ``language`` (``zh-hans`` when unknown)."""
    codes = [code for code, _label in settings.LANGUAGES]
    language = (language or "").lower()
    if language in codes:
        return language
    prefix = language.split("-")[0]
    return next((code for code in codes if code.split("-")[0] == prefix), codes[0])


def _site_url(site_url: str | None) -> str:
    return (site_url or settings.REDRESS_SITE_URL).rstrip("/")


class AccountEvent(enum.StrEnum):
    """What happened to an account, as ``account_event_recorded`` reports it (``kind``)."""

    # A sign-up (or a request for a new link) waits for its e-mail address to be proved.
    # data: link.
    VERIFICATION_REQUESTED = "email_verification_requested"
    # A member invited someone by e-mail into a company account; user: the inviter.
    # data: invitation (its id), link.
    INVITATION_SENT = "organisation_invitation_sent"
    # A person is out of a company account, removed by a colleague or leaving.
    # data: member (the id of the ended membership).
    MEMBER_REMOVED = "organisation_member_removed"
    # Someone asked for a password-reset link for this account. data: what Django's reset
    # mail is made of (uid, token, protocol, domain, site_name) and the language it was
    # asked in.
    PASSWORD_RESET_REQUESTED = "password_reset_requested"  # noqa: S105 - a name, not a password


def account_event_record(*, kind: AccountEvent, user: AbstractBaseUser, data: dict) -> str:
    """Tell the subscribers (the notifications outbox) that ``kind`` happened to ``user``'s
    account; they write what it calls for in the caller's transaction. Returns the
    event's id, unique to this call (what it causes is keyed by it).

    Refuses to run outside a transaction, like ``cases.events.event_record``: a mail about
    a change that then rolls back must never go out.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("account_event_record must run inside the transaction of its cause")
    event = uuid.uuid4().hex
    logger.info("Account event %s (%s) for %s", kind, event, user.get_username())
    account_event_recorded.send(sender=AccountEvent, kind=kind, user=user, data=data, event=event)
    return event


# --- accounts ------------------------------------------------------------------------------------


def account_sign_up(
    *, username: str, email: str, password: str, language: str, site_url: str | None = None
) -> AbstractBaseUser:
    """Create an inactive account and queue the mail with the link that activates it.

    The caller has validated the password (Django's validators) and the username.
    The account cannot sign in until the link is followed (``account_verify``). The
    account and its mail are written together: a mail server that is down delays the
    mail (the outbox retries it) and never undoes the sign-up.
    """
    User = get_user_model()
    email = User.objects.normalize_email(email).strip()
    if not email:
        raise InvalidInput(_("Enter an e-mail address."), field="email")
    if User.objects.filter(email__iexact=email).exists():
        raise Duplicate(
            _("An account with this e-mail address exists already: sign in instead."),
            code="email_taken",
            field="email",
        )
    language = language_normalise(language)
    with transaction.atomic():
        try:
            with transaction.atomic():
                user = User.objects.create_user(username, email, password, is_active=False)
                PortalAccount.objects.create(user=user, language=language)
        except IntegrityError:
            raise Duplicate(
                _("This username is taken: choose another."),
                code="username_taken",
                field="username",
            ) from None
        account_verification_send(user=user, site_url=site_url)
    return user


def account_verification_send(*, user: AbstractBaseUser, site_url: str | None = None) -> bool:
    """Queue a mail to ``user`` with a signed link (valid for two days) that activates the
    account, in the account's language; False, and nothing queued, if it is active."""
    if user.is_active:
        return False
    token = signing.dumps({"user": user.pk, "email": user.email}, salt=VERIFY_SALT)
    link = _site_url(site_url) + reverse("portal:verify", args=[token])
    with transaction.atomic():
        account_event_record(
            kind=AccountEvent.VERIFICATION_REQUESTED, user=user, data={"link": link}
        )
    return True


def account_verification_resend(*, email: str, site_url: str | None = None) -> None:
    """Send a new link to an account that was never activated (silently nothing otherwise).

    The caller answers alike whatever happens here: whether an address has an account
    is not told to whoever types it. Nothing here waits for the mail server either, so
    the time the answer takes tells nothing more.
    """
    User = get_user_model()
    for user in User.objects.filter(email__iexact=email.strip(), is_active=False):
        if PortalAccount.objects.filter(user=user, email_verified_at__isnull=True).exists():
            account_verification_send(user=user, site_url=site_url)


def account_verify(*, token: str) -> AbstractBaseUser:
    """Activate the account named by a sign-up link; following it twice is harmless."""
    try:
        data = signing.loads(token, salt=VERIFY_SALT, max_age=VERIFY_MAX_AGE)
    except signing.SignatureExpired:
        raise WrongState(
            _("This link has expired (links work for two days): ask for a new one."),
            code="link_expired",
        ) from None
    except signing.BadSignature:
        raise InvalidInput(
            _("This link is not valid: copy the whole link from the mail.")
        ) from None
    User = get_user_model()
    with transaction.atomic():
        user = User.objects.select_for_update().filter(pk=data.get("user")).first()
        if user is None or user.email != data.get("email"):
            raise InvalidInput(_("This link is not valid: copy the whole link from the mail."))
        account, _created = PortalAccount.objects.get_or_create(user=user)
        if account.email_verified_at is None:
            account.email_verified_at = timezone.now()
            account.save(update_fields=["email_verified_at"])
            if not user.is_active:
                user.is_active = True
                user.save(update_fields=["is_active"])
    return user


def account_language_set(*, user: AbstractBaseUser, language: str) -> None:
    """Remember the language a signed-in person chose (mails to them use it too)."""
    if not user.is_authenticated:
        return
    PortalAccount.objects.update_or_create(
        user=user, defaults={"language": language_normalise(language)}
    )


# --- API tokens ------------------------------------------------------------------------------------


def api_token_create(*, user: AbstractBaseUser) -> tuple[ApiToken, str]:
    """A new API token for ``user``, who has just proved their password.

    Returns the token and its text. The text is shown to the caller this once: only its
    digest is stored. The token expires ``REDRESS_API_TOKEN_HOURS`` from now. The
    user's expired tokens are swept at the same time (authentication refuses them
    anyway; this keeps their list short).
    """
    with transaction.atomic():
        ApiToken.objects.filter(user=user, expiry__lte=timezone.now()).delete()
        token, text = ApiToken.objects.create(user=user)
    logger.info("API token %s… issued to %s", token.prefix, user.get_username())
    return token, text


def api_token_revoke(*, token: ApiToken, by: AbstractBaseUser) -> None:
    """Revoke one API token; only its holder may (an administrator uses the admin).
    Revoking a token that is gone already is harmless."""
    if token.user_id != by.pk:
        raise NotPermitted(_("Only the holder of a token can revoke it."))
    ApiToken.objects.filter(pk=token.pk).delete()
    logger.info("API token %s… of %s revoked by its holder", token.prefix, by.get_username())


def api_tokens_revoke_all(*, user: AbstractBaseUser, reason: str) -> int:
    """Revoke every API token of ``user``; returns how many there were.

    ``reason`` (English, for the log) says why: the holder asked, a new password, a
    sign-out of the web pages.
    """
    count, _by_model = ApiToken.objects.filter(user=user).delete()
    if count:
        logger.info("%d API token(s) of %s revoked: %s", count, user.get_username(), reason)
    return count


def on_password_hash_saving(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    """``pre_save`` of the user model: note whether the stored password hash changes.

    Any path that gives a new password (the password change page, a reset link, the
    admin, ``changepassword``) or disables it ends in this save; so does Django's
    upgrade of a hash at login, which also ends the person's other web sessions.
    """
    instance._redress_password_changed = False
    if raw or instance.pk is None:
        return
    if update_fields is not None and "password" not in update_fields:
        return
    stored = type(instance).objects.filter(pk=instance.pk).values_list("password", flat=True)
    stored = stored.first()
    instance._redress_password_changed = stored is not None and stored != instance.password


def on_password_hash_saved(sender, instance, raw=False, **kwargs) -> None:
    """``post_save`` of the user model: a new password revokes every API token.

    Django itself ends the person's other web sessions (their session hash no longer
    matches); the tokens are ended here, right after the new password is saved (in the
    same transaction when the caller holds one).
    """
    if getattr(instance, "_redress_password_changed", False):
        instance._redress_password_changed = False
        api_tokens_revoke_all(user=instance, reason="password changed")


def on_signed_out(sender, request=None, user=None, **kwargs) -> None:
    """``user_logged_out``: signing out of the web pages revokes the person's API tokens
    too (docs/decisions/0011: signed out means signed out everywhere)."""
    if user is not None and user.is_authenticated:
        api_tokens_revoke_all(user=user, reason="signed out of the web pages")


# --- password reset: how many mails ---------------------------------------------------------------

PASSWORD_RESET_SALT = "redress.password-reset.email"  # noqa: S105 - a salt, not a password


def password_reset_admit(*, address: str | None, email: str) -> None:
    """Count one request for a password-reset mail, or refuse it.

    Raises ``TooManyRequests`` when the client's address, or the e-mail address typed,
    has had ``REDRESS_PASSWORD_RESET_ADDRESS_LIMIT`` (``..._EMAIL_LIMIT``) requests
    within ``REDRESS_PASSWORD_RESET_WINDOW``; a refused request does not count. The
    e-mail address counts whether or not an account has it, so that a refusal tells
    nothing about which accounts exist; it is kept only as a keyed hash.
    """
    now = timezone.now()
    window = settings.REDRESS_PASSWORD_RESET_WINDOW
    since = now - window
    digest = salted_hmac(PASSWORD_RESET_SALT, email.strip().lower(), algorithm="sha256")
    digest = digest.hexdigest()
    with transaction.atomic():
        PasswordResetRequest.objects.filter(requested_at__lt=since).delete()
        recent = PasswordResetRequest.objects.filter(requested_at__gte=since)
        limits = []
        if address:
            limits.append(
                (
                    recent.filter(address=address),
                    settings.REDRESS_PASSWORD_RESET_ADDRESS_LIMIT,
                    _(
                        "Too many password reset requests from your address: try again in "
                        "%(minutes)s minutes."
                    ),
                )
            )
        limits.append(
            (
                recent.filter(email_digest=digest),
                settings.REDRESS_PASSWORD_RESET_EMAIL_LIMIT,
                _(
                    "Too many password reset requests for this e-mail address: try again "
                    "in %(minutes)s minutes."
                ),
            )
        )
        for requests, limit, message in limits:
            times = list(
                requests.order_by("-requested_at").values_list("requested_at", flat=True)[:limit]
            )
            if len(times) >= limit:
                # Free again when the oldest of the last ``limit`` requests leaves the window.
                wait = times[-1] + window - now
                minutes = max(1, math.ceil(wait.total_seconds() / 60))
                logger.warning("Password reset refused for %s: too many requests", address)
                raise TooManyRequests(message % {"minutes": minutes}, field="email")
        PasswordResetRequest.objects.create(address=address, email_digest=digest, requested_at=now)


# What Django's password-reset form puts in its mail; the rest of its context (the user,
# the address) the mail's composer reads itself.
PASSWORD_RESET_LINK_PARTS = ("uid", "token", "protocol", "domain", "site_name")


def password_reset_send(*, user: AbstractBaseUser, link: dict, language: str) -> None:
    """Queue the mail with a password-reset link for ``user``, in ``language`` (the one the
    reset was asked in).

    ``link`` holds what Django's reset form made the link of (``PASSWORD_RESET_LINK_PARTS``);
    the form calls this once for each active account with the address typed, and for
    no other. The page answers alike either way and the request never waits for the
    mail server, so neither the answer nor its time tells whether an account has the
    address.
    """
    data = {part: link[part] for part in PASSWORD_RESET_LINK_PARTS}
    data["language"] = language_normalise(language)
    with transaction.atomic():
        account_event_record(kind=AccountEvent.PASSWORD_RESET_REQUESTED, user=user, data=data)


# --- representation: proving the link to a subject ---------------------------------------------------


def representation_request(
    *, user: AbstractBaseUser, code: str, upload, note: str = "", kind: str | None = None
) -> RepresentationRequest:
    """Claim to act for the subject with ``code``, with a proof of authorisation.

    The code is checked like any subject code (the message says which character is
    wrong; ``kind`` is "legal" or "natural", told from the code when not given, as
    ``subject_code_identify`` does); the proof like evidence (size, type by content). Creates an unconfirmed
    ``Representation``: the person sees nothing of the subject until it is confirmed.

    The answer to a well-formed code never depends on whether any agency lists the
    subject (who is on a list is not the requester's to learn by trying codes): a
    request for a subject nobody lists is kept and shown to the person as waiting like
    any other, and reaches the officers of an agency once that agency lists the
    subject (``cases.selectors.representation_requests_to_decide``). See
    docs/decisions/0013-api-edges.md.
    """
    code = (code or "").strip()
    if not code:
        raise InvalidInput(_("Enter the subject's code."), field="code")
    if kind:
        code = validate_subject_code(code, kind)
    else:
        code, kind = subject_code_identify(code)
    if access.is_agency_member(user):
        raise NotPermitted(
            _("Officers cannot represent subjects: use a separate account for that."),
            code="officer",
        )
    existing = Representation.objects.filter(user=user, subject__code=code).first()
    if existing is not None:
        if existing.is_confirmed:
            raise Duplicate(_("You already represent this subject."), code="already_confirmed")
        raise Duplicate(
            _("Your request for this subject is waiting for confirmation."), code="pending"
        )
    checked = upload_check(upload)
    stored = []
    try:
        with transaction.atomic():
            subject = subject_for_code(code=code, kind=kind)
            representation = Representation.objects.create(user=user, subject=subject)
            request = RepresentationRequest(
                user=user,
                subject=subject,
                representation=representation,
                note=(note or "").strip(),
                proof_name=checked.name,
                proof_sha256=checked.sha256,
                proof_size=checked.size,
                proof_content_type=checked.content_type,
            )
            request.proof.save("proof", ContentFile(checked.content), save=False)
            stored.append(request.proof.name)
            request.save()
    except BaseException:
        for name in stored:  # the row rolled back: the file goes too
            RepresentationRequest.proof.field.storage.delete(name)
        raise
    return request


def _officer_role(user: AbstractBaseUser, subject: Subject) -> str | None:
    """The role in which ``user`` may decide links to ``subject``: intake officer or
    supervisor of any agency that lists the subject; None if neither."""
    listing = (
        Record.objects.filter(
            subject=subject, agency_id__in=access.agencies_of(user, *access.CONFIRMING_ROLES)
        )
        .values_list("agency_id", flat=True)
        .distinct()
    )
    held = {role for agency_id in listing for role in access.roles_at(user, agency_id)}
    return min(held & set(access.CONFIRMING_ROLES), default=None)


def _capacity(user: AbstractBaseUser, request: RepresentationRequest) -> str:
    """In which capacity ``user`` may decide ``request``; raises NotPermitted if none.

    An officer with a tie to the subject (their own request is one) decides none of its
    links (APL Art. 43), not even as a representative: it is the officer who is barred.
    """
    role = _officer_role(user, request.subject)
    if role:
        access.ensure_no_conflict(user, request.subject, action=_("decide a link to it"))
        return role
    if user.pk != request.user_id and access.represents(user, request.subject):
        return REPRESENTATIVE
    raise NotPermitted(
        _(
            "Only an intake officer or supervisor of an agency that lists this subject, or a "
            "confirmed representative of the subject, may decide this request."
        ),
        code="not_permitted",
    )


def organisation_for(subject: Subject, *, founder: AbstractBaseUser) -> Organisation | None:
    """The company account of a legal-person subject, created on its first confirmed link."""
    if subject.kind != Subject.Kind.LEGAL:
        return None
    organisation, _created = Organisation.objects.get_or_create(
        subject=subject, defaults={"name": subject.name, "created_by": founder}
    )
    return organisation


def _member_add(organisation: Organisation | None, user, *, added_by) -> None:
    """Put ``user`` in the company account; someone removed earlier gets a new membership."""
    if organisation is not None:
        OrganisationMember.objects.get_or_create(
            organisation=organisation, user=user, removed_at=None, defaults={"added_by": added_by}
        )


def representation_confirm(
    *, request: RepresentationRequest, by: AbstractBaseUser
) -> RepresentationRequest:
    """Confirm a pending link: the person now sees the subject's records and may file.

    The first link of a subject needs an officer; once the subject has a confirmed
    representative, that representative may confirm colleagues too. A legal person's
    company account is created with the first confirmed link.
    """
    with transaction.atomic():
        request = (
            RepresentationRequest.objects.select_for_update()
            .select_related("subject", "user")
            .get(pk=request.pk)
        )
        if request.status != RepresentationRequest.Status.PENDING:
            raise WrongState(_("This request was already decided."), code="decided")
        capacity = _capacity(by, request)
        if access.is_agency_member(request.user):
            # The request predates the person's agency role: an officer who represented
            # a subject would be barred from its cases, so the two stay separate accounts.
            raise NotPermitted(
                _(
                    "%(user)s now holds a role at an agency: officers cannot represent "
                    "subjects, so the link is not confirmed. They ask again from a separate "
                    "account."
                )
                % {"user": request.user.get_username()},
                code="officer",
            )
        now = timezone.now()
        representation, _created = Representation.objects.get_or_create(
            user=request.user, subject=request.subject
        )
        representation.confirmed_at = now
        representation.confirmed_by = by
        representation.save(update_fields=["confirmed_at", "confirmed_by"])
        request.representation = representation
        request.status = RepresentationRequest.Status.CONFIRMED
        request.decided_by = by
        request.decided_as = capacity
        request.decided_at = now
        request.save(
            update_fields=["representation", "status", "decided_by", "decided_as", "decided_at"]
        )
        organisation = organisation_for(request.subject, founder=request.user)
        if capacity == REPRESENTATIVE:
            _member_add(organisation, by, added_by=None)
        _member_add(organisation, request.user, added_by=by)
    return request


def representation_reject(
    *, request: RepresentationRequest, by: AbstractBaseUser, reason: str
) -> RepresentationRequest:
    """Refuse a pending link, saying why; the person may try again with better proof."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("State why the request is rejected."), field="reason")
    with transaction.atomic():
        request = RepresentationRequest.objects.select_for_update().get(pk=request.pk)
        if request.status != RepresentationRequest.Status.PENDING:
            raise WrongState(_("This request was already decided."), code="decided")
        capacity = _capacity(by, request)
        Representation.objects.filter(
            user_id=request.user_id, subject_id=request.subject_id, confirmed_at__isnull=True
        ).delete()
        request.status = RepresentationRequest.Status.REJECTED
        request.decided_by = by
        request.decided_as = capacity
        request.decided_at = timezone.now()
        request.reason = reason
        request.save(update_fields=["status", "decided_by", "decided_as", "decided_at", "reason"])
    return request


# --- company accounts: invitations ---------------------------------------------------------------
# Who may do what in a company account: there is no owner or administrator. Every member
# (a confirmed representative of the company) may invite colleagues, revoke an invitation
# not yet accepted, and remove another member; anyone may leave. The account always keeps
# at least one member, so the company is never left without someone who acts for it.


def _is_member(organisation: Organisation, user: AbstractBaseUser) -> bool:
    """Whether ``user`` is in the company account now, as a confirmed representative."""
    return OrganisationMember.objects.current().filter(
        organisation=organisation, user=user
    ).exists() and access.represents(user, organisation.subject)


def _date(moment) -> str:
    return timezone.localtime(moment).date().isoformat()


def organisation_invite(
    *, organisation: Organisation, by: AbstractBaseUser, email: str, site_url: str | None = None
) -> OrganisationInvitation:
    """A member invites a colleague by e-mail; the mail (queued with the invitation, in
    the inviter's language) carries a link valid for 7 days."""
    User = get_user_model()
    email = User.objects.normalize_email(email or "").strip()
    if not email:
        raise InvalidInput(_("Enter an e-mail address."), field="email")
    if not _is_member(organisation, by):
        raise NotPermitted(
            _("Only a confirmed representative in the company account may invite colleagues."),
            code="not_member",
        )
    if (
        OrganisationMember.objects.current()
        .filter(organisation=organisation, user__email__iexact=email)
        .exists()
    ):
        raise Duplicate(_("This person is already in the company account."), code="member")
    with transaction.atomic():
        invitation = OrganisationInvitation.objects.create(
            organisation=organisation, email=email, invited_by=by
        )
        token = signing.dumps({"invitation": invitation.pk, "email": email}, salt=INVITE_SALT)
        link = _site_url(site_url) + reverse("portal:invitation", args=[token])
        account_event_record(
            kind=AccountEvent.INVITATION_SENT,
            user=by,
            data={"invitation": invitation.pk, "link": link},
        )
    return invitation


def invitation_read(token: str) -> OrganisationInvitation:
    """The open invitation a link names; raises a RedressError for a bad or expired link."""
    try:
        data = signing.loads(token, salt=INVITE_SALT, max_age=INVITE_MAX_AGE)
    except signing.SignatureExpired:
        raise WrongState(
            _("This invitation has expired: ask your colleague for a new one."), code="expired"
        ) from None
    except signing.BadSignature:
        raise InvalidInput(_("This invitation link is not valid.")) from None
    invitation = (
        OrganisationInvitation.objects.filter(pk=data.get("invitation"), email=data.get("email"))
        .select_related("organisation__subject", "invited_by")
        .first()
    )
    if invitation is None:
        raise InvalidInput(_("This invitation link is not valid."))
    if invitation.revoked_at is not None:
        raise WrongState(_revoked_link_message(), code="revoked")
    return invitation


def _revoked_link_message() -> str:
    return _(
        "This invitation was revoked by the company: ask a colleague there for a new one "
        "if you are still to act for it."
    )


def invitation_accept(*, token: str, user: AbstractBaseUser) -> Organisation:
    """Accept an invitation: the signed-in person becomes a confirmed representative.

    The account's e-mail must be the invited address; the inviter's confirmation
    stands for the link (they are a confirmed representative of the subject).
    """
    invitation = invitation_read(token)
    if invitation.accepted_at is not None:
        raise WrongState(_("This invitation was already accepted."), code="accepted")
    if (user.email or "").lower() != invitation.email.lower():
        raise NotPermitted(
            _("This invitation is for %(email)s: sign in with the account of that address.")
            % {"email": invitation.email},
            code="other_email",
        )
    if access.is_agency_member(user):
        raise NotPermitted(
            _("Officers cannot represent subjects: use a separate account for that."),
            code="officer",
        )
    organisation = invitation.organisation
    if not access.represents(invitation.invited_by, organisation.subject):
        raise NotPermitted(
            _("The colleague who invited you no longer represents the company."),
            code="inviter_gone",
        )
    now = timezone.now()
    with transaction.atomic():
        invitation = OrganisationInvitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.revoked_at is not None:  # revoked while the person was reading it
            raise WrongState(_revoked_link_message(), code="revoked")
        if invitation.accepted_at is not None:
            raise WrongState(_("This invitation was already accepted."), code="accepted")
        representation, _created = Representation.objects.get_or_create(
            user=user, subject=organisation.subject
        )
        if not representation.is_confirmed:
            representation.confirmed_at = now
            representation.confirmed_by = invitation.invited_by
            representation.save(update_fields=["confirmed_at", "confirmed_by"])
        RepresentationRequest.objects.filter(
            user=user, subject=organisation.subject, status=RepresentationRequest.Status.PENDING
        ).update(
            status=RepresentationRequest.Status.CONFIRMED,
            representation=representation,
            decided_by=invitation.invited_by,
            decided_as=REPRESENTATIVE,
            decided_at=now,
        )
        _member_add(organisation, user, added_by=invitation.invited_by)
        invitation.accepted_at = now
        invitation.accepted_by = user
        invitation.save(update_fields=["accepted_at", "accepted_by"])
    return organisation


def invitation_revoke(
    *, invitation: OrganisationInvitation, by: AbstractBaseUser
) -> OrganisationInvitation:
    """Revoke an invitation not yet accepted: its link stops working at once and says so.

    Any member of the company account may revoke any of its invitations. One already
    accepted cannot be revoked (remove the person instead); revoking twice is refused.
    """
    with transaction.atomic():
        invitation = (
            OrganisationInvitation.objects.select_for_update(of=("self",))
            .select_related("organisation__subject")
            .get(pk=invitation.pk)
        )
        if not _is_member(invitation.organisation, by):
            raise NotPermitted(
                _("Only a confirmed representative in the company account may revoke invitations."),
                code="not_member",
            )
        if invitation.revoked_at is not None:
            raise WrongState(
                _("The invitation to %(email)s was already revoked on %(date)s.")
                % {"email": invitation.email, "date": _date(invitation.revoked_at)},
                code="revoked",
            )
        if invitation.accepted_at is not None:
            raise WrongState(
                _(
                    "The invitation to %(email)s was already accepted: to take the access "
                    "away, remove the person from the company account."
                )
                % {"email": invitation.email},
                code="accepted",
            )
        invitation.revoked_at = timezone.now()
        invitation.revoked_by = by
        invitation.save(update_fields=["revoked_at", "revoked_by"])
    return invitation


# --- company accounts: removing a member, leaving --------------------------------------------------


def organisation_member_remove(
    *, member: OrganisationMember, by: AbstractBaseUser
) -> OrganisationMember:
    """Take a person out of a company account; ``by`` is another member, or the person
    themselves when they leave.

    The person loses at once everything the account gave them: their confirmed link to
    the company (so its records and cases, and the cases they filed for it, are no longer
    theirs to see), any per-case grant on its cases, and the invitations they sent or
    that were sent to them and are still open (revoked). The last member cannot be
    removed or leave. The row stays, with who removed the person and when; the removal
    is recorded as an account event, from which a person removed by a colleague is told
    by mail.
    """
    with transaction.atomic():
        organisation, member = _membership_lock(member)
        _ensure_may_remove(organisation, member, by=by)
        _ensure_still_member(organisation, member, by=by)
        _ensure_not_last_member(organisation, member, by=by)
        now = timezone.now()
        _membership_end(member, by=by, at=now)
        _company_access_end(member.user, organisation=organisation)
        _company_invitations_revoke(member.user, organisation=organisation, by=by, at=now)
        account_event_record(
            kind=AccountEvent.MEMBER_REMOVED, user=member.user, data={"member": member.pk}
        )
    return member


def _membership_lock(member: OrganisationMember) -> tuple[Organisation, OrganisationMember]:
    """The company account and the membership, locked in that order, freshly read."""
    # The company account's row serialises removals, so two members removing each
    # other at once cannot leave it empty.
    organisation = (
        Organisation.objects.select_for_update(of=("self",))
        .select_related("subject")
        .get(pk=member.organisation_id)
    )
    # Only the row itself is locked: PostgreSQL cannot lock the nullable side of the
    # outer join to ``removed_by``.
    member = (
        OrganisationMember.objects.select_for_update(of=("self",))
        .select_related("user", "removed_by")
        .get(pk=member.pk)
    )
    return organisation, member


def _leaving(member: OrganisationMember, by: AbstractBaseUser) -> bool:
    return member.user_id == by.pk


def _ensure_may_remove(
    organisation: Organisation, member: OrganisationMember, *, by: AbstractBaseUser
) -> None:
    """Anyone may leave; only a member (a confirmed representative) removes someone else."""
    if not _leaving(member, by) and not _is_member(organisation, by):
        raise NotPermitted(
            _("Only a confirmed representative in the company account may remove colleagues."),
            code="not_member",
        )


def _ensure_still_member(
    organisation: Organisation, member: OrganisationMember, *, by: AbstractBaseUser
) -> None:
    """A membership ends once: the second try says when it ended."""
    if member.removed_at is None:
        return
    if _leaving(member, by):
        message = _("You are no longer in the company account of %(company)s (since %(date)s).")
    else:
        message = _(
            "%(name)s was already removed from the company account of %(company)s on %(date)s."
        )
    raise WrongState(
        message
        % {
            "name": member.user.get_username(),
            "company": organisation.name,
            "date": _date(member.removed_at),
        },
        code="removed",
    )


def _ensure_not_last_member(
    organisation: Organisation, member: OrganisationMember, *, by: AbstractBaseUser
) -> None:
    """The company always keeps someone who acts for it."""
    others = (
        OrganisationMember.objects.current().filter(organisation=organisation).exclude(pk=member.pk)
    )
    if others.exists():
        return
    if _leaving(member, by):
        message = _(
            "You are the last representative in the company account of %(company)s "
            "and cannot leave it: invite a colleague first, so that someone can still "
            "act for the company."
        )
    else:
        message = _(
            "%(name)s is the last representative in the company account of %(company)s "
            "and cannot be removed."
        )
    raise WrongState(
        message % {"name": member.user.get_username(), "company": organisation.name},
        code="last_member",
    )


def _membership_end(
    member: OrganisationMember, *, by: AbstractBaseUser, at: datetime.datetime
) -> None:
    """The row stays, with who ended the membership and when."""
    member.removed_at = at
    member.removed_by = by
    member.save(update_fields=["removed_at", "removed_by"])


def _company_access_end(person: AbstractBaseUser, *, organisation: Organisation) -> None:
    """Whatever let ``person`` see the company and its cases goes."""
    # What lets a person see a subject is the confirmed link, not the membership.
    Representation.objects.filter(user=person, subject=organisation.subject).delete()
    CaseUserObjectPermission.objects.filter(
        user=person, content_object__subject=organisation.subject
    ).delete()


def _company_invitations_revoke(
    person: AbstractBaseUser,
    *,
    organisation: Organisation,
    by: AbstractBaseUser,
    at: datetime.datetime,
) -> None:
    """The company's open invitations ``person`` sent, or that were sent to them, end."""
    sent_by_or_to = Q(invited_by=person)
    if person.email:
        sent_by_or_to |= Q(email__iexact=person.email)
    invitations_open(at=at).filter(sent_by_or_to, organisation=organisation).update(
        revoked_at=at, revoked_by=by
    )


# --- in-app notifications -----------------------------------------------------------------------


# --- ties to subjects (conflicts of interest) ------------------------------------


def subject_tie_record(
    *,
    user: AbstractBaseUser,
    subject_code: str,
    kind: str,
    recorded_by: AbstractBaseUser,
    note: str = "",
    valid_from: datetime.date | None = None,
    valid_until: datetime.date | None = None,
) -> SubjectTie:
    """Record ``user``'s tie to the subject with ``subject_code``; from ``valid_from``
    (today by default) they may not act as an officer on its cases (APL Art. 43).

    An officer declares their own ties; an administrator (staff) records anyone's. A tie
    is only ever added here: ending one early (``valid_until``) is the administrator's.
    """
    if recorded_by.pk != user.pk and not recorded_by.is_staff:
        raise NotPermitted(
            _("Only an administrator may record someone else's tie to a subject."),
            code="not_permitted",
        )
    code, _kind = subject_code_identify((subject_code or "").strip())
    subject = Subject.objects.filter(code=code).first()
    if subject is None:
        raise InvalidInput(
            _(
                "No subject with the code %(code)s is in Redress: a tie can be recorded once "
                "the subject is listed."
            )
            % {"code": code},
            field="subject_code",
        )
    tie = SubjectTie(
        user=user,
        subject=subject,
        kind=kind,
        note=(note or "").strip(),
        valid_from=valid_from or timezone.localdate(),
        valid_until=valid_until,
        recorded_by=recorded_by,
    )
    try:
        tie.full_clean()
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        field = None if field == NON_FIELD_ERRORS else field
        raise InvalidInput(" ".join(messages), field=field) from None
    tie.save()
    return tie


# --- consent to electronic service ------------------------------------------------------------


def service_consent_account_give(*, user: AbstractBaseUser) -> ServiceConsent:
    """The account holder consents to electronic service of the letters of every case
    they are applicant of (《市场监督管理信用修复管理办法》第十九条); the date is kept. Given
    twice, the consent in force is returned."""
    with transaction.atomic():
        consent = (
            ServiceConsent.objects.select_for_update()
            .filter(user=user, case__isnull=True, withdrawn_at__isnull=True)
            .first()
        )
        if consent is None:
            consent = ServiceConsent.objects.create(user=user)
    return consent


def service_consent_account_withdraw(*, user: AbstractBaseUser) -> int:
    """The account's consent ends: letters opened from now on are not served by opening
    them (those already served stay served). The number of consents withdrawn."""
    return ServiceConsent.objects.filter(
        user=user, case__isnull=True, withdrawn_at__isnull=True
    ).update(withdrawn_at=timezone.now())
