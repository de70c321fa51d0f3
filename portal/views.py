"""The entity portal: plain, server-rendered pages for the people who act for a subject.

Sign up and verify an e-mail address, prove the link to a subject, manage the company
account (invite colleagues, revoke an invitation, remove a colleague or leave), see the
subject's records, file an objection or a restoration, upload evidence, answer a request
for missing materials, withdraw, and follow a case. A small officer-side page confirms
the links people claim.

Views translate between HTTP and the services: reads go through
``cases.selectors`` (a subject, record or case the person may not see is a 404),
writes through ``cases.transitions``, ``workflows.actions`` and
``cases.accounts``. A ``RedressError`` is shown on the page with its HTTP
status and its own message.
"""

from __future__ import annotations

import logging
import uuid
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.db.models import Count, OuterRef, Prefetch, Q
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django.views.i18n import set_language

from cases import access, accounts
from cases.errors import RedressError
from cases.ids import id_parse
from cases.keyset import CURSOR_PARAMETER, BadCursor, page_by_key, page_window
from cases.models import (
    Case,
    CaseRecord,
    ClockEntry,
    Deadline,
    Material,
    Publication,
)
from cases.publications import event_progress_words
from cases.rules import case_governing_rule_set, missing_required_materials
from cases.selectors import (
    api_token_of,
    api_tokens_of,
    case_for,
    cases_for,
    cases_for_page,
    organisation_invitation_of,
    organisation_member_of,
    organisation_of,
    organisations_of,
    records_for,
    representation_request_to_decide,
    representation_requests_of,
    representation_requests_to_decide,
    service_consent_in_force,
    subjects_for,
)
from cases.vocabulary import (
    actor_role_label,
    event_note_for_applicant,
    timeline_rows,
)
from documents.models import Letter
from documents.selectors import appeal_window, letter_services_of, letters_of_case
from notifications.models import Notification
from notifications.selectors import notifications_for
from notifications.services import notifications_mark_read
from portal.forms import (
    AppealForm,
    CaseFilingForm,
    CaseWithdrawForm,
    EvidenceUploadForm,
    InvitationForm,
    MaterialsSuppliedForm,
    RepresentationDecisionForm,
    RepresentationRequestForm,
    SignUpForm,
    StatementForm,
    VerificationResendForm,
    record_guides,
)
from workflows import actions
from workflows.selectors import case_detail

logger = logging.getLogger(__name__)

# What is happening to a case, said the way the applicant needs to hear it.
CURRENT_STEP = {
    Case.Status.SUBMITTED: _(
        "The agency is checking that your request is complete (acceptance check)."
    ),
    Case.Status.AWAITING_MATERIALS: _(
        "The agency asked you for missing materials. Its clock is stopped until you supply them."
    ),
    Case.Status.UNDER_REVIEW: _("A case officer is reviewing your evidence item by item."),
    Case.Status.LEGAL_REVIEW: _("A legal reviewer is checking the case."),
    Case.Status.SIGN_OFF: _("The responsible official is deciding (sign-off)."),
    Case.Status.REMOVAL: _("Decided. Every platform is withdrawing the record."),
    Case.Status.APPEAL_WINDOW: _(
        "Decided. You may apply for administrative reconsideration within 60 days, or sue "
        "within 6 months."
    ),
    Case.Status.CLOSED: _("Closed."),
    Case.Status.NOT_ACCEPTED: _("Not accepted: see the reasons and the letter."),
    Case.Status.LAPSED: _("Lapsed: the missing materials did not arrive by the deadline."),
    Case.Status.WITHDRAWN: _("Withdrawn: you withdrew this request."),
    Case.Status.REVOKED: _("The restoration was revoked: the record is published again."),
}

# --- the frame every page shares -------------------------------------------------------------------


def _is_officer(user) -> bool:
    """Holds a role at an agency (an auditor's too): such a person never acts for a subject."""
    return access.is_agency_member(user)


