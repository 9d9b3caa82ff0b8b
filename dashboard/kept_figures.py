"""Kept figures: a pooled campaign's totals, sales rows and reach, kept up to date by the events that change them, so
the dashboard, the stats API, the exports and the public results page need not read every line.

Why only pooled campaigns: from the close on a campaign's orders change only through a few events (receipts and
corrections, delivery marked complete, claim decisions, payments), which call :func:`keep_campaign_outcomes` in
their own transactions; before the close the orders keep their campaign's open figures themselves
(dashboard.open_figures), which the keeping here replaces. The close marks the figures pending in its pooling
transaction and the close task keeps them right after the notices are queued (:func:`keep_pending_figures`; beat's
sweep keeps any that a dead worker left, or that a producer's move to another town made pending again,
:func:`producer_moved`). A pooled campaign whose figures are pending, or were never kept (a database from before
0040, until ``flask rebuild-figures``), is read live (dashboard.kept_reading): slower, never stale.

One definition of each figure: the rows are what the live functions (dashboard.totals, dashboard.grouping,
delivery.outcomes) give for that one campaign; nothing here restates a rule.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from dashboard.grouping import product_breakdown, sales_rows
from dashboard.models import CampaignBuyer, CampaignFigure, KeptCampaign
from dashboard.open_figures import drop_open_figures, rebuild_open_figures
from dashboard.sales import GROUPINGS, a, c, o, sold_lines_from, sold_lines_where
from dashboard.totals import reach_figures, reached_producers, sales_totals
from database import transaction, utcnow
from delivery.outcomes import completed_by_producer, outcome_totals
from extensions import db
from shop.lifecycle import POOLED

figure_t = CampaignFigure.__table__
buyer_t = CampaignBuyer.__table__
kept_t = KeptCampaign.__table__

TOTAL = "total"
REACH = "reach"
# Groupings whose sales page shows each group's products (every grouping but product itself).
BREAKDOWNS = tuple(g for g in GROUPINGS if g != "product")
FIGURE_COLUMNS = (
    "label",
    "quantity",
    "unit",
    "revenue_fen",
    "weight_g",
    "unweighed",
    "orders",
    "buyers",
    "lines",
    "unallocated_fen",
    "delivered_fen",
    "refunded_fen",
    "completed_fen",
    "reached",
    "pooled",
)
OUTCOME_COLUMNS = ("delivered_fen", "refunded_fen", "completed_fen")


def breakdown_grouping(group_by) -> str:
    return f"{group_by} products"


def _figure(campaign_id, grouping, key, within="", **values) -> dict:
    row = {column: 0 for column in FIGURE_COLUMNS}
    row.update(label="", quantity=None, unit=None, reached=False, pooled=False)
    row.update(values)
    return {"campaign_id": campaign_id, "grouping": grouping, "within": within, "key": str(key), **row}


def _sales_figure(campaign_id, grouping, row, within="") -> dict:
    return _figure(
        campaign_id,
        grouping,
        row["key"] if "key" in row else f"{row['label']}/{row['unit']}",
        within,
        label=row["label"],
        quantity=row["quantity"],
        unit=row["unit"],
        revenue_fen=row["revenue_fen"],
        weight_g=row["weight_g"],
        unweighed=row.get("units_without_weight", 0),
        orders=row.get("orders", 0),
        buyers=row.get("buyers", 0),
    )


def campaign_figures(campaign_id) -> list[dict]:
    """Every kept row of one campaign, recomputed now by the live functions (for keeping, and for the check)."""
    reached = reached_producers(campaign_id)
    completed = completed_by_producer(campaign_id)
    totals = sales_totals(campaign_id, reach_figures(reached, completed))
    rows = [_figure(campaign_id, TOTAL, "-", **_total_values(totals))]
    for grouping in GROUPINGS:
        rows.extend(_sales_figure(campaign_id, grouping, row) for row in sales_rows(campaign_id, grouping))
    for grouping in BREAKDOWNS:
        for within, products in product_breakdown(campaign_id, grouping).items():
            rows.extend(_sales_figure(campaign_id, breakdown_grouping(grouping), row, within) for row in products)
    rows.extend(_reach_figures(campaign_id, reached, completed))
    return rows


def _total_values(totals) -> dict:
    return {
        "revenue_fen": totals["revenue_fen"],
        "weight_g": totals["weight_g"],
        "unweighed": totals["units_without_weight"],
        "orders": totals["orders"],
        "buyers": totals["buyers"],
        "lines": totals["lines"],
        "unallocated_fen": totals["unallocated_revenue_fen"],
        **{column: totals[column] for column in OUTCOME_COLUMNS},
    }


def _reach_figures(campaign_id, reached, completed) -> list[dict]:
    """One row per producer reached (its pooled income) or with completed sales (its completed fen)."""
    rows = {
        row.id: _figure(campaign_id, REACH, row.id, revenue_fen=int(row.revenue_fen or 0), reached=True, pooled=bool(row.pooled))
        for row in reached
    }
    for producer_id, value in completed.items():
        rows.setdefault(producer_id, _figure(campaign_id, REACH, producer_id))["completed_fen"] = value
    return list(rows.values())


def campaign_buyers(campaign_id):
    """The distinct buyer phones of one campaign's sales (a SELECT, to insert from or compare with)."""
    return (
        sa.select(o.c.buyer_phone.label("phone")).select_from(sold_lines_from()).where(*sold_lines_where(campaign_id)).distinct()
    )


