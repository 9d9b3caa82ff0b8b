"""What the close stores: each item's split across producers (Allocation) and across delivery units (PickLine)."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from extensions import db


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
    """The delivery split: how much of one producer's allocation goes to one unit.

    Keyed by (allocation, unit) with no surrogate id: the close writes tens of thousands at once (migration 0008)."""

    allocation_id: Mapped[int] = mapped_column(sa.ForeignKey("allocation.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), primary_key=True, index=True)
    quantity: Mapped[int]

    allocation: Mapped[Allocation] = relationship(back_populates="pick_lines")
    unit: Mapped["Unit"] = relationship()  # noqa: F821

    __table_args__ = (sa.CheckConstraint("quantity > 0", name="quantity_positive"),)
