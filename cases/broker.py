"""Sending a task to the Celery worker over a pooled broker connection.

Celery's ``connection_for_write()`` opens a new broker connection each time, and on Redis a
new connection is a new channel with its own sockets: two sends after a decision (its
letter, its message) cost about eight new Redis connections inside the officer's request.
The application's connection pool (``app.pool``, ``broker_pool_limit`` connections a
process) keeps them open between requests, each with its channel.
"""

from __future__ import annotations

from typing import Any


def task_send(task: Any, args: tuple) -> None:
    """Queue ``task`` with ``args`` on a pooled connection; raise if the broker is down.

    Fails fast (no retry, two seconds at most) so that the caller, which runs after a
    commit inside a person's request, can leave the work to its sweep. A connection that
    failed is dropped before it goes back to the pool, so the next send reconnects instead
    of inheriting a dead socket.
    """
    connection = task.app.pool.acquire(block=True, timeout=2)
    try:
        connection.ensure_connection(max_retries=0, timeout=2)
        task.apply_async(args, retry=False, connection=connection)
    except BaseException:
        connection.collect()
        raise
    finally:
        connection.release()
