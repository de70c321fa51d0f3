"""Who may do what to which case.

Officers' roles are held per agency (``Membership``): a role at one agency gives
nothing at another. Entities act through a confirmed ``Representation`` of the
case's subject. Each check raises ``NotPermitted`` with a reason a person can act on.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.errors import NotPermitted
from cases.models import (
    Agency,
    Case,
    Membership,
    OrganisationMember,
    Representation,
    Role,
    Subject,
)

OFFICER_ROLES = {Role.INTAKE, Role.CASE_OFFICER, Role.LEGAL_REVIEWER, Role.SIGNER, Role.SUPERVISOR}

# A role as it reads inside a sentence ("an intake officer"): the article is English
# grammar, so each phrase is translated whole rather than built from the role's label.
ROLE_IN_A_SENTENCE = {
    Role.INTAKE: gettext_lazy("an intake officer"),
    Role.CASE_OFFICER: gettext_lazy("a case officer"),
    Role.LEGAL_REVIEWER: gettext_lazy("a legal reviewer"),
    Role.SIGNER: gettext_lazy("a signing official"),
    Role.SUPERVISOR: gettext_lazy("a supervisor"),
    Role.AUDITOR: gettext_lazy("an auditor"),
}


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
    """Raise ``NotPermitted`` unless ``user`` holds ``role`` at ``agency``.

    ``action`` completes the sentence "Only an intake officer of SZAMR may ...": pass it
    translated (``gettext("accept a case")``).
    """
    if not has_role(user, role, agency):
        raise NotPermitted(
            _("Only %(role)s of %(agency)s may %(action)s.")
            % {"role": role_with_article(role), "agency": agency.code, "action": action},
            code="role_required",
        )


def role_with_article(role: str) -> str:
    """'an intake officer', 'a case officer': for messages people read, in the active
    language."""
    return str(ROLE_IN_A_SENTENCE[Role(role)])


def represents(user: AbstractBaseUser, subject: Subject) -> bool:
    """Whether ``user`` is a confirmed representative of ``subject``."""
    if not user.is_authenticated:
        return False
    return Representation.objects.filter(
        user=user, subject=subject, confirmed_at__isnull=False
    ).exists()


def left_company_of(user: AbstractBaseUser, subject: Subject) -> bool:
    """Whether ``user`` was removed from (or left) the subject's company account."""
    return (
        OrganisationMember.objects.removed()
        .filter(user=user, organisation__subject=subject)
        .exists()
    )


def acts_for_case(user: AbstractBaseUser, case: Case) -> bool:
    """A confirmed representative of the case's subject, or its applicant unless they
    have left the subject's company account."""
    if represents(user, case.subject):
        return True
    return case.applicant_id == user.pk and not left_company_of(user, case.subject)


def ensure_applicant(user: AbstractBaseUser, case: Case, *, action: str) -> None:
    """The applicant, or another confirmed representative of the subject, may act on the case.

    An applicant removed from the subject's company account no longer may.

    ``action`` completes the sentence "... may withdraw the case": pass it translated.
    """
    if acts_for_case(user, case):
        return
    raise NotPermitted(
        _("Only the applicant or a confirmed representative of the subject may %(action)s.")
        % {"action": action},
        code="not_applicant",
    )
