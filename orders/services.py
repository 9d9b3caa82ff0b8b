"""Placing, changing and cancelling pre-orders: one write path for buyers, coordinators, grids and sheets.

Every order is written by :func:`reserve_and_write_order`, on SQLite and PostgreSQL alike, in the locks and order
orders.locks describes; capacity moves only through orders.capacity. A rule therefore holds for every channel:

- what is ordered and not cancelled never exceeds an item's capacity (a guarded UPDATE per item, ascending ids);
- no buyer exceeds a per-buyer limit (the buyer's lock is held while their lines are counted);
- no order lands after a close (the campaign row is share-locked and re-checked first);
- an order with an Idempotency-Key is unique per (placed_by, key) in the database: a concurrent duplicate loses on
  that constraint, rolls back and answers with the first order;
- the buyer's confirmation is queued in the outbox in the order's own transaction;
- the campaign's open figures move by the order's difference in the same transaction, once its capacity moved
  (dashboard.open_figures.count_order).
"""

import time
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

import after_commit
from accounts.models import User
from accounts.services import normalize_phone, record_audit
from dashboard.open_figures import count_order, sold_part
from database import transaction, utcnow
from errors import AlreadyOrdered, Conflict, DomainError, Forbidden, IdempotencyConflict, OutcomeUnknown, ValidationFailed
from extensions import db
from orders import people
from orders.capacity import check_limits, release, reserve
from orders.lines import (
    clean_idempotency_key,
    clean_note,
    fingerprint,
    normalize_lines,
)
from orders.locks import lock_buyer, lock_open_campaign, lock_unit_sheet
from orders.models import Order, OrderLine
from orders.notices import notify_buyer, tell_ordered_for
from orders.reading import active_lines, can_see_order, get_order
from presentation import status_label
from shop.models import CampaignItem


