"""Celery tasks: thin wrappers that take ids and call services."""

from celery import shared_task


@shared_task(name="worker.tasks.dispatch_notifications")
def dispatch_notifications():
    """Send every due notification in the outbox; safe to run from several workers at once."""
    from notifications.services import dispatch_due

    return dispatch_due()