def _language_of_account(view):
    """A signed-in person without a language cookie reads the language they chose at sign-up."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        chosen = None
        if (
            request.user.is_authenticated
            and settings.LANGUAGE_COOKIE_NAME not in request.COOKIES
            and hasattr(request.user, "portal_account")
        ):
            chosen = request.user.portal_account.language
            translation.activate(chosen)
            request.LANGUAGE_CODE = chosen
        response = view(request, *args, **kwargs)
        if chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME,
                chosen,
                max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
                secure=settings.LANGUAGE_COOKIE_SECURE,
                httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
            )
        return response

    return wrapper


def entity_view(view):
    """A page for people acting for subjects: signed in, and not an officer (403)."""

    @wraps(view)
    @_language_of_account
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if _is_officer(request.user):
            raise PermissionDenied(
                gettext("Officers file on a subject's behalf in the workspace, not in the portal.")
            )
        return view(request, *args, **kwargs)

    return wrapper


def confirming_officer_view(view):
    """A page for intake officers and supervisors (of any agency); 403 for anyone else."""

    @wraps(view)
    @_language_of_account
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        if not access.agency_ids(request.user, *access.CONFIRMING_ROLES):
            raise PermissionDenied(
                gettext("Only an intake officer or a supervisor can confirm links.")
            )
        return view(request, *args, **kwargs)

    return wrapper


def page(request, template: str, context: dict | None = None, *, nav: str = "", status=200):
    """Render a portal page with what the frame shows (menu, unread count)."""
    user = request.user
    frame = {"nav": nav, "unread_count": 0, "is_entity": False, "is_confirming_officer": False}
    if user.is_authenticated:
        officer = _is_officer(user)
        frame["is_entity"] = not officer
        frame["is_confirming_officer"] = officer and bool(
            access.agency_ids(user, *access.CONFIRMING_ROLES)
        )
        if not officer:
            frame["unread_count"] = notifications_for(user).filter(read_at__isnull=True).count()
    return render(request, template, {**frame, **(context or {})}, status=status)


def _safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


def _site_url(request) -> str:
    return request.build_absolute_uri("/")


def _form_error(form, exc: RedressError) -> None:
    field = exc.field if exc.field in form.fields else None
    form.add_error(field, exc.message)


@require_POST
def language_switch(request):
    """Django's ``set_language``; a signed-in person's choice is remembered for their mails."""
    response = set_language(request)
    language = request.POST.get("language", "")
    if request.user.is_authenticated and language in dict(settings.LANGUAGES):
        accounts.account_language_set(user=request.user, language=language)
    return response


@require_GET
def accessibility(request):
    """Public: the accessibility statement, what was tested, how, and what is known not to
    meet WCAG 2.2 AA (docs/decisions/0027)."""
    return page(request, "portal/accessibility.html", nav="accessibility")


# --- sign-up and e-mail verification -----------------------------------------------------------------


@require_http_methods(["GET", "POST"])
def sign_up(request):
    if request.user.is_authenticated:
        return redirect("portal:index")
    form = SignUpForm(
        request.POST or None,
        initial={"language": accounts.language_normalise(translation.get_language())},
    )
    if request.method == "POST" and form.is_valid():
        try:
            accounts.account_sign_up(
                username=form.cleaned_data["username"],
                email=form.cleaned_data["email"],
                password=form.cleaned_data["password1"],
                language=form.cleaned_data["language"],
                site_url=_site_url(request),
            )
        except RedressError as exc:
            _form_error(form, exc)
        else:
            request.session["portal_signup_email"] = form.cleaned_data["email"]
            return redirect("portal:signup_done")
    status = 400 if form.errors else 200
    return page(request, "portal/signup.html", {"form": form}, nav="signup", status=status)


@require_GET
def sign_up_done(request):
    email = request.session.get("portal_signup_email", "")
    return page(
        request,
        "portal/signup_done.html",
        {"email": email, "form": VerificationResendForm(initial={"email": email})},
        nav="signup",
    )


@require_POST
def verification_resend(request):
    form = VerificationResendForm(request.POST)
    if form.is_valid():
        accounts.account_verification_resend(
            email=form.cleaned_data["email"], site_url=_site_url(request)
        )
        messages.success(
            request,
            gettext(
                "If an account with this address waits for activation, a new link is on its way."
            ),
        )
    return redirect("portal:signup_done")


@require_GET
def verify(request, token: str):
    try:
        user = accounts.account_verify(token=token)
    except RedressError as exc:
        return page(
            request,
            "portal/verify.html",
            {"error": exc.message, "form": VerificationResendForm()},
            status=exc.http_status,
        )
    return page(request, "portal/verify.html", {"verified_user": user})


# --- overview -----------------------------------------------------------------------------------------


def officers_to_workspace(view):
    """The portal's start page sends an officer (or an auditor) to the workspace, where they
    work, instead of refusing them."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.user.is_authenticated and _is_officer(request.user):
            return redirect("workspace:index")
        return view(request, *args, **kwargs)

    return wrapper


@officers_to_workspace
@entity_view
@require_GET
def index(request):
    user = request.user
    subjects = list(
        subjects_for(user)
        .annotate(
            record_count=Count("records", distinct=True),
            open_cases=Count(
                "cases", filter=Q(cases__status__in=Case.OPEN_STATUSES), distinct=True
            ),
        )
        .order_by("name")
    )
    pending = list(representation_requests_of(user)[:10])
    cases = list(cases_for(user).order_by("-submitted_at", "-id")[:5])
    return page(
        request,
        "portal/index.html",
        {"subjects": subjects, "requests": pending, "cases": cases},
        nav="index",
    )


# --- proving the link to a subject ---------------------------------------------------------------------


