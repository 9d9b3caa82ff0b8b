"""One person per phone: whom a unit's coordinator may order for, the order a person already has in a campaign, and
the colleague orders a person finds once they register with that phone.

A coordinator orders for their own unit's people: its registered members, or phones no one else has registered. A
phone registered to anyone outside the unit is that person's: ordering under it would use up their per-buyer limit
with an order they could neither see nor cancel.
"""

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import User
from extensions import db
from orders.models import Order

PHONE_CHUNK = 500  # phones per IN (...) query: well under SQLite's parameter limit


def in_chunks(values, size=PHONE_CHUNK):
    values = sorted(values)
    for start in range(0, len(values), size):
        yield values[start : start + size]


@dataclass
class People:
    """Who the phones a coordinator typed belong to."""

    members: dict = field(default_factory=dict)  # phone → User of the coordinator's unit
    outsiders: set = field(default_factory=set)  # phones registered to someone who is not of the unit


def registered(unit_id, phones) -> People:
    """Sort ``phones`` into the unit's registered members and phones registered to someone outside it."""
    people = People()
    for chunk in in_chunks(set(phones)):
        for user in db.session.scalars(sa.select(User).where(User.phone.in_(chunk))):
            if user.role == "buyer" and user.unit_id == unit_id:
                people.members[user.phone] = user
            else:
                people.outsiders.add(user.phone)
    return people


def outsider_message(phone) -> str:
    return _(
        "%(phone)s is registered to someone outside your unit: a coordinator orders only for their own unit's people.",
        phone=phone,
    )


def existing_orders(campaign_id, unit_id, phones, *, exclude_sheet_id=None) -> dict:
    """{phone: order id} of the live orders the unit already has in the campaign for these people: their own, a
    grid's, a coordinator's or a sheet's (but not those of the sheet ``exclude_sheet_id``, which is being replaced)."""
    found = {}
    for chunk in in_chunks(set(phones)):
        query = (
            sa.select(Order.buyer_phone, sa.func.min(Order.id))
            .where(
                Order.campaign_id == campaign_id,
                Order.unit_id == unit_id,
                Order.status != "cancelled",
                Order.buyer_phone.in_(chunk),
            )
            .group_by(Order.buyer_phone)
        )
        if exclude_sheet_id is not None:
            query = query.where(sa.or_(Order.group_sheet_id.is_(None), Order.group_sheet_id != exclude_sheet_id))
        found.update(dict(db.session.execute(query).all()))
    return found


def already_ordered_message(name, order_id) -> str:
    return _("%(name)s already has order %(id)d in this campaign; change that order instead.", name=name, id=order_id)


def claim_colleague_orders(user) -> list[int]:
    """Make a newly registered buyer the owner of the orders their unit's coordinator placed under their phone.

    They then find them under My orders and may change or cancel them like their own. Orders another unit placed
    under the phone stay that unit's. Does not commit: the caller registers the user in the same transaction.
    :returns: the ids of the orders attached.
    """
    if user.role != "buyer" or user.unit_id is None or not user.phone:
        return []
    orders = db.session.scalars(
        sa.select(Order)
        .where(Order.buyer_phone == user.phone, Order.unit_id == user.unit_id, Order.user_id.is_(None))
        .order_by(Order.id)
    ).all()
    for order in orders:
        order.user_id = user.id
    db.session.flush()
    return [order.id for order in orders]
