"""Who may do what to which case.

Officers' roles are held per agency (``Membership``): a role at one agency gives
nothing at another. Entities act through a confirmed ``Representation`` of the
case's subject. Nobody acts as an officer on the case of a subject they have a tie to
(``conflict_of_interest``, APL Art. 43). Each check raises ``NotPermitted`` with a
reason a person can act on.
"""

from __future__ import annotations

import datetime
import functools
import operator
from dataclasses import dataclass

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.errors import NotPermitted
from cases.models import (
    Agency,
    Case,
    Membership,
    OrganisationMember,
    Representation,
    RepresentationRequest,
    Role,
    Subject,
    SubjectTie,
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


# --- conflict of interest ------------------------------------------------------------------------
# 《中华人民共和国行政处罚法》第四十三条: 执法人员与案件有直接利害关系或者有其他关系可能影响
# 公正执法的，应当回避。An officer with a direct interest in a case, or another relationship
# that may affect impartial enforcement, recuses themselves. Redress bars them outright:
# the ties below are what it knows, and every path where an officer acts on a case asks
# ``conflict_of_interest`` (directly, or through ``ensure_officer`` and the flow nodes).

RECUSAL_BASIS = "《中华人民共和国行政处罚法》第四十三条"
CONFLICT_CODE = "conflict_of_interest"


class Tie:
    """The kinds of tie that bar an officer, strongest first (the first found is named)."""

    REPRESENTATIVE = "representative"  # a confirmed link to the subject
    APPLICANT = "applicant"  # filed a case of the subject as its applicant
    REPRESENTATION_REQUESTED = "representation_requested"  # asked to act for it, in any state
    COMPANY_ACCOUNT = "company_account"  # in its company account, now or before
    DECLARED = "declared"  # a ``SubjectTie`` in force


@dataclass(frozen=True)
class _TieSource:
    """One place a tie is read from: rows of ``queryset`` pair a person with a subject."""

    tie: str
    queryset: QuerySet
    user_field: str
    subject_field: str

    def of_user(self, user_id) -> QuerySet:
        return self.queryset.filter(**{self.user_field: user_id}).values(self.subject_field)

    def of_subject(self, subject_id) -> QuerySet:
        return self.queryset.filter(**{self.subject_field: subject_id}).values(self.user_field)


def _tie_sources(on: datetime.date) -> list[_TieSource]:
    """Every tie that bars a person from acting as an officer on a subject's cases.

    The one definition of the rule: the check of one person and one subject, the filter
    of lists and the admin's warnings are all built from it. Conservative by design: a
    claim to act for the subject counts whether it is waiting, confirmed or was rejected
    (the person said they act for it), and so does a company account left long ago, and
    any case the person filed for the subject as its applicant.
    """
    return [
        _TieSource(
            Tie.REPRESENTATIVE,
            Representation.objects.filter(confirmed_at__isnull=False),
            "user_id",
            "subject_id",
        ),
        _TieSource(Tie.APPLICANT, Case.objects.all(), "applicant_id", "subject_id"),
        _TieSource(
            Tie.REPRESENTATION_REQUESTED,
            Representation.objects.filter(confirmed_at__isnull=True),
            "user_id",
            "subject_id",
        ),
        _TieSource(
            Tie.REPRESENTATION_REQUESTED,
            RepresentationRequest.objects.all(),
            "user_id",
            "subject_id",
        ),
        _TieSource(
            Tie.COMPANY_ACCOUNT,
            OrganisationMember.objects.all(),
            "user_id",
            "organisation__subject_id",
        ),
        _TieSource(Tie.DECLARED, SubjectTie.objects.in_force(on), "user_id", "subject_id"),
    ]


@dataclass(frozen=True)
class Conflict:
    """Why a person may not act as an officer on a subject's cases."""

    tie: str
    subject_name: str
    declared_kind: str = ""  # the ``SubjectTie.Kind`` of a declared tie

    def refusal(self, *, action: str, person: str = "") -> NotPermitted:
        """The refusal to raise. ``person`` names someone else (a supervisor assigning
        them): they are told that there is a tie, never which."""
        return NotPermitted(
            self.message(action=action, person=person), code=CONFLICT_CODE, basis=RECUSAL_BASIS
        )

    def message(self, *, action: str, person: str = "") -> str:
        """Why not, in the active language; ``action`` completes "you may not ... here"."""
        values = {
            "action": action,
            "subject": self.subject_name,
            "person": person,
            "kind": str(SubjectTie.Kind(self.declared_kind).label).lower()
            if self.declared_kind
            else "",
        }
        if person:
            return (
                _(
                    "%(person)s has a tie to %(subject)s, so they may not %(action)s here: an "
                    "officer recuses themselves from the cases of a subject they have a tie to "
                    "(Administrative Penalties Law, Article 43)."
                )
                % values
            )
        return CONFLICT_SENTENCES[self.tie] % values


# One whole sentence per tie, so that each language words it its own way.
CONFLICT_SENTENCES = {
    Tie.REPRESENTATIVE: gettext_lazy(
        "You represent %(subject)s, so you may not %(action)s here: an officer recuses "
        "themselves from the cases of a subject they have a tie to (Administrative Penalties "
        "Law, Article 43)."
    ),
    Tie.APPLICANT: gettext_lazy(
        "You applied on behalf of %(subject)s, so you may not %(action)s here: an officer "
        "recuses themselves from the cases of a subject they have a tie to (Administrative "
        "Penalties Law, Article 43)."
    ),
    Tie.REPRESENTATION_REQUESTED: gettext_lazy(
        "You asked to act for %(subject)s, so you may not %(action)s here: an officer recuses "
        "themselves from the cases of a subject they have a tie to (Administrative Penalties "
        "Law, Article 43)."
    ),
    Tie.COMPANY_ACCOUNT: gettext_lazy(
        "You are or were in the company account of %(subject)s, so you may not %(action)s "
        "here: an officer recuses themselves from the cases of a subject they have a tie to "
        "(Administrative Penalties Law, Article 43)."
    ),
    Tie.DECLARED: gettext_lazy(
        "A tie of yours to %(subject)s is on record (%(kind)s), so you may not %(action)s "
        "here: an officer recuses themselves from the cases of a subject they have a tie to "
        "(Administrative Penalties Law, Article 43)."
    ),
}


def conflict_of_interest(
    user: AbstractBaseUser | None, subject: Subject | int, *, on: datetime.date | None = None
) -> Conflict | None:
    """The tie that bars ``user`` from acting as an officer on ``subject``'s cases, or None.

    APL Art. 43. One query, whichever ties there are. ``on`` is the day the action
    happens (today by default): a declared tie bars only while it is in force.
    """
    if user is None or not user.is_authenticated:
        return None
    on = on or timezone.localdate()
    subject_id = subject if isinstance(subject, int) else subject.pk
    sources = _tie_sources(on)
    flags = {
        f"tie_{n}": Exists(source.of_user(user.pk).filter(**{source.subject_field: OuterRef("pk")}))
        for n, source in enumerate(sources)
    }
    declared_kind = Subquery(
        SubjectTie.objects.in_force(on)
        .filter(user_id=user.pk, subject_id=OuterRef("pk"))
        .order_by("recorded_at", "id")
        .values("kind")[:1]
    )
    row = (
        Subject.objects.filter(pk=subject_id)
        .annotate(**flags, declared_kind=declared_kind)
        .values("name", "declared_kind", *flags)
        .first()
    )
    if row is None:
        return None
    for n, source in enumerate(sources):
        if row[f"tie_{n}"]:
            return Conflict(
                tie=source.tie,
                subject_name=row["name"],
                declared_kind=(row["declared_kind"] or "") if source.tie == Tie.DECLARED else "",
            )
    return None


def conflict_refusal(
    user: AbstractBaseUser,
    subject: Subject | int,
    *,
    action: str,
    acting: AbstractBaseUser | None = None,
) -> NotPermitted | None:
    """The refusal (``conflict_of_interest``) if ``user`` has a tie to ``subject``, else None.

    ``action`` completes "... so you may not accept a case here": pass it translated. When
    someone else (``acting``, e.g. a supervisor assigning ``user``) is told, the message
    names ``user`` and not the kind of tie.
    """
    conflict = conflict_of_interest(user, subject)
    if conflict is None:
        return None
    person = user.get_username() if acting is not None and acting.pk != user.pk else ""
    return conflict.refusal(action=action, person=person)


def ensure_no_conflict(user: AbstractBaseUser, subject: Subject | int, *, action: str) -> None:
    """Raise ``NotPermitted`` (``conflict_of_interest``) if ``user`` has a tie to ``subject``."""
    refusal = conflict_refusal(user, subject, action=action)
    if refusal is not None:
        raise refusal


def ensure_officer(user: AbstractBaseUser, role: str, case: Case, *, action: str) -> None:
    """``user`` may act on ``case`` as ``role``: they hold the role at its agency and have
    no tie to its subject (APL Art. 43). Raises ``NotPermitted`` saying which is missing."""
    ensure_role(user, role, case.agency, action=action)
    ensure_no_conflict(user, case.subject_id, action=action)


def _any(conditions) -> Q:
    return functools.reduce(operator.or_, conditions)


def conflicted(user: AbstractBaseUser, *, subject_field: str = "subject_id") -> Q:
    """A filter for rows (cases, tasks, requests) whose subject ``user`` has a tie to.

    ``subject_field`` is the path to the subject's id (``process__case__subject_id`` for a
    task). A handful of uncorrelated subqueries driven by the person's own rows: a list
    filtered with it runs one query, however many rows it has.
    """
    sources = _tie_sources(timezone.localdate())
    return _any(Q(**{f"{subject_field}__in": source.of_user(user.pk)}) for source in sources)


def conflicted_users(subject: Subject | int, *, user_field: str = "pk") -> Q:
    """A filter for people (``user_field``: the path to a user's id) with a tie to ``subject``."""
    subject_id = subject if isinstance(subject, int) else subject.pk
    sources = _tie_sources(timezone.localdate())
    return _any(Q(**{f"{user_field}__in": source.of_subject(subject_id)}) for source in sources)


def with_any_tie(*, user_field: str = "pk") -> Q:
    """A filter for people with a tie to any subject (the admin flags officers who have one)."""
    sources = _tie_sources(timezone.localdate())
    return _any(
        Q(**{f"{user_field}__in": source.queryset.values(source.user_field)}) for source in sources
    )


def subjects_tied_to(user: AbstractBaseUser) -> QuerySet[Subject]:
    """The subjects whose cases ``user`` may not act on as an officer, by name."""
    return Subject.objects.filter(conflicted(user, subject_field="pk")).order_by("name")
