"""Signals the case domain sends."""

from django.dispatch import Signal

# Sent by ``cases.events.event_record`` right after an event is appended, inside the
# transaction of the change: receivers that write (the notifications outbox) commit or
# roll back with it. Arguments: case, event.
case_event_recorded = Signal()

# Sent by ``cases.accounts.account_event_record`` when something happens to a person's
# account that they may have to be told of (a sign-up to confirm, an invitation to a
# company account, a removal from one, a password reset asked for), inside the
# transaction of the change, like ``case_event_recorded``. Not a case event: it has no
# case and no place in a case's hash chain. Arguments: kind (one of
# ``cases.accounts.AccountEvent``), user (the account it happened to, or that did it),
# data (a dict of what the receivers need, e.g. the link the person is to follow), event
# (an id unique to this event, from which receivers key what they write).
account_event_recorded = Signal()

# Sent by ``cases.events.record_event_record`` right after an event is appended to a
# record's own trail (publication ended at the maximum period, a platform's
# acknowledgement of that withdrawal), inside the transaction of the change, like
# ``case_event_recorded``. Arguments: record, event.
record_event_recorded = Signal()
