"""Placing, changing and cancelling pre-orders: capacity is reserved and released atomically, never oversold.

How concurrency is handled (the rules that keep ``ordered <= capacity`` and per-buyer limits):

- Capacity is reserved with one guarded statement per item,
  ``UPDATE campaign_item SET ordered = ordered + q WHERE id = :id AND capacity - ordered >= q``;
  a row count of 0 means not enough is left. Items are always touched in ascending id order, so two
  orders for the same items can never deadlock. Releasing works the same way.
- A buyer is (campaign, buyer phone). Orders, changes and cancellations of one buyer in one
  campaign are serialized (PostgreSQL: a transaction-scoped advisory lock on campaign + phone), so a
  per-buyer limit is checked against what that buyer already has, with no race.
- Every order transaction first takes a share lock on the campaign row and re-checks that it is
  open, so closing the campaign (an UPDATE of that row) waits for orders in flight and no order
  lands after the close.
- SQLite has no row or advisory locks: there the transaction takes the database's write lock
  (BEGIN IMMEDIATE, see database.begin_write) before it reads anything it depends on.
- An order with an Idempotency-Key is unique per (placed_by, key) in the database; a concurrent
  duplicate loses on that constraint, rolls back and answers with the first order.
"""

import functools
import hashlib
import json
import time
import zlib
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.orm import load_only, make_transient_to_detached, selectinload

from accounts.services import normalize_phone, record_audit
from database import UTCDateTime, begin_write, utcnow
from errors import (
    CampaignNotOpen,
    Conflict,
    DomainError,
    Forbidden,
    IdempotencyConflict,
    InsufficientStock,
    LimitExceeded,
    NotFound,
    ValidationFailed,
)
from extensions import db, pipelined_row
from orders.models import Order, OrderLine
from shop.models import Campaign, CampaignItem, campaign_unit

MAX_LINE_QUANTITY = 10_000
MAX_LINES = 100
MAX_NOTE = 500
MAX_IDEMPOTENCY_KEY = 80
MAX_ID = 2**31 - 1
NUDGE_INTERVAL_SECONDS = 2.0

_item_table = CampaignItem.__table__
_order_table = Order.__table__
_line_table = OrderLine.__table__
_last_nudge = 0.0


@dataclass
class PlacedOrder:
    """The result of place_order: the order, and whether this call created it (False: an idempotent repeat)."""

    order: Order
    created: bool


