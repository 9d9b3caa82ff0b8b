"""Campaigns, the items buyers order, and the supplies behind each item."""

import enum
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import Timestamps, UTCDateTime, utcnow
from extensions import db


class CampaignStatus(enum.StrEnum):
    """A campaign's stored status; its values are the strings in the database. The order is its life (shop.lifecycle)."""

    DRAFT = "draft"
    PUBLISHED = "published"
    CLOSED = "closed"
    ALLOCATED = "allocated"
    DELIVERED = "delivered"
    SETTLED = "settled"
    CANCELLED = "cancelled"  # a side exit, from draft or published (shop.lifecycle.cancellable)


CAMPAIGN_STATUSES = tuple(status.value for status in CampaignStatus)
ALLOCATION_POLICIES = ("proportional", "poor_first")

campaign_unit = sa.Table(
    "campaign_unit",
    db.metadata,
    sa.Column("campaign_id", sa.ForeignKey("campaign.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("unit_id", sa.ForeignKey("unit.id"), primary_key=True),
)


class Campaign(Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(16), unique=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    description: Mapped[str | None] = mapped_column(sa.Text)
    cover_photo: Mapped[str | None] = mapped_column(sa.String(80), unique=True, index=True)
    opens_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closes_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    delivery_on: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(16), default=CampaignStatus.DRAFT.value, index=True)
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    allocated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    # Days after delivery within which producers are paid; None: the PAYMENT_TERMS_DAYS default (earnings/terms.py).
    payment_terms_days: Mapped[int | None]

    items: Mapped[list["CampaignItem"]] = relationship(
        back_populates="campaign", order_by="CampaignItem.position, CampaignItem.id"
    )
    units: Mapped[list["Unit"]] = relationship(secondary=campaign_unit)  # noqa: F821

    @property
    def cover_token(self) -> str | None:
        """The cover's name in its URL: the random stem of its file name, never the campaign's id."""
        return self.cover_photo.removesuffix(".jpg") if self.cover_photo else None

    __table_args__ = (
        sa.CheckConstraint("closes_at > opens_at", name="closes_after_opening"),
        sa.CheckConstraint("payment_terms_days IS NULL OR payment_terms_days BETWEEN 0 AND 365", name="payment_terms_known"),
        sa.CheckConstraint(f"status IN ({', '.join(repr(status) for status in CAMPAIGN_STATUSES)})", name="status_known"),
    )


class CampaignItem(Timestamps, db.Model):
    """What buyers order. `ordered` never exceeds `capacity`: the database refuses it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    title: Mapped[str] = mapped_column(sa.String(120))
    category: Mapped[str | None] = mapped_column(sa.String(40))
    description: Mapped[str | None] = mapped_column(sa.Text)
    unit: Mapped[str] = mapped_column(sa.String(8))
    unit_weight_g: Mapped[int | None]
    price_fen: Mapped[int]
    # Catch weight: ordered by the piece, charged by the weighed kilogram. ``price_fen`` is then the estimate per
    # piece (expected weight × price per kg) that orders pledge; the charge follows the weight at receipt.
    price_per_kg_fen: Mapped[int | None]
    per_buyer_limit: Mapped[int | None]
    min_total: Mapped[int | None]
    policy: Mapped[str] = mapped_column(sa.String(16), default="proportional")
    capacity: Mapped[int] = mapped_column(default=0)
    ordered: Mapped[int] = mapped_column(default=0)
    position: Mapped[int] = mapped_column(default=0)
    cancelled_below_minimum: Mapped[bool] = mapped_column(default=False)

    campaign: Mapped[Campaign] = relationship(back_populates="items")
    supplies: Mapped[list["Supply"]] = relationship(back_populates="item", order_by="Supply.id")

    __table_args__ = (
        sa.CheckConstraint("price_fen >= 0", name="price_non_negative"),
        sa.CheckConstraint("capacity >= 0", name="capacity_non_negative"),
        sa.CheckConstraint("ordered >= 0 AND ordered <= capacity", name="ordered_within_capacity"),
        sa.CheckConstraint("per_buyer_limit IS NULL OR per_buyer_limit > 0", name="limit_positive"),
        sa.CheckConstraint("min_total IS NULL OR min_total > 0", name="min_total_positive"),
        sa.CheckConstraint("unit_weight_g IS NULL OR unit_weight_g > 0", name="unit_weight_positive"),
        sa.CheckConstraint(
            "price_per_kg_fen IS NULL OR (price_per_kg_fen > 0 AND unit_weight_g IS NOT NULL)", name="price_per_kg_needs_weight"
        ),
        sa.CheckConstraint("policy IN ('proportional', 'poor_first')", name="policy_known"),
    )

    @property
    def remaining(self) -> int:
        return self.capacity - self.ordered

    @property
    def short_of_minimum(self) -> int | None:
        """How many more must be ordered for the item to go ahead; see :func:`minimum_shortfall`."""
        return minimum_shortfall(self.ordered, self.min_total)

    @property
    def minimum_pct(self) -> int | None:
        """How far the item is towards its minimum total, 0–100; see :func:`minimum_percent`."""
        return minimum_percent(self.ordered, self.min_total)


def minimum_shortfall(ordered, min_total) -> int | None:
    """What an item still lacks to reach its minimum total (成团量): 0 once reached, None when it has no minimum.

    A plain function of the two figures, so a cached catalogue shows the same as a fresh one."""
    return None if not min_total else max(min_total - ordered, 0)


def minimum_percent(ordered, min_total) -> int | None:
    """The share of the minimum total ordered so far, in whole percent (rounded down, at most 100); None without one."""
    return None if not min_total else min(100, 100 * ordered // min_total)


class Supply(db.Model):
    """A listing's quantity offered to one campaign item; `allocated` is set when the campaign is pooled."""

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_item.id"), index=True)
    listing_id: Mapped[int] = mapped_column(sa.ForeignKey("listing.id"), index=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    quantity: Mapped[int]
    allocated: Mapped[int | None]

    item: Mapped[CampaignItem] = relationship(back_populates="supplies")
    listing: Mapped["Listing"] = relationship()  # noqa: F821
    producer: Mapped["Producer"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("item_id", "listing_id"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("allocated IS NULL OR (allocated >= 0 AND allocated <= quantity)", name="allocated_within"),
    )


REMINDER_KINDS = ("below_minimum", "not_ordered")


class CampaignReminder(db.Model):
    """A reminder sent to one person about one campaign: at most one of each kind, however often beat runs and however
    many beats run (shop.reminders inserts it first, and only the insert that went in sends the message)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"))
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        sa.UniqueConstraint("campaign_id", "user_id", "kind"),
        sa.CheckConstraint("kind IN ('below_minimum', 'not_ordered')", name="kind_known"),
    )
