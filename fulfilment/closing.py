"""Closing a campaign and what follows: pool the orders, split them fairly, tell every producer once; pick lists.

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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from itertools import islice
from typing import NamedTuple
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import IntegrityError

from accounts.models import Unit, User
from accounts.services import record_audit
from database import UTCDateTime, utcnow
from errors import Conflict, Forbidden, NotFound
from extensions import db
from fulfilment.allocation import SupplyOffer, allocate_item, split_deliveries
from notifications import messages
from notifications.fanout import queue_buyer_fanout, queue_rendered_fanout
from notifications.services import queue_notification
from orders.models import Allocation, Order, OrderLine, PickLine
from producers.models import Listing, PicklistAck, Producer
from shop.models import Campaign, CampaignItem, Supply
from spreadsheets import safe_text

STEPS = ("closed", "below_minimum", "allocated", "producers_notified", "notified")

# Test hook: called as _after_step(step, campaign_id) after each step in STEPS; a test makes it raise
# (or a test worker makes it hang until killed) to prove a run that dies there ends like a clean one.
_after_step = None

CHUNK = 1000

campaign_t = Campaign.__table__
item_t = CampaignItem.__table__
supply_t = Supply.__table__
order_t = Order.__table__
line_t = OrderLine.__table__
allocation_t = Allocation.__table__
pick_t = PickLine.__table__
user_t = User.__table__
unit_t = Unit.__table__


def _reached(step, campaign_id):
    if _after_step is not None:
        _after_step(step, campaign_id)


def _subject(campaign_id) -> str:
    return f"campaign:{campaign_id}"


def _chunks(values, size=CHUNK):
    values = list(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _among(column, ids):
    """Conditions that together match ``column`` against many ids: one array parameter on PostgreSQL (a statement
    with thousands of placeholders costs more to build and parse than to run), chunks of CHUNK elsewhere."""
    ids = sorted(ids)
    if not ids:
        return
    if db.session.connection().dialect.name == "postgresql":
        yield column == sa.any_(sa.bindparam(None, ids, type_=postgresql.ARRAY(sa.Integer)))
        return
    for chunk in _chunks(ids):
        yield column.in_(chunk)


# --- closing -------------------------------------------------------------------------------------


def request_close(actor, campaign_id) -> Campaign:
    """An operator closes a published campaign now: orders stop at once, pooling runs in the worker.

    Safe to repeat: a campaign already closed or pooled is returned as it is. The pooling task is sent
    after the commit; if the broker is down the close still stands and beat's sweep pools it later.
    :raises NotFound: no such campaign.
    :raises Conflict: a draft or cancelled campaign, or one that has not opened yet.
    """
    now = utcnow()
    result = db.session.execute(
        campaign_t.update()
        .where(campaign_t.c.id == campaign_id, campaign_t.c.status == "published", campaign_t.c.opens_at < now)
        .values(
            status="closed",
            closed_at=now,
            closes_at=sa.case((campaign_t.c.closes_at > now, sa.literal(now, UTCDateTime())), else_=campaign_t.c.closes_at),
        )
    )
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        db.session.rollback()
        raise NotFound(_("No such campaign."))
    if result.rowcount == 1:
        db.session.refresh(campaign)
        record_audit(actor, "campaign.close", campaign, early=True)
        db.session.commit()
    else:
        db.session.rollback()
        if campaign.status in ("draft", "cancelled"):
            raise Conflict(_("Only a published campaign can be closed."))
        if campaign.status == "published":
            raise Conflict(_("This campaign has not opened yet; it cannot be closed."))
    _send_close_task(campaign_id)
    return campaign


def _send_close_task(campaign_id):
    from worker import send_task_safely
    from worker.tasks import close_campaign_task

    send_task_safely(close_campaign_task, campaign_id)


def campaigns_to_close(now=None) -> list[int]:
    """Campaigns the sweep must (re)start: published ones past closing time, and closed ones not yet pooled."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            sa.select(Campaign.id)
            .where(
                sa.or_(
                    sa.and_(Campaign.status == "published", Campaign.closes_at <= now),
                    Campaign.status == "closed",
                )
            )
            .order_by(Campaign.closes_at, Campaign.id)
        )
    )


def close_campaign(campaign_id, now=None) -> str:
    """Close a campaign that is due and pool it; idempotent and crash-safe (see the module docstring).

    The buyers' "on its way" notices are queued as one fan-out row in the pooling transaction; the worker
    expands them (notifications.fanout.expand_fanouts) right after this returns, and its sweep finishes any
    expansion a dead worker left.

    :param now: the time to close at (tests); defaults to now.
    :returns: "allocated" when this run pooled it; "not_due", "busy" (another run holds it) or
        "already_done" when there was nothing for this run to do.
    """
    now = now or utcnow()
    db.session.execute(
        campaign_t.update()
        .where(campaign_t.c.id == campaign_id, campaign_t.c.status == "published", campaign_t.c.closes_at <= now)
        .values(status="closed", closed_at=now, updated_at=now)
    )
    db.session.commit()
    _reached("closed", campaign_id)
    try:
        with messages.rendering_many():
            outcome = _pool(campaign_id, now)
    except BaseException:
        db.session.rollback()
        raise
    return outcome


