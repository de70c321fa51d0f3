"""The case a state change holds locked, handed to everything that runs inside it.

Completing a step runs the route (viewflow's activation, its switches and timers), the case
service, the event's subscribers (letters, messages) and the step's permission checks; each
used to read the case again by itself, ten times for one acceptance. The function that locks
the case for the change (``workflows.actions.task_complete``) holds it here for the length of
its transaction: ``case_lock`` and the route's ``case_of`` then return that one instance,
already locked and changed in memory by whoever changed it, instead of selecting the row
again. Its conflict-of-interest answers are kept beside it (they cannot change inside the
transaction), so the tie is looked up once and not once per check.

Only the held case is served this way, and only inside the ``case_held`` block: any other
case, and the same case outside the block, is read from the database as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cases.models import Case


@dataclass
class Held:
    case: Case | None
    memo: dict[Any, Any] = field(default_factory=dict)
    subject_id: int | None = None


_held: ContextVar[Held | None] = ContextVar("redress_held_case", default=None)


@contextmanager
def case_held(case: Case) -> Iterator[Case]:
    """Serve ``case`` (locked by the caller, inside its transaction) to ``case_lock`` and
    ``case_of`` until the block ends."""
    token = _held.set(Held(case))
    try:
        yield case
    finally:
        _held.reset(token)


@contextmanager
def answers_kept(case: Case) -> Iterator[None]:
    """Keep the conflict-of-interest answers about ``case``'s subject (and the calendar)
    until the block ends, without holding the case itself: for a page that reads the case
    and asks the same question for the page and for each of its tasks."""
    token = _held.set(Held(None, subject_id=case.subject_id))
    try:
        yield
    finally:
        _held.reset(token)


def held_by_pk(pk: int) -> Case | None:
    held = _held.get()
    if held is None or held.case is None or held.case.pk != pk:
        return None
    return held.case


def held_by_process(process_id: int | None) -> Case | None:
    held = _held.get()
    if held is None or held.case is None or process_id is None:
        return None
    return held.case if held.case.process_id == process_id else None


def held_memo(subject_id: int) -> dict | None:
    """The memo of answers about the held case's subject, or None if none is held."""
    held = _held.get()
    if held is None:
        return None
    held_subject = held.case.subject_id if held.case is not None else held.subject_id
    return held.memo if held_subject == subject_id else None


def held_memo_any() -> dict | None:
    """The memo of the held case's transaction (answers that cannot change inside it, such
    as the working calendar), or None if no case is held."""
    held = _held.get()
    return held.memo if held is not None else None
