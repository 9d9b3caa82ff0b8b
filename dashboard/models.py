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


EXPORT_STATUSES = ("queued", "running", "done", "failed")


class ExportJob(db.Model):
    """An export too big to build while the operator waits: built by the worker, offered to that operator only.

    The file lives under EXPORT_DIR until ``expires_at``; then beat's sweep deletes it and this row.
    """

    id: Mapped[int] = mapped_column(primary_key=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("user.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(40))
    fmt: Mapped[str] = mapped_column(sa.String(8))
    params: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    status: Mapped[str] = mapped_column(sa.String(16), default="queued")
    progress: Mapped[int] = mapped_column(default=0)
    rows: Mapped[int | None]
    file_path: Mapped[str | None] = mapped_column(sa.String(255))
    file_name: Mapped[str | None] = mapped_column(sa.String(120))
    error: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)

    __table_args__ = (
        sa.CheckConstraint("status IN ('queued', 'running', 'done', 'failed')", name="status_known"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress_percent"),
    )


class KeptCampaign(db.Model):
    """A campaign whose figures are kept (campaign_figure, campaign_buyer) rather than recomputed from its lines.

    Written by the pooling with ``kept_at`` None (pending: read live) and stamped when the close task has kept them;
    every later event that changes its figures takes this row's lock before refreshing them, so two such events on
    one campaign, or an event and the keeping, take turns and neither loses the other's update.
    """

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), primary_key=True)
    kept_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class CampaignFigure(db.Model):
    """One kept row of a pooled campaign's figures: its totals, one sales row per group, or a reached producer.

    ``grouping`` is "total", a sales grouping (product, producer, town, unit, day, campaign), "reach" (one row per
    producer reached or with completed sales), or "<grouping> products" (the per-product breakdown ``within`` a
    group). ``unit`` is None when the row mixes sale units, and then ``quantity`` is None too.
    """

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), primary_key=True)
    grouping: Mapped[str] = mapped_column(sa.String(24), primary_key=True)
    within: Mapped[str] = mapped_column(sa.String(160), primary_key=True, default="")
    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    label: Mapped[str] = mapped_column(sa.String(160))
    quantity: Mapped[int | None] = mapped_column(sa.BigInteger)
    unit: Mapped[str | None] = mapped_column(sa.String(8))
    revenue_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    weight_g: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    unweighed: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    orders: Mapped[int] = mapped_column(default=0)
    buyers: Mapped[int] = mapped_column(default=0)
    lines: Mapped[int] = mapped_column(default=0)
    unallocated_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    delivered_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    refunded_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    completed_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    reached: Mapped[bool] = mapped_column(default=False)
    pooled: Mapped[bool] = mapped_column(default=False)


class CampaignBuyer(db.Model):
    """The distinct buyers of a kept campaign, so the platform's buyers stay an exact distinct count."""

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20), primary_key=True)


class OpenSale(db.Model):
    """What an open campaign's sold lines of one item add up to in one unit (``grouping`` "unit") or on one local day
    ("day"): kept by every order, change and cancellation in its own transaction (dashboard.open_figures).

    Keyed by item, so a row is only ever written by an order holding that item's capacity lock: keeping it adds no
    wait that the order did not have already, and no row is shared by every order of the campaign.
    """

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_item.id"), primary_key=True)
    grouping: Mapped[str] = mapped_column(sa.String(8), primary_key=True)
    key: Mapped[str] = mapped_column(sa.String(16), primary_key=True)
    quantity: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    revenue_fen: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    lines: Mapped[int] = mapped_column(default=0)


class OpenBuyer(db.Model):
    """One buyer's live orders in an open campaign, per unit and local day: the campaign's, units' and days' orders
    and distinct buyers, and the platform's buyers."""

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), primary_key=True)
    unit_id: Mapped[int] = mapped_column(sa.ForeignKey("unit.id"), primary_key=True)
    day: Mapped[str] = mapped_column(sa.String(10), primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    orders: Mapped[int] = mapped_column(default=0)


class OpenItemBuyer(db.Model):
    """One buyer's live lines of one item of an open campaign: each product's distinct buyers."""

    campaign_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign.id"), primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("campaign_item.id"), primary_key=True)
    phone: Mapped[str] = mapped_column(sa.String(20), primary_key=True)
    lines: Mapped[int] = mapped_column(default=0)