@entity_view
@require_http_methods(["GET", "POST"])
def link_request(request):
    form = RepresentationRequestForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            created = accounts.representation_request(
                user=request.user,
                code=form.cleaned_data["code"],
                kind=form.cleaned_data["kind"],
                upload=form.cleaned_data["proof"],
                note=form.cleaned_data["note"],
            )
        except RedressError as exc:
            form.add_error(
                "proof" if exc.code in {"too_large", "empty", "type_not_allowed"} else "code",
                exc.message,
            )
            return page(request, "portal/link_request.html", {"form": form}, nav="link", status=400)
        # The code the person typed, never the subject's name: the answer must not
        # tell whether any agency lists this subject.
        messages.success(
            request,
            gettext(
                "Your request to act for %(code)s was received. An officer of an agency that "
                "lists this subject (or a confirmed colleague) will check your proof; you "
                "will see the subject's records once it is confirmed."
            )
            % {"code": created.subject.code},
        )
        return redirect("portal:index")
    status = 400 if form.errors else 200
    return page(request, "portal/link_request.html", {"form": form}, nav="link", status=status)


@confirming_officer_view
@require_GET
def officer_representations(request):
    """Pending links to subjects that the officer's agencies list, oldest first."""
    requests = list(representation_requests_to_decide(request.user)[:100])
    return page(
        request,
        "portal/officer_representations.html",
        {
            "requests": [
                (r, RepresentationDecisionForm(auto_id=f"id_req{r.pk}_%s")) for r in requests
            ]
        },
        nav="officer",
    )


@require_POST
def representation_decide(request, pk):
    """Confirm or reject a link: an officer (first link) or a confirmed representative."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    found = representation_request_to_decide(request.user, pk)
    form = RepresentationDecisionForm(request.POST)
    fallback = (
        reverse("portal:officer_representations")
        if _is_officer(request.user)
        else reverse("portal:organisation")
    )
    if not form.is_valid():
        for errors in form.errors.values():
            for error in errors:
                messages.error(request, error)
        return redirect(_safe_next(request, fallback))
    try:
        if form.cleaned_data["decision"] == form.CONFIRM:
            accounts.representation_confirm(request=found, by=request.user)
            messages.success(
                request,
                gettext("%(user)s now acts for %(subject)s.")
                % {"user": found.user.get_username(), "subject": found.subject.name},
            )
        else:
            accounts.representation_reject(
                request=found, by=request.user, reason=form.cleaned_data["reason"]
            )
            messages.success(
                request,
                gettext("The request of %(user)s was rejected.")
                % {"user": found.user.get_username()},
            )
    except RedressError as exc:
        messages.error(request, exc.message)
    return redirect(_safe_next(request, fallback))


@require_GET
def representation_proof(request, pk):
    """The uploaded proof, for those who may decide the request."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    found = representation_request_to_decide(request.user, pk)
    try:
        handle = found.proof.storage.open(found.proof.name, "rb")
    except FileNotFoundError:
        raise Http404("The proof file is missing.") from None
    response = FileResponse(
        handle,
        as_attachment=True,
        filename=found.proof_name,
        content_type=found.proof_content_type or "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-cache"
    return response


# --- company account --------------------------------------------------------------------------------------


@entity_view
@require_GET
def organisation(request):
    """The person's company accounts: members, open invitations, former members, and the
    colleagues asking to join."""
    user = request.user
    organisations = list(organisations_of(user))
    requests = list(representation_requests_to_decide(user))
    return page(
        request,
        "portal/organisation.html",
        {
            "organisations": [
                (o, InvitationForm(auto_id=f"id_org{o.pk}_%s")) for o in organisations
            ],
            "requests": [
                (r, RepresentationDecisionForm(auto_id=f"id_req{r.pk}_%s")) for r in requests
            ],
        },
        nav="organisation",
    )


@entity_view
@require_POST
def organisation_invite(request, pk):
    found = organisation_of(request.user, pk)
    form = InvitationForm(request.POST)
    if not form.is_valid():
        messages.error(request, gettext("Enter a valid e-mail address."))
        return redirect("portal:organisation")
    try:
        accounts.organisation_invite(
            organisation=found,
            by=request.user,
            email=form.cleaned_data["email"],
            site_url=_site_url(request),
        )
    except RedressError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            gettext("Invitation sent to %(email)s.") % {"email": form.cleaned_data["email"]},
        )
    return redirect("portal:organisation")


@entity_view
@require_http_methods(["GET", "POST"])
def organisation_member_remove(request, pk, member_pk):
    """Confirm, then take a colleague out of the company account, or leave it oneself.

    Any member may remove another and anyone may leave, but the last member stays. The
    person's access to the company's records and cases ends with the POST. Someone else's
    company account, or a member of another account, is not found (404).
    """
    member = organisation_member_of(request.user, pk, member_pk)
    organisation = member.organisation
    leaving = member.user_id == request.user.pk
    error, status = "", 200
    if request.method == "POST":
        try:
            accounts.organisation_member_remove(member=member, by=request.user)
        except RedressError as exc:
            error, status = exc.message, exc.http_status
            member.refresh_from_db()
        else:
            if leaving:
                messages.success(
                    request,
                    gettext("You left the company account: you no longer act for %(name)s.")
                    % {"name": organisation.name},
                )
                return redirect("portal:index")
            messages.success(
                request,
                gettext("%(user)s no longer acts for %(name)s: their access ended at once.")
                % {"user": member.user.get_username(), "name": organisation.name},
            )
            return redirect("portal:organisation")
    others = organisation.members.current().exclude(pk=member.pk).exists()
    return page(
        request,
        "portal/member_remove.html",
        {
            "member": member,
            "organisation": organisation,
            "leaving": leaving,
            "can_remove": member.is_current and others,
            "error": error,
        },
        nav="organisation",
        status=status,
    )


