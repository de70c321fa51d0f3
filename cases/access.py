"""Who may do what to which case: the one access module.

It answers, for every page, API view, choice list and service:

- which agencies a person serves and in which roles (``memberships_of``, ``agencies_of``,
  ``people_holding``): officers' roles are held per agency, a role at one agency gives
  nothing at another;
- who acts for a case on the applicant's side (``acts_for_case``): a confirmed
  ``Representation`` of the case's subject, or its applicant;
- who is barred from a step of a case, and why (``step_refusal``, ``assignable``): the
  step's role at the case's agency (``STEP_ROLES``), a tie to the case's subject
  (``conflict_of_interest``, APL Art. 43), the legal qualification a legal review needs
  (``QUALIFIED_STEPS``, APL Art. 58 ¶2) and four eyes across rounds (``FOUR_EYES``,
  docs/decisions/0005).

Each rule is defined once and read three ways: for one person and one case (with the
reason, one query), as a filter of people (a choice list) and as a filter of rows (a task
list, one query however long). Each check raises ``NotPermitted`` with a reason a person
can act on.
"""

from __future__ import annotations

import datetime
import functools
import operator
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Exists, F, IntegerField, OuterRef, Q, QuerySet, Value
from django.db.models.expressions import Combinable
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cases.errors import NotPermitted
from cases.held import held_memo
from cases.models import (
    Agency,
    Case,
    CaseEvent,
    Membership,
    OrganisationMember,
    Representation,
    RepresentationRequest,
    Role,
    Signature,
    StaffProfile,
    Subject,
    SubjectTie,
)

# Every role but the auditor's, who reads and exports and acts on no case.
OFFICER_ROLES = frozenset(
    {Role.INTAKE, Role.CASE_OFFICER, Role.LEGAL_REVIEWER, Role.SIGNER, Role.SUPERVISOR}
)
# The officers who may confirm a person's link to a subject that their agency lists.
CONFIRMING_ROLES = (Role.INTAKE, Role.SUPERVISOR)

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

Person = AbstractBaseUser | Combinable  # a user, or a reference to one inside a query


def _person_id(user: Person):
    """The id of ``user``, or the reference as given (``OuterRef("pk")`` inside a list of
    people), so that one rule serves a check and a filter."""
    return user if isinstance(user, Combinable) else user.pk


# --- which agencies a person serves, and in which roles -------------------------------------------


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


def agency_ids(user: AbstractBaseUser, *roles: str) -> set[int]:
    """The ids of the agencies where ``user`` holds any role (or one of ``roles``)."""
    return {
        agency_id
        for agency_id, held in memberships_of(user).items()
        if not roles or held & set(roles)
    }


def is_agency_member(user: AbstractBaseUser) -> bool:
    """Whether ``user`` works at or audits an agency: such a person uses the workspace, and
    never represents a subject."""
    return bool(memberships_of(user))


def is_officer(user: AbstractBaseUser) -> bool:
    """Whether ``user`` holds an officer's role (not only an auditor's) at some agency."""
    return any(held & OFFICER_ROLES for held in memberships_of(user).values())


def agencies_of(user: AbstractBaseUser, *roles: str) -> QuerySet:
    """The ids of the agencies where ``user`` holds any role (or one of ``roles``), as a
    subquery: ``Case.objects.filter(agency_id__in=agencies_of(user))`` stays one query."""
    if not user.is_authenticated:
        return Membership.objects.none().values("agency_id")
    memberships = Membership.objects.filter(user=user)
    if roles:
        memberships = memberships.filter(role__in=roles)
    return memberships.values("agency_id")


def serving(user: Person, *, agency_field: str, role: str | Combinable | None = None) -> Exists:
    """Whether ``user`` holds ``role`` (any role when None) at each row's agency.

    ``agency_field`` is the row's path to its agency's id; ``role`` a role or a reference
    to the row's (``OuterRef("owner_permission")``: a task's role).
    """
    memberships = Membership.objects.filter(
        user_id=_person_id(user), agency_id=OuterRef(agency_field)
    )
    if role is not None:
        memberships = memberships.filter(role=role)
    return Exists(memberships)