@dataclass
class PlacedOrder:
    """The result of place_order: the order, and whether this call created it (False: an idempotent repeat)."""

    order: Order
    created: bool


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

    The one way an order is written: place_order calls it for a buyer or a coordinator; a unit's sheet or grid calls
    it once per person, then commits once. Every check and lock is taken inside; on any error the caller must roll
    the whole transaction back (capacity already reserved by it is then returned too).
    :param lines: [{item_id, quantity}] or [(item_id, quantity)].
    :param actor: who places it (``placed_by``): the buyer, or their unit's coordinator.
    :param confirm_to: a user to queue the confirmation for (in the same transaction).
    :raises NotFound, CampaignNotOpen, Forbidden: see orders.locks.lock_open_campaign.
    :raises ValidationFailed: bad lines, unknown items or another campaign's items, a bad name or note.
    :raises LimitExceeded: a per-buyer limit would be exceeded.
    :raises InsufficientStock: an item has not enough left.
    :raises sqlalchemy.exc.IntegrityError: the (placed_by, idempotency_key) pair exists (place_order handles it).
    """
    wanted = normalize_lines(lines)
    note = clean_note(note)
    campaign = lock_open_campaign(campaign_id, unit_id)
    items = orderable_items(campaign.id, wanted)
    order = Order(
        campaign=campaign,
        placed_by_id=actor.id,
        group_sheet_id=group_sheet_id,
        total_fen=sum(items[item_id].price_fen * quantity for item_id, quantity in wanted.items()),
        buyer_name=buyer_name,
        buyer_phone=buyer_phone,
        unit_id=unit_id,
        user_id=user_id,
        source=source,
        note=note,
        idempotency_key=idempotency_key,
        request_fingerprint=request_fingerprint,
    )
    order.status = "placed"
    order.lines = [
        OrderLine(item=items[item_id], quantity=wanted[item_id], price_fen=items[item_id].price_fen) for item_id in sorted(wanted)
    ]
    db.session.add(order)
    # Written first: a concurrent duplicate of an idempotent request stops here, before touching capacity.
    db.session.flush()
    if confirm_to is not None:
        notify_buyer(order, "order_confirmed", f"order:{order.id}:placed", user=confirm_to, new_subject=True)
    if any(items[item_id].per_buyer_limit for item_id in wanted):
        lock_buyer(campaign.id, buyer_phone)
        check_limits(campaign.id, buyer_phone, items, wanted, exclude_order_id=order.id, viewer=actor)
    # Capacity last: an item's row stays locked from its UPDATE to the commit, so a sought-after item is held for
    # as short a time as possible.
    reserve(items, wanted)
    count_order(order, {})
    return order


# Built once (see orders.locks): the item ids are one expanding parameter.
_ORDERABLE_ITEMS = (
    sa.select(CampaignItem)
    .where(CampaignItem.id.in_(sa.bindparam("item_ids", expanding=True)))
    .execution_options(populate_existing=True)
)


def orderable_items(campaign_id, item_ids) -> dict[int, CampaignItem]:
    """The campaign's items among ``item_ids``, read afresh; an unknown id, another campaign's or a withdrawn item
    is a field error."""
    by_id = {item.id: item for item in db.session.scalars(_ORDERABLE_ITEMS, {"item_ids": sorted(item_ids)})}
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
    (source "coordinator", with ``buyer_name`` and ``buyer_phone``), who is then told by SMS (and in the app, with an
    account) what was ordered and by whom. With an ``idempotency_key`` a repeat of the same request returns the first
    order (``created`` False), never a second one.
    :raises IdempotencyConflict: the key was used for a different request.
    :raises ValidationFailed: (coordinator) the phone is registered to someone outside the unit.
    :raises AlreadyOrdered: (coordinator) the colleague already has an order of the unit in the campaign.
    :raises: everything reserve_and_write_order raises; nothing is saved then.
    """
    buyer = _buyer_fields(actor, buyer_name, buyer_phone, unit_id, source)
    wanted = normalize_lines(lines)
    key = clean_idempotency_key(idempotency_key)
    request_fingerprint = None
    if key:
        extra = {"note": (note or "").strip()}
        if source != "buyer":
            extra.update(buyer_name=buyer["buyer_name"], buyer_phone=buyer["buyer_phone"], source=source)
        request_fingerprint = fingerprint(campaign_id, wanted, **extra)
    person = actor if buyer["user_id"] == actor.id else _colleague(buyer["user_id"])
    # No lookup of the key up front: the unique (placed_by, key) constraint catches a repeat when the order is
    # written, and any refusal before that looks for a first order made with the key (a retry after closing or
    # selling out still gets its order back).
    try:
        with _kept_loaded_after_commit(), transaction():
            if source != "buyer":
                _refuse_a_second_order(actor, campaign_id, buyer)
            order = reserve_and_write_order(
                actor,
                campaign_id,
                wanted,
                source=source,
                note=note,
                idempotency_key=key,
                request_fingerprint=request_fingerprint,
                confirm_to=actor if person is actor else None,
                **buyer,
            )
            if source != "buyer":
                record_audit(actor, "order.place", order, on_behalf_of=order.buyer_name, source=source)
                if person is not actor:
                    tell_ordered_for(actor, order, person)
            after_commit.dispatch_notifications()
    except OutcomeUnknown:
        raise  # looking for the order now could find the database gone: the answer says to retry with the key
    except (sa.exc.IntegrityError, DomainError):
        existing = _replay(actor, key, request_fingerprint) if key else None
        if existing is None:
            raise
        return PlacedOrder(existing, False)
    return PlacedOrder(order, True)


@contextmanager
def _kept_loaded_after_commit():
    """Commit without expiring the session's objects: the new order and its lines hold exactly what was just
    written, so the answer is built from them rather than read back row by row (order, lines, items, campaign)."""
    session = db.session()
    expiring = session.expire_on_commit
    session.expire_on_commit = False
    try:
        yield
    finally:
        session.expire_on_commit = expiring


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
    found = people.registered(actor.unit_id, [phone])
    if phone in found.outsiders:
        raise ValidationFailed(_("Please correct the marked fields."), {"buyer_phone": [people.outsider_message(phone)]})
    colleague = found.members.get(phone)
    return dict(buyer_name=name, buyer_phone=phone, unit_id=actor.unit_id, user_id=colleague.id if colleague else None)


def _refuse_a_second_order(actor, campaign_id, buyer) -> None:
    """One order a person: a colleague who already has an order of the unit in the campaign (their own, a grid's, a
    sheet's) gets no second one. Under the unit's sheet lock, so a grid or sheet of the unit cannot slip one in.

    :raises NotFound, CampaignNotOpen, Forbidden: see orders.locks.lock_open_campaign.
    :raises AlreadyOrdered: naming the existing order.
    """
    campaign = lock_open_campaign(campaign_id, actor.unit_id)
    lock_unit_sheet(campaign.id, actor.unit_id)
    existing = people.existing_orders(campaign.id, actor.unit_id, [buyer["buyer_phone"]]).get(buyer["buyer_phone"])
    if existing is not None:
        raise AlreadyOrdered(people.already_ordered_message(buyer["buyer_name"], existing), {"order_id": existing})


def _colleague(user_id):
    return None if user_id is None else db.session.get(User, user_id)


