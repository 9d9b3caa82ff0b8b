"""Producers (cooperatives, enterprises, households), their listings of unsold goods, pick-list confirmations."""

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import Timestamps, UTCDateTime, utcnow
from extensions import db

PRODUCER_KINDS = ("cooperative", "enterprise", "household")
PRODUCER_STATUSES = ("pending", "approved", "suspended")
LISTING_STATUSES = ("pending", "approved", "rejected", "withdrawn", "sold_out")


class Producer(Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120))
    kind: Mapped[str] = mapped_column(sa.String(16))
    town: Mapped[str] = mapped_column(sa.String(40), index=True)
    village: Mapped[str] = mapped_column(sa.String(80))
    phone: Mapped[str] = mapped_column(sa.String(20))
    email: Mapped[str | None] = mapped_column(sa.String(254))
    poverty_household: Mapped[bool] = mapped_column(default=False)
    poverty_id: Mapped[str | None] = mapped_column(sa.String(40))
    linked_households: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending")

    listings: Mapped[list["Listing"]] = relationship(back_populates="producer")

    __table_args__ = (
        sa.CheckConstraint("kind IN ('cooperative', 'enterprise', 'household')", name="kind_known"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'suspended')", name="status_known"),
        sa.CheckConstraint("linked_households >= 0", name="linked_households_non_negative"),
        sa.CheckConstraint("poverty_household = false OR poverty_id IS NOT NULL", name="poverty_id_given"),
    )


class Listing(Timestamps, db.Model):
    """Unsold goods a producer offers; campaigns take quantity from it through Supply rows."""

    id: Mapped[int] = mapped_column(primary_key=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    category: Mapped[str] = mapped_column(sa.String(40))
    variety: Mapped[str | None] = mapped_column(sa.String(80))
    unit: Mapped[str] = mapped_column(sa.String(8))
    unit_weight_g: Mapped[int | None]
    price_fen: Mapped[int]
    quantity: Mapped[int]
    quantity_committed: Mapped[int] = mapped_column(default=0)
    ready_on: Mapped[date]
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="pending", index=True)
    reject_reason: Mapped[str | None] = mapped_column(sa.String(255))
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    producer: Mapped[Producer] = relationship(back_populates="listings")
    photos: Mapped[list["ListingPhoto"]] = relationship(
        back_populates="listing", order_by="ListingPhoto.position", cascade="all, delete-orphan"
    )

    __table_args__ = (
        sa.CheckConstraint("price_fen >= 0", name="price_non_negative"),
        sa.CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        sa.CheckConstraint("quantity_committed >= 0 AND quantity_committed <= quantity", name="committed_within_quantity"),
        sa.CheckConstraint("unit_weight_g IS NULL OR unit_weight_g > 0", name="unit_weight_positive"),
        sa.CheckConstraint("status IN ('pending', 'approved', 'rejected', 'withdrawn', 'sold_out')", name="status_known"),
    )

    @property
    def quantity_left(self) -> int:
        return self.quantity - self.quantity_committed


class ListingPhoto(db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(80), unique=True, index=True)
    thumbnail: Mapped[str] = mapped_column(sa.String(80))
    position: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    listing: Mapped[Listing] = relationship(back_populates="photos")

    @property
    def token(self) -> str:
        """The photo's name in its URL: the random stem of its file name, never its id."""
        return self.filename.removesuffix(".jpg")


ACK_CHANNELS = ("app", "phone")


class PicklistAck(db.Model):
    """A producer's confirmation that its pick list for a campaign will be ready.

    ``channel`` "phone": an operator or the town's cadre confirmed for a household without a smartphone, after a call;
    ``acked_by_id`` is then that person, never the producer."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"))
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    acked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    acked_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    channel: Mapped[str] = mapped_column(sa.String(8), default="app", server_default="app")

    acked_by: Mapped["User | None"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "producer_id"),
        sa.CheckConstraint("channel IN ('app', 'phone')", name="channel_known"),
    )