def people_holding(*roles: str, at: Agency | int | QuerySet | None = None) -> QuerySet:
    """The active people holding one of ``roles`` (any officer's role when none is named)
    at ``at``: an agency, its id, or a subquery of ids (``agencies_of(supervisor, ...)``);
    anywhere when None. The role and the agency are of the same membership."""
    membership = {"memberships__role__in": roles or OFFICER_ROLES}
    if isinstance(at, QuerySet):
        membership["memberships__agency_id__in"] = at
    elif at is not None:
        membership["memberships__agency_id"] = at if isinstance(at, int) else at.pk
    return get_user_model().objects.filter(is_active=True, **membership).distinct()


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

    APL Art. 43. One query when there is no tie, whichever ties there could be (the
    subject's name and a declared tie's kind are read only for a refusal's words).
    ``on`` is the day the action happens (today by default): a declared tie bars only
    while it is in force.
    """
    if user is None or not user.is_authenticated:
        return None
    on = on or timezone.localdate()
    subject_id = subject if isinstance(subject, int) else subject.pk
    memo = held_memo(subject_id)  # a step's checks ask the same inside one transaction
    if memo is not None and ("conflict", user.pk, on) in memo:
        return memo[("conflict", user.pk, on)]
    conflict = _conflict_read(user, subject_id, on)
    if memo is not None:
        memo[("conflict", user.pk, on)] = conflict
    return conflict


def _conflict_read(user: AbstractBaseUser, subject_id: int, on: datetime.date) -> Conflict | None:
    """Which tie bars ``user`` from ``subject_id``: the first of ``_tie_sources`` that has a
    row of the person's for the subject, read as one UNION of the person's own rows (each
    branch by its person's index, the source's number its only column). Only when there
    is a tie are the subject's name and the declared tie's kind read (a refusal's words).
    The same answer read as one EXISTS per source on the subject's row cost about four
    times the Python to build, on every claim and every step (issue 16, bench/RESULTS.md)."""
    sources = _tie_sources(on)
    branches = [
        source.of_user(user.pk)
        .filter(**{source.subject_field: subject_id})
        .order_by()
        .annotate(source_number=Value(n, output_field=IntegerField()))
        .values_list("source_number", flat=True)
        for n, source in enumerate(sources)
    ]
    found = set(branches[0].union(*branches[1:]))
    if not found:
        return None
    source = sources[min(found)]
    name = Subject.objects.filter(pk=subject_id).values_list("name", flat=True).first()
    if name is None:
        return None
    declared_kind = ""
    if source.tie == Tie.DECLARED:
        declared_kind = (
            SubjectTie.objects.in_force(on)
            .filter(user_id=user.pk, subject_id=subject_id)
            .order_by("recorded_at", "id")
            .values_list("kind", flat=True)
            .first()
        ) or ""
    return Conflict(tie=source.tie, subject_name=name, declared_kind=declared_kind)


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


def conflicted(user: Person, *, subject_field: str = "subject_id") -> Q:
    """A filter for rows (cases, tasks, requests) whose subject ``user`` has a tie to.

    ``subject_field`` is the path to the subject's id (``process__case__subject_id`` for a
    task). A handful of uncorrelated subqueries driven by the person's own rows: a list
    filtered with it runs one query, however many rows it has. ``user`` may also be a
    reference to a person of an enclosing query (``OuterRef(OuterRef("pk"))``).
    """
    sources = _tie_sources(timezone.localdate())
    person = _person_id(user)
    return _any(Q(**{f"{subject_field}__in": source.of_user(person)}) for source in sources)


def tied_subject_ids(user: AbstractBaseUser) -> list[int]:
    """The ids of the subjects ``user`` has a tie to, in one query of their own rows (a
    UNION of the tie sources, each read by its person's index): the lists filter on the
    ids. Asked as ``Subject.objects.filter(conflicted(...))`` it scanned every subject
    (4 ms at 50,000 subjects, growing with them; issue 16)."""
    sources = [
        source.of_user(user.pk).order_by().values_list(source.subject_field, flat=True)
        for source in _tie_sources(timezone.localdate())
    ]
    return sorted(set(sources[0].union(*sources[1:])) - {None})


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


# --- the legal reviewer's qualification -----------------------------------------------------------
# 《中华人民共和国行政处罚法》第五十八条第二款：行政机关中初次从事行政处罚决定法制审核的人员，
# 应当通过国家统一法律职业资格考试取得法律职业资格。Redress asks every legal reviewer for the
# certificate on record (``StaffProfile``): it cannot tell a first review from a later one
# by someone who never held the qualification, and an administrator records it once.

QUALIFICATION_BASIS = "《中华人民共和国行政处罚法》第五十八条第二款"
# The steps only a person with the legal qualification on record may take or do.
QUALIFIED_STEPS = frozenset({"legal_review"})


def legally_qualified_people(*, user_field: str = "pk") -> Q:
    """A filter for people (``user_field``: the path to a user's id) whose legal professional
    qualification is on record."""
    return Q(
        **{
            f"{user_field}__in": StaffProfile.objects.exclude(legal_qualification_no="")
            .filter(legal_qualification_recorded_on__isnull=False)
            .values("user_id")
        }
    )


def legally_qualified(user: Person) -> Exists:
    """Whether ``user`` (a person, or a reference to one inside a query) holds the legal
    professional qualification on record, as an expression."""
    return Exists(
        StaffProfile.objects.filter(
            user_id=_person_id(user), legal_qualification_recorded_on__isnull=False
        ).exclude(legal_qualification_no="")
    )


def is_legally_qualified(user: AbstractBaseUser) -> bool:
    profile = StaffProfile.objects.filter(user_id=user.pk).first()
    return profile is not None and profile.legally_qualified


def qualification_refusal(
    user: AbstractBaseUser, step: str, *, by: AbstractBaseUser | None = None
) -> NotPermitted | None:
    """The refusal if ``step`` needs the legal qualification and ``user`` has none on record."""
    if step not in QUALIFIED_STEPS or is_legally_qualified(user):
        return None
    if by is not None and by.pk != user.pk:
        message = _(
            "%(person)s has no legal professional qualification on record, so they may not do "
            "a legal review (Administrative Penalties Law, Article 58(2)). An administrator "
            "records the certificate number on their staff profile."
        ) % {"person": user.get_username()}
    else:
        message = _(
            "A legal review needs the legal professional qualification (Administrative "
            "Penalties Law, Article 58(2)), and none is on record for you. Ask an administrator "
            "to record your certificate number (国家统一法律职业资格证书编号) on your staff "
            "profile, then claim the task again."
        )
    return NotPermitted(message, code="not_qualified", basis=QUALIFICATION_BASIS)


def ensure_legally_qualified(user: AbstractBaseUser, step: str) -> None:
    """Raise ``NotPermitted`` (``not_qualified``) if ``step`` needs a qualification ``user``
    does not have on record: the case services' own check."""
    refusal = qualification_refusal(user, step)
    if refusal is not None:
        raise refusal


# --- the steps of the route: who may take and do each -------------------------------------------
# DOMAIN.md: the same person may not both review and sign the same case. Four eyes hold in
# every round of a case (docs/decisions/0005): a case sent back and reviewed again does not
# let a first-round reviewer sign it; a collective decision needs different signers.

# The role each human step of the route needs, by the step's name in ``workflows.flows``
# (whose nodes read it from here).
STEP_ROLES = {
    "acceptance_check": Role.INTAKE,
    "evidence_review": Role.CASE_OFFICER,
    "legal_review": Role.LEGAL_REVIEWER,
    "sign_off": Role.SIGNER,
    # The head's approval of a proposed non-acceptance (SAMR Order 107 Art. 14(3)).
    "refusal_approval": Role.SIGNER,
}

REVIEW_EVENT_KINDS = ("evidence_reviewed", "review_completed")
LEGAL_REVIEW_EVENT_KINDS = ("legal_review_passed", "legal_review_sent_back")


@dataclass(frozen=True)
class _ActSource:
    """One place an earlier act on a case is read from: rows of ``queryset`` pair a case
    with the person who did it."""

    queryset: QuerySet
    case_field: str
    user_field: str

    def of_user(self, user_id) -> QuerySet:
        return self.queryset.filter(**{self.user_field: user_id}).values(self.case_field)

    def of_case(self, case_id) -> QuerySet:
        return self.queryset.filter(**{self.case_field: case_id}).values(self.user_field)


def _reviewed() -> list[_ActSource]:
    """Reviewed evidence of the case or completed its review, in any round."""
    return [
        _ActSource(
            CaseEvent.objects.filter(kind__in=REVIEW_EVENT_KINDS, actor__isnull=False),
            "case_id",
            "actor_id",
        ),
        _ActSource(Case.objects.filter(review_officer__isnull=False), "pk", "review_officer_id"),
    ]


def _legally_reviewed() -> list[_ActSource]:
    """Did a legal review of the case (passed or sent back), in any round."""
    return [
        _ActSource(
            CaseEvent.objects.filter(kind__in=LEGAL_REVIEW_EVENT_KINDS, actor__isnull=False),
            "case_id",
            "actor_id",
        ),
        _ActSource(Case.objects.filter(legal_reviewer__isnull=False), "pk", "legal_reviewer_id"),
    ]


def _proposed_non_acceptance() -> list[_ActSource]:
    """Proposed not accepting the case (in any round)."""
    return [
        _ActSource(
            CaseEvent.objects.filter(kind="non_acceptance_proposed", actor__isnull=False),
            "case_id",
            "actor_id",
        )
    ]


def _signed_this_round() -> list[_ActSource]:
    """Signed the decision in the case's current sign-off round."""
    return [
        _ActSource(Signature.objects.filter(round=F("case__signoff_round")), "case_id", "signer_id")
    ]


@dataclass(frozen=True)
class FourEyes:
    """Whoever did one of ``acts`` on a case may not do its ``step``; ``code`` and
    ``sentence`` (to the person barred) say why."""

    step: str
    code: str
    sentence: str
    acts: Callable[[], list[_ActSource]]


# The four-eyes rules, in the order they are told.
FOUR_EYES = (
    FourEyes(
        "legal_review",
        "four_eyes",
        gettext_lazy(
            "You did the evidence review of this case: another person does its legal review."
        ),
        _reviewed,
    ),
    FourEyes(
        "sign_off",
        "four_eyes",
        gettext_lazy("You reviewed this case: a different official signs it."),
        lambda: _reviewed() + _legally_reviewed(),
    ),
    FourEyes(
        "sign_off",
        "already_signed",
        gettext_lazy("You have signed this case already: a second official signs it."),
        _signed_this_round,
    ),
    FourEyes(
        "refusal_approval",
        "four_eyes",
        gettext_lazy("You proposed not accepting this case: another official approves it."),
        _proposed_non_acceptance,
    ),
)


def four_eyes_steps() -> set[str]:
    """The steps some four-eyes rule bars people from."""
    return {rule.step for rule in FOUR_EYES}


def four_eyes_bar(user: AbstractBaseUser, case: Case, step: str) -> FourEyes | None:
    """The four-eyes rule that bars ``user`` from ``step`` of ``case``, or None.

    One query for a step with such rules, none for another.
    """
    rules = [rule for rule in FOUR_EYES if rule.step == step]
    if not rules or not user.is_authenticated:
        return None
    flags = {
        f"bar_{n}": _any(
            Exists(source.of_user(user.pk).filter(**{source.case_field: OuterRef("pk")}))
            for source in rule.acts()
        )
        for n, rule in enumerate(rules)
    }
    row = Case.objects.filter(pk=case.pk).annotate(**flags).values(*flags).first() or {}
    return next((rule for n, rule in enumerate(rules) if row.get(f"bar_{n}")), None)


def four_eyes_barred_people(case: Case, step: str, *, user_field: str = "pk") -> Q:
    """A filter for people (``user_field``: the path to a user's id) whom four eyes bar from
    ``step`` of ``case``."""
    sources = [source for rule in FOUR_EYES if rule.step == step for source in rule.acts()]
    if not sources:
        return Q(**{f"{user_field}__in": ()})
    return _any(Q(**{f"{user_field}__in": source.of_case(case.pk)}) for source in sources)


def four_eyes_barred_cases(user: Person, step: str, *, case_field: str = "pk") -> Q:
    """A filter for rows (``case_field``: the path to a case's id) of cases whose ``step``
    four eyes bar ``user`` from. Uncorrelated subqueries driven by the person's own acts;
    ``user`` may be a reference to a person of an enclosing query."""
    sources = [source for rule in FOUR_EYES if rule.step == step for source in rule.acts()]
    if not sources:
        return Q(**{f"{case_field}__in": ()})
    person = _person_id(user)
    return _any(Q(**{f"{case_field}__in": source.of_user(person)}) for source in sources)


def ensure_four_eyes(user: AbstractBaseUser, case: Case, step: str) -> None:
    """Raise ``NotPermitted`` (``four_eyes``, ``already_signed``) if four eyes bar ``user``
    from ``step`` of ``case``: the case services' own check, under the case's lock."""
    rule = four_eyes_bar(user, case, step)
    if rule is not None:
        raise NotPermitted(str(rule.sentence), code=rule.code)


def step_refusal(
    user: AbstractBaseUser | None, case: Case, step: str, *, by: AbstractBaseUser | None = None
) -> NotPermitted | None:
    """Why ``user`` may not take, be given or do ``step`` of ``case``, as the error to
    raise; None if they may.

    In order: an active account; the step's role (``STEP_ROLES``) at the case's agency; no
    tie to the case's subject (APL Art. 43, ``conflict_of_interest``); the legal
    qualification a legal review needs (APL Art. 58 ¶2, ``QUALIFIED_STEPS``); the four-eyes
    rules (``FOUR_EYES``). ``by`` is someone else asking for ``user`` (a supervisor assigning
    them): a tie is then told without its kind. Every refusal but a tie's and a missing
    qualification's (``not_qualified``) has the code ``not_eligible`` (the route's answer to "may this person take this task"); the case
    services name the four-eyes rule itself (``ensure_four_eyes``).
    """
    if user is None or not user.is_authenticated:
        return NotPermitted(_("Sign in first."), code="not_eligible")
    if not user.is_active:
        return NotPermitted(
            _("The account of %(person)s is disabled: it can take no task.")
            % {"person": user.get_username()},
            code="not_eligible",
        )
    role = STEP_ROLES[step]
    if not has_role(user, role, case.agency_id):
        return NotPermitted(
            _("This step needs %(role)s of %(agency)s.")
            % {"role": role_with_article(role), "agency": case.agency.code},
            code="not_eligible",
        )
    conflict = conflict_refusal(user, case.subject_id, action=_("take or do this step"), acting=by)
    if conflict is not None:
        return conflict
    unqualified = qualification_refusal(user, step, by=by)
    if unqualified is not None:
        return unqualified
    rule = four_eyes_bar(user, case, step)
    if rule is not None:
        return NotPermitted(str(rule.sentence), code="not_eligible")
    return None


def assignable(case: Case, step: str) -> QuerySet:
    """The people ``step_refusal`` lets take ``step`` of ``case``, by user name: active,
    holding the step's role at the case's agency, with no tie to its subject, qualified
    where the step needs it and not barred by four eyes. One query."""
    people = people_holding(STEP_ROLES[step], at=case.agency_id)
    if step in QUALIFIED_STEPS:
        people = people.filter(legally_qualified_people())
    return (
        people.exclude(conflicted_users(case.subject_id))
        .exclude(four_eyes_barred_people(case, step))
        .order_by("username")
    )


def assignable_for_cases(cases: Iterable[Case], step: str) -> dict[int, list[int]]:
    """Case id → the ids of the people ``assignable`` lets take ``step`` of it, by user
    name, for many cases at once: each agency's people of the step read once, then, for
    each of them, the cases among these that a tie to the subject or four eyes bars them
    from, in one query. The breach forecast asks this for every open task of an agency;
    asked case by case it ran a query a task (1,649 at a 250,000-case agency)."""
    by_agency: dict[int, list[int]] = {}
    for case in cases:
        by_agency.setdefault(case.agency_id, []).append(case.pk)
    allowed: dict[int, list[int]] = {}
    for agency_id, case_ids in by_agency.items():
        people = people_holding(STEP_ROLES[step], at=agency_id)
        if step in QUALIFIED_STEPS:
            people = people.filter(legally_qualified_people())
        people = list(people.order_by("username"))
        barred = {
            person.pk: set(
                Case.objects.filter(pk__in=case_ids)
                .filter(
                    conflicted(person, subject_field="subject_id")
                    | four_eyes_barred_cases(person, step)
                )
                .values_list("pk", flat=True)
            )
            for person in people
        }
        for case_id in case_ids:
            allowed[case_id] = [p.pk for p in people if case_id not in barred[p.pk]]
    return allowed
