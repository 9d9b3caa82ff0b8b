"""The outbox: queue a message in the same transaction as the change it reports; the worker sends it."""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm.attributes import set_committed_value

import after_commit
from accounts.services import record_audit
from database import transaction, utcnow
from extensions import db
from notifications import messages
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


def recipient_channels(*, user=None, producer=None, phone=None):
    """The outbox key of a user or a producer and its channels: in-app always, SMS to the phone, email when given;
    for a bare phone (a person without an account), SMS only.

    :returns: (recipient, [(channel, address), ...]); ``user``/``producer`` need only id, phone and email.
    """
    if user is not None:
        recipient, who = f"user:{user.id}", user
    elif producer is not None:
        recipient, who = f"producer:{producer.id}", producer
    elif phone:
        return f"phone:{phone}", [("sms", phone)]
    else:
        raise ValueError("a notification needs a user, a producer or a phone")
    channels = [("inapp", None), ("sms", who.phone)]
    if who.email:
        channels.append(("email", who.email))
    return recipient, channels


def _rows_for(recipient, channels, *, user, producer, kind, subject, title, body, sms_body):
    """The outbox row of each channel of one recipient: the one shape of a queued message (its message id, status
    and times are the table's defaults unless a bulk writer sets them)."""
    return [
        {
            "recipient": recipient,
            "user_id": user.id if user is not None else None,
            "producer_id": producer.id if producer is not None else None,
            "channel": channel,
            "address": address,
            "kind": kind,
            "subject": subject,
            "title": title,
            "body": (sms_body or body) if channel == "sms" else body,
        }
        for channel, address in channels
    ]


def queue_notification(*, kind, subject, title, body, user=None, producer=None, phone=None, sms_body=None, new_subject=False):
    """Add outbox rows for every channel the recipient has (in-app always, but for a bare phone); nothing is added twice.

    Does not commit: the caller's transaction holds the state change and the message together. The rows go in at
    once, one INSERT for every channel, rather than waiting as ORM objects for the next flush.
    :param subject: what the message is about, e.g. ``campaign:7``; with kind and recipient it is the uniqueness key.
    :param new_subject: the subject was created in this very transaction (``order:<new id>:placed``), so nothing
        can be queued for it yet: the lookup is skipped (the unique constraint still forbids a duplicate).
    :param phone: a person without an account, told by SMS.
    :param sms_body: a shorter text for SMS (default: ``body``).
    :returns: the ids of the rows added (empty: everything was queued already).
    """
    recipient, channels = recipient_channels(user=user, producer=producer, phone=phone)
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
        row
        for row in _rows_for(
            recipient,
            channels,
            user=user,
            producer=producer,
            kind=kind,
            subject=subject,
            title=title,
            body=body,
            sms_body=sms_body,
        )
        if row["channel"] not in existing
    ]
    if not rows:
        return []
    return list(db.session.scalars(_QUEUE, rows))


def outbox_rows(*, kind, subject, messages, now=None, inapp_only=False):
    """Outbox rows for many recipients at once, for a caller that inserts them in bulk in its own transaction.

    Same channels and the same uniqueness as queue_notification(), with one query for what is already queued.
    :param messages: dicts with ``user`` or ``producer``, ``title``, ``body`` and optionally ``sms_body``
        (a shorter text for SMS).
    :param inapp_only: the in-app message alone (a reminder is not worth an SMS or an email).
    :returns: dicts of Notification column values, timestamps as aware UTC.
    """
    now = now or utcnow()
    planned = []
    for message in messages:
        user, producer = message.get("user"), message.get("producer")
        recipient, channels = recipient_channels(user=user, producer=producer)
        if inapp_only:
            channels = [(channel, address) for channel, address in channels if channel == "inapp"]
        for row in _rows_for(
            recipient,
            channels,
            user=user,
            producer=producer,
            kind=kind,
            subject=subject,
            title=message["title"],
            body=message["body"],
            sms_body=message.get("sms_body"),
        ):
            planned.append({**row, "status": "pending", "attempts": 0, "next_attempt_at": now, "created_at": now})
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


def dispatch_due(limit=500) -> int:
    """Send due pending notifications, each under a lease of its own; returns how many were sent.

    Safe to run in several workers at once: a row is sent only by the dispatcher whose claim took it. Whatever one
    send raises fails that message alone (its attempt counted, ``failed`` after the last) and the batch goes on.
    """
    due = db.session.execute(
        sa.select(Notification.id, Notification.attempts)
        .where(Notification.status == "pending", Notification.next_attempt_at <= utcnow())
        .order_by(Notification.id)
        .limit(limit)
    ).all()
    db.session.commit()
    _fail_abandoned_last_attempts([(row_id, attempts) for row_id, attempts in due if attempts >= MAX_ATTEMPTS])
    sent = 0
    for row_id, attempts in due:
        notification = _claim(row_id, attempts) if attempts < MAX_ATTEMPTS else None
        if notification is not None:
            sent += _send(notification)
    return sent


