"""Celery tasks: deliver one message, sweep the outbox, send the daily digest."""

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


@shared_task(name="notifications.daily_digest", ignore_result=True)
def daily_digest() -> int:
    from notifications.digest import digests_send

    return digests_send()


@shared_task(name="notifications.materials_reminders", ignore_result=True)
def materials_reminders() -> int:
    from notifications.digest import materials_reminders_send

    return materials_reminders_send()