@entity_view
@require_http_methods(["GET", "POST"])
def organisation_invitation_revoke(request, pk, invitation_pk):
    """Confirm, then revoke an invitation of the company account not yet accepted; its
    link stops working. Any member may revoke; anyone else gets a 404."""
    invitation = organisation_invitation_of(request.user, pk, invitation_pk)
    error, status = "", 200
    if request.method == "POST":
        try:
            accounts.invitation_revoke(invitation=invitation, by=request.user)
        except RedressError as exc:
            error, status = exc.message, exc.http_status
            invitation.refresh_from_db()
        else:
            messages.success(
                request,
                gettext("The invitation to %(email)s is revoked: its link no longer works.")
                % {"email": invitation.email},
            )
            return redirect("portal:organisation")
    return page(
        request,
        "portal/invitation_revoke.html",
        {"invitation": invitation, "organisation": invitation.organisation, "error": error},
        nav="organisation",
        status=status,
    )


@entity_view
@require_http_methods(["GET", "POST"])
def invitation(request, token: str):
    try:
        invite = accounts.invitation_read(token)
    except RedressError as exc:  # not valid, expired, or revoked: the message says which
        return page(
            request, "portal/invitation.html", {"error": exc.message}, status=exc.http_status
        )
    if request.method == "POST":
        try:
            accounts.invitation_accept(token=token, user=request.user)
        except RedressError as exc:
            return page(
                request,
                "portal/invitation.html",
                {"invitation": invite, "error": exc.message},
                status=exc.http_status,
            )
        messages.success(
            request,
            gettext("You now act for %(name)s.") % {"name": invite.organisation.name},
        )
        return redirect("portal:records")
    return page(request, "portal/invitation.html", {"invitation": invite})


# --- records -----------------------------------------------------------------------------------------------


def _open_cases_by_record(records) -> dict[int, dict[str, str]]:
    """record id → {kind: reference} of the open cases each record is in."""
    found: dict[int, dict[str, str]] = {}
    rows = CaseRecord.objects.filter(
        record__in=records, case__status__in=Case.OPEN_STATUSES
    ).values_list("record_id", "case__kind", "case__reference")
    for record_id, kind, reference in rows:
        found.setdefault(record_id, {})[kind] = str(
            _("Already in open case %(reference)s.") % {"reference": reference}
        )
    return found


@entity_view
@require_GET
def records(request):
    """Every record of the person's subjects, on every list, with when restoration is possible."""
    today = timezone.localdate()
    subjects = list(subjects_for(request.user).order_by("name"))
    rows = list(
        records_for(request.user)
        .filter(subject__in=subjects)
        .prefetch_related(
            Prefetch(
                "publications",
                queryset=Publication.objects.select_related("platform").order_by("platform__code"),
            )
        )
        .order_by("subject__name", "-listed_on", "id")
    )
    guides = {
        g.record.pk: g
        for g in record_guides(rows, today=today, open_cases=_open_cases_by_record(rows))
    }
    by_subject = [
        (subject, [(r, guides[r.pk]) for r in rows if r.subject_id == subject.pk])
        for subject in subjects
    ]
    return page(
        request,
        "portal/records.html",
        {"by_subject": by_subject, "today": today},
        nav="records",
    )


# --- filing ------------------------------------------------------------------------------------------------


def _case_filed_with_token(user, token: str) -> Case | None:
    try:
        token = str(uuid.UUID(token))
    except ValueError:
        return None
    return cases_for(user).filter(applicant=user, idempotency_key=token).first()


