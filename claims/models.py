"""Claims (售后) on delivered order lines, their photos, and each refund's share per producer."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import UTCDateTime, utcnow
from extensions import db

CLAIM_REASONS = ("short", "damaged", "spoiled", "not_as_described")
CLAIM_STATUSES = ("open", "refunded", "replaced", "rejected")
DECISIONS = {"refund": "refunded", "replace": "replaced", "reject": "rejected"}


class Claim(db.Model):
    """A buyer's (or their coordinator's) complaint on one delivered line, and the operator's one decision on it.

    A refund is written as a ``refund`` entry in the line's ledger (delivery.models.LineEntry: its charge lowered) and
    shared among the producers who delivered the item to the unit (ClaimRefund), lowering what each is due."""

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("buyer_order.id"), index=True)
    order_line_id: Mapped[int] = mapped_column(sa.ForeignKey("order_line.id"), index=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_item.id"))
    producer_id: Mapped[int | None] = mapped_column(sa.ForeignKey("producer.id"))
    quantity: Mapped[int]
    reason: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(12), default="open", index=True)
    filed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    filed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decision_note: Mapped[str | None] = mapped_column(sa.String(500))
    refund_quantity: Mapped[int | None]
    refund_fen: Mapped[int | None]
    line_entry_id: Mapped[int | None] = mapped_column(sa.ForeignKey("line_entry.id"))

    photos: Mapped[list["ClaimPhoto"]] = relationship(back_populates="claim", order_by="ClaimPhoto.position")
    refunds: Mapped[list["ClaimRefund"]] = relationship(back_populates="claim", order_by="ClaimRefund.producer_id")
    order: Mapped["Order"] = relationship()  # noqa: F821
    item: Mapped["CampaignItem"] = relationship()  # noqa: F821
    producer: Mapped["Producer | None"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint("quantity > 0", name="quantity_positive"),
        sa.CheckConstraint("reason IN ('short', 'damaged', 'spoiled', 'not_as_described')", name="reason_known"),
        sa.CheckConstraint("status IN ('open', 'refunded', 'replaced', 'rejected')", name="status_known"),
        sa.CheckConstraint(
            "(status = 'refunded') = (refund_fen IS NOT NULL AND refund_quantity IS NOT NULL)", name="refund_when_refunded"
        ),
        sa.CheckConstraint("refund_fen IS NULL OR refund_fen > 0", name="refund_positive"),
        sa.CheckConstraint(
            "refund_quantity IS NULL OR (refund_quantity > 0 AND refund_quantity <= quantity)", name="refund_within_claim"
        ),
    )


class ClaimPhoto(db.Model):
    """A photo of what was wrong, checked and re-encoded like a listing's; served by its random name."""

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claim.id"), index=True)
    filename: Mapped[str] = mapped_column(sa.String(80), unique=True)
    thumbnail: Mapped[str] = mapped_column(sa.String(80))
    position: Mapped[int] = mapped_column(default=0)

    claim: Mapped[Claim] = relationship(back_populates="photos")

    @property
    def token(self) -> str:
        return self.filename.removesuffix(".jpg")


class ClaimRefund(db.Model):
    """One producer's part of a refund: what it is no longer due (its share of the pieces and of the fen)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    claim_id: Mapped[int] = mapped_column(sa.ForeignKey("claim.id"), index=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), index=True)
    producer_id: Mapped[int] = mapped_column(sa.ForeignKey("producer.id"), index=True)
    amount_fen: Mapped[int]

    claim: Mapped[Claim] = relationship(back_populates="refunds")

    __table_args__ = (
        sa.UniqueConstraint("claim_id", "producer_id"),
        sa.CheckConstraint("amount_fen >= 0", name="amount_non_negative"),
    )
