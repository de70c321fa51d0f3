"""Reads of the outbox and of in-app notifications that depend on the reader."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import Q, QuerySet

from cases import access
from cases.models import Role
from cases.selectors import cases_for
from notifications.models import Message, Notification


def messages_dead_for(supervisor: AbstractBaseUser) -> QuerySet[Message]:
    """Dead letters of the cases of the agencies where ``supervisor`` supervises."""
    agencies = access.agencies_of(supervisor, Role.SUPERVISOR)
    return (
        Message.objects.filter(status=Message.Status.DEAD, case__agency_id__in=agencies)
        .select_related("case", "platform", "recipient_user")
        .order_by("-created_at", "-id")
    )


def notifications_for(user: AbstractBaseUser) -> QuerySet[Notification]:
    """The person's in-app notifications about cases they may still see (or no case),
    newest first: someone removed from a company account stops reading about its cases."""
    if not user.is_authenticated:
        return Notification.objects.none()
    return (
        Notification.objects.filter(user=user)
        .filter(Q(case__isnull=True) | Q(case__in=cases_for(user).values("pk")))
        .order_by("-created_at", "-id")
    )
