"""Indexes the task lists page by (``cases.keyset``, issue 16).

viewflow's ``Task`` is not ours to give a ``Meta.indexes``, so these are SQL, partial on
the rows each list shows: the queue (unassigned NEW human tasks, oldest first), an
officer's inbox (their ASSIGNED/STARTED tasks, newest first) and archive (their DONE
tasks, last finished first). Each list reads its page from the index in order and stops.
The statements are the same on PostgreSQL and SQLite (both take partial indexes).
"""

from django.db import migrations

INDEXES = {
    "task_queue_keyset": (
        "(created, id) WHERE status = 'NEW' AND owner_id IS NULL AND flow_task_type = 'HUMAN'"
    ),
    "task_inbox_keyset": (
        "(owner_id, created DESC, id DESC) WHERE status IN ('ASSIGNED', 'STARTED')"
    ),
    "task_archive_keyset": "(owner_id, finished DESC, id DESC) WHERE status = 'DONE'",
}


class Migration(migrations.Migration):
    dependencies = [
        ("workflows", "0005_h15_verbose_names"),
        ("viewflow", "0015_task_scheduled"),
    ]

    operations = [
        migrations.RunSQL(
            f"CREATE INDEX {name} ON viewflow_task {definition}",
            reverse_sql=f"DROP INDEX {name}",
        )
        for name, definition in INDEXES.items()
    ]
