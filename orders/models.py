"""Orders and their lines, and group sheets."""

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.hybrid import Comparator, hybrid_property
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql import operators

from database import Timestamps, UTCDateTime, utcnow
from extensions import db

ORDER_STATUSES = ("placed", "allocated", "delivered", "cancelled")
PAYMENT_STATUSES = ("unpaid", "paid")
PAYMENT_METHODS = ("cash", "transfer")
ORDER_SOURCES = ("buyer", "coordinator", "sheet")
# A campaign in one of these states has been pooled: its orders that were still "placed" are "allocated".
POOLED_CAMPAIGN_STATUSES = ("allocated", "delivered", "settled")


ORDER_NUMBER = re.compile(r"^\s*[Cc]?(\d{1,9})-(\d{1,12})\s*$")


def order_number(campaign_id, order_id) -> str:
    """The number people read, write on a delivery sheet and say on the phone: the campaign, then the order, C12-0042.

    Derived from the ids, never stored: it cannot drift, and the API's ``id`` stays what it was.
    """
    return f"C{campaign_id}-{order_id:04d}"


def parse_order_number(text) -> tuple[int, int] | None:
    """(campaign id, order id) of an order number such as ``C12-0042`` (or ``12-42``); None if it is not one."""
    match = ORDER_NUMBER.match(str(text or ""))
    return (int(match.group(1)), int(match.group(2))) if match else None


def _campaign_pooled(campaign_id):
    campaign = db.metadata.tables["campaign"]
    return sa.exists().where(campaign.c.id == campaign_id, campaign.c.status.in_(POOLED_CAMPAIGN_STATUSES))


class OrderStatusComparator(Comparator):
    """Turns ``Order.status == / != / in_ / not_in`` into conditions on the stored column, adding the campaign's
    state only where "placed" and "allocated" must be told apart; so ``status != 'cancelled'`` stays a plain
    column test and every existing query plan is unchanged."""

    def __init__(self, stored, campaign_id):
        # No super().__init__: the CASE expression is built only when a query selects or orders by the status.
        self.stored, self.campaign_id = stored, campaign_id

    @property
    def expression(self):
        return sa.case((sa.and_(self.stored == "placed", _campaign_pooled(self.campaign_id)), "allocated"), else_=self.stored)

    def among(self, statuses):
        """The condition "status is one of ``statuses``" on the stored column."""
        statuses = set(statuses)
        if {"placed", "allocated"} <= statuses or not statuses & {"placed", "allocated"}:
            # The campaign's state cannot change the answer.
            return self.stored.in_(sorted(statuses)) if statuses else sa.false()
        pooled = _campaign_pooled(self.campaign_id)
        if "placed" in statuses:
            derived = sa.and_(self.stored == "placed", ~pooled)
        else:
            derived = sa.or_(self.stored == "allocated", sa.and_(self.stored == "placed", pooled))
        others = sorted(statuses - {"placed", "allocated"})
        return sa.or_(self.stored.in_(others), derived) if others else derived

    def _bulk_update_tuples(self, value):
        return [(self.stored, value)]

    def operate(self, op, *other, **kwargs):
        values = other[0] if other else None
        if op is operators.eq and isinstance(values, str):
            return self.among({values})
        if op is operators.ne and isinstance(values, str):
            return self.among(set(ORDER_STATUSES) - {values})
        if op in (operators.in_op, operators.not_in_op) and isinstance(values, list | tuple | set | frozenset):
            if all(isinstance(v, str) for v in values):
                chosen = self.among(values) if op is operators.in_op else self.among(set(ORDER_STATUSES) - set(values))
                return chosen
        return op(self.expression, *other, **kwargs)


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


_STATUS_COMPARATORS = {}


class Order(Timestamps, db.Model):
    """A pre-order by one person in one campaign, placed by them or by their unit's coordinator."""

    __tablename__ = "buyer_order"

    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"))  # indexed first in ix_order_campaign_phone
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("user.id"), index=True)
    buyer_name: Mapped[str] = mapped_column(sa.String(80))
    buyer_phone: Mapped[str] = mapped_column(sa.String(20))
    placed_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"))
    source: Mapped[str] = mapped_column(sa.String(16), default="buyer")
    group_sheet_id: Mapped[int | None] = mapped_column(sa.ForeignKey("group_sheet.id"), index=True)
    # "allocated" is never written: pooling a campaign makes its placed orders allocated (see ``status``),
    # so closing a campaign does not rewrite every one of its orders.
    stored_status: Mapped[str] = mapped_column("status", sa.String(16), default="placed")
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

    @property
    def number(self) -> str:
        return order_number(self.campaign_id, self.id)

    @hybrid_property
    def status(self) -> str:
        """placed → allocated → delivered, or cancelled; "allocated" is a placed order whose campaign was pooled."""
        stored = self.stored_status
        if stored == "placed" and self.campaign is not None and self.campaign.status in POOLED_CAMPAIGN_STATUSES:
            return "allocated"
        return stored

    @status.inplace.setter
    def _status_setter(self, value: str) -> None:
        self.stored_status = value

    @status.inplace.comparator
    @classmethod
    def _status_comparator(cls) -> OrderStatusComparator:
        # One per class: SQLAlchemy asks for it on every class-level access, e.g. each Order(status=...).
        if cls not in _STATUS_COMPARATORS:
            _STATUS_COMPARATORS[cls] = OrderStatusComparator(cls.__table__.c.status, cls.__table__.c.campaign_id)
        return _STATUS_COMPARATORS[cls]

    __table_args__ = (
        sa.UniqueConstraint("placed_by_id", "idempotency_key"),
        sa.CheckConstraint("total_fen >= 0", name="total_non_negative"),
        sa.CheckConstraint("status IN ('placed', 'allocated', 'delivered', 'cancelled')", name="status_known"),
        sa.CheckConstraint("payment_status IN ('unpaid', 'paid')", name="payment_status_known"),
        sa.CheckConstraint("source IN ('buyer', 'coordinator', 'sheet')", name="source_known"),
        sa.Index("ix_order_campaign_phone", "campaign_id", "buyer_phone"),
        # Room on each page for an order's new version: status, totals, payment and times are in no index, so a
        # cancellation, a below-minimum rewrite or a payment is a heap-only update instead of six index writes.
        {"postgresql_with": {"fillfactor": 90}},
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