def _replay(actor, key, request_fingerprint) -> Order | None:
    """The order this actor already placed with this key: returned if it asked for the same, refused if not."""
    order = db.session.scalar(sa.select(Order).where(Order.placed_by_id == actor.id, Order.idempotency_key == key))
    if order is None:
        return None
    if not can_see_order(actor, order):
        # Placed for a unit the actor no longer coordinates: the key stays used, the order is not shown.
        raise IdempotencyConflict(_("This Idempotency-Key was already used for a different order."))
    if order.request_fingerprint != request_fingerprint:
        raise IdempotencyConflict(_("This Idempotency-Key was already used for a different order."), {"order_id": order.id})
    return order


# ---------------------------------------------------------------- changing and cancelling


def _locked_order(order) -> Order:
    """Take the order's campaign and buyer locks, then read it and its lines again, so checks see the latest state.

    :raises CampaignNotOpen: see orders.locks.lock_open_campaign.
    """
    lock_open_campaign(order.campaign_id)
    lock_buyer(order.campaign_id, order.buyer_phone)
    query = (
        sa.select(Order).where(Order.id == order.id).options(selectinload(Order.lines)).execution_options(populate_existing=True)
    )
    return db.session.scalar(query)


def change_order(user, order_id, lines) -> Order:
    """Replace an order's lines while its campaign is open: capacity is reserved or released by the difference.

    Lines of the same item keep their row (quantity updated, price as first snapshotted); an item
    taken out keeps its line, marked cancelled. Sending the same lines twice changes nothing.
    :param lines: the complete new set of lines; to remove everything, cancel instead.
    :raises NotFound, Forbidden: see orders.reading.get_order.
    :raises Conflict: the order is cancelled or allocated.
    :raises CampaignNotOpen, ValidationFailed, LimitExceeded, InsufficientStock: as for placing.
    """
    with transaction():
        order = get_order(user, order_id, for_change=True)
        wanted = normalize_lines(lines)
        order = _locked_order(order)
        if order.status != "placed":
            raise Conflict(_("This order is %(status)s and can no longer be changed.", status=_status_label(order.status)))
        have = {line.item_id: line.quantity for line in active_lines(order)}
        if have == wanted:
            return order
        touched = set(wanted) | set(have)
        items = orderable_items(order.campaign_id, touched)
        check_limits(order.campaign_id, order.buyer_phone, items, wanted, exclude_order_id=order.id, viewer=user)
        reserve(items, {item_id: wanted.get(item_id, 0) - have.get(item_id, 0) for item_id in touched})
        before = sold_part(order)
        _replace_lines(order, items, wanted)
        count_order(order, before)
        if user.id != order.user_id:
            record_audit(user, "order.change", order, on_behalf_of=order.buyer_name)
        notify_buyer(order, "order_changed", f"order:{order.id}:v{time.time_ns() // 1000}")
        after_commit.dispatch_notifications()
    return order


def _replace_lines(order, items, wanted) -> None:
    """Make the order's live lines ``wanted``: a line per item is kept (reopened with today's price if it was
    cancelled), a new item gets a new line, an item left out is cancelled; the total follows."""
    current = {line.item_id: line for line in order.lines}
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
    order.total_fen = sum(line.quantity * line.price_fen for line in active_lines(order))


def cancel_order(user, order_id) -> Order:
    """Cancel an order while its campaign is open: its capacity returns, its rows stay (status cancelled, lines cancelled).

    Cancelling a cancelled order changes nothing.
    :raises NotFound: see orders.reading.get_order.
    :raises Conflict: the order is allocated or delivered.
    :raises CampaignNotOpen: the campaign is not open any more.
    """
    with transaction():
        order = get_order(user, order_id)
        if order.status == "cancelled":
            return order
        order = _locked_order(order)
        if order.status == "cancelled":
            return order
        if order.status != "placed":
            raise Conflict(_("This order is %(status)s and can no longer be cancelled.", status=_status_label(order.status)))
        held, before = {}, sold_part(order)
        for line in active_lines(order):
            held[line.item_id] = held.get(line.item_id, 0) + line.quantity
            line.cancelled, line.cancel_reason = True, "order_cancelled"
        release(held)
        order.status, order.cancelled_at, order.total_fen = "cancelled", utcnow(), 0
        count_order(order, before)
        if user.id != order.user_id:
            record_audit(user, "order.cancel", order, on_behalf_of=order.buyer_name)
        notify_buyer(order, "order_cancelled", f"order:{order.id}:cancelled")
        after_commit.dispatch_notifications()
    return order


def _status_label(status):
    return status_label(status, "order")
