"""What arrived and what it costs: receipts (the producer's side) and line entries (the buyer's side).

Nothing here is ever updated or deleted. A receipt states, per item, what reached one unit from one producer;
a second receipt for the same producer, unit and item is a correction, and each receipt line carries the
change against the figure before it, so a producer's delivered quantity, weight and value are sums of changes.
Each buyer's delivered quantity, weight and charge are likewise sums of ``LineEntry`` rows.
"""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import UTCDateTime, utcnow
from extensions import db

# Kinds of receipt: a first statement, a correction of an earlier one (a reason is required), and the
# "everything arrived" button, which states the full pick lines.
RECEIPT_KINDS = ("receipt", "correction", "full")
# Kinds of line entry written by receipts. Other areas (claims: "refund") add their own kinds; the receipts'
# recomputation only ever compares against the sum of these kinds, so it never undoes another area's entry.
DELIVERY_ENTRY_KINDS = ("receipt", "correction", "full")


class Receipt(db.Model):
    """One statement of what reached one unit from one producer in one campaign: who recorded it, when, why."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"))
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16), default="receipt")
    reason: Mapped[str | None] = mapped_column(sa.String(255))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    lines: Mapped[list["ReceiptLine"]] = relationship(back_populates="receipt", order_by="ReceiptLine.id")
    unit: Mapped["Unit"] = relationship()  # noqa: F821
    producer: Mapped["Producer"] = relationship()  # noqa: F821
    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.Index("ix_receipt_campaign_unit_producer", "campaign_id", "unit_id", "producer_id"),
        sa.CheckConstraint("kind IN ('receipt', 'correction', 'full')", name="kind_known"),
    )


class ReceiptLine(db.Model):
    """One item of a receipt: the figures it states and their change against the producer's figures before it.

    ``quantity`` is what arrived in all (not a difference); ``weight_g`` the weighed total for an item charged by
    the kilogram (None: not weighed yet), the sum of ``bags`` when the coordinator weighed each person's bag.
    ``value_fen`` is what the producer is owed for it. The ``*_change`` columns are the differences against the
    previous line for the same producer, unit and item, so the producer's figures are their sums.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_id: Mapped[int] = mapped_column(sa.ForeignKey("receipt.id"), index=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_item.id"), index=True)
    allocation_id: Mapped[int] = mapped_column(sa.ForeignKey("allocation.id"), index=True)
    quantity: Mapped[int]
    weight_g: Mapped[int | None]
    weight_confirmed: Mapped[bool] = mapped_column(default=False)
    value_fen: Mapped[int] = mapped_column(default=0)
    quantity_change: Mapped[int] = mapped_column(default=0)
    weight_change_g: Mapped[int] = mapped_column(default=0)
    value_change_fen: Mapped[int] = mapped_column(default=0)

    receipt: Mapped[Receipt] = relationship(back_populates="lines")
    item: Mapped["CampaignItem"] = relationship()  # noqa: F821
    bags: Mapped[list["ReceiptBag"]] = relationship(back_populates="receipt_line", order_by="ReceiptBag.id")

    __table_args__ = (
        sa.UniqueConstraint("receipt_id", "item_id"),
        sa.CheckConstraint("quantity >= 0", name="quantity_non_negative"),
        sa.CheckConstraint("weight_g IS NULL OR weight_g > 0", name="weight_positive"),
        sa.CheckConstraint("value_fen >= 0", name="value_non_negative"),
    )


class ReceiptBag(db.Model):
    """One person's bag weighed by the coordinator: the weight of that order line's goods from this receipt line."""

    id: Mapped[int] = mapped_column(primary_key=True)
    receipt_line_id: Mapped[int] = mapped_column(sa.ForeignKey("receipt_line.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id"), index=True)
    weight_g: Mapped[int]

    receipt_line: Mapped[ReceiptLine] = relationship(back_populates="bags")

    __table_args__ = (
        sa.UniqueConstraint("receipt_line_id", "order_line_id"),
        sa.CheckConstraint("weight_g > 0", name="weight_positive"),
    )


class LineEntry(db.Model):
    """A change to one order line's delivered quantity, weight or charge: the amounts, who, when, why, and from what.

    A line's delivered quantity is the sum of its entries' ``quantity`` (None while it has none), its weight the
    sum of ``weight_g``, its charge the sum of ``charge_fen``. Entries are never updated or deleted.
    ``receipt_id`` names the receipt a delivery entry came from; other kinds (a claim's refund) leave it empty.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    receipt_id: Mapped[int | None] = mapped_column(sa.ForeignKey("receipt.id"), index=True)
    quantity: Mapped[int] = mapped_column(default=0)
    weight_g: Mapped[int] = mapped_column(default=0)
    charge_fen: Mapped[int] = mapped_column(default=0)
    reason: Mapped[str | None] = mapped_column(sa.String(255))
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    order_line: Mapped["OrderLine"] = relationship()  # noqa: F821
    receipt: Mapped[Receipt | None] = relationship()
    recorded_by: Mapped["User | None"] = relationship()  # noqa: F821
