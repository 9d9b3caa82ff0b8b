"""Who may see which order, and the lists of orders they see."""

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from errors import Forbidden, NotFound
from extensions import db
from orders.lines import MAX_ID, is_valid_id
from orders.models import Order, parse_order_number


def get_order(user, order_id, *, for_change=False) -> Order:
    """An order the user may see: their own, one of their unit's (coordinator), any (operator).

    :param for_change: only the owner or their coordinator (not an operator) may change it.
    :raises NotFound: no such order, or one this user may not see.
    :raises Forbidden: an operator asking to change it.
    """
    order = db.session.get(Order, order_id) if is_valid_id(order_id) else None
    if order is None or not can_see_order(user, order):
        raise NotFound(_("No such order."))
    if for_change and user.role == "operator":
        raise Forbidden(_("Only the buyer or their unit's coordinator may change an order."))
    return order


def find_order_by_number(user, number) -> Order | None:
    """The order numbered ``number`` (``C12-0042``) if ``user`` may see it; None for a wrong, unknown or hidden one."""
    parsed = parse_order_number(number)
    if parsed is None or not is_valid_id(parsed[1]):
        return None
    try:
        order = get_order(user, parsed[1])
    except (NotFound, Forbidden):
        return None
    return order if order.campaign_id == parsed[0] else None


def can_see_order(user, order) -> bool:
    """Their own order (a buyer), any of their unit's (its coordinator, now), any (an operator).

    Placing an order gives no lasting right to it: a coordinator demoted or moved to another unit no longer sees the
    orders they placed for the old unit. Rights follow the user's role and unit as of this request.
    """
    if user.role == "operator":
        return True
    if user.role != "buyer":
        return False
    if order.user_id == user.id:
        return True
    return user.is_coordinator and order.unit_id == user.unit_id


def visible_orders_clause(user):
    """:func:`can_see_order` as an SQL condition on the order table."""
    orders = Order.__table__.c
    if user.role == "operator":
        return sa.true()
    if user.role != "buyer":
        return sa.false()
    if user.is_coordinator:
        return sa.or_(orders.user_id == user.id, orders.unit_id == user.unit_id)
    return orders.user_id == user.id


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