def _pool(campaign_id, now) -> str:
    # PostgreSQL: a run that finds another one holding the campaign skips rather than queueing behind it.
    locked = db.session.scalar(
        sa.select(campaign_t.c.id)
        .where(campaign_t.c.id == campaign_id, campaign_t.c.status == "closed")
        .with_for_update(skip_locked=True)
    )
    if locked is None:
        status = db.session.scalar(sa.select(campaign_t.c.status).where(campaign_t.c.id == campaign_id))
        db.session.rollback()
        return {"published": "not_due", "closed": "busy"}.get(status, "already_done")
    # The claim is a write, so on SQLite it takes the database's write lock before anything is read;
    # a run that pooled the campaign meanwhile has changed its status and this one stops here.
    claimed = db.session.execute(
        campaign_t.update().where(campaign_t.c.id == campaign_id, campaign_t.c.status == "closed").values(updated_at=now)
    ).rowcount
    if not claimed:
        db.session.rollback()
        return "already_done"
    # Wait for orders being placed right now (they hold their item rows) before counting demand.
    db.session.execute(sa.select(item_t.c.id).where(item_t.c.campaign_id == campaign_id).order_by(item_t.c.id).with_for_update())
    campaign = db.session.get(Campaign, campaign_id)
    items = {
        row.id: row
        for row in db.session.execute(
            sa.select(item_t.c.id, item_t.c.title, item_t.c.unit, item_t.c.policy, item_t.c.min_total, item_t.c.position)
            .where(item_t.c.campaign_id == campaign_id)
            .order_by(item_t.c.position, item_t.c.id)
        )
    }
    # The one pass over the campaign's order lines; everything after works from this item × unit aggregate.
    demand = defaultdict(dict)
    for item_id, unit_id, quantity in _plain_rows(
        sa.select(line_t.c.item_id, order_t.c.unit_id, sa.func.sum(line_t.c.quantity))
        .select_from(line_t.join(order_t, order_t.c.id == line_t.c.order_id))
        .where(order_t.c.campaign_id == campaign_id, line_t.c.cancelled == sa.false(), order_t.c.status != "cancelled")
        .group_by(line_t.c.item_id, order_t.c.unit_id)
    ):
        demand[item_id][unit_id] = int(quantity)

    below = [i for i, item in items.items() if item.min_total and sum(demand.get(i, {}).values()) < item.min_total]
    cancelled_lines = _cancel_below_minimum(campaign, below, demand, now)
    _reached("below_minimum", campaign_id)

    allocation_ids, pick_rows, suppliers = _allocate(campaign_id, items, demand)
    _return_unallocated_stock(campaign_id)
    units = {u for d in demand.values() for u in d}
    with _foreign_keys_checked({allocation_t: allocation_ids, unit_t: units}):
        _copy_rows(pick_t, ("allocation_id", "unit_id", "quantity"), pick_rows)
    _reached("allocated", campaign_id)

    # Every producer of the campaign hears once: what to prepare (picklist_notices, from the allocations and pick
    # lines just stored) or that nothing went to it this time (no_allocation_notices); the worker renders them.
    for kind, producers in (("picklist", suppliers.allocated), ("no_allocation", suppliers.without_allocation)):
        if producers:
            queue_rendered_fanout(campaign_id=campaign_id, kind=kind, subject=_subject(campaign_id), now=now)
    _reached("producers_notified", campaign_id)
    # Orders are not rewritten: a placed order of a pooled campaign reads as "allocated" (orders.models.Order.status).
    title, body = messages.order_allocated(campaign)
    queue_buyer_fanout(
        campaign_id=campaign_id, kind="order_allocated", subject=_subject(campaign_id), title=title, body=body, now=now
    )
    _reached("notified", campaign_id)

    db.session.execute(
        campaign_t.update()
        .where(campaign_t.c.id == campaign_id, campaign_t.c.status == "closed")
        .values(status="allocated", allocated_at=now)
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
    db.session.commit()
    current_app.logger.info(
        "Campaign %s pooled: %s lines cancelled below minimum; producers' and buyers' notices queued",
        campaign_id,
        cancelled_lines,
    )
    return "allocated"


def _plain_rows(statement) -> list[tuple]:
    """All rows of a SELECT as the driver returns them (tuples), in the session's transaction: the demand aggregate
    is 60,000 rows at 1M order lines, and making SQLAlchemy rows of them cost 0.1 s of the close."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        return connection.execute(statement).all()
    compiled = statement.compile(dialect=connection.dialect)
    with connection.connection.dbapi_connection.cursor() as cursor:
        return cursor.execute(str(compiled), compiled.params).fetchall()


def _cancel_below_minimum(campaign, below, demand, now) -> int:
    """Cancel the live lines of items that did not reach their minimum total, and queue their buyers' notices.

    The lines are found through the item index and rewritten by one statement; each buyer's notice is rendered
    after the commit from the lines cancelled here (below_minimum_notices), queued now as one fan-out row.
    """
    if not below:
        return 0
    # A scalar subquery rather than EXISTS: each of the few lines found by the item index looks its order up by
    # primary key (EXISTS became a hash join over every order of the campaign, 0.1 s at 1M lines).
    order_status = (
        sa.select(order_t.c.status)
        .where(order_t.c.id == line_t.c.order_id, order_t.c.campaign_id == campaign.id)
        .scalar_subquery()
    )
    # One order id per cancelled line.
    order_ids = db.session.scalars(
        line_t.update()
        .where(line_t.c.item_id.in_(below), line_t.c.cancelled == sa.false(), order_status != "cancelled")
        .values(cancelled=True, cancel_reason="below_minimum")
        .returning(line_t.c.order_id)
    ).all()
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
    # One rewrite per touched order: its total without the cancelled lines, and cancelled if no line is left.
    if db.session.connection().dialect.name == "postgresql":
        _rewrite_orders_postgresql(sorted(set(order_ids)), now)
    else:
        _rewrite_orders(set(order_ids), now)
    if order_ids:
        queue_rendered_fanout(campaign_id=campaign.id, kind="below_minimum", subject=_subject(campaign.id), now=now)
    return len(order_ids)


def _rewrite_orders(order_ids, now):
    live_lines = sa.and_(line_t.c.order_id == order_t.c.id, line_t.c.cancelled == sa.false())
    still_active = sa.select(line_t.c.id).where(live_lines).exists()
    for orders in _among(order_t.c.id, order_ids):
        db.session.execute(
            order_t.update()
            .where(orders, order_t.c.status == "placed")
            .values(
                total_fen=sa.select(sa.func.coalesce(sa.func.sum(line_t.c.quantity * line_t.c.price_fen), 0))
                .where(live_lines)
                .scalar_subquery(),
                status=sa.case((still_active, order_t.c.status), else_="cancelled"),
                cancelled_at=sa.case((still_active, order_t.c.cancelled_at), else_=sa.literal(now, UTCDateTime())),
                updated_at=now,
            )
        )


def _rewrite_orders_postgresql(order_ids, now):
    """The same rewrite as _rewrite_orders, each order found by primary key and its lines read once (``= ANY`` of
    4,412 ids was planned as a scan of all 200,000 orders at 1M lines, and each order's lines were read three times)."""
    if not order_ids:
        return
    db.session.execute(
        sa.text(
            "UPDATE buyer_order SET (total_fen, status, cancelled_at, updated_at) = ("
            " SELECT COALESCE(SUM(quantity * price_fen) FILTER (WHERE NOT cancelled), 0),"
            "  CASE WHEN bool_or(NOT cancelled) THEN buyer_order.status ELSE 'cancelled' END,"
            "  CASE WHEN bool_or(NOT cancelled) THEN buyer_order.cancelled_at ELSE :now END, :now"
            " FROM order_line WHERE order_id = buyer_order.id)"
            " WHERE buyer_order.id IN (SELECT unnest(:ids)) AND buyer_order.status = 'placed'"
        ).bindparams(
            sa.bindparam("ids", order_ids, type_=postgresql.ARRAY(sa.Integer)), sa.bindparam("now", now, type_=UTCDateTime())
        )
    )


def below_minimum_notices(campaign_id, after=0, limit=None) -> tuple[list[dict], int | None]:
    """The below-minimum notices of a pooled campaign, rendered from the lines its close cancelled.

    One notice per recipient (the buyer, or the coordinator who ordered for a colleague without an account),
    naming every cancelled line, in recipient id order from ``after`` on, at most ``limit`` recipients.
    :returns: (message dicts for notifications.services.outbox_rows, the last recipient's user id), or
        ([], None) when no recipient is left.
    """
    recipient = sa.func.coalesce(order_t.c.user_id, order_t.c.placed_by_id)
    rows = db.session.execute(
        sa.select(recipient, order_t.c.user_id, order_t.c.buyer_name, item_t.c.title, item_t.c.unit, line_t.c.quantity)
        .select_from(line_t.join(order_t, order_t.c.id == line_t.c.order_id).join(item_t, item_t.c.id == line_t.c.item_id))
        .where(
            item_t.c.campaign_id == campaign_id,
            item_t.c.cancelled_below_minimum == sa.true(),
            line_t.c.cancel_reason == "below_minimum",
            recipient > after,
        )
        .order_by(recipient, order_t.c.id, line_t.c.id)
    ).all()
    entries = {}
    for recipient_id, user_id, buyer_name, title, unit, quantity in rows:
        if recipient_id not in entries and limit is not None and len(entries) == limit:
            break
        merged = entries.setdefault(recipient_id, {})
        # A colleague without an account is named in the coordinator's notice.
        key = (title, unit, None if user_id else buyer_name)
        merged[key] = merged.get(key, 0) + quantity
    if not entries:
        return [], None
    campaign = db.session.get(Campaign, campaign_id)
    recipients = _contacts(User, entries)
    notices = []
    for user_id, merged in entries.items():
        title, body = messages.cancelled_below_minimum(
            campaign, [{"title": t, "unit": u, "buyer_name": b, "quantity": q} for (t, u, b), q in merged.items()]
        )
        notices.append({"user": recipients[user_id], "title": title, "body": body})
    return notices, max(entries)


def _contacts(model, ids) -> dict:
    """id → (id, name, phone, email) of users or producers, without loading ORM objects."""
    found = {}
    for chosen in _among(model.id, ids):
        found.update(
            {row.id: row for row in db.session.execute(sa.select(model.id, model.name, model.phone, model.email).where(chosen))}
        )
    return found


class Suppliers(NamedTuple):
    """The producers of a campaign's supplies, by what the close gave them."""

    allocated: set
    without_allocation: set


def _allocate(campaign_id, items, demand) -> tuple[Iterable[int], Iterator[tuple], Suppliers]:
    """Fair split per item, then the delivery split; writes Supply.allocated and Allocation rows.

    :returns: the allocation ids written; the pick lines to write, (allocation id, unit id, quantity), each naming
        one of those allocations and a unit of the item's demand: the delivery split, computed as they are consumed;
        and the producers with and without an allocation.
    """
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

    supply_rows, allocation_rows, splits = [], [], {}
    for item_id, item in items.items():
        unit_demand = demand.get(item_id, {})
        shares = allocate_item(sum(unit_demand.values()), supplies.get(item_id, []), item.policy)
        per_producer = defaultdict(int)
        for supply_id, quantity in shares.items():
            supply_rows.append((supply_id, quantity))
            per_producer[producer_of[supply_id]] += quantity
        per_producer = {p: q for p, q in per_producer.items() if q > 0}
        for producer_id, quantity in sorted(per_producer.items()):
            allocation_rows.append((campaign_id, item_id, producer_id, quantity))
        if per_producer:
            splits[item_id] = (per_producer, unit_demand)

    _set_supplies_allocated(supply_rows)
    references = {
        campaign_t: [campaign_id],
        item_t: [row[1] for row in allocation_rows],
        Producer.__table__: [row[2] for row in allocation_rows],
    }
    with _foreign_keys_checked(references):
        _copy_rows(allocation_t, ("campaign_id", "item_id", "producer_id", "quantity"), allocation_rows)
    allocation_ids = {
        (item_id, producer_id): allocation_id
        for allocation_id, item_id, producer_id in db.session.execute(
            sa.select(allocation_t.c.id, allocation_t.c.item_id, allocation_t.c.producer_id).where(
                allocation_t.c.campaign_id == campaign_id
            )
        )
    }
    allocated = {producer_id for _campaign, _item, producer_id, _quantity in allocation_rows}

    def pick_rows():
        # Computed as the COPY consumes them: PostgreSQL inserts one item's pick lines while this splits the next.
        for item_id, (per_producer, unit_demand) in splits.items():
            for producer_id, unit_id, quantity in split_deliveries(per_producer, unit_demand):
                yield allocation_ids[(item_id, producer_id)], unit_id, quantity

    return allocation_ids.values(), pick_rows(), Suppliers(allocated, set(producer_of.values()) - allocated)


@contextmanager
def _foreign_keys_checked(references):
    """Within it, a COPY's foreign keys are checked once per referenced key instead of once per row.

    PostgreSQL checks a foreign key with a trigger per inserted row (SELECT 1 FROM the referenced table WHERE key = $1
    FOR KEY SHARE): twice for each of the 61,374 pick lines at 1M order lines, 0.47 s of the close. Here one
    statement per referenced table locks the keys the rows may use in the same way and fails if one is missing; the
    COPY then runs with session_replication_role = replica, which skips this session's per-row triggers until the
    block ends (the tables the close writes have no other triggers). The referenced side keeps its own check: a unit
    deleted by another session waits for our locks, then finds our rows. A role that may not set
    session_replication_role (a superuser may, or a role given PostgreSQL 15's GRANT SET ON PARAMETER) keeps the
    per-row checks, made to use the primary key (_per_row_checks_by_index). No-op elsewhere.

    :param references: {referenced table: the key values the rows may use}; the caller's rows stay within them.
    """
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        yield
        return
    if not _may_skip_row_triggers(connection):
        with _per_row_checks_by_index(connection):
            yield
        return
    for table, keys in references.items():
        keys = sorted(set(keys))
        (key,) = table.primary_key.columns
        locked = connection.execute(
            sa.select(sa.func.count()).select_from(
                sa.select(key)
                .where(key == sa.any_(sa.bindparam(None, keys, type_=postgresql.ARRAY(sa.Integer))))
                .with_for_update(key_share=True)
                .subquery()
            )
        ).scalar_one()
        if locked != len(keys):
            raise RuntimeError(f"{len(keys) - locked} of the {table.name} rows the close refers to do not exist")
    previous = connection.exec_driver_sql("SELECT current_setting('session_replication_role')").scalar()
    connection.exec_driver_sql("SELECT set_config('session_replication_role', 'replica', true)")
    yield
    # Not in a finally: after an error the transaction rolls back, and the local setting with it.
    connection.exec_driver_sql("SELECT set_config('session_replication_role', %s, true)", (previous,))


def _may_skip_row_triggers(connection) -> bool:
    if connection.dialect.server_version_info >= (15,):
        query = "SELECT has_parameter_privilege('session_replication_role', 'SET')"
    else:
        query = "SELECT current_setting('is_superuser') = 'on'"
    return bool(connection.exec_driver_sql(query).scalar())


@contextmanager
def _per_row_checks_by_index(connection):
    """Within it, PostgreSQL checks each foreign key by its referenced primary key, never by a sequential scan.

    These tables are a few pages, which the planner scans whole for every check (≈ 2.5× the cost of the index
    lookup). Only the COPY runs in the block and the checks are the same; PostgreSQL keeps a connection's plan for
    a check, and only the close writes these two tables.
    """
    previous = connection.exec_driver_sql("SELECT current_setting('enable_seqscan')").scalar()
    connection.exec_driver_sql("SELECT set_config('enable_seqscan', 'off', true)")
    yield
    connection.exec_driver_sql("SELECT set_config('enable_seqscan', %s, true)", (previous,))


def _return_unallocated_stock(campaign_id):
    """Give each listing back what its supplies offered to this campaign and did not get, so a farmer whose chickens
    were not ordered can offer them to the next campaign; a sold-out listing with goods back is approved again (as
    producers.services.release_listing_quantity does for one listing). Runs in the close transaction, so once."""
    listing = Listing.__table__
    unused = (
        sa.select(supply_t.c.listing_id, sa.func.sum(supply_t.c.quantity - supply_t.c.allocated).label("quantity"))
        .join(item_t, item_t.c.id == supply_t.c.item_id)
        .where(item_t.c.campaign_id == campaign_id, supply_t.c.allocated < supply_t.c.quantity)
        .group_by(supply_t.c.listing_id)
        .subquery()
    )
    db.session.execute(
        listing.update()
        .where(listing.c.id == unused.c.listing_id)
        .values(
            quantity_committed=listing.c.quantity_committed - unused.c.quantity,
            status=sa.case((listing.c.status == "sold_out", "approved"), else_=listing.c.status),
        )
    )


def _set_supplies_allocated(rows):
    """Store each supply's share: one UPDATE from two arrays on PostgreSQL (2,700 supplies), executemany elsewhere."""
    if not rows:
        return
    connection = db.session.connection()
    if connection.dialect.name == "postgresql":
        ids, shares = zip(*rows, strict=True)
        connection.execute(
            sa.text(
                "UPDATE supply SET allocated = share.allocated FROM unnest(:ids, :shares) AS share(id, allocated)"
                " WHERE supply.id = share.id"
            ).bindparams(
                sa.bindparam("ids", list(ids), type_=postgresql.ARRAY(sa.Integer)),
                sa.bindparam("shares", list(shares), type_=postgresql.ARRAY(sa.Integer)),
            )
        )
    else:
        connection.execute(
            supply_t.update().where(supply_t.c.id == sa.bindparam("b_id")).values(allocated=sa.bindparam("b_allocated")),
            [{"b_id": supply_id, "b_allocated": quantity} for supply_id, quantity in rows],
        )


def _copy_rows(table, columns, rows):
    """Insert rows (any iterable of sequences of ``columns`` integers) in the session's transaction: COPY on
    PostgreSQL, with the text written here (psycopg's write_row adapts each value in Python), executemany elsewhere."""
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        rows = [dict(zip(columns, row, strict=True)) for row in rows]
        if rows:
            connection.execute(table.insert(), rows)
        return
    name = connection.dialect.identifier_preparer.format_table(table)
    rows = iter(rows)
    with connection.connection.dbapi_connection.cursor() as cursor:
        with cursor.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
            while batch := "".join(map(_integer_line, islice(rows, COPY_BATCH))):
                copy.write(batch)


COPY_BATCH = 5000


def _integer_line(row) -> str:
    return "\t".join(map(str, row)) + "\n"


def _units(unit_ids) -> dict:
    """unit id → {"unit_name", "address"}, the part of a delivery line that is the same in every message."""
    found = {}
    for chosen in _among(Unit.id, unit_ids):
        for unit_id, name, address in db.session.execute(sa.select(Unit.id, Unit.name, Unit.address).where(chosen)):
            found[unit_id] = {"unit_name": name, "address": address}
    return found


def _message_lines(items, per_item, units) -> list[dict]:
    """The producer's goods in item order, each with its delivery units in unit id order."""
    lines = []
    for item_id, item in items.items():
        if item_id not in per_item:
            continue
        entry = per_item[item_id]
        lines.append(
            {
                "title": item.title,
                "unit": item.unit,
                "quantity": entry["quantity"],
                "units": [{**units[u], "quantity": q} for u, q in sorted(entry["units"].items())],
            }
        )
    return lines


def picklist_notices(campaign_id, after=0, limit=None) -> tuple[list[dict], int | None]:
    """To each producer with an allocation in a pooled campaign, "prepare N × item by DATE for these units", rendered
    from the allocations and pick lines its close stored; producers in id order from ``after`` on, at most ``limit``.

    :returns: (message dicts for notifications.services.outbox_rows, the last producer's id), or ([], None).
    """
    chosen = sa.select(allocation_t.c.producer_id).where(
        allocation_t.c.campaign_id == campaign_id, allocation_t.c.producer_id > after
    )
    chosen = chosen.distinct().order_by(allocation_t.c.producer_id).limit(limit).scalar_subquery()
    per_producer = defaultdict(dict)
    for producer_id, item_id, quantity, unit_id, unit_quantity in _plain_rows(
        sa.select(
            allocation_t.c.producer_id, allocation_t.c.item_id, allocation_t.c.quantity, pick_t.c.unit_id, pick_t.c.quantity
        )
        .select_from(allocation_t.outerjoin(pick_t, pick_t.c.allocation_id == allocation_t.c.id))
        .where(allocation_t.c.campaign_id == campaign_id, allocation_t.c.producer_id.in_(chosen))
    ):
        entry = per_producer[producer_id].setdefault(item_id, {"quantity": quantity, "units": {}})
        if unit_id is not None:
            entry["units"][unit_id] = unit_quantity
    if not per_producer:
        return [], None
    campaign = db.session.get(Campaign, campaign_id)
    items = _campaign_items(campaign_id)
    units = _units({u for per_item in per_producer.values() for entry in per_item.values() for u in entry["units"]})
    producers = _contacts(Producer, per_producer)
    notices = []
    for producer_id in sorted(per_producer):
        producer = producers[producer_id]
        lines = _message_lines(items, per_producer[producer_id], units)
        title, body, sms = messages.prepare_goods(producer.name, campaign, lines)
        notices.append({"producer": producer, "title": title, "body": body, "sms_body": sms})
    return notices, max(per_producer)


def no_allocation_notices(campaign_id, after=0, limit=None) -> tuple[list[dict], int | None]:
    """To each producer whose supplies to a pooled campaign got no allocation, "nothing this time"; producers in id
    order from ``after`` on, at most ``limit``.

    :returns: (message dicts for notifications.services.outbox_rows, the last producer's id), or ([], None).
    """
    allocated = sa.select(allocation_t.c.producer_id).where(allocation_t.c.campaign_id == campaign_id)
    chosen = (
        sa.select(supply_t.c.producer_id)
        .join(item_t, item_t.c.id == supply_t.c.item_id)
        .where(item_t.c.campaign_id == campaign_id, supply_t.c.producer_id > after, supply_t.c.producer_id.not_in(allocated))
        .distinct()
        .order_by(supply_t.c.producer_id)
        .limit(limit)
        .scalar_subquery()
    )
    supplied = defaultdict(set)
    for producer_id, item_id in db.session.execute(
        sa.select(supply_t.c.producer_id, supply_t.c.item_id)
        .join(item_t, item_t.c.id == supply_t.c.item_id)
        .where(item_t.c.campaign_id == campaign_id, supply_t.c.producer_id.in_(chosen))
    ):
        supplied[producer_id].add(item_id)
    if not supplied:
        return [], None
    campaign = db.session.get(Campaign, campaign_id)
    items = _campaign_items(campaign_id)
    producers = _contacts(Producer, supplied)
    notices = []
    for producer_id in sorted(supplied):
        producer = producers[producer_id]
        titles = [item.title for item_id, item in items.items() if item_id in supplied[producer_id]]
        title, body = messages.nothing_this_time(producer.name, campaign, titles)
        notices.append({"producer": producer, "title": title, "body": body})
    return notices, max(supplied)


def _campaign_items(campaign_id) -> dict:
    """item id → row (title, unit), in the campaign's order."""
    return {
        row.id: row
        for row in db.session.execute(
            sa.select(item_t.c.id, item_t.c.title, item_t.c.unit)
            .where(item_t.c.campaign_id == campaign_id)
            .order_by(item_t.c.position, item_t.c.id)
        )
    }


# --- what the pooling produced -------------------------------------------------------------------


def get_campaign(campaign_id) -> Campaign:
    """:raises NotFound: no such campaign."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def allocation_overview(campaign_id) -> dict:
    """Who supplies how much of each item, and to which units: the operators' view and the API's allocations.

    :raises NotFound: no such campaign.
    """
    campaign = get_campaign(campaign_id)
    items = {
        item.id: {
            "item_id": item.id,
            "title": item.title,
            "unit": item.unit,
            "ordered": item.ordered,
            "capacity": item.capacity,
            "min_total": item.min_total,
            "cancelled_below_minimum": item.cancelled_below_minimum,
            "producers": [],
        }
        for item in campaign.items
    }
    by_allocation = {}
    rows = db.session.execute(
        sa.select(Allocation.id, Allocation.item_id, Allocation.producer_id, Allocation.quantity, Producer.name, Producer.town)
        .join(Producer, Producer.id == Allocation.producer_id)
        .where(Allocation.campaign_id == campaign_id)
        .order_by(Allocation.item_id, Allocation.producer_id)
    )
    for allocation_id, item_id, producer_id, quantity, name, town in rows:
        entry = {"producer_id": producer_id, "producer_name": name, "town": town, "quantity": quantity, "units": []}
        items[item_id]["producers"].append(entry)
        by_allocation[allocation_id] = entry
    for allocation_id, unit_id, quantity, unit_name in db.session.execute(
        sa.select(PickLine.allocation_id, PickLine.unit_id, PickLine.quantity, Unit.name)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .join(Unit, Unit.id == PickLine.unit_id)
        .where(Allocation.campaign_id == campaign_id)
        .order_by(PickLine.allocation_id, PickLine.unit_id)
    ):
        by_allocation[allocation_id]["units"].append({"unit_id": unit_id, "unit_name": unit_name, "quantity": quantity})
    return {
        "campaign_id": campaign.id,
        "title": campaign.title,
        "status": campaign.status,
        "delivery_on": campaign.delivery_on,
        "allocated_at": campaign.allocated_at,
        "items": list(items.values()),
    }


def confirmations(campaign_id) -> list[dict]:
    """Every producer with goods to prepare in the campaign, whether and when it confirmed ready."""
    rows = db.session.execute(
        sa.select(Producer.id, Producer.name, Producer.town, Producer.phone, sa.func.sum(Allocation.quantity))
        .join(Allocation, Allocation.producer_id == Producer.id)
        .where(Allocation.campaign_id == campaign_id)
        .group_by(Producer.id, Producer.name, Producer.town, Producer.phone)
        .order_by(Producer.name, Producer.id)
    ).all()
    acks = {
        ack.producer_id: ack for ack in db.session.scalars(sa.select(PicklistAck).where(PicklistAck.campaign_id == campaign_id))
    }
    return [
        {
            "producer_id": producer_id,
            "producer_name": name,
            "town": town,
            "phone": phone,
            "quantity": int(quantity),
            "acked_at": acks[producer_id].acked_at if producer_id in acks else None,
        }
        for producer_id, name, town, phone, quantity in rows
    ]


def _check_producer_access(viewer, producer_id):
    if viewer.role == "operator":
        return
    if viewer.role != "producer":
        raise Forbidden(_("Your role may not do this."))
    if viewer.producer_id != producer_id:
        raise NotFound(_("Not found."))


def picklist(viewer, producer_id, campaign_id) -> dict:
    """What one producer prepares for one campaign: per item the quantity, per delivery unit its address and share.

    :raises Forbidden: a buyer.
    :raises NotFound: another producer's pick list, or no such producer or campaign.
    """
    _check_producer_access(viewer, producer_id)
    producer = db.session.get(Producer, producer_id)
    if producer is None:
        raise NotFound(_("Not found."))
    campaign = get_campaign(campaign_id)
    if viewer.role != "operator" and campaign.status in ("draft", "cancelled"):
        raise NotFound(_("Not found."))
    lines = {}
    rows = db.session.execute(
        sa.select(
            Allocation.item_id,
            CampaignItem.title,
            CampaignItem.unit,
            CampaignItem.unit_weight_g,
            Allocation.quantity,
            PickLine.unit_id,
            Unit.name,
            Unit.address,
            Unit.contact_phone,
            PickLine.quantity,
        )
        .join(CampaignItem, CampaignItem.id == Allocation.item_id)
        .outerjoin(PickLine, PickLine.allocation_id == Allocation.id)
        .outerjoin(Unit, Unit.id == PickLine.unit_id)
        .where(Allocation.campaign_id == campaign_id, Allocation.producer_id == producer_id)
        .order_by(CampaignItem.position, CampaignItem.id, PickLine.unit_id)
    )
    for item_id, title, unit, weight_g, quantity, unit_id, unit_name, address, contact, unit_quantity in rows:
        line = lines.setdefault(
            item_id,
            {"item_id": item_id, "title": title, "unit": unit, "unit_weight_g": weight_g, "quantity": quantity, "units": []},
        )
        if unit_id is not None:
            line["units"].append(
                {
                    "unit_id": unit_id,
                    "unit_name": unit_name,
                    "address": address,
                    "contact_phone": contact,
                    "quantity": unit_quantity,
                }
            )
    ack = db.session.scalar(
        sa.select(PicklistAck).where(PicklistAck.campaign_id == campaign_id, PicklistAck.producer_id == producer_id)
    )
    return {
        "campaign_id": campaign.id,
        "campaign_title": campaign.title,
        "status": campaign.status,
        "delivery_on": campaign.delivery_on,
        "producer_id": producer.id,
        "producer_name": producer.name,
        "acked_at": ack.acked_at if ack else None,
        "lines": list(lines.values()),
    }


def producer_campaigns(producer_id) -> list[dict]:
    """The campaigns a producer has goods to prepare for, newest delivery first, with what it confirmed."""
    rows = db.session.execute(
        sa.select(Campaign, sa.func.sum(Allocation.quantity))
        .join(Allocation, Allocation.campaign_id == Campaign.id)
        .where(Allocation.producer_id == producer_id)
        .group_by(Campaign.id)
        .order_by(Campaign.delivery_on.desc(), Campaign.id.desc())
    ).all()
    acked = set(db.session.scalars(sa.select(PicklistAck.campaign_id).where(PicklistAck.producer_id == producer_id)))
    return [{"campaign": campaign, "quantity": int(total), "acked": campaign.id in acked} for campaign, total in rows]


def ack_picklist(user, producer_id, campaign_id) -> PicklistAck:
    """The producer confirms its pick list will be ready; confirming twice keeps the first confirmation.

    :raises Forbidden: not a producer account.
    :raises NotFound: another producer's pick list, or nothing to prepare in that campaign.
    :raises Conflict: the campaign has not been pooled yet.
    """
    if user.role != "producer":
        raise Forbidden(_("Only the producer itself can confirm its pick list."))
    _check_producer_access(user, producer_id)
    campaign = get_campaign(campaign_id)
    if campaign.status in ("draft", "published", "closed", "cancelled"):
        raise Conflict(_("The pick list is not ready yet: the campaign has not been pooled."))
    has_goods = db.session.scalar(
        sa.select(sa.func.count()).where(Allocation.campaign_id == campaign_id, Allocation.producer_id == producer_id)
    )
    if not has_goods:
        raise NotFound(_("There is nothing to prepare for this campaign."))
    existing = db.session.scalar(
        sa.select(PicklistAck).where(PicklistAck.campaign_id == campaign_id, PicklistAck.producer_id == producer_id)
    )
    if existing is not None:
        return existing
    ack = PicklistAck(campaign_id=campaign_id, producer_id=producer_id, acked_by_id=user.id)
    try:
        db.session.add(ack)
        db.session.flush()
        record_audit(user, "picklist.ack", ack, campaign_id=campaign_id, producer_id=producer_id)
        db.session.commit()
    except IntegrityError:
        # Two taps at once: the other one is the confirmation.
        db.session.rollback()
        return db.session.scalar(
            sa.select(PicklistAck).where(PicklistAck.campaign_id == campaign_id, PicklistAck.producer_id == producer_id)
        )
    return ack


# --- reminders -----------------------------------------------------------------------------------


def local_today(now=None):
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))
    return (now or utcnow()).astimezone(zone).date()


def send_delivery_reminders(now=None) -> int:
    """Queue a reminder to every producer delivering tomorrow (Shanghai time); each is queued once per campaign.

    A campaign pooled today is skipped: its producers just got their pick list.
    :returns: how many producers were newly reminded.
    """
    now = now or utcnow()
    today = local_today(now)
    tomorrow = today + timedelta(days=1)
    zone = ZoneInfo(current_app.config.get("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai"))
    start_of_today = datetime.combine(today, datetime.min.time(), tzinfo=zone)
    campaigns = db.session.scalars(
        sa.select(Campaign).where(
            Campaign.status == "allocated", Campaign.delivery_on == tomorrow, Campaign.allocated_at < start_of_today
        )
    ).all()
    reminded = 0
    for campaign in campaigns:
        items = _campaign_items(campaign.id)
        per_producer = defaultdict(dict)
        for producer_id, item_id, quantity in db.session.execute(
            sa.select(Allocation.producer_id, Allocation.item_id, Allocation.quantity).where(
                Allocation.campaign_id == campaign.id
            )
        ):
            per_producer[producer_id][item_id] = {"quantity": quantity, "units": {}}
        for producer in db.session.scalars(sa.select(Producer).where(Producer.id.in_(list(per_producer))).order_by(Producer.id)):
            title, body = messages.delivery_reminder(
                producer.name, campaign, _message_lines(items, per_producer[producer.id], {})
            )
            if queue_notification(
                kind="delivery_reminder", subject=_subject(campaign.id), title=title, body=body, producer=producer
            ):
                reminded += 1
        db.session.commit()
    return reminded


# --- the printable and the spreadsheet pick list -------------------------------------------------


def picklist_xlsx(data) -> bytes:
    """The pick list as an xlsx: a heading, then one row per item and delivery unit, with addresses and totals."""
    from io import BytesIO

    from openpyxl import Workbook
    from openpyxl.styles import Font

    from notifications.messages import delivery_date

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("Pick list")[:31]

    def put(row, values, bold=False):
        for column, value in enumerate(values, start=1):
            cell = sheet.cell(row=row, column=column, value=safe_text(value))
            if isinstance(value, str):
                cell.data_type = "s"
            if bold:
                cell.font = Font(bold=True)

    put(1, [_("Pick list"), data["campaign_title"]], bold=True)
    put(2, [_("Producer"), data["producer_name"]])
    put(3, [_("Deliver by"), delivery_date(data["delivery_on"])])
    put(
        5,
        [
            _("Item"),
            _("Unit of sale"),
            _("Total to prepare"),
            _("Delivery unit"),
            _("Address"),
            _("Contact phone"),
            _("Quantity"),
        ],
        bold=True,
    )
    row = 6
    for line in data["lines"]:
        put(row, [line["title"], line["unit"], line["quantity"]], bold=True)
        row += 1
        for unit in line["units"]:
            put(
                row,
                [
                    line["title"],
                    line["unit"],
                    None,
                    unit["unit_name"],
                    unit["address"],
                    unit["contact_phone"],
                    unit["quantity"],
                ],
            )
            row += 1
    for column, width in zip("ABCDEFG", (16, 8, 12, 24, 40, 16, 10), strict=True):
        sheet.column_dimensions[column].width = width
    buffer = BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
