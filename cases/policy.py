"""Who may do what to which case.

Officers' roles are held per agency (``Membership``): a role at one agency gives
nothing at another. Entities act through a confirmed ``Representation`` of the
case's subject. Each check raises ``NotPermitted`` with a reason a person can act on.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser

from cases.errors import NotPermitted
from cases.models import Agency, Case, Membership, Representation, Role, Subject

OFFICER_ROLES = {Role.INTAKE, Role.CASE_OFFICER, Role.LEGAL_REVIEWER, Role.SIGNER, Role.SUPERVISOR}


def memberships_of(user: AbstractBaseUser) -> dict[int, set[str]]:
    """Agency id → the roles ``user`` holds there; read once and cached on the user object
    (which lives for one request)."""
    if not user.is_authenticated:
        return {}
    cache = user.__dict__.get("_redress_roles")
    if cache is None:
        cache = {}
        for agency_id, role in Membership.objects.filter(user=user).values_list(
            "agency_id", "role"
        ):
            cache.setdefault(agency_id, set()).add(role)
        user.__dict__["_redress_roles"] = cache
    return cache


def roles_at(user: AbstractBaseUser, agency: Agency | int) -> set[str]:
    """The roles ``user`` holds at ``agency``."""
    agency_id = agency if isinstance(agency, int) else agency.pk
    return memberships_of(user).get(agency_id, set())


def has_role(user: AbstractBaseUser, role: str, agency: Agency | int) -> bool:
    return role in roles_at(user, agency)


def ensure_role(user: AbstractBaseUser, role: str, agency: Agency, *, action: str) -> None:
    if not has_role(user, role, agency):
        raise NotPermitted(
            f"Only {role_with_article(role)} of {agency.code} may {action}.",
            code="role_required",
        )


def role_with_article(role: str) -> str:
    """'an intake officer', 'a case officer': for messages people read."""
    label = str(Role(role).label).lower()
    return ("an " if label[0] in "aeiou" else "a ") + label


def represents(user: AbstractBaseUser, subject: Subject) -> bool:
    """Whether ``user`` is a confirmed representative of ``subject``."""
    if not user.is_authenticated:
        return False
    return Representation.objects.filter(
        user=user, subject=subject, confirmed_at__isnull=False
    ).exists()


def ensure_applicant(user: AbstractBaseUser, case: Case, *, action: str) -> None:
    """The applicant, or another confirmed representative of the subject, may act on the case."""
    if case.applicant_id == user.pk or represents(user, case.subject):
        return
    raise NotPermitted(
        f"Only the applicant or a confirmed representative of the subject may {action}.",
        code="not_applicant",
    )
