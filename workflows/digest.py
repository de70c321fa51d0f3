"""Scheduled messages: each officer's daily digest and applicants' materials reminders."""

from __future__ import annotations

import datetime

from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from viewflow.workflow.models import Task
from viewflow.workflow.status import STATUS

from cases import access
from cases.clock import calendar_for
from cases.models import Case, Deadline
from notifications.services import (
    _context,
    _missing_lines,
    idempotency_key,
    notify_user,
    recipient_language,
)
from workflows.nodes import step_label

REMINDER_WORKING_DAYS = 2


def digests_send(*, today: datetime.date | None = None) -> int:
    """Send every officer with open tasks a digest of them, with what is due and overdue."""
    today = today or timezone.localdate()
    sent = 0
    for officer in access.people_holding().iterator():
        tasks = list(
            Task.objects.filter(
                owner=officer, status__in=[STATUS.ASSIGNED, STATUS.STARTED]
            ).select_related("process__case")
        )
        if not tasks:
            continue
        case_ids = [t.process.case.pk for t in tasks if hasattr(t.process, "case")]
        due = {
            d.case_id: d
            for d in Deadline.objects.filter(
                case_id__in=case_ids, status=Deadline.Status.RUNNING
            ).order_by("due_on")
        }
        lines, overdue = [], 0
        with translation.override(recipient_language(officer, None)):
            for task in tasks:
                case = task.process.case
                deadline = due.get(case.pk)
                when = f"{deadline.due_on:%Y-%m-%d}" if deadline else "—"
                late = deadline is not None and deadline.due_on < today
                overdue += late
                lines.append(
                    f"- {case.reference} {step_label(task)}: {when}"
                    + (_(" (overdue)") if late else "")
                )
        with transaction.atomic():
            notify_user(
                user=officer,
                case=None,
                kind="daily_digest",
                context={
                    "count": len(tasks),
                    "overdue": overdue,
                    "lines": "\n".join(lines),
                    "url": "",
                },
                key=idempotency_key("digest", today.isoformat(), officer.pk),
            )
        sent += 1
    return sent


def materials_reminders_send(*, today: datetime.date | None = None) -> int:
    """Remind applicants whose missing materials are due within two working days."""
    today = today or timezone.localdate()
    sent = 0
    waiting = Deadline.objects.filter(
        step=Deadline.Step.MATERIALS,
        status=Deadline.Status.RUNNING,
        case__status=Case.Status.AWAITING_MATERIALS,
        due_on__gte=today,
    ).select_related("case__agency", "case__applicant", "case__subject")
    for deadline in waiting.iterator():
        case = deadline.case
        if calendar_for(case.agency).working_days_between(today, deadline.due_on) > (
            REMINDER_WORKING_DAYS
        ):
            continue
        with transaction.atomic():
            notify_user(
                user=case.applicant,
                case=case,
                kind="materials_reminder",
                context=_context(
                    case, deadline=f"{deadline.due_on:%Y-%m-%d}", missing=_missing_lines(case)
                ),
                key=idempotency_key("reminder", deadline.pk),
            )
        sent += 1
    return sent