# ---------------------------------------------------------------- input


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def normalize_lines(lines) -> dict[int, int]:
    """``[{item_id, quantity}]`` or ``[(item_id, quantity)]`` as {item_id: quantity}; the same item twice is added up.

    :raises ValidationFailed: no lines, too many, a missing or non-integer id, a quantity below 1 or absurdly large.
    """
    if isinstance(lines, dict):
        lines = list(lines.items())
    if not lines or not isinstance(lines, list | tuple):
        raise ValidationFailed(_("Choose at least one item."), {"lines": [_("Choose at least one item.")]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed(_("Too many lines in one order."), {"lines": [_("At most %(n)d lines.", n=MAX_LINES)]})
    merged: dict[int, int] = {}
    problems = []
    for index, line in enumerate(lines):
        if isinstance(line, dict):
            item_id, quantity = line.get("item_id"), line.get("quantity")
        elif isinstance(line, list | tuple) and len(line) == 2:
            item_id, quantity = line
        else:
            item_id, quantity = None, None
        if not _is_int(item_id) or not 0 < item_id <= MAX_ID:
            problems.append(_("Line %(n)d: not a valid item.", n=index + 1))
        elif not _is_int(quantity) or quantity < 1:
            problems.append(_("Line %(n)d: the quantity must be a whole number of at least 1.", n=index + 1))
        elif quantity > MAX_LINE_QUANTITY:
            problems.append(_("Line %(n)d: at most %(max)d at a time.", n=index + 1, max=MAX_LINE_QUANTITY))
        else:
            merged[item_id] = merged.get(item_id, 0) + quantity
    if not problems and any(q > MAX_LINE_QUANTITY for q in merged.values()):
        problems.append(_("At most %(max)d of one item at a time.", max=MAX_LINE_QUANTITY))
    if problems:
        raise ValidationFailed(_("Some order lines are not valid."), {"lines": problems})
    return merged


def fingerprint(campaign_id, lines: dict, **fields) -> str:
    """SHA-256 of a canonical JSON of what was asked for: the same request always has the same fingerprint."""
    body = {"campaign_id": campaign_id, "lines": sorted([item_id, q] for item_id, q in lines.items())}
    body.update({key: value for key, value in fields.items() if value not in (None, "")})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _clean_idempotency_key(key):
    key = (key or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY or any(not 32 < ord(c) < 127 for c in key):
        message = _("An idempotency key is 1 to %(n)d visible ASCII characters.", n=MAX_IDEMPOTENCY_KEY)
        raise ValidationFailed(message, {"Idempotency-Key": [message]})
    return key or None


# ---------------------------------------------------------------- locks


def lock_open_campaign(campaign_id, unit_id=None, item_ids=(), new_order_id=False):
    """Start an order transaction: lock out a concurrent close, check the campaign takes orders from this unit,
    and (in the same round trip) load the items about to be ordered.

    :param new_order_id: PostgreSQL: also draw the id of the order about to be written (its confirmation names it).
    :returns: the campaign, or (campaign, {item_id: item}) when ``item_ids`` are given, or
        (campaign, {item_id: item}, order id) with ``new_order_id``.
    :raises NotFound: no such campaign, or a draft.
    :raises CampaignNotOpen: before its opening time, after its closing time, or closed.
    :raises Forbidden: ``unit_id`` is not one of the campaign's units.
    :raises ValidationFailed: an unknown item, another campaign's, or one withdrawn.
    """
    if not _is_int(campaign_id) or not 0 < campaign_id <= MAX_ID:
        raise NotFound(_("No such campaign."))
    session = db.session
    begin_write(session)
    ids = sorted(item_ids)
    query = _campaign_query(session.get_bind().dialect.name == "postgresql", new_order_id)
    rows = session.execute(query, {"campaign_id": campaign_id, "unit_id": unit_id or 0, "item_ids": ids or [0]}).all()
    campaign = rows[0][0] if rows else None
    if campaign is None or campaign.status in ("draft", "cancelled"):
        raise NotFound(_("No such campaign."))
    now = utcnow()
    if campaign.status != "published" or now >= campaign.closes_at:
        raise CampaignNotOpen(_("Orders for this campaign closed at %(time)s.", time=_local(campaign.closes_at)))
    if now < campaign.opens_at:
        raise CampaignNotOpen(_("Orders for this campaign open at %(time)s.", time=_local(campaign.opens_at)))
    if unit_id is not None and rows[0].restricted and not rows[0].listed:
        raise Forbidden(_("This campaign is not open to your work unit."))
    if not item_ids:
        return campaign
    items = {row[3].id: row[3] for row in rows if row[3] is not None}
    if len(items) != len(ids) or any(item.cancelled_below_minimum for item in items.values()):
        items = _campaign_items(campaign.id, ids)  # says exactly what is wrong
    if new_order_id:
        return campaign, items, rows[0][4]
    return campaign, items


@functools.cache
def _campaign_query(postgresql, new_order_id):
    """lock_open_campaign's statement, built once: composing it anew cost more than running it."""
    restricted = sa.exists().where(campaign_unit.c.campaign_id == Campaign.id)
    listed = sa.exists().where(campaign_unit.c.campaign_id == Campaign.id, campaign_unit.c.unit_id == sa.bindparam("unit_id"))
    item_ids = sa.bindparam("item_ids", expanding=True)
    query = (
        sa.select(Campaign, restricted.label("restricted"), listed.label("listed"), CampaignItem)
        .outerjoin(CampaignItem, sa.and_(CampaignItem.campaign_id == Campaign.id, CampaignItem.id.in_(item_ids)))
        .where(Campaign.id == sa.bindparam("campaign_id"))
        .order_by(CampaignItem.id)
        .execution_options(populate_existing=True)
    )
    if new_order_id:
        # Placing an order reads only these; descriptions and photos stay in the database.
        query = query.options(
            load_only(Campaign.status, Campaign.title, Campaign.opens_at, Campaign.closes_at, Campaign.delivery_on),
            load_only(
                CampaignItem.campaign_id,
                CampaignItem.title,
                CampaignItem.unit,
                CampaignItem.price_fen,
                CampaignItem.per_buyer_limit,
                CampaignItem.cancelled_below_minimum,
            ),
        )
    if postgresql:
        query = query.with_for_update(read=True, of=Campaign)
        if new_order_id:
            next_id = sa.func.nextval(sa.func.pg_get_serial_sequence(_order_table.name, _order_table.c.id.name))
            query = query.add_columns(sa.select(next_id).scalar_subquery())
    return query


def lock_buyer(campaign_id, buyer_phone) -> None:
    """Serialize one buyer's orders, changes and cancellations in one campaign until the transaction ends."""
    session = db.session
    if session.get_bind().dialect.name == "postgresql":
        key = zlib.crc32(buyer_phone.encode()) - 2**31  # the two-int form: (campaign, phone hash), both int4
        session.execute(sa.text("SELECT pg_advisory_xact_lock(:campaign, :phone)"), {"campaign": campaign_id, "phone": key})
    else:
        begin_write(session)


def _local(value):
    from presentation import local_datetime

    return local_datetime(value)


# ---------------------------------------------------------------- capacity


def _reserve(items_by_id, deltas: dict[int, int]) -> None:
    """Apply capacity changes (positive: reserve, negative: release), items in ascending id order.

    :raises InsufficientStock: an item has less left than asked for.
    """
    for item_id in sorted(deltas):
        delta = deltas[item_id]
        if delta > 0:
            result = db.session.execute(
                sa.update(_item_table)
                .where(_item_table.c.id == item_id, _item_table.c.capacity - _item_table.c.ordered >= delta)
                .values(ordered=_item_table.c.ordered + delta)
            )
            if result.rowcount != 1:
                raise _insufficient(items_by_id[item_id])
        elif delta < 0:
            db.session.execute(
                sa.update(_item_table)
                .where(_item_table.c.id == item_id, _item_table.c.ordered >= -delta)
                .values(ordered=_item_table.c.ordered + delta)
            )


def _insufficient(item) -> InsufficientStock:
    """The refusal for an item that has less left than asked for, saying how many are left now."""
    left = db.session.scalar(sa.select(_item_table.c.capacity - _item_table.c.ordered).where(_item_table.c.id == item.id))
    return _insufficient_left(item.id, item, left)


def _insufficient_left(item_id, item, left) -> InsufficientStock:
    if left:
        message = _("Only %(n)d %(unit)s of %(title)s left.", n=left, unit=item.unit, title=item.title)
    else:
        message = _("%(title)s is sold out.", title=item.title)
    return InsufficientStock(message, {"item_id": item_id, "remaining": left or 0})


def _check_limits(campaign_id, buyer_phone, items_by_id, wanted: dict[int, int], exclude_order_id=None) -> None:
    """Compare what the buyer would have of each limited item with its per-buyer limit (caller holds lock_buyer).

    :raises LimitExceeded: naming the item and how many more this buyer may still order.
    """
    limited = {item_id: items_by_id[item_id].per_buyer_limit for item_id in wanted if items_by_id[item_id].per_buyer_limit}
    if not limited:
        return
    query = (
        sa.select(_line_table.c.item_id, sa.func.sum(_line_table.c.quantity))
        .join(_order_table, _order_table.c.id == _line_table.c.order_id)
        .where(
            _order_table.c.campaign_id == campaign_id,
            _order_table.c.buyer_phone == buyer_phone,
            _order_table.c.status != "cancelled",
            _line_table.c.item_id.in_(sorted(limited)),
            _line_table.c.cancelled.is_(False),
        )
        .group_by(_line_table.c.item_id)
    )
    if exclude_order_id is not None:
        query = query.where(_order_table.c.id != exclude_order_id)
    already = dict(db.session.execute(query).all())
    for item_id in sorted(limited):
        limit, have = limited[item_id], already.get(item_id, 0)
        if have + wanted[item_id] > limit:
            item = items_by_id[item_id]
            may = max(limit - have, 0)
            raise LimitExceeded(
                _(
                    "%(title)s is limited to %(limit)d %(unit)s per person; you may order %(may)d more.",
                    title=item.title,
                    limit=limit,
                    unit=item.unit,
                    may=may,
                ),
                {"item_id": item_id, "limit": limit, "already": have, "may_order": may},
            )


def _campaign_items(campaign_id, item_ids) -> dict[int, CampaignItem]:
    """The campaign's items among ``item_ids``; an unknown id or another campaign's item is a field error."""
    found = db.session.scalars(sa.select(CampaignItem).where(CampaignItem.id.in_(sorted(item_ids)))).all()
    by_id = {item.id: item for item in found}
    problems = []
    for item_id in sorted(item_ids):
        item = by_id.get(item_id)
        if item is None:
            problems.append(_("There is no item %(id)d.", id=item_id))
        elif item.campaign_id != campaign_id:
            problems.append(_("Item %(id)d belongs to another campaign.", id=item_id))
        elif item.cancelled_below_minimum:
            problems.append(_("%(title)s has been withdrawn.", title=item.title))
    if problems:
        raise ValidationFailed(_("Some items cannot be ordered in this campaign."), {"lines": problems})
    return by_id


# ---------------------------------------------------------------- placing


def reserve_and_write_order(
    actor,
    campaign_id,
    lines,
    *,
    buyer_name,
    buyer_phone,
    unit_id,
    user_id=None,
    source="buyer",
    note=None,
    idempotency_key=None,
    request_fingerprint=None,
    group_sheet_id=None,
    confirm_to=None,
) -> Order:
    """Check, reserve capacity for, and write one order in the CURRENT transaction, without committing.

    For services that write many orders at once (a unit's sign-up sheet): call this once per
    person, then commit once. Every check and lock is taken inside; on any error the caller must
    roll the whole transaction back (capacity already reserved by it is then returned too).
    :param lines: [{item_id, quantity}] or [(item_id, quantity)].
    :param actor: who places it (``placed_by``): the buyer, or their unit's coordinator.
    :param confirm_to: a user to queue the confirmation for (in the same transaction).
    :raises NotFound, CampaignNotOpen, Forbidden: see lock_open_campaign.
    :raises ValidationFailed: bad lines, unknown items or another campaign's items, a bad name or note.
    :raises LimitExceeded: a per-buyer limit would be exceeded.
    :raises InsufficientStock: an item has not enough left.
    :raises sqlalchemy.exc.IntegrityError: the (placed_by, idempotency_key) pair exists (place_order handles it).
    """
    wanted = normalize_lines(lines)
    note = _clean_note(note)
    campaign, items = lock_open_campaign(campaign_id, unit_id, wanted)
    order = _new_order(
        actor,
        campaign,
        items,
        wanted,
        buyer_name=buyer_name,
        buyer_phone=buyer_phone,
        unit_id=unit_id,
        user_id=user_id,
        source=source,
        note=note,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        group_sheet_id=group_sheet_id,
    )
    db.session.add(order)
    # Written first: a concurrent duplicate of an idempotent request stops here, before touching capacity.
    db.session.flush()
    if confirm_to is not None:
        _notify(order, "order_confirmed", f"order:{order.id}:placed", user=confirm_to, new_subject=True)
    # Capacity last: an item's row stays locked from its UPDATE to the commit, so a sought-after item is held
    # for as short a time as possible.
    if any(items[item_id].per_buyer_limit for item_id in wanted):
        lock_buyer(campaign.id, buyer_phone)
        _check_limits(campaign.id, buyer_phone, items, wanted, exclude_order_id=order.id)
    _reserve(items, wanted)
    return order


def _clean_note(note):
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise ValidationFailed(_("The note is too long."), {"note": [_("At most %(n)d characters.", n=MAX_NOTE)]})
    return note


def _new_order(actor, campaign, items, wanted, *, group_sheet_id=None, order_id=None, **fields) -> Order:
    """The order and its price-snapshot lines (in item order) as objects, not yet written."""
    total = sum(items[item_id].price_fen * quantity for item_id, quantity in wanted.items())
    order = Order(
        id=order_id,
        campaign_id=campaign.id,
        placed_by_id=actor.id,
        group_sheet_id=group_sheet_id,
        total_fen=total,
        payment_status="unpaid",
        cancelled_at=None,
        **fields,
    )
    order.status = "placed"  # set on the object: Order(status=...) would build the column's comparator each time
    order.lines = [
        OrderLine(
            item=items[item_id],
            item_id=item_id,
            quantity=wanted[item_id],
            price_fen=items[item_id].price_fen,
            cancelled=False,
            cancel_reason=None,
        )
        for item_id in sorted(wanted)
    ]
    order.campaign = campaign
    return order


# PostgreSQL writes a whole order in one statement: the guarded reservation of every item (rows locked in
# ascending id order, so two orders can never deadlock), then — only if every item was reserved — the order,
# its lines and the buyer's confirmation in the outbox. The guard is the same as _reserve's. The rows are locked
# FOR NO KEY UPDATE, the lock the UPDATE takes: FOR UPDATE would also wait for the key-share locks that other
# transactions' new lines hold on their items (foreign key checks), the wait that deadlocked sheets with orders.
_WRITE_ORDER = sa.text(
    """
WITH wanted AS (
    SELECT * FROM unnest(CAST(:item_ids AS integer[]), CAST(:quantities AS integer[]), CAST(:prices AS integer[]))
        AS wanted (item_id, quantity, price_fen)
),
locked AS MATERIALIZED (
    SELECT campaign_item.id, wanted.quantity FROM campaign_item JOIN wanted ON wanted.item_id = campaign_item.id
    ORDER BY campaign_item.id
    FOR NO KEY UPDATE OF campaign_item
),
reserved AS (
    UPDATE campaign_item SET ordered = campaign_item.ordered + locked.quantity, updated_at = :now
    FROM locked
    WHERE campaign_item.id = locked.id AND campaign_item.capacity - campaign_item.ordered >= locked.quantity
    RETURNING campaign_item.id
),
new_order AS (
    INSERT INTO buyer_order (id, campaign_id, unit_id, user_id, buyer_name, buyer_phone, placed_by_id, source,
        status, total_fen, note, idempotency_key, request_fingerprint, payment_status, created_at, updated_at)
    SELECT CAST(:order_id AS integer), CAST(:campaign_id AS integer), CAST(:unit_id AS integer),
        CAST(:user_id AS integer), CAST(:buyer_name AS varchar), CAST(:buyer_phone AS varchar),
        CAST(:placed_by_id AS integer), CAST(:source AS varchar), 'placed', CAST(:total_fen AS integer),
        CAST(:note AS varchar), CAST(:idempotency_key AS varchar), CAST(:request_fingerprint AS varchar), 'unpaid',
        :now, :now
    WHERE (SELECT count(*) FROM reserved) = cardinality(CAST(:item_ids AS integer[]))
    RETURNING id
),
new_lines AS (
    INSERT INTO order_line (order_id, item_id, quantity, price_fen, cancelled)
    SELECT new_order.id, wanted.item_id, wanted.quantity, wanted.price_fen, false
    FROM new_order CROSS JOIN wanted
    ORDER BY wanted.item_id
    RETURNING id, item_id
),
confirmation AS (
    INSERT INTO notification (recipient, user_id, channel, address, kind, subject, title, body, status, attempts,
        next_attempt_at, created_at)
    SELECT CAST(:recipient AS varchar), CAST(:recipient_user_id AS integer), channel.name, channel.address,
        'order_confirmed', CAST(:subject AS varchar), CAST(:title AS varchar), CAST(:body AS text), 'pending', 0,
        :now, :now
    FROM new_order CROSS JOIN unnest(CAST(:channels AS varchar[]), CAST(:addresses AS varchar[])) AS channel (name, address)
    ON CONFLICT DO NOTHING
)
SELECT ARRAY(SELECT id FROM reserved) AS reserved, ARRAY(SELECT id FROM new_lines ORDER BY item_id) AS line_ids
"""
).bindparams(sa.bindparam("now", type_=UTCDateTime()))


def _write_order_postgresql(
    actor,
    campaign_id,
    wanted,
    *,
    buyer_name,
    buyer_phone,
    unit_id,
    user_id,
    source,
    note,
    idempotency_key,
    request_fingerprint,
    confirm_to,
) -> Order:
    """reserve_and_write_order for place_order on PostgreSQL: the same checks and locks, then one statement writes
    it all (_WRITE_ORDER), so an order costs four round trips (token, campaign, write, commit) instead of ten.

    The order and its lines come back as persistent objects, exactly as if the ORM had written them.
    :raises: what reserve_and_write_order raises.
    """
    note = _clean_note(note)
    campaign, items, order_id = lock_open_campaign(campaign_id, unit_id, wanted, new_order_id=True)
    if any(items[item_id].per_buyer_limit for item_id in wanted):
        lock_buyer(campaign.id, buyer_phone)
        _check_limits(campaign.id, buyer_phone, items, wanted)
    now = utcnow()
    order = _new_order(
        actor,
        campaign,
        items,
        wanted,
        order_id=order_id,
        buyer_name=buyer_name,
        buyer_phone=buyer_phone,
        unit_id=unit_id,
        user_id=user_id,
        source=source,
        note=note,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        created_at=now,
        updated_at=now,
    )
    confirmation = dict(recipient=None, recipient_user_id=None, channels=[], addresses=[], subject=None, title=None, body=None)
    if confirm_to is not None:
        from notifications.services import recipient_channels

        recipient, channels = recipient_channels(user=confirm_to)
        title, body = _message(order, "order_confirmed", confirm_to)
        confirmation = dict(
            recipient=recipient,
            recipient_user_id=confirm_to.id,
            channels=[channel for channel, _address in channels],
            addresses=[address for _channel, address in channels],
            subject=f"order:{order_id}:placed",
            title=title,
            body=body,
        )
    ids = sorted(wanted)
    written = db.session.execute(
        _WRITE_ORDER,
        dict(
            item_ids=ids,
            quantities=[wanted[item_id] for item_id in ids],
            prices=[items[item_id].price_fen for item_id in ids],
            now=now,
            order_id=order_id,
            campaign_id=campaign.id,
            unit_id=unit_id,
            user_id=user_id,
            buyer_name=buyer_name,
            buyer_phone=buyer_phone,
            placed_by_id=actor.id,
            source=source,
            total_fen=order.total_fen,
            note=note,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            **confirmation,
        ),
    ).one()
    short = sorted(set(ids) - set(written.reserved))
    if short:
        raise _insufficient(items[short[0]])
    for line, line_id in zip(order.lines, written.line_ids, strict=True):
        line.id, line.order_id = line_id, order_id
        make_transient_to_detached(line)
    make_transient_to_detached(order)
    db.session.add(order)
    return order


# ---------------------------------------------------------------- PostgreSQL: an order in one round trip


@dataclass(frozen=True)
class _KnownItem:
    title: str
    unit: str
    price_fen: int


@dataclass(frozen=True)
class _KnownCampaign:
    """What an order's price snapshot and confirmation take from its campaign, remembered by this process.

    Only a hint: _PLACE_KNOWN_ORDER writes nothing unless the database still says exactly this.
    """

    title: str
    delivery_on: object
    closes_at: object
    items: dict  # item id -> _KnownItem, only items without a per-buyer limit and not withdrawn


MAX_KNOWN_CAMPAIGNS = 256
_known_campaigns: dict[int, _KnownCampaign] = {}

_KNOWN_CAMPAIGN = sa.text(
    "SELECT title, delivery_on, closes_at FROM campaign WHERE id = :campaign_id AND status = 'published'"
).columns(closes_at=UTCDateTime())
_KNOWN_ITEMS = sa.text(
    "SELECT id, title, unit, price_fen FROM campaign_item "
    "WHERE campaign_id = :campaign_id AND per_buyer_limit IS NULL AND NOT cancelled_below_minimum"
)


def _known_campaign(campaign_id) -> _KnownCampaign | None:
    known = _known_campaigns.get(campaign_id)
    if known is not None:
        return known
    session = db.session
    campaign = session.execute(_KNOWN_CAMPAIGN, {"campaign_id": campaign_id}).first()
    if campaign is None:
        return None
    items = {
        row.id: _KnownItem(row.title, row.unit, row.price_fen)
        for row in session.execute(_KNOWN_ITEMS, {"campaign_id": campaign_id})
    }
    if len(_known_campaigns) >= MAX_KNOWN_CAMPAIGNS:
        _known_campaigns.clear()
    known = _known_campaigns[campaign_id] = _KnownCampaign(campaign.title, campaign.delivery_on, campaign.closes_at, items)
    return known


# Everything place_order checks and writes, as one statement in its own transaction (psycopg placeholders):
# the campaign is share-locked and must be published, open now, open to the buyer's unit and as remembered; every
# item is locked (ascending ids), must belong to it, be as remembered (title, unit, price: the snapshot and the
# confirmation use them), have no per-buyer limit, not be withdrawn, and have enough left. Only if all of that holds
# are the items reserved and the order, its lines and its confirmation written; otherwise nothing is, and the row
# says what was found. The locks are those of the full path (lock_open_campaign, _WRITE_ORDER): a close waits for
# the order or the order sees the close; the left counts are read from the locked rows, so they are final.
_PLACE_KNOWN_ORDER = """
WITH wanted AS (
    SELECT * FROM unnest(%(item_ids)s::integer[], %(quantities)s::integer[],
        %(prices)s::integer[], %(titles)s::varchar[], %(units)s::varchar[])
        AS wanted (item_id, quantity, price_fen, title, unit)
),
open_campaign AS MATERIALIZED (
    SELECT campaign.id FROM campaign
    WHERE campaign.id = %(campaign_id)s::integer AND campaign.status = 'published'
        AND campaign.opens_at <= %(now)s::timestamp AND campaign.closes_at > %(now)s::timestamp
        AND campaign.closes_at = %(closes_at)s::timestamp AND campaign.delivery_on = %(delivery_on)s::date
        AND campaign.title = %(campaign_title)s::varchar
        AND (NOT EXISTS (SELECT FROM campaign_unit WHERE campaign_unit.campaign_id = campaign.id)
            OR EXISTS (SELECT FROM campaign_unit
                WHERE campaign_unit.campaign_id = campaign.id AND campaign_unit.unit_id = %(unit_id)s::integer))
    FOR SHARE OF campaign
),
locked AS MATERIALIZED (
    SELECT campaign_item.id, campaign_item.capacity - campaign_item.ordered AS remaining, wanted.quantity,
        campaign_item.campaign_id = %(campaign_id)s::integer AND campaign_item.per_buyer_limit IS NULL
            AND NOT campaign_item.cancelled_below_minimum AND campaign_item.price_fen = wanted.price_fen
            AND campaign_item.title = wanted.title AND campaign_item.unit = wanted.unit AS as_known
    FROM campaign_item JOIN wanted ON wanted.item_id = campaign_item.id
    WHERE EXISTS (SELECT FROM open_campaign)
    ORDER BY campaign_item.id
    FOR NO KEY UPDATE OF campaign_item
),
checked AS MATERIALIZED (
    SELECT count(*) = cardinality(%(item_ids)s::integer[]) AND coalesce(bool_and(as_known), false) AS as_known,
        coalesce(bool_and(remaining >= quantity), false) AS enough
    FROM locked
),
reserved AS (
    UPDATE campaign_item SET ordered = campaign_item.ordered + locked.quantity, updated_at = %(now)s::timestamp
    FROM locked, checked
    WHERE checked.as_known AND checked.enough
        AND campaign_item.id = locked.id AND campaign_item.capacity - campaign_item.ordered >= locked.quantity
    RETURNING campaign_item.id
),
new_order AS (
    INSERT INTO buyer_order (campaign_id, unit_id, user_id, buyer_name, buyer_phone, placed_by_id, source,
        status, total_fen, note, idempotency_key, request_fingerprint, payment_status, created_at, updated_at)
    SELECT %(campaign_id)s::integer, %(unit_id)s::integer, %(user_id)s::integer,
        %(buyer_name)s::varchar, %(buyer_phone)s::varchar, %(user_id)s::integer, 'buyer',
        'placed', %(total_fen)s::integer, %(note)s::varchar, %(idempotency_key)s::varchar,
        %(request_fingerprint)s::varchar, 'unpaid', %(now)s::timestamp, %(now)s::timestamp
    WHERE (SELECT count(*) FROM reserved) = cardinality(%(item_ids)s::integer[])
    RETURNING id
),
new_lines AS (
    INSERT INTO order_line (order_id, item_id, quantity, price_fen, cancelled)
    SELECT new_order.id, wanted.item_id, wanted.quantity, wanted.price_fen, false
    FROM new_order CROSS JOIN wanted
    ORDER BY wanted.item_id
    RETURNING id, item_id
),
confirmation AS (
    INSERT INTO notification (recipient, user_id, channel, address, kind, subject, title, body, status, attempts,
        next_attempt_at, created_at)
    SELECT %(recipient)s::varchar, %(user_id)s::integer, channel.name, channel.address,
        'order_confirmed', 'order:' || new_order.id || ':placed',
        %(title_before)s::varchar || new_order.id || %(title_after)s::varchar, %(body)s::text,
        'pending', 0, %(now)s::timestamp, %(now)s::timestamp
    FROM new_order CROSS JOIN unnest(%(channels)s::varchar[], %(addresses)s::varchar[])
        AS channel (name, address)
    ON CONFLICT DO NOTHING
)
SELECT (SELECT id FROM new_order) AS order_id,
    ARRAY(SELECT id FROM new_lines ORDER BY item_id) AS line_ids,
    EXISTS (SELECT FROM open_campaign) AS open,
    (SELECT as_known FROM checked) AS as_known,
    ARRAY(SELECT remaining FROM locked ORDER BY id) AS remaining,
    CASE WHEN (SELECT count(*) FROM reserved) NOT IN (0, cardinality(%(item_ids)s::integer[]))
        THEN CAST('partial reservation ' || (SELECT count(*) FROM reserved) AS integer) END AS never_partial
"""
# Whitespace squeezed: psycopg remembers how it converted a statement only below 4,096 characters. The last
# column fails the transaction, instead of committing it, if a reservation was ever partial (a bug: never seen).
_PLACE_KNOWN_ORDER = " ".join(_PLACE_KNOWN_ORDER.split())


def _place_known_order(actor, campaign_id, wanted, *, note, idempotency_key, request_fingerprint) -> Order | None:
    """place_order for a buyer ordering for themselves on PostgreSQL, in one round trip: BEGIN, _PLACE_KNOWN_ORDER
    and COMMIT sent together, so a sought-after item's row is locked only while PostgreSQL itself works.

    :returns: the order written, or None when this path cannot decide (the campaign or an item is not as this
        process remembers it, not open, not open to the unit, limited, withdrawn, unknown): the full path then
        answers, with its exact error.
    :raises InsufficientStock: everything else holds but an item has not enough left.
    """
    known = _known_campaign(campaign_id) if _is_int(campaign_id) and 0 < campaign_id <= MAX_ID else None
    if known is None or any(item_id not in known.items for item_id in wanted):
        return None
    note = _clean_note(note)
    ids = sorted(wanted)
    items = [known.items[item_id] for item_id in ids]
    total = sum(item.price_fen * wanted[item_id] for item_id, item in zip(ids, items, strict=True))
    text = _confirmation_text(
        actor.locale or "zh_CN", known, [(item, wanted[item_id]) for item_id, item in zip(ids, items, strict=True)], total
    )
    if text is None:
        return None
    title_before, title_after, body = text
    from notifications.services import recipient_channels

    recipient, channels = recipient_channels(user=actor)
    now = utcnow()
    row = pipelined_row(
        _PLACE_KNOWN_ORDER,
        dict(
            item_ids=ids,
            quantities=[wanted[item_id] for item_id in ids],
            prices=[item.price_fen for item in items],
            titles=[item.title for item in items],
            units=[item.unit for item in items],
            campaign_id=campaign_id,
            now=now.replace(tzinfo=None),
            closes_at=known.closes_at.replace(tzinfo=None),
            delivery_on=known.delivery_on,
            campaign_title=known.title,
            unit_id=actor.unit_id,
            user_id=actor.id,
            buyer_name=actor.name,
            buyer_phone=actor.phone,
            total_fen=total,
            note=note,
            idempotency_key=idempotency_key,
            request_fingerprint=request_fingerprint,
            recipient=recipient,
            channels=[channel for channel, _address in channels],
            addresses=[address for _channel, address in channels],
            title_before=title_before,
            title_after=title_after,
            body=body,
        ),
        commit=True,
    )
    order_id, line_ids, is_open, as_known, remaining = row[:5]
    if order_id is None:
        if is_open and as_known:
            short = next(i for i, item_id in enumerate(ids) if remaining[i] < wanted[item_id])
            raise _insufficient_left(ids[short], items[short], remaining[short])
        _known_campaigns.pop(campaign_id, None)
        return None
    order = Order(
        id=order_id,
        campaign_id=campaign_id,
        unit_id=actor.unit_id,
        user_id=actor.id,
        buyer_name=actor.name,
        buyer_phone=actor.phone,
        placed_by_id=actor.id,
        source="buyer",
        total_fen=total,
        note=note,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
        payment_status="unpaid",
        cancelled_at=None,
        created_at=now,
        updated_at=now,
    )
    order.stored_status = "placed"
    order.lines = [
        OrderLine(
            id=line_id,
            order_id=order_id,
            item_id=item_id,
            quantity=wanted[item_id],
            price_fen=item.price_fen,
            cancelled=False,
            cancel_reason=None,
        )
        for line_id, item_id, item in zip(line_ids, ids, items, strict=True)
    ]
    # Not added to the session: the answer needs nothing more, and an order in the session would load its campaign
    # to tell "placed" from "allocated". To see later changes, read the order again by its id.
    return order


def _confirmation_text(locale, known, lines, total_fen):
    """The confirmation's title (around the order id, which only the database knows) and body, the same words as
    _message writes, with the translated patterns looked up once per campaign and language."""
    from presentation import yuan

    patterns = _confirmation_patterns(locale, known.title, known.delivery_on, known.closes_at)
    if patterns is None:
        return None
    title_before, title_after, separator, body_pattern, fixed = patterns
    listed = separator.join(f"{item.title} × {quantity}{item.unit}" for item, quantity in lines)
    return title_before, title_after, body_pattern % {**fixed, "lines": listed, "total": yuan(total_fen)}


@functools.lru_cache(maxsize=1024)
def _confirmation_patterns(locale, campaign_title, delivery_on, closes_at):
    with force_locale(locale):
        pattern = _("Pre-order %(id)d confirmed")
        parts = pattern.split("%(id)d")
        if len(parts) != 2:
            return None
        before, after = (part % {} for part in parts)
        fixed = {"campaign": campaign_title, **_shown_times(locale, delivery_on, closes_at)}
        body = _(
            "%(campaign)s: %(lines)s. Total %(total)s, paid on delivery. Delivery on %(date)s. You may change or cancel until %(closes)s."
        )
        return before, after, _("; "), body, fixed


def _buyer_fields(actor, buyer_name, buyer_phone, unit_id, source):
    """Who the order is for: the actor themselves, or (coordinator) a colleague of their unit."""
    if actor.role != "buyer" or actor.unit_id is None:
        raise Forbidden(_("Only buyers of a work unit place orders."))
    if source == "buyer":
        return dict(buyer_name=actor.name, buyer_phone=actor.phone, unit_id=actor.unit_id, user_id=actor.id)
    if source not in ("coordinator", "sheet"):
        raise ValueError(f"unknown order source {source!r}")
    if not actor.is_coordinator:
        raise Forbidden(_("Only a unit's coordinator may order for colleagues."))
    if unit_id is not None and unit_id != actor.unit_id:
        raise Forbidden(_("A coordinator orders only for their own unit."))
    errors = {}
    name = (buyer_name or "").strip()
    if not name or len(name) > 80:
        errors["buyer_name"] = [_("Enter the colleague's name (at most %(n)d characters).", n=80)]
    phone = normalize_phone(buyer_phone)
    if phone is None:
        errors["buyer_phone"] = [_("Enter an 11-digit mobile number.")]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    from accounts.models import User

    colleague = db.session.scalar(sa.select(User).where(User.phone == phone, User.unit_id == actor.unit_id))
    return dict(buyer_name=name, buyer_phone=phone, unit_id=actor.unit_id, user_id=colleague.id if colleague else None)


def _colleague(user_id):
    if user_id is None:
        return None
    from accounts.models import User

    return db.session.get(User, user_id)


def _replay(actor, key, request_fingerprint) -> Order | None:
    """The order this actor already placed with this key: returned if it asked for the same, refused if not."""
    order = db.session.scalar(sa.select(Order).where(Order.placed_by_id == actor.id, Order.idempotency_key == key))
    if order is None:
        return None
    if order.request_fingerprint != request_fingerprint:
        raise IdempotencyConflict(_("This Idempotency-Key was already used for a different order."), {"order_id": order.id})
    return order


def place_order(
    actor,
    campaign_id,
    lines,
    *,
    idempotency_key=None,
    note=None,
    buyer_name=None,
    buyer_phone=None,
    unit_id=None,
    source="buyer",
) -> PlacedOrder:
    """Place a pre-order: reserve capacity, write the order and its price-snapshot lines, queue the buyer's confirmation; commit.

    A buyer orders for themselves (source "buyer"); a unit's coordinator may order for a colleague
    (source "coordinator", with ``buyer_name`` and ``buyer_phone``). With an ``idempotency_key``
    a repeat of the same request returns the first order (``created`` False), never a second one.
    :raises IdempotencyConflict: the key was used for a different request.
    :raises: everything reserve_and_write_order raises; nothing is saved then.
    """
    buyer = _buyer_fields(actor, buyer_name, buyer_phone, unit_id, source)
    wanted = normalize_lines(lines)
    key = _clean_idempotency_key(idempotency_key)
    print_ = None
    if key:
        extra = {"note": (note or "").strip()}
        if source != "buyer":
            extra.update(buyer_name=buyer["buyer_name"], buyer_phone=buyer["buyer_phone"], source=source)
        print_ = fingerprint(campaign_id, wanted, **extra)
    # No lookup of the key up front: the unique (placed_by, key) constraint catches a repeat when the order is
    # written, and any refusal before that looks for a first order made with the key (a retry after closing or
    # selling out still gets its order back).
    postgresql = db.session.get_bind().dialect.name == "postgresql"
    write = _write_order_postgresql if postgresql else reserve_and_write_order
    try:
        order = None
        if postgresql and source == "buyer":
            order = _place_known_order(actor, campaign_id, wanted, note=note, idempotency_key=key, request_fingerprint=print_)
            if order is not None:
                nudge_worker()
                return PlacedOrder(order, True)
        order = write(
            actor,
            campaign_id,
            wanted,
            source=source,
            note=note,
            idempotency_key=key,
            request_fingerprint=print_,
            confirm_to=actor if buyer["user_id"] == actor.id else _colleague(buyer["user_id"]),
            **buyer,
        )
        if source != "buyer":
            record_audit(actor, "order.place", order, on_behalf_of=order.buyer_name, source=source)
        _commit_keeping_order()
    except (sa.exc.IntegrityError, DomainError):
        db.session.rollback()
        existing = _replay(actor, key, print_) if key else None
        if existing is None:
            raise
        return PlacedOrder(existing, False)
    except Exception:
        db.session.rollback()
        raise
    nudge_worker()
    return PlacedOrder(order, True)


def _commit_keeping_order() -> None:
    """Commit without expiring what the session holds: the order just written is answered as it is, with no reload.

    Only the items are expired, as their counters were changed in SQL behind the ORM's back.
    """
    session = db.session()
    session.expire_on_commit = False
    try:
        session.commit()
    finally:
        session.expire_on_commit = True
    for obj in list(session.identity_map.values()):
        if isinstance(obj, CampaignItem):
            session.expire(obj)


# ---------------------------------------------------------------- reading


def get_order(user, order_id, *, for_change=False) -> Order:
    """An order the user may see: their own, one of their unit's (coordinator), any (operator).

    :param for_change: only the owner or their coordinator (not an operator) may change it.
    :raises NotFound: no such order, or one this user may not see.
    :raises Forbidden: an operator asking to change it.
    """
    order = db.session.get(Order, order_id) if _is_int(order_id) and 0 < order_id <= MAX_ID else None
    if order is None or not can_see_order(user, order):
        raise NotFound(_("No such order."))
    if for_change and user.role == "operator":
        raise Forbidden(_("Only the buyer or their unit's coordinator may change an order."))
    return order


def can_see_order(user, order) -> bool:
    if user.role == "operator":
        return True
    if user.role != "buyer":
        return False
    if order.user_id == user.id or order.placed_by_id == user.id:
        return True
    return user.is_coordinator and order.unit_id == user.unit_id


def my_orders_query(user, campaign_id=None):
    """The orders a buyer placed for themselves (newest first); for an operator, every order."""
    query = sa.select(Order).order_by(Order.id.desc()).options(selectinload(Order.lines))
    if user.role != "operator":
        query = query.where(Order.user_id == user.id)
    if campaign_id is not None:
        query = query.where(Order.campaign_id == (campaign_id if 0 < campaign_id <= MAX_ID else 0))
    return query


def active_lines(order):
    return [line for line in order.lines if not line.cancelled]


# ---------------------------------------------------------------- changing and cancelling


def _locked_order(order_id) -> Order:
    """Reload an order and its lines after the buyer lock is held, so checks see the latest committed state."""
    order = db.session.scalar(
        sa.select(Order).where(Order.id == order_id).options(selectinload(Order.lines)).execution_options(populate_existing=True)
    )
    return order


def change_order(user, order_id, lines) -> Order:
    """Replace an order's lines while its campaign is open: capacity is reserved or released by the difference.

    Lines of the same item keep their row (quantity updated, price as first snapshotted); an item
    taken out keeps its line, marked cancelled. Sending the same lines twice changes nothing.
    :param lines: the complete new set of lines; to remove everything, cancel instead.
    :raises NotFound, Forbidden: see get_order.
    :raises Conflict: the order is cancelled or allocated.
    :raises CampaignNotOpen, ValidationFailed, LimitExceeded, InsufficientStock: as for placing.
    """
    order = get_order(user, order_id, for_change=True)
    wanted = normalize_lines(lines)
    try:
        lock_open_campaign(order.campaign_id)
        lock_buyer(order.campaign_id, order.buyer_phone)
        order = _locked_order(order.id)
        if order.status != "placed":
            raise Conflict(_("This order is %(status)s and can no longer be changed.", status=_status_label(order.status)))
        current = {line.item_id: line for line in order.lines}
        have = {line.item_id: line.quantity for line in order.lines if not line.cancelled}
        if have == wanted:
            db.session.rollback()
            return order
        items = _campaign_items(order.campaign_id, set(wanted) | set(have))
        _check_limits(order.campaign_id, order.buyer_phone, items, wanted, exclude_order_id=order.id)
        deltas = {item_id: wanted.get(item_id, 0) - have.get(item_id, 0) for item_id in set(wanted) | set(have)}
        _reserve(items, {k: v for k, v in deltas.items() if v})
        for item_id in sorted(set(wanted) | set(current)):
            line = current.get(item_id)
            if item_id in wanted:
                if line is None:
                    db.session.add(
                        OrderLine(order=order, item_id=item_id, quantity=wanted[item_id], price_fen=items[item_id].price_fen)
                    )
                else:
                    if line.cancelled:
                        line.price_fen = items[item_id].price_fen
                    line.quantity, line.cancelled, line.cancel_reason = wanted[item_id], False, None
            elif line is not None and not line.cancelled:
                line.cancelled, line.cancel_reason = True, "removed"
        db.session.flush()
        order.total_fen = sum(line.quantity * line.price_fen for line in order.lines if not line.cancelled)
        if user.id != order.user_id:
            record_audit(user, "order.change", order, on_behalf_of=order.buyer_name)
        _notify(order, "order_changed", f"order:{order.id}:v{time.time_ns() // 1000}")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    nudge_worker()
    return order


def cancel_order(user, order_id) -> Order:
    """Cancel an order while its campaign is open: its capacity returns, its rows stay (status cancelled, lines cancelled).

    Cancelling a cancelled order changes nothing.
    :raises NotFound: see get_order.
    :raises Conflict: the order is allocated or delivered.
    :raises CampaignNotOpen: the campaign is not open any more.
    """
    order = get_order(user, order_id)
    if order.status == "cancelled":
        return order
    try:
        lock_open_campaign(order.campaign_id)
        lock_buyer(order.campaign_id, order.buyer_phone)
        order = _locked_order(order.id)
        if order.status == "cancelled":
            db.session.rollback()
            return order
        if order.status != "placed":
            raise Conflict(_("This order is %(status)s and can no longer be cancelled.", status=_status_label(order.status)))
        live = [line for line in order.lines if not line.cancelled]
        items = {line.item_id: line.item for line in live}
        _reserve(items, {line.item_id: -line.quantity for line in live})
        for line in live:
            line.cancelled, line.cancel_reason = True, "order_cancelled"
        order.status, order.cancelled_at, order.total_fen = "cancelled", utcnow(), 0
        if user.id != order.user_id:
            record_audit(user, "order.cancel", order, on_behalf_of=order.buyer_name)
        _notify(order, "order_cancelled", f"order:{order.id}:cancelled")
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    nudge_worker()
    return order


def _status_label(status):
    return {"placed": _("placed"), "allocated": _("allocated"), "delivered": _("delivered"), "cancelled": _("cancelled")}.get(
        status, status
    )


# ---------------------------------------------------------------- notifications


def _notify(order, kind, subject, user=None, new_subject=False) -> None:
    """Queue the buyer's message in the order's transaction (only buyers with an account get one), in their language."""
    from notifications.services import queue_notification

    user = user or (order.user if order.user_id else None)
    if user is None:
        return
    title, body = _message(order, kind, user)
    queue_notification(kind=kind, subject=subject, title=title, body=body, user=user, new_subject=new_subject)


def _message(order, kind, user) -> tuple[str, str]:
    """The title and body of an order's confirmation, change or cancellation, in the user's language."""
    from presentation import yuan

    campaign = order.campaign
    locale = user.locale or "zh_CN"
    with force_locale(locale):
        separator = _("; ")  # the list separator differs by language ("；" in Chinese)
        lines = separator.join(
            f"{line.item.title} × {line.quantity}{line.item.unit}" for line in order.lines if not line.cancelled
        )
        if kind == "order_confirmed":
            title = _("Pre-order %(id)d confirmed", id=order.id)
            body = _(
                "%(campaign)s: %(lines)s. Total %(total)s, paid on delivery. Delivery on %(date)s. You may change or cancel until %(closes)s.",
                campaign=campaign.title,
                lines=lines,
                total=yuan(order.total_fen),
                **_shown_times(locale, campaign.delivery_on, campaign.closes_at),
            )
        elif kind == "order_changed":
            title = _("Pre-order %(id)d changed", id=order.id)
            body = _(
                "%(campaign)s: now %(lines)s. Total %(total)s.", campaign=campaign.title, lines=lines, total=yuan(order.total_fen)
            )
        else:
            title = _("Pre-order %(id)d cancelled", id=order.id)
            body = _("%(campaign)s: your pre-order has been cancelled.", campaign=campaign.title)
    return title, body


@functools.lru_cache(maxsize=1024)
def _shown_times(locale, delivery_on, closes_at) -> dict:
    """A campaign's delivery date and closing time as its messages show them (call it under force_locale(locale)):
    formatting them cost more than the rest of a confirmation."""
    from presentation import local_date

    return {"date": local_date(delivery_on), "closes": _local(closes_at)}


def nudge_worker() -> None:
    """Ask the worker to send notifications now, at most once every NUDGE_INTERVAL_SECONDS per process.

    Beat sends them within seconds anyway; this only shortens the wait without sending one
    broker message per order under load. Never fails the request if the broker is down.
    """
    global _last_nudge
    now = time.monotonic()
    if now - _last_nudge < NUDGE_INTERVAL_SECONDS:
        return
    _last_nudge = now
    from worker import send_task_safely
    from worker.tasks import dispatch_notifications

    send_task_safely(dispatch_notifications)
