"""Celery tasks: deliver one message, sweep the outbox."""

from celery import shared_task

from notifications import delivery


@shared_task(name="notifications.deliver", ignore_result=True, acks_late=True)
def deliver(message_id: int) -> str:
    return delivery.deliver(message_id)


@shared_task(name="notifications.sweep", ignore_result=True)
def sweep() -> int:
    """Deliver every due message: covers a broker that was down and workers that died."""
    count = 0
    for message_id in delivery.due_message_ids():
        delivery.deliver(message_id)
        count += 1
    return count
