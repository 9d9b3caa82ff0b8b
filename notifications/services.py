"""The outbox: queue a message in the same transaction as the change it reports; the worker sends it."""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from database import utcnow
from extensions import db
from notifications.channels import DeliveryError, deliver
from notifications.models import Notification

MAX_ATTEMPTS = 6
BASE_DELAY_SECONDS = 30
CLAIM_SECONDS = 120


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off: 30 s, 1 min, 2 min, 4 min, 8 min."""
    return timedelta(seconds=BASE_DELAY_SECONDS * 2 ** max(attempts - 1, 0))


def queue_notification(*, kind, subject, title, body, user=None, producer=None):
    """Add outbox rows for every channel the recipient has (in-app always); nothing is added twice.

    Does not commit: the caller's transaction holds the state change and the message together.
    :param subject: what the message is about, e.g. ``campaign:7``; with kind and recipient it is the uniqueness key.
    """
    if user is not None:
        recipient = f"user:{user.id}"
        channels = [("inapp", None), ("sms", user.phone)]
        if user.email:
            channels.append(("email", user.email))
    elif producer is not None:
        recipient = f"producer:{producer.id}"
        channels = [("inapp", None), ("sms", producer.phone)]
        if producer.email:
            channels.append(("email", producer.email))
    else:
        raise ValueError("a notification needs a user or a producer")
    existing = set(
        db.session.scalars(
            sa.select(Notification.channel).where(
                Notification.recipient == recipient, Notification.kind == kind, Notification.subject == subject
            )
        )
    )
    added = []
    for channel, address in channels:
        if channel in existing:
            continue
        row = Notification(
            recipient=recipient,
            user_id=user.id if user is not None else None,
            producer_id=producer.id if producer is not None else None,
            channel=channel,
            address=address,
            kind=kind,
            subject=subject,
            title=title,
            body=body,
        )
        db.session.add(row)
        added.append(row)
    return added


def _claim(row_id, attempts_seen) -> bool:
    """Take a row for sending; a second worker that read the same row loses the race and skips it."""
    now = utcnow()
    result = db.session.execute(
        sa.update(Notification)
        .where(Notification.id == row_id, Notification.status == "pending", Notification.attempts == attempts_seen)
        .values(attempts=Notification.attempts + 1, next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
    )
    db.session.commit()
    return result.rowcount == 1


def dispatch_due(limit=500) -> int:
    """Send due pending notifications; returns how many were sent."""
    now = utcnow()
    due = db.session.execute(
        sa.select(Notification.id, Notification.attempts)
        .where(Notification.status == "pending", Notification.next_attempt_at <= now)
        .order_by(Notification.id)
        .limit(limit)
    ).all()
    sent = 0
    for row_id, attempts in due:
        if not _claim(row_id, attempts):
            continue
        notification = db.session.get(Notification, row_id)
        try:
            deliver(notification)
        except DeliveryError as error:
            notification.last_error = str(error)[:500]
            if notification.attempts >= MAX_ATTEMPTS:
                notification.status = "failed"
                current_app.logger.warning("Notification %s failed for good: %s", row_id, error)
            else:
                notification.next_attempt_at = utcnow() + retry_delay(notification.attempts)
        else:
            notification.status = "sent"
            notification.sent_at = utcnow()
            notification.last_error = None
            sent += 1
        db.session.commit()
    return sent


def resend(notification) -> None:
    """An operator's resend of a failed message: it goes back into the outbox with fresh attempts."""
    notification.status = "pending"
    notification.attempts = 0
    notification.next_attempt_at = utcnow()
    db.session.commit()


def inbox(user, limit=100):
    """A user's in-app notifications, newest first; a producer account also sees its producer's."""
    recipients = [f"user:{user.id}"]
    if user.producer_id:
        recipients.append(f"producer:{user.producer_id}")
    return db.session.scalars(
        sa.select(Notification)
        .where(Notification.recipient.in_(recipients), Notification.channel == "inapp")
        .order_by(Notification.id.desc())
        .limit(limit)
    ).all()
