"""Closing a campaign: pool the orders, split them fairly, write the pick lines, queue every notice once.

The close job runs in two transactions. The first only flips the campaign from published to closed
(a guarded UPDATE, so orders stop at once and two workers or two beats cannot both win). The second
does everything else — cancel items below their minimum, allocate, write pick lines, queue the notices as
fan-out rows (to the producers, to the buyers of cancelled lines, to all buyers; the worker renders and writes
each message after the commit from what this transaction stored), mark the campaign allocated — and commits all
of it or nothing. A job that dies anywhere therefore leaves the campaign either closed-and-untouched or
allocated-and-complete, and running it again finishes the first case and does nothing in the second.
Demand is aggregated in SQL once and written in bulk: no OrderLine is ever loaded as an object, and no
order row is rewritten (a placed order of a pooled campaign reads as allocated, see Order.status).
"""

from collections import defaultdict
from typing import NamedTuple

import sqlalchemy as sa
from blinker import Namespace
from flask import current_app
from flask_babel import gettext as _

import after_commit
from accounts.services import record_audit
from dashboard.kept_figures import mark_figures_pending
from database import UTCDateTime, transaction, utcnow
from errors import Conflict, NotFound
from extensions import db
from fulfilment import bulk
from fulfilment.allocation import SupplyOffer, allocate_item, split_deliveries
from fulfilment.models import Allocation, PickLine
from fulfilment.notices import campaign_subject
from notifications import messages
from notifications.fanout import queue_buyer_fanout, queue_rendered_fanout
from orders.models import Order, OrderLine
from producers.models import Listing, Producer
from producers.stock import listing_status_after_stock_change
from shop.lifecycle import status_before, visible_to_buyers
from shop.models import Campaign, CampaignItem, CampaignStatus, Supply

STEPS = ("closed", "below_minimum", "allocated", "producers_notified", "notified")

_signals = Namespace()
close_step_done = _signals.signal(
    "close-step-done",
    doc="Sent with ``campaign_id`` and ``step`` (one of STEPS) as the close job finishes each step, the first after "
    "its commit, the others inside the pooling transaction: a receiver that raises there rolls the pooling back.",
)

campaign_t = Campaign.__table__
item_t = CampaignItem.__table__
supply_t = Supply.__table__
listing_t = Listing.__table__
order_t = Order.__table__
line_t = OrderLine.__table__
allocation_t = Allocation.__table__
pick_t = PickLine.__table__


def _step_done(step, campaign_id):
    close_step_done.send(current_app._get_current_object(), campaign_id=campaign_id, step=step)


def request_close(actor, campaign_id) -> Campaign:
    """An operator closes a published campaign now: orders stop at once, pooling runs in the worker.

    Safe to repeat: a campaign already closed or pooled is returned as it is. The pooling task is sent
    after the commit; if the broker is down the close still stands and beat's sweep pools it later.
    :raises NotFound: no such campaign.
    :raises Conflict: a draft, or a campaign that has not opened yet.
    """
    now = utcnow()
    with transaction():
        closed = db.session.execute(
            campaign_t.update()
            .where(
                campaign_t.c.id == campaign_id,
                campaign_t.c.status == status_before(CampaignStatus.CLOSED),
                campaign_t.c.opens_at < now,
            )
            .values(
                status=CampaignStatus.CLOSED,
                closed_at=now,
                closes_at=sa.case((campaign_t.c.closes_at > now, sa.literal(now, UTCDateTime())), else_=campaign_t.c.closes_at),
            )
        ).rowcount
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound(_("No such campaign."))
        if closed:
            db.session.refresh(campaign)
            record_audit(actor, "campaign.close", campaign, early=True)
        elif not visible_to_buyers(campaign.status):
            raise Conflict(_("Only a published campaign can be closed."))
        elif campaign.status == status_before(CampaignStatus.CLOSED):
            raise Conflict(_("This campaign has not opened yet; it cannot be closed."))
        after_commit.close_campaign(campaign_id)
    return campaign


