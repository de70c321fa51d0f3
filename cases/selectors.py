"""Who can see which records and cases: every read that depends on the reader.

Filters run in the database (``Exists`` on foreign keys), never in Python, so that
a list costs the same with 10 or 100,000 cases: an entity sees the records and
cases of the subjects it is a confirmed representative of (and cases granted to
it one by one); an officer or an auditor those of the agencies they belong to.
A case outside that is "not found", never "forbidden": existence does not leak.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.http import Http404

from cases.models import (
    Case,
    CaseUserObjectPermission,
    Membership,
    Record,
    Representation,
    Subject,
)


def _represents(user: AbstractBaseUser, subject_ref: str) -> Exists:
    return Exists(
        Representation.objects.filter(
            user=user, subject_id=OuterRef(subject_ref), confirmed_at__isnull=False
        )
    )


def _member_of(user: AbstractBaseUser, agency_ref: str) -> Exists:
    return Exists(Membership.objects.filter(user=user, agency_id=OuterRef(agency_ref)))


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
        _represents(user, "subject_id") | _member_of(user, "agency_id")
    ).select_related("list_type", "agency", "subject")


def cases_for(user: AbstractBaseUser) -> QuerySet[Case]:
    """Cases the user may see.

    The applicant and the subject's confirmed representatives, the agency's
    officers and auditors, and anyone granted ``view_case`` on that one case.
    """
    if not user.is_authenticated:
        return Case.objects.none()
    granted = Exists(
        CaseUserObjectPermission.objects.filter(
            user=user, content_object_id=OuterRef("pk"), permission__codename="view_case"
        )
    )
    return Case.objects.filter(
        Q(applicant=user)
        | _represents(user, "subject_id")
        | _member_of(user, "agency_id")
        | granted
    ).select_related("subject", "agency")


def case_for(user: AbstractBaseUser, pk) -> Case:
    """One case the user may see, or 404 (for a malformed id too)."""
    try:
        pk = int(pk)
    except (TypeError, ValueError):
        raise Http404("No such case.") from None
    case = cases_for(user).filter(pk=pk).first()
    if case is None:
        raise Http404("No such case.")
    return case


def is_entity(user: AbstractBaseUser) -> bool:
    """Acts for a subject and holds no agency role."""
    return (
        user.is_authenticated
        and not Membership.objects.filter(user=user).exists()
        and Representation.objects.filter(user=user).exists()
    )