def mark_figures_pending(campaign_id) -> None:
    """In the pooling transaction: the campaign's figures are to be kept, by :func:`keep_pending_figures` right after.

    Until then its figures are read live (so they are never stale), and the events that change them leave the
    keeping to that step: they take turns with it on this row, so whichever comes second sees the other's work.
    """
    db.session.execute(_insert(kept_t).values(campaign_id=campaign_id, kept_at=None).on_conflict_do_nothing())


def producer_moved(producer_id) -> None:
    """A producer's town changed, in the caller's transaction: the town rows of every kept campaign it was allocated
    in name the old town, so those campaigns' figures are pending again, read live until beat's sweep keeps them
    anew (the live figures name each producer's town of today)."""
    allocated_in = sa.select(a.c.campaign_id).where(a.c.producer_id == producer_id, a.c.quantity > 0)
    db.session.execute(kept_t.update().where(kept_t.c.campaign_id.in_(allocated_in)).values(kept_at=None))


def pending_campaigns() -> list[int]:
    """Pooled campaigns whose figures wait to be kept (the close's worker died, or is at it now): for beat's sweep."""
    return list(
        db.session.scalars(sa.select(kept_t.c.campaign_id).where(kept_t.c.kept_at.is_(None)).order_by(kept_t.c.campaign_id))
    )


def keep_pending_figures(campaign_id) -> bool:
    """Keep a freshly pooled campaign's figures, and commit: the close task's step after the notices are queued, so
    they wait for nobody's figures. Idempotent: a campaign kept already, or being kept by another worker right now
    (PostgreSQL skips its locked row), is left alone.

    :returns: True when this call kept them.
    """
    pending = sa.and_(kept_t.c.campaign_id == campaign_id, kept_t.c.kept_at.is_(None))
    with transaction(write=True):
        if db.session.scalar(sa.select(kept_t.c.campaign_id).where(pending).with_for_update(skip_locked=True)) is None:
            return False
        db.session.execute(kept_t.update().where(pending).values(kept_at=utcnow()))
        _write_figures(campaign_id)
    return True


def keep_campaign_figures(campaign_id) -> None:
    """Rewrite one campaign's kept figures whole, in the caller's transaction (does not commit): `flask
    rebuild-figures`, and a cancelled campaign. A campaign that is not pooled keeps no rows here: its open figures
    are rebuilt from its lines instead (dashboard.open_figures; a cancelled one has none). A pooled one takes its
    turn on the ``kept_campaign`` row like every event."""
    status = db.session.scalar(sa.select(c.c.status).where(c.c.id == campaign_id))
    if status not in POOLED:
        drop_campaign_figures(campaign_id)
        rebuild_open_figures(campaign_id)
        return
    _take_turn(campaign_id)
    _write_figures(campaign_id)


