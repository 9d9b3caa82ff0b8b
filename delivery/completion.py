"""When a delivery is complete: a producer's goods for a unit all received (and weighed), the statuses that follow,
and what is still outstanding.

A ``dashboard.models.Delivery`` row says "producer P's delivery to unit U is complete": every item of its pick
lines there has a receipt, and every item charged by weight that arrived has its weight. When every producer's
delivery to a unit is complete, the unit's orders are delivered; when every unit's is, the campaign.
"""

import sqlalchemy as sa

from accounts.models import Unit
from accounts.services import record_audit
from dashboard.models import Delivery
from database import utcnow
from delivery.models import Receipt, ReceiptLine
from extensions import db
from fulfilment.models import Allocation, PickLine
from orders.models import Order, OrderLine
from producers.models import Producer
from shop.lifecycle import DELIVERABLE, transition
from shop.models import Campaign, CampaignItem, CampaignStatus


def _complete(campaign_id, unit_id, producer_id) -> bool:
    """Every pick line of the producer to the unit received, and weighed where it is charged by weight."""
    items = set(
        db.session.scalars(
            sa.select(Allocation.item_id)
            .join(PickLine, PickLine.allocation_id == Allocation.id)
            .where(Allocation.campaign_id == campaign_id, Allocation.producer_id == producer_id, PickLine.unit_id == unit_id)
        )
    )
    standing = {}
    rows = db.session.execute(
        sa.select(ReceiptLine, CampaignItem.price_per_kg_fen)
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .join(CampaignItem, CampaignItem.id == ReceiptLine.item_id)
        .where(Receipt.campaign_id == campaign_id, Receipt.unit_id == unit_id, Receipt.producer_id == producer_id)
        .order_by(ReceiptLine.id)
    )
    for line, per_kg in rows:
        standing[line.item_id] = (line, per_kg)
    if not items or items - set(standing):
        return False
    return all(per_kg is None or line.quantity == 0 or line.weight_g is not None for line, per_kg in standing.values())


def complete_deliveries(actor, campaign, unit_id, producer_ids, note=None) -> list[Delivery]:
    """Mark complete each of ``producer_ids``' deliveries to the unit that now is, then advance the statuses.

    :returns: the delivery records added.
    """
    already = set(
        db.session.scalars(
            sa.select(Delivery.producer_id).where(Delivery.campaign_id == campaign.id, Delivery.unit_id == unit_id)
        )
    )
    now = utcnow()
    added = []
    for producer_id in sorted(set(producer_ids) - already):
        if not _complete(campaign.id, unit_id, producer_id):
            continue
        delivery = Delivery(
            campaign_id=campaign.id,
            unit_id=unit_id,
            producer_id=producer_id,
            delivered_at=now,
            recorded_by_id=actor.id if actor else None,
            note=note or None,
        )
        db.session.add(delivery)
        added.append(delivery)
    db.session.flush()
    for delivery in added:
        record_audit(actor, "delivery.mark", delivery, campaign_id=campaign.id, unit_id=unit_id, producer_id=delivery.producer_id)
    advance_statuses(actor, campaign, unit_id)
    return added


def advance_statuses(actor, campaign, unit_id) -> None:
    """Orders of a fully delivered unit become delivered; a campaign with nothing outstanding too."""
    unit_outstanding = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(PickLine)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .where(
            Allocation.campaign_id == campaign.id,
            PickLine.unit_id == unit_id,
            ~sa.exists().where(
                Delivery.campaign_id == campaign.id, Delivery.unit_id == unit_id, Delivery.producer_id == Allocation.producer_id
            ),
        )
    )
    if unit_outstanding:
        return
    live_lines = sa.exists().where(OrderLine.order_id == Order.id, sa.not_(OrderLine.cancelled))
    db.session.execute(
        sa.update(Order)
        .where(Order.campaign_id == campaign.id, Order.unit_id == unit_id, Order.status.in_(("placed", "allocated")), live_lines)
        .values(status="delivered", updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    if campaign.status == CampaignStatus.ALLOCATED and not outstanding_deliveries(campaign.id):
        transition(campaign, CampaignStatus.DELIVERED)
        record_audit(actor, "campaign.delivered", campaign)


def outstanding_query(campaign_id=None, filters=None):
    """Pick lines whose delivery is not complete, per campaign, unit, producer and item (every pooled campaign when
    None), in a stable order so a page of them is well defined; ``filters`` (list_filters.ListFilter) narrows it."""
    query = (
        sa.select(
            Campaign.id.label("campaign_id"),
            Campaign.title.label("campaign_title"),
            Campaign.delivery_on,
            Unit.id.label("unit_id"),
            Unit.name.label("unit_name"),
            Producer.id.label("producer_id"),
            Producer.name.label("producer_name"),
            Producer.town,
            CampaignItem.title,
            CampaignItem.unit.label("sale_unit"),
            PickLine.quantity,
        )
        .select_from(PickLine)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .join(Campaign, Campaign.id == Allocation.campaign_id)
        .join(CampaignItem, CampaignItem.id == Allocation.item_id)
        .join(Producer, Producer.id == Allocation.producer_id)
        .join(Unit, Unit.id == PickLine.unit_id)
        .where(
            Campaign.status.in_(DELIVERABLE),
            ~sa.exists().where(
                Delivery.campaign_id == Allocation.campaign_id,
                Delivery.unit_id == PickLine.unit_id,
                Delivery.producer_id == Allocation.producer_id,
            ),
        )
        .order_by(
            Campaign.delivery_on, Campaign.id, Unit.name, Unit.id, Producer.name, Producer.id, CampaignItem.id, Allocation.id
        )
    )
    if campaign_id is not None:
        query = query.where(Campaign.id == campaign_id)
    if filters is not None:
        query = filters.apply(query, unit=Unit.id, producer=Producer.id, town=Producer.town)
    return query


def outstanding_deliveries(campaign_id=None, filters=None) -> list[dict]:
    """Pick lines whose delivery is not complete, as dicts: see :func:`outstanding_query`."""
    return [dict(row._mapping) for row in db.session.execute(outstanding_query(campaign_id, filters))]