def campaigns_to_close(now=None) -> list[int]:
    """Campaigns the sweep must (re)start: published ones past closing time, and closed ones not yet pooled."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            sa.select(Campaign.id)
            .where(
                sa.or_(
                    sa.and_(Campaign.status == CampaignStatus.PUBLISHED, Campaign.closes_at <= now),
                    Campaign.status == CampaignStatus.CLOSED,
                )
            )
            .order_by(Campaign.closes_at, Campaign.id)
        )
    )


def close_campaign(campaign_id, now=None) -> str:
    """Close a campaign that is due and pool it; idempotent and crash-safe (see the module docstring).

    The notices are queued as fan-out rows in the pooling transaction; the worker expands them
    (notifications.fanout.expand_fanouts) right after this returns, and its sweep finishes any expansion a dead
    worker left. Receivers of close_step_done hear of each step.

    :param now: the time to close at (tests); defaults to now.
    :returns: "allocated" when this run pooled it; "not_due", "busy" (another run holds it) or
        "already_done" when there was nothing for this run to do.
    """
    now = now or utcnow()
    with transaction():
        db.session.execute(
            campaign_t.update()
            .where(campaign_t.c.id == campaign_id, campaign_t.c.status == CampaignStatus.PUBLISHED, campaign_t.c.closes_at <= now)
            .values(status=CampaignStatus.CLOSED, closed_at=now, updated_at=now)
        )
    _step_done("closed", campaign_id)
    with transaction():
        outcome = _claim(campaign_id, now)
        if outcome is None:
            _pool(db.session.get(Campaign, campaign_id), now)
            outcome = "allocated"
    if outcome == "allocated":
        current_app.logger.info("Campaign %s pooled; producers' and buyers' notices queued", campaign_id)
    return outcome


def _claim(campaign_id, now) -> str | None:
    """Take the closed campaign for this run: None when it is ours to pool, else why there is nothing to do.

    On PostgreSQL a run that finds another one holding the campaign skips rather than queueing behind it. The claim
    is a write, so on SQLite it takes the database's write lock before anything is read; a run that pooled the
    campaign meanwhile has changed its status and this one stops here. Then wait for the orders being placed right
    now (they hold their item rows) before counting demand.
    """
    locked = db.session.scalar(
        sa.select(campaign_t.c.id)
        .where(campaign_t.c.id == campaign_id, campaign_t.c.status == CampaignStatus.CLOSED)
        .with_for_update(skip_locked=True)
    )
    if locked is None:
        status = db.session.scalar(sa.select(campaign_t.c.status).where(campaign_t.c.id == campaign_id))
        return {"published": "not_due", "closed": "busy"}.get(status, "already_done")
    claimed = db.session.execute(
        campaign_t.update()
        .where(campaign_t.c.id == campaign_id, campaign_t.c.status == CampaignStatus.CLOSED)
        .values(updated_at=now)
    ).rowcount
    if not claimed:
        return "already_done"
    db.session.execute(sa.select(item_t.c.id).where(item_t.c.campaign_id == campaign_id).order_by(item_t.c.id).with_for_update())
    return None


def _pool(campaign, now) -> None:
    """The pooling transaction's steps, in order; the caller commits them together."""
    items = {
        row.id: row
        for row in db.session.execute(
            sa.select(item_t.c.id, item_t.c.title, item_t.c.unit, item_t.c.policy, item_t.c.min_total, item_t.c.position)
            .where(item_t.c.campaign_id == campaign.id)
            .order_by(item_t.c.position, item_t.c.id)
        )
    }
    demand = _demand(campaign.id)
    below = [i for i, item in items.items() if item.min_total and sum(demand.get(i, {}).values()) < item.min_total]
    cancelled_lines = _cancel_below_minimum(campaign, below, demand, now)
    _step_done("below_minimum", campaign.id)

    suppliers = _allocate(campaign.id, items, demand)
    _return_unallocated_stock(campaign.id)
    _step_done("allocated", campaign.id)

    # Every producer of the campaign hears once: what to prepare, or that nothing went to it this time.
    for kind, producers in (("picklist", suppliers.allocated), ("no_allocation", suppliers.without_allocation)):
        if producers:
            queue_rendered_fanout(campaign_id=campaign.id, kind=kind, subject=campaign_subject(campaign.id), now=now)
    _step_done("producers_notified", campaign.id)
    title, body = messages.order_allocated(campaign)
    queue_buyer_fanout(
        campaign_id=campaign.id, kind="order_allocated", subject=campaign_subject(campaign.id), title=title, body=body, now=now
    )
    _step_done("notified", campaign.id)

    db.session.execute(
        campaign_t.update()
        .where(campaign_t.c.id == campaign.id, campaign_t.c.status == CampaignStatus.CLOSED)
        .values(status=CampaignStatus.ALLOCATED, allocated_at=now)
    )
    record_audit(
        None,
        "campaign.allocated",
        campaign,
        items_below_minimum=len(below),
        lines_cancelled=cancelled_lines,
        units_allocated=sum(q for per_unit in demand.values() for q in per_unit.values()),
        producers_to_notify=len(suppliers.allocated) + len(suppliers.without_allocation),
    )
    # From the pooling on, this campaign's figures are kept rather than recomputed: the close task keeps them once
    # the notices are out (dashboard.kept_figures.keep_pending_figures); until then they are read live.
    mark_figures_pending(campaign.id)


