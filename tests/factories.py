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


def make_user(
    role="buyer", unit=None, producer=None, coordinator=False, name=None, phone=None, email=None, password=PASSWORD, **kw
):
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


def make_campaign(
    title="春季消费扶贫", status="published", opens_in=timedelta(hours=-1), closes_in=timedelta(days=2), units=(), **kw
):
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


def make_order(
    campaign, lines, user=None, unit=None, status="placed", created_at=None, payment_status="unpaid", payment_method=None, **kw
):
    """An order of ``lines``: (item, quantity) or (item, quantity, cancel_reason) for a cancelled line; prices from the items.

    Live quantities (line and order not cancelled) are added to each item's ``ordered``, as placing an order does.
    """
    from dashboard.open_figures import count_order
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
            OrderLine(
                order_id=order.id,
                item_id=item.id,
                quantity=quantity,
                price_fen=item.price_fen,
                cancelled=cancel_reason is not None,
                cancel_reason=cancel_reason,
            )
        )
        if cancel_reason is None:
            total += quantity * item.price_fen
            if status != "cancelled":
                item.ordered += quantity
    order.total_fen = total
    db.session.flush()
    count_order(order, {})
    db.session.commit()
    return order


def make_allocation(item, producer, quantity, units=()):
    """After close: ``quantity`` of ``item`` allocated to ``producer``, split into pick lines ``units``: (unit, quantity)."""
    from fulfilment.models import Allocation, PickLine

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


def make_pooling_people():
    """Three units, three producers (one a registered poor household) and buyers, for pooling scenarios.

    Reuse one set of people for several identical campaigns to compare how each one ends.
    """
    from types import SimpleNamespace

    n = _n()
    union = make_unit(name=f"乐昌市总工会{n}", address="乐城街道人民中路1号 总工会一楼")
    women = make_unit(name=f"乐昌市妇联{n}", address="乐城街道公园路8号 妇联办公室")
    bureau = make_unit(name=f"乐昌市商务局{n}", address="乐城街道人民南路3号")
    coop = make_producer(name="秀水镇雪毛鸡合作社", kind="cooperative", email=f"coop{n}@example.cn")
    poor = make_producer(name="陈华养鸡户", poverty=True)
    eggs = make_producer(name="周光明鸡蛋户")
    return SimpleNamespace(
        units=(union, women, bureau),
        coop=coop,
        poor=poor,
        eggs=eggs,
        wang=make_user(unit=union, name="王芳", email=f"wang{n}@example.cn"),
        zhang=make_user(unit=union, name="张伟"),
        liu=make_user(unit=women, name="刘洋"),
        chen=make_user(unit=women, name="陈静", coordinator=True),
    )


def make_pooling_campaign(people, title="春季消费扶贫", closes_in=timedelta(minutes=-1), delivery_on=None):
    """A campaign past its closing time with three items and orders from ``people`` (see make_pooling_people).

    雪毛鸡 (proportional, 100 + 30 from the poor household) gets 67 ordered; 鸡蛋 (minimum 500) only 90, so it is
    cancelled at close; 蜂蜜 (poor_first, 20 + 10) gets 12. It also holds a cancelled order and a cancelled line,
    which must never count, and an order the coordinator placed for a colleague without an account.
    """
    from types import SimpleNamespace

    p = people
    union, women, _bureau = p.units
    campaign = make_campaign(title=title, closes_in=closes_in, delivery_on=delivery_on or date.today() + timedelta(days=5))
    chicken = make_item(
        campaign,
        [
            (make_listing(p.coop, name="雪毛鸡", unit="只", price_fen=9800, unit_weight_g=1500), 100),
            (make_listing(p.poor, name="雪毛鸡", unit="只", price_fen=9800, unit_weight_g=1500), 30),
        ],
        position=1,
    )
    eggs = make_item(campaign, [(make_listing(p.eggs, name="鸡蛋", unit="个", price_fen=150), 1000)], min_total=500, position=2)
    honey = make_item(
        campaign,
        [
            (make_listing(p.coop, name="蜂蜜", unit="瓶", price_fen=6800, unit_weight_g=500), 20),
            (make_listing(p.poor, name="蜂蜜", unit="瓶", price_fen=6800, unit_weight_g=500), 10),
        ],
        policy="poor_first",
        position=3,
    )
    make_order(campaign, [(chicken, 30), (eggs, 60), (honey, 4)], user=p.wang)
    make_order(campaign, [(chicken, 10), (honey, 2, "buyer")], user=p.zhang)
    make_order(campaign, [(eggs, 30)], user=p.liu)
    make_order(campaign, [(chicken, 50)], user=p.liu, status="cancelled")
    colleague = make_order(
        campaign, [(chicken, 27), (honey, 3)], user=p.chen, buyer_name="李四", buyer_phone="13700000001", source="coordinator"
    )
    colleague.user_id = None
    db.session.commit()
    make_order(campaign, [(honey, 5)], user=p.chen)
    return SimpleNamespace(campaign=campaign, chicken=chicken, eggs=eggs, honey=honey, colleague_order=colleague)


def pooling_state(campaign_id):
    """Everything closing a campaign writes, keyed so two identical campaigns over the same people compare equal."""
    import sqlalchemy as sa

    from fulfilment.models import Allocation
    from notifications.models import Notification
    from orders.models import Order

    db.session.expire_all()
    campaign = db.session.get(Campaign, campaign_id)
    titles = {item.id: item.title for item in campaign.items}
    link = f"/picklists/{campaign_id}"
    orders = db.session.scalars(sa.select(Order).where(Order.campaign_id == campaign_id)).all()
    allocations = db.session.scalars(sa.select(Allocation).where(Allocation.campaign_id == campaign_id)).all()
    notifications = db.session.scalars(sa.select(Notification).where(Notification.subject == f"campaign:{campaign_id}")).all()
    return {
        "campaign": (campaign.status, campaign.closed_at is not None, campaign.allocated_at is not None),
        "items": sorted((i.title, i.ordered, i.cancelled_below_minimum) for i in campaign.items),
        "supplies": sorted(
            (titles[s.item_id], s.producer_id, s.quantity, s.allocated) for i in campaign.items for s in i.supplies
        ),
        "allocations": sorted(
            (titles[a.item_id], a.producer_id, a.quantity, tuple((pl.unit_id, pl.quantity) for pl in a.pick_lines))
            for a in allocations
        ),
        "orders": sorted(
            (
                o.user_id or 0,
                o.placed_by_id,
                o.buyer_name,
                o.status,
                o.total_fen,
                tuple((titles[line.item_id], line.quantity, line.cancelled, line.cancel_reason) for line in o.lines),
            )
            for o in orders
        ),
        "notifications": sorted(
            (n.recipient, n.channel, n.address or "", n.kind, n.title, n.body.replace(link, "/picklists/X"), n.status)
            for n in notifications
        ),
    }
