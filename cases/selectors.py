"""Who can see which records and cases: every read that depends on the reader.

Filters run in the database (``Exists`` on foreign keys), never in Python, so that
a list costs the same with 10 or 100,000 cases: an entity sees the records and
cases of the subjects it is a confirmed representative of (and cases granted to
it one by one); an officer or an auditor those of the agencies they belong to.
A case outside that is "not found", never "forbidden": existence does not leak.

The portal's own reads live here too: link (representation) requests a person made or
may decide, and the company accounts a person is in, with their members and invitations;
and a person's own API tokens.
"""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import connection
from django.db.models import Exists, F, OuterRef, Prefetch, Q, QuerySet
from django.db.models.lookups import In
from django.http import Http404
from django.utils import timezone

from cases import access
from cases.ids import id_parse
from cases.models import (
    ApiToken,
    Case,
    CaseUserObjectPermission,
    Organisation,
    OrganisationInvitation,
    OrganisationMember,
    Record,
    Representation,
    RepresentationRequest,
    ServiceConsent,
    Subject,
)

INVITATION_VALID_FOR = datetime.timedelta(days=7)  # the invitation link's lifetime


def _id_or_404(pk, message: str) -> int:
    """``pk`` as an id (``cases.ids``); anything else is not found."""
    number = id_parse(pk)
    if number is None:
        raise Http404(message)
    return number


def _represents(user: AbstractBaseUser, subject_ref: str) -> Exists:
    return Exists(
        Representation.objects.filter(
            user=user, subject_id=OuterRef(subject_ref), confirmed_at__isnull=False
        )
    )


def _removed_from_company(user: AbstractBaseUser, subject_ref: str) -> Exists:
    """Whether ``user`` was removed from (or left) the company account of the subject."""
    return Exists(
        OrganisationMember.objects.removed().filter(
            user=user, organisation__subject_id=OuterRef(subject_ref)
        )
    )


def subjects_for(user: AbstractBaseUser) -> QuerySet[Subject]:
    """The subjects ``user`` acts for (confirmed representations only)."""
    if not user.is_authenticated:
        return Subject.objects.none()
    return Subject.objects.filter(_represents(user, "pk"))


def records_for(user: AbstractBaseUser) -> QuerySet[Record]:
    """Records the user may see: their subjects' (entity) or their agencies' (officer, auditor)."""
    if not user.is_authenticated:
        return Record.objects.none()
    return Record.objects.filter(
        _represents(user, "subject_id") | access.serving(user, agency_field="agency_id")
    ).select_related("list_type", "agency", "subject")


class AmongIds(In):
    """``id IN (subquery)`` that PostgreSQL answers by the primary key.

    There it is written ``id = ANY(ARRAY(subquery))``: the ids are gathered once and each
    row fetched by its key, which is right when they are few. As ``IN`` PostgreSQL joined the ids back to the table and, at
    100,000 cases, chose to scan all of them to find a company's 1,000 (issue 16,
    bench/plans). Elsewhere it is the plain ``IN``.
    """

    lookup_name = "among_ids"

    def as_postgresql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        if not rhs.startswith("("):
            rhs = f"({rhs})"
        return f"{lhs} = ANY(ARRAY{rhs})", (*lhs_params, *rhs_params)


Case._meta.pk.register_lookup(AmongIds)


def cases_for(user: AbstractBaseUser) -> QuerySet[Case]:
    """Cases the user may see.

    The applicant and the subject's confirmed representatives, the agency's
    officers and auditors, and anyone granted ``view_case`` on that one case. An
    applicant removed from the subject's company account no longer sees the cases
    they filed for it (unless they act for the subject again).
    """
    if not user.is_authenticated:
        return Case.objects.none()
    # One branch per way of seeing a case, each answered by its own index, and the ids
    # put together (UNION): an OR across the relations made PostgreSQL read every case
    # (issue 16: a company's 1,000 cases among 100,000 read all 100,000).
    branches = [
        Case.objects.filter(
            subject_id__in=Representation.objects.filter(
                user=user, confirmed_at__isnull=False
            ).values("subject_id")
        )
        .order_by()
        .values("pk"),
        CaseUserObjectPermission.objects.filter(user=user, permission__codename="view_case")
        .order_by()
        .values("content_object_id"),
    ]
    visible = (
        Case.objects.filter(applicant=user)
        .exclude(_removed_from_company(user, "subject_id"))
        .order_by()
        .values("pk")
        .union(*branches)
    )
    # The ids of those few branches are fetched by key (``among_ids``: an array built once;
    # as ``IN (subquery)`` PostgreSQL hash-joined a scan of every case, issue 16). The
    # person's agencies, from the memberships read once per request (access), are a
    # condition on the case itself, not a branch of the union: as a branch they put every
    # case of the agency into it before the page was cut (250,000 ids sorted for 51, 280 ms
    # at 1,000,000 cases); as a condition PostgreSQL walks the list's index in order and
    # stops at the page.
    agencies = sorted(access.agency_ids(user))
    condition = Q(pk__among_ids=visible)
    if agencies:
        condition |= Q(agency_id__in=agencies)
    return Case.objects.filter(condition).select_related("subject", "agency")