def _demand(campaign_id) -> dict:
    """item id → unit id → live quantity ordered: the one pass over the campaign's order lines; everything after
    works from this aggregate."""
    demand = defaultdict(dict)
    # Fetched at once: iterating the result fetches row by row, a driver call for each of the tens of thousands.
    for item_id, unit_id, quantity in db.session.execute(
        sa.select(line_t.c.item_id, order_t.c.unit_id, sa.func.sum(line_t.c.quantity))
        .select_from(line_t.join(order_t, order_t.c.id == line_t.c.order_id))
        .where(order_t.c.campaign_id == campaign_id, line_t.c.cancelled == sa.false(), order_t.c.status != "cancelled")
        .group_by(line_t.c.item_id, order_t.c.unit_id)
    ).all():
        demand[item_id][unit_id] = int(quantity)
    return demand


def _cancel_below_minimum(campaign, below, demand, now) -> int:
    """Cancel the live lines of items that did not reach their minimum total, and queue their buyers' notices.

    The lines are found through the item index and rewritten by one statement; each buyer's notice is rendered
    after the commit from the lines cancelled here (fulfilment.notices.below_minimum_notices), queued now as one
    fan-out row. Takes the items out of ``demand``.
    :returns: how many lines were cancelled.
    """
    if not below:
        return 0
    # A scalar subquery rather than EXISTS: each of the few lines found by the item index looks its order up by
    # primary key, where EXISTS joins every order of the campaign.
    order_status = (
        sa.select(order_t.c.status)
        .where(order_t.c.id == line_t.c.order_id, order_t.c.campaign_id == campaign.id)
        .scalar_subquery()
    )
    cancelled = db.session.execute(
        line_t.update()
        .where(line_t.c.item_id.in_(below), line_t.c.cancelled == sa.false(), order_status != "cancelled")
        .values(cancelled=True, cancel_reason="below_minimum")
    ).rowcount
    for item_id in below:
        released = sum(demand.pop(item_id, {}).values())
        db.session.execute(
            item_t.update()
            .where(item_t.c.id == item_id)
            .values(
                cancelled_below_minimum=True,
                ordered=sa.case((item_t.c.ordered > released, item_t.c.ordered - released), else_=0),
                updated_at=now,
            )
        )
        record_audit(None, "item.cancelled_below_minimum", db.session.get(CampaignItem, item_id), released=released)
    if cancelled:
        _rewrite_orders(below, now)
        queue_rendered_fanout(campaign_id=campaign.id, kind="below_minimum", subject=campaign_subject(campaign.id), now=now)
    return cancelled


def _rewrite_orders(below, now):
    """One rewrite per order that lost lines below minimum: its total without the cancelled lines, and cancelled if
    no line is left. Each order's lines are read once, by one aggregate the UPDATE joins."""
    touched = sa.select(line_t.c.order_id).where(line_t.c.item_id.in_(below), line_t.c.cancel_reason == "below_minimum")
    live = line_t.c.cancelled == sa.false()
    lines = (
        sa.select(
            line_t.c.order_id,
            sa.func.coalesce(sa.func.sum(line_t.c.quantity * line_t.c.price_fen).filter(live), 0).label("total_fen"),
            sa.func.count().filter(live).label("live_lines"),
        )
        .where(line_t.c.order_id.in_(touched))
        .group_by(line_t.c.order_id)
        .subquery("lines")
    )
    still_active = lines.c.live_lines > 0
    db.session.execute(
        order_t.update()
        .where(order_t.c.id == lines.c.order_id, order_t.c.status == "placed")
        .values(
            total_fen=lines.c.total_fen,
            status=sa.case((still_active, order_t.c.status), else_="cancelled"),
            cancelled_at=sa.case((still_active, order_t.c.cancelled_at), else_=sa.literal(now, UTCDateTime())),
            updated_at=now,
        )
    )