@entity_view
@require_http_methods(["GET", "POST"])
def case_file(request):
    """The guided filing form: kind, records and grounds, with what the rules ask for.

    A restoration the rules refuse (too early, or a barred penalty) is refused here with
    the reason, before anything is filed or uploaded. The form's token makes a second
    submission of the same page return the case the first one filed.
    """
    user = request.user
    today = timezone.localdate()
    subjects = list(subjects_for(user).order_by("name"))
    if not subjects:
        return page(request, "portal/file.html", {"subjects": []}, nav="file")
    wanted = request.POST.get("subject") or request.GET.get("subject")
    subject = next((s for s in subjects if str(s.pk) == str(wanted)), None)
    if wanted and subject is None:
        raise Http404("No such subject.")
    subject = subject or subjects[0]
    candidates = records_for(user).filter(subject=subject).order_by("-listed_on", "id")
    rows = list(candidates.prefetch_related("publications__platform"))
    guides = record_guides(rows, today=today, open_cases=_open_cases_by_record(rows))
    initial = {"kind": request.GET.get("kind") or Case.Kind.RESTORATION}
    if request.GET.get("record"):
        initial["records"] = request.GET.getlist("record")
    form = CaseFilingForm(request.POST or None, records=candidates, guides=guides, initial=initial)
    status = 200
    if request.method == "POST":
        already = _case_filed_with_token(user, request.POST.get("form_token", ""))
        if already is not None:  # a second click or a reload of the same page
            messages.info(
                request,
                gettext("Request %(reference)s was already filed from this form.")
                % {"reference": already.reference},
            )
            return redirect("portal:case", pk=already.pk)
        if form.is_valid():
            try:
                case = actions.case_submit(
                    kind=form.cleaned_data["kind"],
                    subject=subject,
                    records=list(form.cleaned_data["records"]),
                    grounds=form.cleaned_data["grounds"],
                    applicant=user,
                    channel=Case.Channel.PORTAL,
                    language=accounts.language_normalise(translation.get_language()),
                    idempotency_key=str(form.cleaned_data["form_token"]),
                )
            except RedressError as exc:
                _form_error(form, exc)
                status = exc.http_status
            else:
                messages.success(
                    request,
                    gettext("Request %(reference)s filed. Now upload the materials listed below.")
                    % {"reference": case.reference},
                )
                return redirect("portal:case", pk=case.pk)
        else:
            status = 400
    selected = [str(v) for v in (form["records"].value() or [])]
    return page(
        request,
        "portal/file.html",
        {
            "form": form,
            "subjects": subjects,
            "subject": subject,
            "guides": guides,
            "selected": selected,
            "kind": form["kind"].value() or Case.Kind.RESTORATION,
            "today": today,
        },
        nav="file",
        status=status,
    )


CASES_PER_PAGE = 50
CASE_ORDER = ["-submitted_at", "-id"]


# --- cases ---------------------------------------------------------------------------------------------------


@entity_view
@require_GET
def case_list(request):
    """The cases of the subjects the person acts for, 50 a page by key (``cases.keyset``):
    a company with a thousand cases does not load them all."""
    cursor = request.GET.get(CURSOR_PARAMETER)
    try:
        window = page_window(
            cursor, salt="portal-cases", ordering=CASE_ORDER, model=Case, size=CASES_PER_PAGE
        )
        cases = page_by_key(
            cases_for_page(request.user, window=window)
            .annotate(
                due_on=Deadline.objects.filter(
                    case_id=OuterRef("pk"), status=Deadline.Status.RUNNING
                )
                .order_by("-id")
                .values("due_on")[:1],
                due_provisional=Deadline.objects.filter(
                    case_id=OuterRef("pk"), status=Deadline.Status.RUNNING
                )
                .order_by("-id")
                .values("provisional")[:1],
            )
            .order_by(*CASE_ORDER),
            cursor,
            salt="portal-cases",
            size=CASES_PER_PAGE,
        )
    except BadCursor:
        return page(
            request,
            "portal/case_list.html",
            {"cases": [], "bad_cursor": BadCursor.message},
            nav="cases",
            status=400,
        )
    return page(request, "portal/case_list.html", {"cases": cases.rows, "page": cases}, nav="cases")


def _clock_lines(entries) -> list[tuple[ClockEntry, str]]:
    """Each clock entry in a sentence an applicant can read."""
    lines = []
    for entry in entries:
        values = {
            "step": entry.deadline.get_step_display(),
            "date": timezone.localtime(entry.at).date().isoformat(),
            "days": entry.days,
            "reason": entry.reason_text or gettext("no reason recorded"),
            "before": entry.due_before.isoformat() if entry.due_before else "—",
            "after": entry.due_after.isoformat() if entry.due_after else "—",
        }
        if entry.kind == ClockEntry.Kind.STARTED:
            text = gettext("%(step)s: %(days)s working days from %(date)s, due %(after)s.")
        elif entry.kind == ClockEntry.Kind.STOPPED:
            text = gettext(
                "%(step)s: clock stopped on %(date)s because %(reason)s; %(days)s working days left."
            )
        elif entry.kind == ClockEntry.Kind.RESUMED:
            text = gettext(
                "%(step)s: clock resumed on %(date)s (%(reason)s) with %(days)s working days "
                "left; now due %(after)s."
            )
        elif entry.kind == ClockEntry.Kind.EXTENDED:
            text = gettext(
                "%(step)s: extended by %(days)s working days on %(date)s: %(reason)s. "
                "Due %(before)s → %(after)s."
            )
        elif entry.kind == ClockEntry.Kind.RECOMPUTED:
            text = gettext(
                "%(step)s: recomputed on %(date)s (%(reason)s). Due %(before)s → %(after)s."
            )
        else:
            text = gettext("%(step)s: %(kind)s on %(date)s (%(reason)s).")
            values["kind"] = entry.get_kind_display().lower()
        lines.append((entry, text % values))
    return lines


