"""What a unit's receiving page shows: per producer, what was to come and what was received; per person, what
they receive and pay. For the unit's coordinator and for operators."""

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import Unit
from dashboard.models import Delivery
from delivery.ledger import line_figures
from delivery.models import Receipt, ReceiptLine
from delivery.receipts import may_record
from errors import NotFound
from extensions import db
from fulfilment.models import Allocation, PickLine
from orders.models import Order
from producers.models import Producer
from shop.lifecycle import DELIVERABLE, POOLED
from shop.models import Campaign, CampaignItem


def _standing(campaign_id, unit_id) -> dict[tuple[int, int], ReceiptLine]:
    """(producer id, item id) → the receipt line that stands."""
    rows = db.session.execute(
        sa.select(Receipt.producer_id, ReceiptLine)
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .where(Receipt.campaign_id == campaign_id, Receipt.unit_id == unit_id)
        .order_by(ReceiptLine.id)
    )
    return {(producer_id, line.item_id): line for producer_id, line in rows}


def receiving_sheet(actor, campaign_id, unit_id) -> dict:
    """The unit's goods per producer with what was received, and each person's share.

    :raises NotFound: no such campaign (or not pooled yet) or unit, or another unit for a coordinator.
    :raises Forbidden: neither an operator nor a coordinator.
    """
    may_record(actor, unit_id)
    campaign = db.session.get(Campaign, campaign_id)
    unit = db.session.get(Unit, unit_id)
    if campaign is None or unit is None or campaign.status not in POOLED:
        raise NotFound(_("Nothing to receive here."))
    standing = _standing(campaign_id, unit_id)
    complete = set(
        db.session.scalars(
            sa.select(Delivery.producer_id).where(Delivery.campaign_id == campaign_id, Delivery.unit_id == unit_id)
        )
    )
    producers = {}
    rows = db.session.execute(
        sa.select(Producer, CampaignItem, PickLine.quantity)
        .select_from(PickLine)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .join(Producer, Producer.id == Allocation.producer_id)
        .join(CampaignItem, CampaignItem.id == Allocation.item_id)
        .where(Allocation.campaign_id == campaign_id, PickLine.unit_id == unit_id)
        .order_by(Producer.name, Producer.id, CampaignItem.position, CampaignItem.id)
    )
    for producer, item, picked in rows:
        entry = producers.setdefault(producer.id, {"producer": producer, "complete": producer.id in complete, "items": []})
        line = standing.get((producer.id, item.id))
        entry["items"].append(
            {
                "item": item,
                "picked": picked,
                "received": line.quantity if line else None,
                "weight_g": line.weight_g if line else None,
                "by_weight": item.price_per_kg_fen is not None,
            }
        )
    return {
        "campaign": campaign,
        "unit": unit,
        "deliverable": campaign.status in DELIVERABLE,
        "producers": list(producers.values()),
        "people": people_shares(campaign_id, unit_id),
    }


def people_shares(campaign_id, unit_id) -> list[dict]:
    """Each live order of the unit with its lines' ordered, delivered, weight and charge: the hand-out list."""
    orders = db.session.scalars(
        sa.select(Order)
        .where(Order.campaign_id == campaign_id, Order.unit_id == unit_id, Order.status != "cancelled")
        .order_by(Order.buyer_name, Order.id)
    ).all()
    figures = line_figures([line.id for order in orders for line in order.lines])
    people = []
    for order in orders:
        lines = [line for line in order.lines if not line.cancelled]
        if not lines:
            continue
        people.append(
            {
                "order": order,
                "lines": [{"line": line, "item": line.item, "figures": figures[line.id]} for line in lines],
                "charged_fen": sum(figures[line.id].charged_fen for line in lines),
            }
        )
    return people
