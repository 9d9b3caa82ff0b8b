"""A unit's yearly reserved share for consumption-aid goods: its canteen food budget and its union's welfare budget,
each with the share the rules ask of it. A target of the unit, never of a person."""

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from database import Timestamps, UTCDateTime, utcnow
from extensions import db


class UnitTarget(Timestamps, db.Model):
    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"))
    year: Mapped[int]
    canteen_budget_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    canteen_share_pct: Mapped[int] = mapped_column(default=0)
    union_budget_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    union_share_pct: Mapped[int] = mapped_column(default=0)
    updated_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))

    __table_args__ = (
        sa.UniqueConstraint("unit_id", "year"),
        sa.CheckConstraint("canteen_budget_fen >= 0 AND union_budget_fen >= 0", name="budgets_non_negative"),
        sa.CheckConstraint(
            "canteen_share_pct BETWEEN 0 AND 100 AND union_share_pct BETWEEN 0 AND 100", name="shares_are_percentages"
        ),
    )

    @property
    def target_fen(self) -> int:
        """What the unit should spend on such goods this year: each budget times its share, to the fen."""
        return round(self.canteen_budget_fen * self.canteen_share_pct / 100) + round(
            self.union_budget_fen * self.union_share_pct / 100
        )


class PaymentEntry(db.Model):
    """One change to an order's payment flag: marked paid (the amount, how) or unmarked (the amount taken back), with
    who, when and why. The order's ``payment_status`` is the current state; these rows are how it got there, so what
    a unit had collected on any day can be told again later: the sum of the entries up to that day."""

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("buyer_order.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"))
    status: Mapped[str] = mapped_column(sa.String(8))
    method: Mapped[str | None] = mapped_column(sa.String(16))
    amount_fen: Mapped[int] = mapped_column(sa.BigInteger)
    reason: Mapped[str | None] = mapped_column(sa.String(255))

    actor: Mapped["User | None"] = relationship()  # noqa: F821

    __table_args__ = (
        sa.CheckConstraint("status IN ('paid', 'unpaid')", name="status_known"),
        sa.CheckConstraint(
            "(status = 'paid' AND amount_fen >= 0) OR (status = 'unpaid' AND amount_fen <= 0)", name="amount_signed"
        ),
    )