def _letters(case: Case) -> list:
    """The case's issued letters."""
    return list(letters_of_case(case).filter(status=Letter.Status.ISSUED))


def _still_needed(case: Case) -> list[str]:
    """Materials the rules require that the case has no item of yet (restorations, and
    the court's ruling of a temporary restoration)."""
    # Before the acceptance check only: a request for missing materials lists them itself.
    if case.kind == Case.Kind.OBJECTION or case.status != Case.Status.SUBMITTED:
        return []
    try:
        rule_set = case_governing_rule_set(case, on=timezone.localdate())
    except RedressError:
        return []
    return missing_required_materials(case, rule_set)


def _case_context(request, case: Case, *, upload_form=None) -> dict:
    user = request.user
    detail = case_detail(case)
    today = timezone.localdate()
    still_needed = _still_needed(case)
    requested = [
        (
            Material(m["material"]).label if m.get("material") in Material.values else "",
            m.get("detail", ""),
        )
        for m in case.missing_materials
    ]
    suggested = [m["material"] for m in case.missing_materials if m.get("material")] or still_needed
    can_upload = case.status in Case.EVIDENCE_OPEN_STATUSES
    if can_upload and upload_form is None:
        upload_form = EvidenceUploadForm(
            case=case, case_records=detail.case_records, suggested=suggested
        )
    stopped = []
    for deadline in detail.deadlines:
        if deadline.status == Deadline.Status.STOPPED:
            entry = next(
                (
                    e
                    for e in reversed(detail.clock_entries)
                    if e.deadline_id == deadline.pk and e.kind == ClockEntry.Kind.STOPPED
                ),
                None,
            )
            stopped.append((deadline, entry))
    materials_deadline = next(
        (
            d
            for d in reversed(detail.deadlines)
            if d.step == Deadline.Step.MATERIALS and d.status == Deadline.Status.RUNNING
        ),
        None,
    )
    timeline = [
        (
            row.event,
            row.what,
            ""
            if row.event.automated and row.event.actor_role in {"", "system"}
            else actor_role_label(row.event.actor_role),
            row.event.note
            if event_note_for_applicant(row.event.kind)
            else event_progress_words(row.event.kind, row.event.data or {}),
        )
        for row in timeline_rows(detail.events, applicant=True)
    ]
    notifications = list(Notification.objects.filter(user=user, case=case)[:20])
    return {
        "case": case,
        "detail": detail,
        "today": today,
        "current_step": CURRENT_STEP.get(case.status, case.get_status_display()),
        "still_needed": [Material(m).label for m in still_needed],
        "requested": requested,
        "materials_deadline": materials_deadline,
        "stopped": stopped,
        "clock_lines": _clock_lines(detail.clock_entries),
        "timeline": timeline,
        "letters": _letters(case),
        "notifications": notifications,
        "case_unread": sum(1 for n in notifications if n.read_at is None),
        "can_upload": can_upload,
        "upload_form": upload_form,
        "can_withdraw": case.is_undecided,
        "statement_period": next(
            (
                d
                for d in reversed(detail.deadlines)
                if d.step == Deadline.Step.STATEMENT and d.status == Deadline.Status.RUNNING
            ),
            None,
        ),
        "statement_form": StatementForm(),
        "can_resubmit": case.status == Case.Status.AWAITING_MATERIALS,
        "resubmit_form": MaterialsSuppliedForm(),
        "max_upload_mb": settings.REDRESS_UPLOAD_MAX_BYTES // 1_048_576,
        "max_upload_bytes": settings.REDRESS_UPLOAD_MAX_BYTES,
        **_service_context(request, case),
    }


def _service_context(request, case: Case, *, appeal_form=None) -> dict:
    """How the case's letters were served, the appeal window, the appeals, and what the
    applicant may do about them (decision 0023)."""
    decided = case.decided_at is not None or case.status == Case.Status.NOT_ACCEPTED
    return {
        "window": appeal_window(case),
        "services": list(letter_services_of(case).select_related("consent")),
        "appeals": list(case.appeals.order_by("filed_on", "id")),
        "consent": service_consent_in_force(request.user, case),
        "can_appeal": decided,
        "appeal_form": appeal_form or AppealForm(),
    }


@entity_view
@require_GET
def case_page(request, pk):
    case = case_for(request.user, pk)
    return page(request, "portal/case.html", _case_context(request, case), nav="cases")


def _wants_json(request) -> bool:
    return request.headers.get(
        "x-requested-with"
    ) == "XMLHttpRequest" or "application/json" in request.headers.get("accept", "")


