"""The attacker of the audit-trail stories: someone with raw SQL on the database.

On PostgreSQL a trigger refuses UPDATE and DELETE of case events and checkpoints to
every role; the attacker here is a superuser (the test database's owner), who can
switch the trigger off first. The point of those stories is what the anchors still
detect afterwards. SQLite has no trigger (see migration 0009).
"""

from __future__ import annotations

from contextlib import contextmanager

from django.db import connection


@contextmanager
def triggers_disabled():
    """Switch the append-only triggers off, as a superuser can, and back on afterwards.

    ``session_replication_role = replica`` skips ordinary triggers (what a replication
    tool or an intruder with superuser rights would use); ``ALTER TABLE ... DISABLE
    TRIGGER`` would do as well outside a transaction that has already written events.
    """
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = replica")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET session_replication_role = DEFAULT")


def attacker_sql(statement: str, params=()) -> int:
    """Run one statement with the triggers off; the number of rows it touched."""
    with triggers_disabled(), connection.cursor() as cursor:
        cursor.execute(statement, params)
        return cursor.rowcount
