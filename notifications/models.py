"""The notification outbox: one row per recipient, channel, kind and subject, sent by the worker."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column

from database import UTCDateTime, utcnow
from extensions import db

CHANNELS = ("inapp", "email", "sms")
NOTIFICATION_STATUSES = ("pending", "sent", "failed")


class NewMessageId(sa.sql.functions.FunctionElement):
    """32 random hex digits, drawn by the database for every row however it is inserted (one by one, in bulk, or
    INSERT … SELECT by the fan-out)."""

    type = sa.String()
    inherit_cache = True


@compiles(NewMessageId, "postgresql")
def _new_message_id_postgresql(element, compiler, **kw):
    return "replace(gen_random_uuid()::text, '-', '')"


@compiles(NewMessageId, "sqlite")
def _new_message_id_sqlite(element, compiler, **kw):
    return "lower(hex(randomblob(16)))"


class Notification(db.Model):
    """Unique per (recipient, channel, kind, subject): queueing the same message twice is a no-op."""

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(40))
    # Not indexed: messages are found by recipient, and users and producers are never deleted.
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    producer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("producer.id"))
    channel: Mapped[str] = mapped_column(sa.String(8))
    address: Mapped[str | None] = mapped_column(sa.String(254))
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    # Travels with every send of the row (the SMS gateway's Idempotency-Key, the email's Message-ID), so a gateway
    # that already accepted it does not deliver a retry twice. Random rather than the row id, which a restored or
    # re-created database hands out again. Not indexed: nothing looks a row up by it.
    message_id: Mapped[str] = mapped_column(sa.String(32), server_default=NewMessageId())
    # Each claim adds one: the attempts a row has had, and the lease of the dispatcher that holds it (a dispatcher
    # records its outcome only while the row still has the count it claimed it with).
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    # When a pending row is due: its next retry, or, while a dispatcher holds it, the end of that lease.
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("recipient", "channel", "kind", "subject"),
        sa.CheckConstraint("channel IN ('inapp', 'email', 'sms')", name="channel_known"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        # Only rows still to send or failed: most rows are in-app messages written as sent, never looked up by status.
        sa.Index(
            "ix_notification_due",
            "status",
            "next_attempt_at",
            postgresql_where=sa.text("status <> 'sent'"),
            sqlite_where=sa.text("status <> 'sent'"),
        ),
    )


FANOUT_STATUSES = ("pending", "done")


class NotificationFanout(db.Model):
    """Messages to many recipients of a campaign, written as one row in the transaction of the change they report.

    Closing a campaign of 200,000 orders writes this one row instead of 200,000 outbox rows; the worker then
    expands it into ordinary Notification rows in batches (notifications.fanout), each batch and the ``cursor``
    committed together, so a worker that dies mid-way resumes where it stopped, and the outbox's unique key makes a
    repeated batch write nothing. Either one ``title``/``body`` for every buyer of a live order (``cursor``: the
    last order id expanded), or a message rendered for each recipient from the stored state by the renderer of its
    kind (``title`` and ``body`` empty; ``cursor``: the last recipient's id).
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"))
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    cursor: Mapped[int] = mapped_column(default=0)
    recipients: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("kind", "subject"),
        sa.CheckConstraint("status IN ('pending', 'done')", name="status_known"),
    )
