"""Signals the case domain sends."""

from django.dispatch import Signal

# Sent by ``cases.events.event_record`` right after an event is appended, inside the
# transaction of the change: receivers that write (the notifications outbox) commit or
# roll back with it. Arguments: case, event.
case_event_recorded = Signal()