def cases_for_page(user: AbstractBaseUser, *, window: tuple[Q, list[str], int]) -> QuerySet[Case]:
    """``cases_for(user)`` cut to the rows one page of a list by key can show
    (``cases.keyset.page_window``): order and cut the result with the window's ordering.

    Each way of seeing a case is a branch walked by its own index in the list's order
    and stopped at the window's end: one branch per subject the person acts for
    (``case_subject_keyset``), their own applications (``case_applicant_keyset``), one per
    agency they serve, and the cases granted to them one by one. A company's 1,000 cases
    were otherwise all fetched and sorted to show 50 (issue 16, bench/RESULTS.md). A
    database that cannot cut a branch of a UNION (SQLite) gets ``cases_for`` whole, with the
    same page."""
    if not user.is_authenticated:
        return Case.objects.none()
    if not connection.features.supports_slicing_ordering_in_compound:
        return cases_for(user)
    condition, order, cut = window

    def walked(cases: QuerySet[Case]) -> QuerySet:
        return cases.filter(condition).order_by(*order).values("pk")[:cut]

    subjects = sorted(
        set(
            Representation.objects.filter(user=user, confirmed_at__isnull=False).values_list(
                "subject_id", flat=True
            )
        )
    )
    branches = [
        walked(
            Case.objects.filter(applicant=user).exclude(_removed_from_company(user, "subject_id"))
        ),
        walked(
            Case.objects.filter(
                pk__in=CaseUserObjectPermission.objects.filter(
                    user=user, permission__codename="view_case"
                ).values("content_object_id")
            )
        ),
        *(walked(Case.objects.filter(subject_id=subject)) for subject in subjects),
        *(walked(Case.objects.filter(agency_id=agency)) for agency in access.agency_ids(user)),
    ]
    return Case.objects.filter(pk__among_ids=branches[0].union(*branches[1:])).select_related(
        "subject", "agency"
    )


def case_correspondents(case: Case) -> list:
    """Who the agency writes to about ``case``: its applicant while they still act for it;
    once they have left the subject's company account, the people who act for the subject
    now (its confirmed representatives), so the case's notices still reach the company."""
    applicant = case.applicant
    if applicant.is_active and access.acts_for_case(applicant, case):
        return [applicant]
    User = get_user_model()
    return list(
        User.objects.filter(
            is_active=True,
            representations__subject_id=case.subject_id,
            representations__confirmed_at__isnull=False,
        )
        .exclude(pk=applicant.pk)
        .distinct()
        .order_by("pk")
    )


def subject_correspondents(subject: Subject) -> list:
    """Who the agency writes to about a subject's record outside any case: the people
    who act for the subject (its active, confirmed representatives)."""
    User = get_user_model()
    return list(
        User.objects.filter(
            is_active=True,
            representations__subject=subject,
            representations__confirmed_at__isnull=False,
        )
        .distinct()
        .order_by("pk")
    )


def case_for(user: AbstractBaseUser, pk) -> Case:
    """One case the user may see, or 404 (for a malformed id too)."""
    pk = _id_or_404(pk, "No such case.")
    case = cases_for(user).filter(pk=pk).first()
    if case is None:
        raise Http404("No such case.")
    return case


def is_entity(user: AbstractBaseUser) -> bool:
    """Acts for a subject and holds no agency role."""
    return (
        user.is_authenticated
        and not access.is_agency_member(user)
        and Representation.objects.filter(user=user).exists()
    )


# --- the portal: link (representation) requests ----------------------------------------------------


def representation_requests_of(user: AbstractBaseUser) -> QuerySet[RepresentationRequest]:
    """The person's own link requests still waiting or rejected, newest first."""
    if not user.is_authenticated:
        return RepresentationRequest.objects.none()
    return (
        RepresentationRequest.objects.filter(user=user)
        .exclude(status=RepresentationRequest.Status.CONFIRMED)
        .select_related("subject")
        .order_by("-created_at", "-id")
    )


def representation_requests_to_decide(user: AbstractBaseUser) -> QuerySet[RepresentationRequest]:
    """Pending link requests ``user`` may decide, oldest first: as an intake officer or
    supervisor of an agency that lists the subject and with no tie to it (APL Art. 43),
    or as a confirmed representative of the subject (never their own). ``is_first_link``
    says the subject has no confirmed representative yet, so only an officer may confirm."""
    if not user.is_authenticated:
        return RepresentationRequest.objects.none()
    confirming_agencies = access.agencies_of(user, *access.CONFIRMING_ROLES)
    lists_subject = Exists(
        Record.objects.filter(subject_id=OuterRef("subject_id"), agency_id__in=confirming_agencies)
    )
    # As ``portal_services._capacity`` decides: an officer of an agency that lists the
    # subject decides as an officer, so not at all with a tie to it (APL Art. 43).
    as_officer = lists_subject & ~access.conflicted(user, subject_field="subject_id")
    as_representative = _represents(user, "subject_id") & ~Q(user=user) & ~lists_subject
    first_link = ~Exists(
        Representation.objects.filter(subject_id=OuterRef("subject_id"), confirmed_at__isnull=False)
    )
    return (
        RepresentationRequest.objects.filter(status=RepresentationRequest.Status.PENDING)
        .filter(as_officer | as_representative)
        .annotate(is_first_link=first_link)
        .select_related("user", "subject")
        .order_by("created_at", "id")
    )


