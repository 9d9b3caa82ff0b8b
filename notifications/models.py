"""The notification outbox: one row per recipient, channel, kind and subject, sent by the worker."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from database import UTCDateTime, utcnow
from extensions import db

CHANNELS = ("inapp", "email", "sms")
NOTIFICATION_STATUSES = ("pending", "sent", "failed")


class Notification(db.Model):
    """Unique per (recipient, channel, kind, subject): queueing the same message twice is a no-op."""

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(sa.String(40))
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    producer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    channel: Mapped[str] = mapped_column(sa.String(8))
    address: Mapped[str | None] = mapped_column(sa.String(254))
    kind: Mapped[str] = mapped_column(sa.String(40))
    subject: Mapped[str] = mapped_column(sa.String(60))
    title: Mapped[str] = mapped_column(sa.String(200))
    body: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(8), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.String(500))
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    __table_args__ = (
        sa.UniqueConstraint("recipient", "channel", "kind", "subject"),
        sa.CheckConstraint("channel IN ('inapp', 'email', 'sms')", name="channel_known"),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')", name="status_known"),
        sa.Index("ix_notification_due", "status", "next_attempt_at"),
    )
