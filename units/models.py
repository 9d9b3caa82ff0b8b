"""A unit's yearly reserved share for consumption-aid goods: its canteen food budget and its union's welfare budget,
each with the share the rules ask of it. A target of the unit, never of a person."""

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from database import Timestamps
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
