"""Reads of the outbox that depend on the reader."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet

from cases.models import Membership, Role
from notifications.models import Message


def messages_dead_for(supervisor: AbstractBaseUser) -> QuerySet[Message]:
    """Dead letters of the cases of the agencies where ``supervisor`` supervises."""
    agencies = Membership.objects.filter(user=supervisor, role=Role.SUPERVISOR).values("agency_id")
    return (
        Message.objects.filter(status=Message.Status.DEAD, case__agency_id__in=agencies)
        .select_related("case", "platform", "recipient_user")
        .order_by("-created_at", "-id")
    )
