"""Test data made through the models directly: small, explicit builders with sensible defaults."""

import itertools
from datetime import date, timedelta

from accounts.models import Unit, User
from database import utcnow
from extensions import db
from producers.models import Listing, Producer
from shop.models import Campaign, CampaignItem, Supply

PASSWORD = "password123"
_seq = itertools.count(1)


def _n():
    return next(_seq)


def make_unit(name=None, address="乐城街道人民中路1号", **kw):
    unit = Unit(name=name or f"单位{_n()}", address=address, **kw)
    db.session.add(unit)
    db.session.commit()
    return unit


def make_user(role="buyer", unit=None, producer=None, coordinator=False, name=None, phone=None, email=None, password=PASSWORD, **kw):
    n = _n()
    if role == "buyer" and unit is None:
        unit = make_unit()
    if role == "producer" and producer is None:
        producer = make_producer()
    user = User(
        name=name or f"用户{n}",
        phone=phone or f"139{n:08d}",
        email=email,
        role=role,
        unit_id=unit.id if unit else None,
        coordinator=coordinator,
        producer_id=producer.id if producer else None,
        **kw,
    )
    user.set_password(password)
    db.session.add(user)
    db.session.commit()
    return user


def make_producer(name=None, kind="household", town="秀水镇", poverty=False, status="approved", **kw):
    n = _n()
    producer = Producer(
        name=name or f"农户{n}",
        kind=kind,
        town=town,
        village=kw.pop("village", "秀水村"),
        phone=kw.pop("phone", f"138{n:08d}"),
        poverty_household=poverty,
        poverty_id=f"GD-{n:06d}" if poverty else None,
        status=status,
        **kw,
    )
    db.session.add(producer)
    db.session.commit()
    return producer


def make_listing(producer=None, name="鸡蛋", unit="个", price_fen=150, quantity=1000, unit_weight_g=50, status="approved", **kw):
    listing = Listing(
        producer_id=(producer or make_producer()).id,
        name=name,
        category=kw.pop("category", "蛋类"),
        variety=kw.pop("variety", None),
        unit=unit,
        unit_weight_g=unit_weight_g,
        price_fen=price_fen,
        quantity=quantity,
        ready_on=kw.pop("ready_on", date.today() + timedelta(days=2)),
        status=status,
        **kw,
    )
    db.session.add(listing)
    db.session.commit()
    return listing


def make_campaign(title="春季消费扶贫", status="published", opens_in=timedelta(hours=-1), closes_in=timedelta(days=2), units=(), **kw):
    now = utcnow()
    campaign = Campaign(
        slug=kw.pop("slug", f"c{_n()}"),
        title=title,
        opens_at=now + opens_in,
        closes_at=now + closes_in,
        delivery_on=kw.pop("delivery_on", (now + closes_in + timedelta(days=2)).date()),
        status=status,
        **kw,
    )
    campaign.units = list(units)
    db.session.add(campaign)
    db.session.commit()
    return campaign


def make_item(campaign, supplies, title=None, price_fen=None, unit=None, **kw):
    """An item pooling ``supplies``: a list of (listing, quantity); capacity is their sum and is taken from the listings."""
    first = supplies[0][0]
    item = CampaignItem(
        campaign_id=campaign.id,
        title=title or first.name,
        unit=unit or first.unit,
        unit_weight_g=first.unit_weight_g,
        price_fen=price_fen if price_fen is not None else first.price_fen,
        capacity=sum(q for _l, q in supplies),
        **kw,
    )
    db.session.add(item)
    db.session.flush()
    for listing, quantity in supplies:
        db.session.add(Supply(item_id=item.id, listing_id=listing.id, producer_id=listing.producer_id, quantity=quantity))
        listing.quantity_committed += quantity
    db.session.commit()
    return item


def make_order(campaign, lines, user=None, unit=None, status="placed", created_at=None, payment_status="unpaid", payment_method=None, **kw):
    """An order of ``lines``: (item, quantity) or (item, quantity, cancel_reason) for a cancelled line; prices from the items.

    Live quantities (line and order not cancelled) are added to each item's ``ordered``, as placing an order does.
    """
    from orders.models import Order, OrderLine

    if user is None:
        user = make_user(role="buyer", unit=unit)
    unit_id = unit.id if unit is not None else user.unit_id
    order = Order(
        campaign_id=campaign.id,
        unit_id=unit_id,
        user_id=user.id,
        buyer_name=kw.pop("buyer_name", user.name),
        buyer_phone=kw.pop("buyer_phone", user.phone),
        placed_by_id=kw.pop("placed_by_id", user.id),
        status=status,
        payment_status=payment_status,
        payment_method=payment_method,
        paid_at=utcnow() if payment_status == "paid" else None,
        cancelled_at=utcnow() if status == "cancelled" else None,
        **kw,
    )
    if created_at is not None:
        order.created_at = created_at
    db.session.add(order)
    db.session.flush()
    total = 0
    for line in lines:
        item, quantity = line[0], line[1]
        cancel_reason = line[2] if len(line) > 2 else None
        db.session.add(
            OrderLine(order_id=order.id, item_id=item.id, quantity=quantity, price_fen=item.price_fen,
                      cancelled=cancel_reason is not None, cancel_reason=cancel_reason)
        )
        if cancel_reason is None:
            total += quantity * item.price_fen
            if status != "cancelled":
                item.ordered += quantity
    order.total_fen = total
    db.session.commit()
    return order


def make_allocation(item, producer, quantity, units=()):
    """After close: ``quantity`` of ``item`` allocated to ``producer``, split into pick lines ``units``: (unit, quantity)."""
    from orders.models import Allocation, PickLine

    allocation = Allocation(campaign_id=item.campaign_id, item_id=item.id, producer_id=producer.id, quantity=quantity)
    db.session.add(allocation)
    db.session.flush()
    for unit, unit_quantity in units:
        db.session.add(PickLine(allocation_id=allocation.id, unit_id=unit.id, quantity=unit_quantity))
    supplies = [supply for supply in item.supplies if supply.producer_id == producer.id]
    if len(supplies) == 1:
        supplies[0].allocated = quantity
    db.session.commit()
    return allocation