class Suppliers(NamedTuple):
    """The producers of a campaign's supplies, by what the close gave them."""

    allocated: set
    without_allocation: set


def _allocate(campaign_id, items, demand) -> Suppliers:
    """Fair split per item, then the delivery split: writes Supply.allocated, Allocation and PickLine rows.

    :returns: the producers with and without an allocation.
    """
    supplies, producer_of = _supplies(campaign_id)
    supply_shares, allocation_rows, splits = [], [], {}
    for item_id, item in items.items():
        unit_demand = demand.get(item_id, {})
        shares = allocate_item(sum(unit_demand.values()), supplies.get(item_id, []), item.policy)
        per_producer = defaultdict(int)
        for supply_id, quantity in shares.items():
            supply_shares.append((supply_id, quantity))
            per_producer[producer_of[supply_id]] += quantity
        per_producer = {p: q for p, q in sorted(per_producer.items()) if q > 0}
        allocation_rows += [(campaign_id, item_id, producer_id, quantity) for producer_id, quantity in per_producer.items()]
        if per_producer:
            splits[item_id] = (per_producer, unit_demand)

    bulk.update_by_id(supply_t, "allocated", supply_shares)
    bulk.copy_rows(allocation_t, ("campaign_id", "item_id", "producer_id", "quantity"), allocation_rows)
    allocation_ids = {
        (item_id, producer_id): allocation_id
        for allocation_id, item_id, producer_id in db.session.execute(
            sa.select(allocation_t.c.id, allocation_t.c.item_id, allocation_t.c.producer_id).where(
                allocation_t.c.campaign_id == campaign_id
            )
        )
    }

    def pick_rows():
        # Computed as the COPY consumes them: PostgreSQL inserts one item's pick lines while this splits the next.
        for item_id, (per_producer, unit_demand) in splits.items():
            for producer_id, unit_id, quantity in split_deliveries(per_producer, unit_demand):
                yield allocation_ids[(item_id, producer_id)], unit_id, quantity

    bulk.copy_rows(pick_t, ("allocation_id", "unit_id", "quantity"), pick_rows())
    allocated = {producer_id for _campaign, _item, producer_id, _quantity in allocation_rows}
    return Suppliers(allocated, set(producer_of.values()) - allocated)


def _supplies(campaign_id) -> tuple[dict, dict]:
    """The campaign's supplies as the fair split takes them: item id → [SupplyOffer] in supply id order, and
    supply id → producer id."""
    supplies = defaultdict(list)
    producer_of = {}
    for supply_id, item_id, producer_id, quantity, poverty in db.session.execute(
        sa.select(supply_t.c.id, supply_t.c.item_id, supply_t.c.producer_id, supply_t.c.quantity, Producer.poverty_household)
        .select_from(
            supply_t.join(item_t, item_t.c.id == supply_t.c.item_id).join(Producer, Producer.id == supply_t.c.producer_id)
        )
        .where(item_t.c.campaign_id == campaign_id)
        .order_by(supply_t.c.id)
    ):
        supplies[item_id].append(SupplyOffer(supply_id, quantity, bool(poverty)))
        producer_of[supply_id] = producer_id
    return supplies, producer_of


def _return_unallocated_stock(campaign_id):
    """Give each listing back what its supplies offered to this campaign and did not get, so a farmer whose chickens
    were not ordered can offer them to the next campaign; a sold-out listing with goods back is approved again, by the
    one rule every stock change follows. Runs in the close transaction, so once."""
    unused = (
        sa.select(supply_t.c.listing_id, sa.func.sum(supply_t.c.quantity - supply_t.c.allocated).label("quantity"))
        .join(item_t, item_t.c.id == supply_t.c.item_id)
        .where(item_t.c.campaign_id == campaign_id, supply_t.c.allocated < supply_t.c.quantity)
        .group_by(supply_t.c.listing_id)
        .subquery()
    )
    db.session.execute(
        listing_t.update()
        .where(listing_t.c.id == unused.c.listing_id)
        .values(
            quantity_committed=listing_t.c.quantity_committed - unused.c.quantity,
            status=listing_status_after_stock_change(
                listing_t.c.status, listing_t.c.quantity - (listing_t.c.quantity_committed - unused.c.quantity)
            ),
        )
    )