def keep_campaign_outcomes(campaign_id) -> None:
    """Rewrite one kept campaign's delivered, refunded and completed figures in the caller's transaction: what
    receipts and corrections, delivery marked complete, claim decisions and payments change. After the pooling those
    events write only line entries, receipts, deliveries, order statuses and payments, never the lines, items or
    allocations the other figures come from (`flask check-totals` would show it if one ever did), so two queries do
    instead of the whole campaign.

    Concurrent events on one campaign take turns on its ``kept_campaign`` row, locked before anything is recomputed,
    so the later one recomputes with the earlier one's changes; callers take this lock last, after their own row
    locks, so it adds no deadlock. A campaign whose figures are not kept (open, with open figures; pending, or never
    kept since the migration, read live) has nothing to rewrite here: its keeping, when it comes, sees this event.
    """
    kept_at = db.session.scalar(sa.select(kept_t.c.kept_at).where(kept_t.c.campaign_id == campaign_id).with_for_update())
    if kept_at is not None:
        _keep_outcomes(campaign_id)


def _write_figures(campaign_id) -> None:
    drop_open_figures(campaign_id)
    db.session.execute(figure_t.delete().where(figure_t.c.campaign_id == campaign_id))
    db.session.execute(buyer_t.delete().where(buyer_t.c.campaign_id == campaign_id))
    db.session.execute(figure_t.insert(), campaign_figures(campaign_id))
    db.session.execute(buyer_t.insert().from_select(["campaign_id", "phone"], _with_campaign(campaign_id)))


def kept_campaigns():
    """The ids of the campaigns whose figures are kept (not pending), as a SELECT for readers to join or filter by."""
    return sa.select(kept_t.c.campaign_id).where(kept_t.c.kept_at.is_not(None))


def _with_campaign(campaign_id):
    phones = campaign_buyers(campaign_id).subquery()
    return sa.select(sa.literal(campaign_id, sa.Integer).label("campaign_id"), phones.c.phone)


def drop_campaign_figures(campaign_id) -> None:
    """Forget one campaign's kept figures: from now on its figures are read live."""
    for table in (figure_t, buyer_t, kept_t):
        db.session.execute(table.delete().where(table.c.campaign_id == campaign_id))


def _insert(table):
    return (postgresql.insert if db.session.connection().dialect.name == "postgresql" else sqlite.insert)(table)


def _take_turn(campaign_id) -> None:
    """Lock the campaign's kept_campaign row (writing it first if missing) and mark it kept now."""
    db.session.execute(_insert(kept_t).values(campaign_id=campaign_id, kept_at=utcnow()).on_conflict_do_nothing())
    db.session.scalar(sa.select(kept_t.c.campaign_id).where(kept_t.c.campaign_id == campaign_id).with_for_update())
    db.session.execute(kept_t.update().where(kept_t.c.campaign_id == campaign_id).values(kept_at=utcnow()))


def _keep_outcomes(campaign_id) -> None:
    """Rewrite delivered, refunded and completed fen: the total row's and each producer's completed fen."""
    totals = outcome_totals(campaign_id)
    db.session.execute(
        figure_t.update().where(figure_t.c.campaign_id == campaign_id, figure_t.c.grouping == TOTAL).values(**totals)
    )
    completed = completed_by_producer(campaign_id)
    kept = {
        int(key): (reached, value)
        for key, reached, value in db.session.execute(
            sa.select(figure_t.c.key, figure_t.c.reached, figure_t.c.completed_fen).where(
                figure_t.c.campaign_id == campaign_id, figure_t.c.grouping == REACH
            )
        )
    }
    reach_row = sa.and_(figure_t.c.campaign_id == campaign_id, figure_t.c.grouping == REACH, figure_t.c.within == "")
    for producer_id in sorted(set(kept) | set(completed)):
        value = completed.get(producer_id, 0)
        if producer_id not in kept:
            db.session.execute(figure_t.insert(), [_figure(campaign_id, REACH, producer_id, completed_fen=value)])
        elif not kept[producer_id][0] and not value:
            db.session.execute(figure_t.delete().where(reach_row, figure_t.c.key == str(producer_id)))
        elif kept[producer_id][1] != value:
            db.session.execute(figure_t.update().where(reach_row, figure_t.c.key == str(producer_id)).values(completed_fen=value))


def rebuild_figures(campaign_id=None) -> int:
    """Keep the figures of one campaign, or of every campaign (kept or open, see :func:`keep_campaign_figures`); the
    caller commits.

    :returns: how many campaigns now have kept figures.
    """
    if campaign_id is not None:
        keep_campaign_figures(campaign_id)
        return int(db.session.scalar(sa.select(sa.func.count()).select_from(kept_t).where(kept_t.c.campaign_id == campaign_id)))
    for every_id in sorted(db.session.scalars(sa.select(c.c.id))):
        keep_campaign_figures(every_id)
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(kept_t)))