@entity_view
@require_POST
def evidence_upload(request, pk):
    """Add one or more files to a case, each checked on its own by ``evidence_add``.

    The page's script posts the files one at a time (to show each one's progress) and
    reads JSON; without the script the browser posts them all at once and the results
    come back as messages on the case page.
    """
    case = case_for(request.user, pk)
    form = EvidenceUploadForm(
        request.POST, case=case, case_records=list(case.case_records.select_related("record"))
    )
    files = request.FILES.getlist("files")
    as_json = _wants_json(request)
    refusal = _upload_refusal(form, files)
    if refusal:
        return _upload_refused(request, case, refusal, as_json=as_json)
    results = _evidence_add_each(
        case,
        files,
        uploaded_by=request.user,
        material=form.cleaned_data["material"],
        record=form.record_object(),
    )
    if as_json:
        return _upload_results_json(results)
    _upload_results_told(request, results)
    return redirect(reverse("portal:case", args=[case.pk]) + "#evidence")


def _upload_refusal(form: EvidenceUploadForm, files) -> str:
    """Why an upload cannot be taken as a whole, as a sentence; empty if it can: the
    form must say what the files are (and which record they support), with a file."""
    if not form.is_valid():
        return gettext("Check what the files are and which record they support.")
    if not files:
        return gettext("Choose at least one file.")
    return ""


def _upload_refused(request, case: Case, message: str, *, as_json: bool):
    """The answer to an upload refused as a whole: 400 with ``message`` to the page's
    script, or the case page with ``message`` shown as an error."""
    if as_json:
        return JsonResponse({"results": [], "message": message}, status=400)
    messages.error(request, message)
    return redirect("portal:case", pk=case.pk)


def _evidence_add_each(case: Case, files, *, uploaded_by, material: str, record) -> list[dict]:
    """Add each file through ``evidence_add``; one result per file, in order.

    A result says whether the file was taken (``ok``, with its SHA-256 and size, and
    ``duplicate`` if the case held the same content already, within this upload too)
    or why not (``message``, with the HTTP ``status`` of the refusal). A refused file
    does not stop the others.
    """
    known = set(case.evidence.values_list("pk", flat=True))
    results = []
    for upload in files:
        try:
            item = actions.evidence_add(
                case=case, uploaded_by=uploaded_by, upload=upload, material=material, record=record
            )
        except RedressError as exc:
            results.append(
                {
                    "name": upload.name,
                    "ok": False,
                    "message": exc.message,
                    "status": exc.http_status,
                }
            )
            continue
        duplicate = item.pk in known
        known.add(item.pk)
        results.append(
            {
                "name": upload.name,
                "ok": True,
                "duplicate": duplicate,
                "sha256": item.sha256,
                "size": item.size,
                "message": (
                    gettext("Already in the case (same content): kept once.")
                    if duplicate
                    else gettext("Added to the case.")
                ),
                "status": 200,
            }
        )
    return results


def _upload_results_json(results: list[dict]) -> JsonResponse:
    """The results for the page's script: 200 if any file was taken, else the status of
    the first refusal."""
    status = 200 if any(r["ok"] for r in results) else results[0]["status"]
    return JsonResponse({"results": results}, status=status)


def _upload_results_told(request, results: list[dict]) -> None:
    """Tell the person each file's result, as a message on the next page."""
    for result in results:
        if result["ok"]:
            messages.success(
                request,
                gettext("%(name)s: %(message)s SHA-256 %(sha256)s")
                % {
                    "name": result["name"],
                    "message": result["message"],
                    "sha256": result["sha256"],
                },
            )
        else:
            messages.error(
                request,
                gettext("%(name)s refused: %(message)s")
                % {"name": result["name"], "message": result["message"]},
            )


@entity_view
@require_POST
def materials_supplied(request, pk):
    """The applicant says the missing materials are in: the case returns to its step."""
    case = case_for(request.user, pk)
    form = MaterialsSuppliedForm(request.POST)
    note = form.cleaned_data["note"] if form.is_valid() else ""
    try:
        actions.case_resubmit(case=case, applicant=request.user, note=note)
    except RedressError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            gettext("Thank you: the case is back with the agency and its clock runs again."),
        )
    return redirect("portal:case", pk=case.pk)


@entity_view
@require_POST
def case_statement(request, pk):
    """The party's statement and defence on evidence from electronic monitoring, or its
    waiver (APL Arts. 41, 45, 62)."""
    case = case_for(request.user, pk)
    form = StatementForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("portal:case", pk=case.pk)
    try:
        actions.case_statement(
            case=case,
            applicant=request.user,
            statement=form.cleaned_data["statement"],
            waived=form.cleaned_data["waived"],
        )
    except RedressError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, gettext("Thank you: the agency has your statement."))
    return redirect("portal:case", pk=case.pk)


@entity_view
@require_http_methods(["GET", "POST"])
def case_withdraw(request, pk):
    """Confirm, then withdraw an undecided case."""
    case = case_for(request.user, pk)
    form = CaseWithdrawForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.case_withdraw(
                    case=case, applicant=request.user, reason=form.cleaned_data["reason"]
                )
            except RedressError as exc:
                form.add_error(None, exc.message)
                status = exc.http_status
            else:
                messages.success(
                    request,
                    gettext("Request %(reference)s is withdrawn.") % {"reference": case.reference},
                )
                return redirect("portal:case", pk=case.pk)
        else:
            status = 400
    return page(
        request, "portal/withdraw.html", {"case": case, "form": form}, nav="cases", status=status
    )


