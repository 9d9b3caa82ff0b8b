"""Orders and their lines, group sheets, and the allocation of demand to producers and delivery units."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import Timestamps, UTCDateTime, utcnow
from extensions import db

ORDER_STATUSES = ("placed", "allocated", "delivered", "cancelled")
PAYMENT_STATUSES = ("unpaid", "paid")
PAYMENT_METHODS = ("cash", "transfer")
ORDER_SOURCES = ("buyer", "coordinator", "sheet")


class GroupSheet(db.Model):
    """One uploaded sign-up sheet of a unit for a campaign; a new upload replaces the previous one's orders."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    uploaded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    filename: Mapped[str] = mapped_column(sa.String(255))
    rows: Mapped[int]
    uploaded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replaced_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Order(Timestamps, db.Model):
    """A pre-order by one person in one campaign, placed by them or by their unit's coordinator."""

    __tablename__ = "buyer_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    buyer_name: Mapped[str] = mapped_column(sa.String(80))
    buyer_phone: Mapped[str] = mapped_column(sa.String(20))
    placed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    source: Mapped[str] = mapped_column(sa.String(16), default="buyer")
    group_sheet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("group_sheet.id"), index=True)
    status: Mapped[str] = mapped_column(sa.String(16), default="placed", index=True)
    total_fen: Mapped[int] = mapped_column(default=0)
    note: Mapped[str | None] = mapped_column(sa.String(500))
    idempotency_key: Mapped[str | None] = mapped_column(sa.String(80))
    request_fingerprint: Mapped[str | None] = mapped_column(sa.String(64))
    payment_status: Mapped[str] = mapped_column(sa.String(8), default="unpaid")
    payment_method: Mapped[str | None] = mapped_column(sa.String(16))
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    payment_recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lines: Mapped[list["OrderLine"]] = relationship(back_populates="order", order_by="OrderLine.id")
    unit: Mapped["Unit"] = relationship()  # noqa: F821
    campaign: Mapped["Campaign"] = relationship()  # noqa: F821
    user: Mapped["User | None"] = relationship(foreign_keys=[user_id])  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("placed_by_id", "idempotency_key"),
        sa.CheckConstraint("total_fen >= 0", name="total_non_negative"),
        sa.CheckConstraint("status IN ('placed', 'allocated', 'delivered', 'cancelled')", name="status_known"),
        sa.CheckConstraint("payment_status IN ('unpaid', 'paid')", name="payment_status_known"),
        sa.CheckConstraint("source IN ('buyer', 'coordinator', 'sheet')", name="source_known"),
        sa.Index("ix_order_campaign_phone", "campaign_id", "buyer_phone"),
    )


class OrderLine(db.Model):
    """Quantity of one item at the price the buyer saw; a cancelled line keeps its row but never counts."""

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("buyer_order.id"), index=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_item.id"), index=True)
    quantity: Mapped[int]
    price_fen: Mapped[int]
    cancelled: Mapped[bool] = mapped_column(default=False)
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(32))

    order: Mapped[Order] = relationship(back_populates="lines")
    item: Mapped["CampaignItem"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("price_fen >= 0", name="price_non_negative"),
    )


class Allocation(db.Model):
    """After close: how much of an item one producer prepares."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_item.id"))
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    quantity: Mapped[int]

    pick_lines: Mapped[list["PickLine"]] = relationship(back_populates="allocation", order_by="PickLine.unit_id")
    item: Mapped["CampaignItem"] = relationship()  # noqa: F821
    producer: Mapped["Producer"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("item_id", "producer_id"),
        sa.CheckConstraint("quantity >= 0", name="quantity_non_negative"),
    )


class PickLine(db.Model):
    """The delivery split: how much of one producer's allocation goes to one unit."""

    id: Mapped[int] = mapped_column(primary_key=True)
    allocation_id: Mapped[int] = mapped_column(sa.ForeignKey("allocation.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    quantity: Mapped[int]

    allocation: Mapped[Allocation] = relationship(back_populates="pick_lines")
    unit: Mapped["Unit"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.UniqueConstraint("allocation_id", "unit_id"),
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
    )