def representation_request_to_decide(user: AbstractBaseUser, pk) -> RepresentationRequest:
    """One pending request ``user`` may decide, or 404 (for a malformed id too)."""
    pk = _id_or_404(pk, "No such request.")
    found = representation_requests_to_decide(user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such request.")
    return found


# --- the portal: company accounts ------------------------------------------------------------------


def invitations_open(*, at: datetime.datetime | None = None) -> QuerySet[OrganisationInvitation]:
    """Invitations neither accepted nor revoked whose link still works, newest first."""
    at = at or timezone.now()
    return OrganisationInvitation.objects.filter(
        accepted_at__isnull=True, revoked_at__isnull=True, created_at__gt=at - INVITATION_VALID_FOR
    )


def organisations_of(user: AbstractBaseUser) -> QuerySet[Organisation]:
    """The company accounts ``user`` is in now, as a confirmed representative.

    Each comes with ``current_members`` (by joining date), ``open_invitations`` and
    ``former_members`` (removed or left, latest first) ready to show.
    """
    if not user.is_authenticated:
        return Organisation.objects.none()
    return (
        Organisation.objects.filter(
            Exists(
                OrganisationMember.objects.current().filter(organisation=OuterRef("pk"), user=user)
            ),
            _represents(user, "subject_id"),
        )
        .select_related("subject")
        .prefetch_related(
            Prefetch(
                "members",
                queryset=OrganisationMember.objects.current().select_related("user"),
                to_attr="current_members",
            ),
            Prefetch(
                "members",
                queryset=OrganisationMember.objects.removed()
                .select_related("user", "removed_by")
                .order_by("-removed_at", "-id"),
                to_attr="former_members",
            ),
            Prefetch(
                "invitations",
                queryset=invitations_open().select_related("invited_by"),
                to_attr="open_invitations",
            ),
        )
        .order_by("name")
    )


def organisation_of(user: AbstractBaseUser, pk) -> Organisation:
    """A company account ``user`` is in now, or 404 (for anyone else's too)."""
    pk = _id_or_404(pk, "No such company account.")
    found = organisations_of(user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such company account.")
    return found


def organisation_member_of(user: AbstractBaseUser, organisation_pk, pk) -> OrganisationMember:
    """A member (current or former) of a company account ``user`` is in now, or the
    person's own membership (so that leaving twice says so); 404 otherwise."""
    organisation_pk = _id_or_404(organisation_pk, "No such member.")
    pk = _id_or_404(pk, "No such member.")
    found = (
        OrganisationMember.objects.filter(pk=pk, organisation_id=organisation_pk)
        .filter(Q(user=user) | Q(organisation__in=organisations_of(user).values("pk")))
        .select_related("organisation__subject", "user", "removed_by")
        .first()
    )
    if found is None:
        raise Http404("No such member.")
    return found


def organisation_invitation_of(
    user: AbstractBaseUser, organisation_pk, pk
) -> OrganisationInvitation:
    """An invitation (in any state) of a company account ``user`` is in now, or 404."""
    organisation_pk = _id_or_404(organisation_pk, "No such invitation.")
    pk = _id_or_404(pk, "No such invitation.")
    found = (
        OrganisationInvitation.objects.filter(
            pk=pk,
            organisation_id=organisation_pk,
            organisation__in=organisations_of(user).values("pk"),
        )
        .select_related("organisation__subject", "invited_by", "revoked_by")
        .first()
    )
    if found is None:
        raise Http404("No such invitation.")
    return found


# --- a person's API tokens -------------------------------------------------------------------------


def api_tokens_of(user: AbstractBaseUser) -> QuerySet[ApiToken]:
    """The API tokens ``user`` holds that still work (not expired), newest first.
    Nobody sees anyone else's: an administrator revokes through the admin."""
    if not user.is_authenticated:
        return ApiToken.objects.none()
    return ApiToken.objects.filter(user=user).filter(
        Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
    )


def api_token_of(user: AbstractBaseUser, pk) -> ApiToken:
    """One of ``user``'s working API tokens, or 404 (for anyone else's too)."""
    pk = _id_or_404(pk, "No such token.")
    found = api_tokens_of(user).filter(pk=pk).first()
    if found is None:
        raise Http404("No such token.")
    return found


def service_consent_in_force(user: AbstractBaseUser, case: Case):
    """The consent to electronic service ``user`` gave for ``case`` or on their account
    that is in force, the case's own first; None if there is none."""
    if not user.is_authenticated:
        return None
    return (
        ServiceConsent.objects.filter(user=user, withdrawn_at__isnull=True)
        .filter(Q(case=case) | Q(case__isnull=True))
        .order_by(F("case_id").desc(nulls_last=True), "given_at")
        .first()
    )