def _claim(row_id, attempts_seen):
    """Take a row for sending under a lease of CLAIM_SECONDS, committed before anything is sent.

    The claim adds one attempt; a second dispatcher that read the same row finds another count and skips it. A
    dispatcher that dies holding the lease leaves the row pending: it is due again when the lease ends, and its
    message id makes the gateway drop the repeat if the first send got through.
    :returns: the claimed row as a plain row (nothing of the session is held while the gateway answers), or None.
    """
    claimed = db.session.execute(
        sa.update(_outbox)
        .where(
            _outbox.c.id == row_id,
            _outbox.c.status == "pending",
            _outbox.c.attempts == attempts_seen,
            _outbox.c.attempts < MAX_ATTEMPTS,
        )
        .values(attempts=_outbox.c.attempts + 1, next_attempt_at=utcnow() + timedelta(seconds=CLAIM_SECONDS))
        .returning(*_outbox.c)
    ).first()
    db.session.commit()
    return claimed


def _send(notification) -> int:
    """Deliver one claimed row and record the outcome at once; 1 if it was sent."""
    try:
        hang_up = deliver(notification)
    except Exception as error:  # noqa: BLE001 - any fault of one message is that message's, not the batch's
        db.session.rollback()
        _record_failure(notification.id, notification.attempts, error)
        return 0
    try:
        _record_sent(notification.id, notification.attempts)
    finally:
        hang_up()
    return 1


def _held(row_id, attempt):
    """The row, while the lease its dispatcher claimed it with (the attempt count) is still the row's."""
    return sa.update(Notification).where(
        Notification.id == row_id, Notification.status == "pending", Notification.attempts == attempt
    )


def _record_sent(row_id, attempt):
    # The gateway has the message: this one statement, committed, is all that stands between it and the outbox.
    result = db.session.execute(_held(row_id, attempt).values(status="sent", sent_at=utcnow(), last_error=None))
    db.session.commit()
    if result.rowcount != 1:
        current_app.logger.warning("Notification %s was sent after its lease ended; a later claim owns it", row_id)


def _record_failure(row_id, attempt, error):
    if isinstance(error, DeliveryError):
        reason = str(error)
    else:
        reason = f"{type(error).__name__}: {error}"
        current_app.logger.error("Notification %s could not be sent", row_id, exc_info=error)
    values = {"last_error": reason[:500]}
    if attempt >= MAX_ATTEMPTS:
        values["status"] = "failed"
        current_app.logger.warning("Notification %s failed for good: %s", row_id, reason)
    else:
        values["next_attempt_at"] = utcnow() + retry_delay(attempt)
    db.session.execute(_held(row_id, attempt).values(**values))
    db.session.commit()


def _fail_abandoned_last_attempts(rows):
    """A row due again with no attempt left lost its dispatcher during the last one (the lease ran out): it is
    failed, for an operator to look at and resend, with the same message id, so a gateway that got it drops it."""
    for row_id, attempts in rows:
        db.session.execute(_held(row_id, attempts).values(status="failed", last_error=messages.abandoned_last_attempt()[:500]))
    db.session.commit()


def resend(actor, notification) -> None:
    """An operator's resend of a failed message: it goes back into the outbox with fresh attempts, audited."""
    with transaction():
        record_audit(actor, "notification.resend", notification, channel=notification.channel, recipient=notification.recipient)
        notification.status = "pending"
        notification.attempts = 0
        notification.next_attempt_at = utcnow()
        after_commit.dispatch_notifications()


def failed_count() -> int:
    """How many messages the dispatcher gave up on (listed for operators at notifications.failed)."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.status == "failed"))


def _inbox_recipients(user) -> list[str]:
    recipients = [f"user:{user.id}"]
    if user.producer_id:
        recipients.append(f"producer:{user.producer_id}")
    return recipients


def inbox_query(user):
    """A user's in-app notifications, newest first; a producer account also sees its producer's."""
    return (
        sa.select(Notification)
        .where(Notification.recipient.in_(_inbox_recipients(user)), Notification.channel == "inapp")
        .order_by(Notification.id.desc())
    )


def inbox(user, limit=100):
    """The newest ``limit`` of :func:`inbox_query`."""
    return db.session.scalars(inbox_query(user).limit(limit)).all()


def failed_query():
    """Messages the dispatcher gave up on after its retries, newest first."""
    return sa.select(Notification).where(Notification.status == "failed").order_by(Notification.id.desc())


def unread_count(user) -> int:
    """How many in-app messages the user has not seen yet: one COUNT on the (recipient, channel, …) unique index."""
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Notification)
        .where(
            Notification.recipient.in_(_inbox_recipients(user)),
            Notification.channel == "inapp",
            Notification.read_at.is_(None),
        )
    )


def mark_inbox_read(user, notifications) -> None:
    """The messages the user has just been shown are read; one UPDATE, and only of rows still unread."""
    ids = [n.id for n in notifications if n.read_at is None]
    if not ids:
        return
    # The page about to be shown holds these rows: a commit that expired them would read each back one by one.
    session = db.session()
    expiring, session.expire_on_commit = session.expire_on_commit, False
    try:
        read_at = _set_read(user, ids)
    finally:
        session.expire_on_commit = expiring
    for notification in notifications:
        if notification.id in ids:
            # What the UPDATE wrote, as loaded state: the rows kept in this session read as read, and are not dirty.
            set_committed_value(notification, "read_at", read_at)


def _set_read(user, ids):
    now = utcnow()
    with transaction():
        db.session.execute(
            sa.update(Notification)
            .where(
                Notification.id.in_(ids),
                Notification.recipient.in_(_inbox_recipients(user)),
                Notification.read_at.is_(None),
            )
            .values(read_at=now)
            .execution_options(synchronize_session=False)
        )
    return now


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
