"""Delivery records and payouts to producers: what the dashboard adds to the domain model."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import UTCDateTime, utcnow
from extensions import db

PAYOUT_METHODS = ("transfer", "cash")


class Delivery(db.Model):
    """One producer's goods for one campaign handed over at one unit's delivery point.

    Quantities are not copied here: they are the pick lines of that producer's allocations to that unit,
    so a delivered figure can always be traced to the allocation rows behind it.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    delivered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    note: Mapped[str | None] = mapped_column(sa.String(255))

    unit: Mapped["Unit"] = relationship()  # noqa: F821
    producer: Mapped["Producer"] = relationship()  # noqa: F821
    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821

    __table_args__ = (sa.UniqueConstraint("campaign_id", "unit_id", "producer_id"),)


class Payout(db.Model):
    """Money paid out to a producer for a campaign: who was paid, how much, how, when, and who recorded it.

    An entry, never edited: a payout recorded wrongly is cancelled by a reversing entry (``reverses_id``, the negative
    amount, a reason), and the right one recorded anew; what is paid is the sum of the entries."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    amount_fen: Mapped[int]
    method: Mapped[str] = mapped_column(sa.String(16))
    reference: Mapped[str | None] = mapped_column(sa.String(80))
    paid_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reverses_id: Mapped[int | None] = mapped_column(sa.ForeignKey("payout.id"), unique=True)
    reason: Mapped[str | None] = mapped_column(sa.String(255))

    producer: Mapped["Producer"] = relationship()  # noqa: F821
    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint(
            "(amount_fen > 0 AND reverses_id IS NULL) OR (amount_fen < 0 AND reverses_id IS NOT NULL AND reason IS NOT NULL)",
            name="amount_signed",
        ),
        sa.CheckConstraint("method IN ('transfer', 'cash')", name="method_known"),
    )