@entity_view
@require_GET
def letter_download(request, pk, letter_pk):
    """An issued letter of a case the person may see, as its PDF."""
    case = case_for(request.user, pk)
    letter = next((item for item in _letters(case) if item.pk == letter_pk), None)
    if letter is None or not letter.pdf:
        raise Http404("No such letter.")
    try:
        handle = letter.pdf.open("rb")
    except FileNotFoundError:
        raise Http404("The letter's file is missing.") from None
    # Opened in the portal with consent to electronic service: that serves the letter
    # (《市场监督管理信用修复管理办法》第十九条).
    actions.letter_open(letter=letter, user=request.user)
    response = FileResponse(
        handle, as_attachment=True, filename=letter.file_name, content_type="application/pdf"
    )
    response["Cache-Control"] = "private, no-cache"
    return response


@entity_view
@require_POST
def case_service_consent(request, pk):
    """The applicant consents to electronic service of this case's letters."""
    case = case_for(request.user, pk)
    try:
        actions.case_service_consent(case=case, applicant=request.user)
    except RedressError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            gettext(
                "You consented to electronic service: a letter you open here is served on "
                "the day you open it."
            ),
        )
    return redirect(reverse("portal:case", args=[case.pk]) + "#service")


@entity_view
@require_POST
def account_service_consent(request):
    """Consent to electronic service for every case of the account, or withdraw it."""
    if request.POST.get("consent") == "on":
        accounts.service_consent_account_give(user=request.user)
        messages.success(
            request,
            gettext(
                "You consented to electronic service for all your cases: a letter you open "
                "here is served on the day you open it."
            ),
        )
    else:
        accounts.service_consent_account_withdraw(user=request.user)
        messages.success(request, gettext("Your consent to electronic service is withdrawn."))
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = reverse("portal:cases")
    return redirect(target)


@entity_view
@require_POST
def case_appeal(request, pk):
    """The applicant records an appeal they filed against the decision."""
    case = case_for(request.user, pk)
    form = AppealForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            actions.appeal_record(
                case=case,
                by=request.user,
                kind=data["kind"],
                body=data["body"],
                filed_on=data["filed_on"],
                reference=data["reference"],
            )
        except RedressError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(request, gettext("Your appeal is recorded on the case."))
            return redirect(reverse("portal:case", args=[case.pk]) + "#appeals")
    context = _case_context(request, case)
    context.update(_service_context(request, case, appeal_form=form))
    return page(request, "portal/case.html", context, nav="cases", status=400)


# --- notifications ---------------------------------------------------------------------------------------------


@entity_view
@require_http_methods(["GET", "POST"])
def notifications(request):
    """The person's in-app notifications; POST marks them (all, one, or a case's) read."""
    status = 200
    if request.method == "POST":
        ids = [id_parse(i) for i in request.POST.getlist("id")] or None
        if ids is None or None not in ids:
            case = None
            if request.POST.get("case"):
                case = case_for(request.user, request.POST["case"])
            marked = notifications_mark_read(user=request.user, ids=ids, case=case)
            messages.success(request, gettext("Marked %(count)s as read.") % {"count": marked})
            return redirect(_safe_next(request, reverse("portal:notifications")))
        # A tampered form: say so, rather than mark nothing (or everything) read.
        messages.error(
            request, gettext("Nothing was marked read: a notification number is not valid.")
        )
        status = 400
    items = list(
        notifications_for(request.user).select_related("case").order_by("-created_at", "-id")[:100]
    )
    return page(
        request, "portal/notifications.html", {"items": items}, nav="notifications", status=status
    )


# --- API tokens ----------------------------------------------------------------------------------------


def api_tokens_revoke_posted(request) -> None:
    """Revoke what the token page's form names (one token, or ``all``) and say so."""
    if request.POST.get("all"):
        count = accounts.api_tokens_revoke_all(
            user=request.user, reason="revoked by the holder on the token page"
        )
        messages.success(
            request,
            ngettext("%(count)s token is revoked.", "%(count)s tokens are revoked.", count)
            % {"count": count},
        )
        return
    token = api_token_of(request.user, request.POST.get("token"))
    accounts.api_token_revoke(token=token, by=request.user)
    messages.success(request, gettext("Token %(prefix)s… is revoked.") % {"prefix": token.prefix})


@entity_view
@require_http_methods(["GET", "POST"])
def api_tokens(request):
    """The person's API tokens that still work; POST revokes one (``token``) or all."""
    if request.method == "POST":
        api_tokens_revoke_posted(request)
        return redirect("portal:api_tokens")
    return page(
        request,
        "portal/api_tokens.html",
        {
            "tokens": list(api_tokens_of(request.user)[:100]),
            "token_hours": settings.REDRESS_API_TOKEN_HOURS,
        },
        nav="api_tokens",
    )
