"""Delivered lines to claim on and earn from, written as the receipts service writes them (line entries)."""

from datetime import timedelta
from types import SimpleNamespace

import sqlalchemy as sa

from delivery.models import LineEntry
from delivery.receipts import record_receipt
from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_order, make_producer, make_unit, make_user


def deliver(actor, campaign, unit, producer, item, quantity, at=None):
    """What arrived at the unit from the producer, recorded by the receipts service; ``at`` backdates its entries."""
    receipt = record_receipt(actor, campaign.id, unit.id, producer.id, [{"item_id": item.id, "quantity": quantity}])
    if at is not None:
        db.session.execute(sa.update(LineEntry).where(LineEntry.receipt_id == receipt.id).values(recorded_at=at))
        db.session.commit()
    return receipt


def build_delivered(delivered_at=None):
    unit = make_unit()
    other_unit = make_unit()
    buyer = make_user(unit=unit, name="张三")
    coordinator = make_user(unit=unit, coordinator=True)
    outsider = make_user(unit=other_unit, coordinator=True)
    operator = make_user(role="operator")
    p1 = make_producer(name="陈华蛋鸡户")
    p2 = make_producer(name="李桂英蛋鸡户", poverty=True)
    campaign = make_campaign(status="allocated", opens_in=timedelta(days=-10), closes_in=timedelta(days=-3))
    egg = make_item(campaign, [(make_listing(p1), 100), (make_listing(p2), 100)], price_fen=150)
    ginger = make_item(campaign, [(make_listing(p1, name="天堂姜", unit="斤", price_fen=800), 50)])
    order = make_order(campaign, [(egg, 10), (ginger, 2)], user=buyer)
    make_allocation(egg, p1, 6, units=[(unit, 6)])
    make_allocation(egg, p2, 4, units=[(unit, 4)])
    make_allocation(ginger, p1, 2, units=[(unit, 2)])
    egg_line = next(line for line in order.lines if line.item_id == egg.id)
    ginger_line = next(line for line in order.lines if line.item_id == ginger.id)
    deliver(operator, campaign, unit, p1, egg, 6, at=delivered_at)
    deliver(operator, campaign, unit, p2, egg, 4, at=delivered_at)
    return SimpleNamespace(
        unit=unit,
        buyer=buyer,
        coordinator=coordinator,
        outsider=outsider,
        operator=operator,
        p1=p1,
        p2=p2,
        campaign=campaign,
        egg=egg,
        ginger=ginger,
        order=order,
        egg_line=egg_line,
        ginger_line=ginger_line,
    )
