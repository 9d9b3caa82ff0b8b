"""What an item has left and what a buyer may still order: capacity moved in SQL with a guard, never oversold."""

import sqlalchemy as sa
from flask_babel import gettext as _

from errors import InsufficientStock, LimitExceeded
from extensions import db
from orders.models import Order, OrderLine
from orders.reading import visible_orders_clause
from shop.models import CampaignItem

_items = CampaignItem.__table__
_orders = Order.__table__
_lines = OrderLine.__table__

# Built once (see orders.locks), with the item and the quantity as parameters.
_TAKE = (
    sa.update(_items)
    .where(_items.c.id == sa.bindparam("item_id"), _items.c.capacity - _items.c.ordered >= sa.bindparam("quantity"))
    .values(ordered=_items.c.ordered + sa.bindparam("quantity"))
)
_GIVE_BACK = (
    sa.update(_items)
    .where(_items.c.id == sa.bindparam("item_id"), _items.c.ordered >= sa.bindparam("quantity"))
    .values(ordered=_items.c.ordered - sa.bindparam("quantity"))
)


def reserve(items_by_id, deltas: dict[int, int]) -> None:
    """Move each item's ``ordered`` by its delta (positive: reserve, negative: release), in ascending item id order.

    One guarded UPDATE per item, ``ordered = ordered + q WHERE capacity - ordered >= q`` (a release: ``WHERE ordered
    >= q``), so the check and the change are one step and a row count of 0 means not enough is left. On PostgreSQL
    the UPDATE locks the row until the commit with FOR NO KEY UPDATE, the lock orders.locks.lock_items takes (not
    FOR UPDATE: see there); an order waiting behind another re-checks the guard against the row as committed, so a
    cancellation that frees the last units lets it through. Ascending ids: two transactions never wait on each
    other's items.

    :param items_by_id: the items reserved; a refusal names the item.
    :raises InsufficientStock: an item has less left than asked for (the caller rolls back what came before).
    """
    for item_id in sorted(deltas):
        delta = deltas[item_id]
        if delta == 0:
            continue
        statement = _TAKE if delta > 0 else _GIVE_BACK
        result = db.session.execute(statement, {"item_id": item_id, "quantity": abs(delta)})
        if delta > 0 and result.rowcount != 1:
            raise _insufficient(items_by_id[item_id])
        _forget_counter(item_id)


def release(quantities: dict[int, int]) -> None:
    """Give back what cancelled lines held ({item_id: quantity}), in ascending item id order."""
    reserve({}, {item_id: -quantity for item_id, quantity in quantities.items()})


def _forget_counter(item_id) -> None:
    """The session's copy of the item (if any) no longer knows its counter: it is read again when next asked for."""
    item = db.session.identity_map.get(db.session.identity_key(CampaignItem, item_id))
    if item is not None:
        db.session.expire(item, ["ordered", "updated_at"])


def _insufficient(item) -> InsufficientStock:
    """The refusal for an item that has less left than asked for, saying how many are left now."""
    left = db.session.scalar(sa.select(_items.c.capacity - _items.c.ordered).where(_items.c.id == item.id))
    if left:
        message = _("Only %(n)d %(unit)s of %(title)s left.", n=left, unit=item.unit, title=item.title)
    else:
        message = _("%(title)s is sold out.", title=item.title)
    return InsufficientStock(message, {"item_id": item.id, "remaining": left or 0})


def check_limits(campaign_id, buyer_phone, items_by_id, wanted: dict[int, int], exclude_order_id=None, viewer=None) -> None:
    """Compare what the buyer would have of each limited item with its per-buyer limit.

    The caller holds orders.locks.lock_buyer, so no other order of this buyer can slip in between. Every live order
    under the phone counts; but when some of them are orders ``viewer`` may not see (a coordinator ordering for a
    colleague whom another unit also ordered for), the refusal names no figure, so it tells nothing of them.
    :param exclude_order_id: the order being written or changed, whose own lines ``wanted`` replaces.
    :param viewer: who is ordering; None or the phone's owner: nothing is hidden.
    :raises LimitExceeded: naming the item and how many more this buyer may still order.
    """
    limited = {item_id: items_by_id[item_id].per_buyer_limit for item_id in wanted if items_by_id[item_id].per_buyer_limit}
    if not limited:
        return
    hidden = sa.literal(0)
    if viewer is not None and viewer.phone != buyer_phone:
        hidden = sa.func.sum(sa.case((visible_orders_clause(viewer), 0), else_=_lines.c.quantity))
    query = (
        sa.select(_lines.c.item_id, sa.func.sum(_lines.c.quantity), hidden)
        .join(_orders, _orders.c.id == _lines.c.order_id)
        .where(
            _orders.c.campaign_id == campaign_id,
            _orders.c.buyer_phone == buyer_phone,
            _orders.c.status != "cancelled",
            _lines.c.item_id.in_(sorted(limited)),
            _lines.c.cancelled.is_(False),
        )
        .group_by(_lines.c.item_id)
    )
    if exclude_order_id is not None:
        query = query.where(_orders.c.id != exclude_order_id)
    already = {item_id: (int(have), int(unseen or 0)) for item_id, have, unseen in db.session.execute(query)}
    for item_id in sorted(limited):
        limit, (have, unseen) = limited[item_id], already.get(item_id, (0, 0))
        if have + wanted[item_id] > limit:
            item = items_by_id[item_id]
            if unseen:
                raise LimitExceeded(
                    _(
                        "%(title)s is limited to %(limit)d %(unit)s per person; with this person's orders placed elsewhere, this would be over the limit.",
                        title=item.title,
                        limit=limit,
                        unit=item.unit,
                    ),
                    {"item_id": item_id, "limit": limit},
                )
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
