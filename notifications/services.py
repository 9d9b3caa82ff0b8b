"""The outbox: queue a message in the same transaction as the change it reports; the worker sends it."""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

import after_commit
from accounts.services import record_audit
from database import transaction, utcnow
from extensions import db
from notifications.channels import DeliveryError, deliver
from notifications.models import Notification

MAX_ATTEMPTS = 6
BASE_DELAY_SECONDS = 30
CLAIM_SECONDS = 120

_outbox = Notification.__table__
# Built once: SQLAlchemy then reuses its cache key and compiled form for every message queued. Given many parameter
# sets, an INSERT with RETURNING is sent as one statement with a VALUES row each (a ``.values([...])`` list would be
# compiled anew every time).
_QUEUE = sa.insert(_outbox).returning(_outbox.c.id)


def retry_delay(attempts: int) -> timedelta:
    """Exponential back-off: 30 s, 1 min, 2 min, 4 min, 8 min."""
    return timedelta(seconds=BASE_DELAY_SECONDS * 2 ** max(attempts - 1, 0))


def recipient_channels(*, user=None, producer=None):
    """The outbox key of a user or a producer and its channels: in-app always, SMS to the phone, email when given.

    :returns: (recipient, [(channel, address), ...]); ``user``/``producer`` need only id, phone and email.
    """
    if user is not None:
        recipient, who = f"user:{user.id}", user
    elif producer is not None:
        recipient, who = f"producer:{producer.id}", producer
    else:
        raise ValueError("a notification needs a user or a producer")
    channels = [("inapp", None), ("sms", who.phone)]
    if who.email:
        channels.append(("email", who.email))
    return recipient, channels


def queue_notification(*, kind, subject, title, body, user=None, producer=None, new_subject=False):
    """Add outbox rows for every channel the recipient has (in-app always); nothing is added twice.

    Does not commit: the caller's transaction holds the state change and the message together. The rows go in at
    once, one INSERT for every channel, rather than waiting as ORM objects for the next flush.
    :param subject: what the message is about, e.g. ``campaign:7``; with kind and recipient it is the uniqueness key.
    :param new_subject: the subject was created in this very transaction (``order:<new id>:placed``), so nothing
        can be queued for it yet: the lookup is skipped (the unique constraint still forbids a duplicate).
    :returns: the ids of the rows added (empty: everything was queued already).
    """
    recipient, channels = recipient_channels(user=user, producer=producer)
    existing = set()
    if not new_subject:
        existing = set(
            db.session.scalars(
                sa.select(Notification.channel).where(
                    Notification.recipient == recipient, Notification.kind == kind, Notification.subject == subject
                )
            )
        )
    rows = [
        {
            "recipient": recipient,
            "user_id": user.id if user is not None else None,
            "producer_id": producer.id if producer is not None else None,
            "channel": channel,
            "address": address,
            "kind": kind,
            "subject": subject,
            "title": title,
            "body": body,
        }
        for channel, address in channels
        if channel not in existing
    ]
    if not rows:
        return []
    return list(db.session.scalars(_QUEUE, rows))


def outbox_rows(*, kind, subject, messages, now=None):
    """Outbox rows for many recipients at once, for a caller that inserts them in bulk in its own transaction.

    Same channels and the same uniqueness as queue_notification(), with one query for what is already queued.
    :param messages: dicts with ``user`` or ``producer``, ``title``, ``body`` and optionally ``sms_body``
        (a shorter text for SMS).
    :returns: dicts of Notification column values, timestamps as aware UTC.
    """
    now = now or utcnow()
    planned = []
    for message in messages:
        user, producer = message.get("user"), message.get("producer")
        recipient, channels = recipient_channels(user=user, producer=producer)
        for channel, address in channels:
            body = (message.get("sms_body") or message["body"]) if channel == "sms" else message["body"]
            planned.append(
                {
                    "recipient": recipient,
                    "user_id": user.id if user is not None else None,
                    "producer_id": producer.id if producer is not None else None,
                    "channel": channel,
                    "address": address,
                    "kind": kind,
                    "subject": subject,
                    "title": message["title"],
                    "body": body,
                    "status": "pending",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            )
    queued = queued_for(kind=kind, subject=subject, recipients={row["recipient"] for row in planned})
    return [row for row in planned if (row["recipient"], row["channel"]) not in queued]


def queued_for(*, kind, subject, recipients) -> set:
    """(recipient, channel) pairs already in the outbox for ``kind`` and ``subject`` among ``recipients`` (outbox
    keys such as ``producer:7``)."""
    query = sa.select(Notification.recipient, Notification.channel).where(
        Notification.kind == kind, Notification.subject == subject
    )
    recipients = sorted(recipients)
    found = set()
    for start in range(0, len(recipients), 1000):
        found.update(
            tuple(row) for row in db.session.execute(query.where(Notification.recipient.in_(recipients[start : start + 1000])))
        )
    return found


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


def resend(actor, notification) -> None:
    """An operator's resend of a failed message: it goes back into the outbox with fresh attempts, audited."""
    with transaction():
        record_audit(actor, "notification.resend", notification, channel=notification.channel, recipient=notification.recipient)
        notification.status = "pending"
        notification.attempts = 0
        notification.next_attempt_at = utcnow()
        after_commit.dispatch_notifications()


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


def queue_sms_to_phone(*, phone, kind, subject, title, body) -> bool:
    """Queue one SMS to a phone that has no account yet (a colleague on a unit's roster); nothing is queued twice.

    Does not commit: the caller's transaction holds it. The dispatcher sends it with the usual retries.
    :returns: whether a row was added.
    """
    recipient = f"phone:{phone}"
    if queued_for(kind=kind, subject=subject, recipients={recipient}):
        return False
    db.session.execute(
        _QUEUE,
        [
            {
                "recipient": recipient,
                "channel": "sms",
                "address": phone,
                "kind": kind,
                "subject": subject,
                "title": title,
                "body": body,
            }
        ],
    )
    after_commit.dispatch_notifications()
    return True
