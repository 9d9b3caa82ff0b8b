"""The close's notices, rendered per recipient from what the close stored; the worker hands RENDERERS to the fan-out.

Each renderer takes (campaign_id, after, limit) and returns (message dicts for notifications.services.outbox_rows,
the last recipient's id), or ([], None) when no recipient is left after ``after``; the texts are in
notifications.messages.
"""

from collections import defaultdict

import sqlalchemy as sa

from accounts.models import Unit, User
from extensions import db
from fulfilment.bulk import among
from fulfilment.models import Allocation, PickLine
from notifications import messages
from orders.models import Order, OrderLine
from producers.models import Producer
from shop.models import Campaign, CampaignItem, Supply

allocation_t = Allocation.__table__
pick_t = PickLine.__table__
item_t = CampaignItem.__table__
supply_t = Supply.__table__
order_t = Order.__table__
line_t = OrderLine.__table__


def campaign_subject(campaign_id) -> str:
    """The outbox subject of every message about one campaign's close."""
    return f"campaign:{campaign_id}"


def picklist_notices(campaign_id, after=0, limit=None) -> tuple[list[dict], int | None]:
    """To each producer with an allocation in a pooled campaign, "prepare N × item by DATE for these units", rendered
    from the allocations and pick lines its close stored; producers in id order from ``after`` on, at most ``limit``.
    """
    chosen = (
        sa.select(allocation_t.c.producer_id)
        .where(allocation_t.c.campaign_id == campaign_id, allocation_t.c.producer_id > after)
        .distinct()
        .order_by(allocation_t.c.producer_id)
        .limit(limit)
        .scalar_subquery()
    )
    per_producer = defaultdict(dict)
    for producer_id, item_id, quantity, unit_id, unit_quantity in db.session.execute(
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
    items = campaign_items(campaign_id)
    units = _units({u for per_item in per_producer.values() for entry in per_item.values() for u in entry["units"]})
    producers = _contacts(Producer, per_producer)
    notices = []
    for producer_id in sorted(per_producer):
        producer = producers[producer_id]
        lines = message_lines(items, per_producer[producer_id], units)
        title, body, sms = messages.prepare_goods(producer.name, campaign, lines)
        notices.append({"producer": producer, "title": title, "body": body, "sms_body": sms})
    return notices, max(per_producer)


def no_allocation_notices(campaign_id, after=0, limit=None) -> tuple[list[dict], int | None]:
    """To each producer whose supplies to a pooled campaign got no allocation, "nothing this time"; producers in id
    order from ``after`` on, at most ``limit``."""
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
    items = campaign_items(campaign_id)
    producers = _contacts(Producer, supplied)
    notices = []
    for producer_id in sorted(supplied):
        producer = producers[producer_id]
        titles = [item.title for item_id, item in items.items() if item_id in supplied[producer_id]]
        title, body, sms = messages.nothing_this_time(producer.name, campaign, titles)
        notices.append({"producer": producer, "title": title, "body": body, "sms_body": sms})
    return notices, max(supplied)


def below_minimum_notices(campaign_id, after=0, limit=None) -> tuple[list[dict], int | None]:
    """To each buyer whose lines the close cancelled below minimum, naming every such line; in recipient id order
    from ``after`` on, at most ``limit`` recipients. A colleague without an account is told through the coordinator
    who ordered for them, and named in the coordinator's notice."""
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
    )
    entries = {}
    for recipient_id, user_id, buyer_name, title, unit, quantity in rows:
        if recipient_id not in entries and limit is not None and len(entries) == limit:
            break
        merged = entries.setdefault(recipient_id, {})
        key = (title, unit, None if user_id else buyer_name)
        merged[key] = merged.get(key, 0) + quantity
    if not entries:
        return [], None
    campaign = db.session.get(Campaign, campaign_id)
    recipients = _contacts(User, entries)
    notices = []
    for user_id, merged in entries.items():
        title, body, sms = messages.cancelled_below_minimum(
            campaign, [{"title": t, "unit": u, "buyer_name": b, "quantity": q} for (t, u, b), q in merged.items()]
        )
        notices.append({"user": recipients[user_id], "title": title, "body": body, "sms_body": sms})
    return notices, max(entries)


# Producers hear first (they have goods to prepare), then the buyers of cancelled lines: the fan-out expands
# rendered messages in this order.
RENDERERS = {
    "picklist": picklist_notices,
    "no_allocation": no_allocation_notices,
    "below_minimum": below_minimum_notices,
}


def campaign_items(campaign_id) -> dict:
    """item id → row (title, unit), in the campaign's order."""
    return {
        row.id: row
        for row in db.session.execute(
            sa.select(item_t.c.id, item_t.c.title, item_t.c.unit)
            .where(item_t.c.campaign_id == campaign_id)
            .order_by(item_t.c.position, item_t.c.id)
        )
    }


def message_lines(items, per_item, units) -> list[dict]:
    """The producer's goods in item order, each with its delivery units in unit id order.

    :param per_item: item id → {"quantity", "units": {unit id: quantity}}.
    :param units: unit id → {"unit_name", "address"}.
    """
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


def _units(unit_ids) -> dict:
    """unit id → {"unit_name", "address"}, the part of a delivery line that is the same in every message."""
    found = {}
    for chosen in among(Unit.id, unit_ids):
        for unit_id, name, address in db.session.execute(sa.select(Unit.id, Unit.name, Unit.address).where(chosen)):
            found[unit_id] = {"unit_name": name, "address": address}
    return found


def _contacts(model, ids) -> dict:
    """id → (id, name, phone, email) of users or producers: what outbox_rows needs, without loading ORM objects."""
    found = {}
    for chosen in among(model.id, ids):
        found.update(
            {row.id: row for row in db.session.execute(sa.select(model.id, model.name, model.phone, model.email).where(chosen))}
        )
    return found
