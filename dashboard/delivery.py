"""Delivery: marking goods handed over per campaign and unit (all producers or one), delivery sheets, what is outstanding.

A delivery record says "producer P's delivery for campaign C to unit U is complete". What arrived is in the
receipts (``delivery.receipts``): "everything arrived" is a receipt of P's pick lines to U.
"""

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import Unit
from dashboard.kept_figures import keep_campaign_outcomes
from dashboard.models import Delivery
from dashboard.sales import get_campaign
from database import transaction
from delivery import receipts
from delivery.completion import complete_deliveries, outstanding_deliveries, outstanding_query
from delivery.ledger import line_figures
from errors import NotFound, ValidationFailed
from extensions import db
from fulfilment.models import Allocation, PickLine
from list_filters import ListFilter
from orders.models import Order
from paging import page_of
from producers.models import Producer
from shop.lifecycle import DELIVERABLE
from shop.models import CampaignItem

__all__ = ["delivery_overview", "delivery_sheet", "mark_delivered", "outstanding_deliveries"]

NO_FILTER = ListFilter()


def _delivered_join():
    return sa.and_(
        Delivery.campaign_id == Allocation.campaign_id,
        Delivery.unit_id == PickLine.unit_id,
        Delivery.producer_id == Allocation.producer_id,
    )


def _pick_rows(campaign_id, unit_ids=None, filters=NO_FILTER):
    """Every pick line of a campaign with its item, producer, unit and delivery record (if any).

    :param unit_ids: only these units' lines (a page of them); None: every unit's.
    """
    query = (
        sa.select(
            PickLine.unit_id,
            Unit.name.label("unit_name"),
            Unit.address,
            Allocation.producer_id,
            Producer.name.label("producer_name"),
            Producer.town,
            Producer.village,
            Producer.phone.label("producer_phone"),
            CampaignItem.id.label("item_id"),
            CampaignItem.title,
            CampaignItem.unit.label("sale_unit"),
            CampaignItem.unit_weight_g,
            PickLine.quantity,
            Delivery.id.label("delivery_id"),
            Delivery.delivered_at,
        )
        .select_from(PickLine)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .join(CampaignItem, CampaignItem.id == Allocation.item_id)
        .join(Producer, Producer.id == Allocation.producer_id)
        .join(Unit, Unit.id == PickLine.unit_id)
        .outerjoin(Delivery, _delivered_join())
        .where(Allocation.campaign_id == campaign_id)
        .order_by(Unit.name, Unit.id, Producer.name, CampaignItem.position, CampaignItem.id)
    )
    if unit_ids is not None:
        query = query.where(PickLine.unit_id.in_(unit_ids))
    query = filters.apply(query, unit=PickLine.unit_id, producer=Allocation.producer_id, town=Producer.town)
    return db.session.execute(query).all()


def _units_query(campaign_id, filters):
    """The units with pick lines in a campaign (and matching the filter), by name: what the delivery page pages."""
    query = (
        sa.select(Unit.id, Unit.name)
        .select_from(PickLine)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .join(Producer, Producer.id == Allocation.producer_id)
        .join(Unit, Unit.id == PickLine.unit_id)
        .where(Allocation.campaign_id == campaign_id)
        .group_by(Unit.id, Unit.name)
        .order_by(Unit.name, Unit.id)
    )
    return filters.apply(query, unit=PickLine.unit_id, producer=Allocation.producer_id, town=Producer.town)


def _delivery_counts(campaign_id):
    """Producer deliveries (producer × unit) due in a campaign, how many are recorded, and what is still outstanding."""
    pairs = (
        sa.select(PickLine.unit_id, Allocation.producer_id, sa.func.count(Delivery.id).label("done"))
        .select_from(PickLine)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .outerjoin(Delivery, _delivered_join())
        .where(Allocation.campaign_id == campaign_id)
        .group_by(PickLine.unit_id, Allocation.producer_id)
        .subquery()
    )
    counted = db.session.execute(sa.select(sa.func.count(), sa.func.count(sa.case((pairs.c.done > 0, 1))))).one()
    outstanding = db.session.execute(
        sa.select(CampaignItem.title, CampaignItem.unit, sa.func.sum(PickLine.quantity))
        .select_from(PickLine)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .join(CampaignItem, CampaignItem.id == Allocation.item_id)
        .outerjoin(Delivery, _delivered_join())
        .where(Allocation.campaign_id == campaign_id, Delivery.id.is_(None))
        .group_by(CampaignItem.title, CampaignItem.unit)
        .order_by(CampaignItem.title, CampaignItem.unit)
    ).all()
    return int(counted[0]), int(counted[1]), [{"title": t, "unit": u, "quantity": int(q)} for t, u, q in outstanding]


def delivery_overview(campaign_id, filters=NO_FILTER, page=None, per_page=None) -> dict:
    """One page of units (by name): each producer's goods for it and whether they were delivered; campaign-wide counts.

    :param filters: only units, producers and towns matching (the counts stay campaign-wide).
    :raises NotFound: no such campaign.
    """
    campaign = get_campaign(campaign_id)
    unit_page = page_of(_units_query(campaign_id, filters), page, per_page, rows=True)
    units = {row.id: None for row in unit_page.items}
    for row in _pick_rows(campaign_id, list(units), filters) if units else ():
        if units[row.unit_id] is None:
            units[row.unit_id] = {"id": row.unit_id, "name": row.unit_name, "address": row.address, "producers": {}}
        producer = units[row.unit_id]["producers"].setdefault(
            row.producer_id,
            {"id": row.producer_id, "name": row.producer_name, "town": row.town, "delivered_at": row.delivered_at, "goods": []},
        )
        producer["goods"].append({"title": row.title, "unit": row.sale_unit, "quantity": row.quantity})
    result = []
    for unit in units.values():
        unit["producers"] = list(unit["producers"].values())
        unit["delivered"] = all(producer["delivered_at"] is not None for producer in unit["producers"])
        result.append(unit)
    pairs, delivered, outstanding = _delivery_counts(campaign_id)
    return {
        "campaign": campaign,
        "units": result,
        "pagination": unit_page,
        "pairs": pairs,
        "delivered_pairs": delivered,
        "outstanding": outstanding,
        "deliverable": campaign.status in DELIVERABLE,
    }


def outstanding_page(campaign_id=None, filters=NO_FILTER, page=None, per_page=None):
    """One page of :func:`outstanding_deliveries` (rows), paged in SQL."""
    return page_of(outstanding_query(campaign_id, filters), page, per_page, rows=True)


def count_outstanding(campaign_id=None) -> int:
    """How many pick lines are not yet delivered (in one campaign, or every pooled one)."""
    query = outstanding_query(campaign_id).order_by(None).subquery()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(query)) or 0)


def mark_delivered(actor, campaign_id, unit_id, producer_id=None, note=None) -> list[Delivery]:
    """Record that everything arrived at a unit: every producer's goods (``producer_id`` None) or one producer's.

    It is a receipt of the full pick lines for the items not yet received (``delivery.receipts``); items received
    already keep their figures. Marking again what is already marked changes nothing. When every producer has
    delivered to a unit, that unit's orders become delivered; when every unit has had everything, so does the campaign.

    :returns: the delivery records added by this call.
    :raises NotFound: no such campaign or unit, or nothing allocated for that unit (and producer).
    :raises Conflict: the campaign is not allocated yet, or already settled; an item charged by weight is not
        weighed yet.
    """
    with transaction(write=True):
        campaign = receipts.deliverable_campaign(actor, campaign_id, unit_id, producer_id)
        if note is not None and len(note) > 255:
            raise ValidationFailed(_("Please correct the marked fields."), {"note": [_("At most %(n)d characters.", n=255)]})
        producers = _producers_to_deliver(campaign_id, unit_id, producer_id)
        already = set(
            db.session.scalars(
                sa.select(Delivery.producer_id).where(Delivery.campaign_id == campaign_id, Delivery.unit_id == unit_id)
            )
        )
        for pid in sorted(producers - already):
            receipts.receive_everything(actor, campaign, unit_id, pid, note)
        added = complete_deliveries(actor, campaign, unit_id, producers - already, note)
        keep_campaign_outcomes(campaign_id)
    return added


def _producers_to_deliver(campaign_id, unit_id, producer_id):
    """The producers with goods for this unit (all, or the one named).

    :raises NotFound: nothing was allocated for that unit (and producer).
    """
    query = (
        sa.select(Allocation.producer_id)
        .join(PickLine, PickLine.allocation_id == Allocation.id)
        .where(Allocation.campaign_id == campaign_id, PickLine.unit_id == unit_id)
        .distinct()
    )
    if producer_id is not None:
        query = query.where(Allocation.producer_id == producer_id)
    producers = set(db.session.scalars(query))
    if not producers:
        raise NotFound(_("Nothing was allocated for this unit."))
    return producers


def delivery_sheet(campaign_id, unit_id) -> dict:
    """What one unit receives: per item, which producer brings how much; per person, what to hand over.

    :raises NotFound: no such campaign or unit.
    """
    campaign = get_campaign(campaign_id)
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(_("No such unit."))
    items = {}
    for row in _pick_rows(campaign_id, [unit_id]):
        item = items.setdefault(
            row.item_id,
            {"title": row.title, "unit": row.sale_unit, "unit_weight_g": row.unit_weight_g, "quantity": 0, "producers": []},
        )
        item["quantity"] += row.quantity
        item["producers"].append(
            {
                "name": row.producer_name,
                "town": row.town,
                "village": row.village,
                "phone": row.producer_phone,
                "quantity": row.quantity,
                "delivered_at": row.delivered_at,
            }
        )
    orders = db.session.scalars(
        sa.select(Order)
        .where(Order.campaign_id == campaign_id, Order.unit_id == unit_id, Order.status != "cancelled")
        .order_by(Order.buyer_name, Order.id)
    ).all()
    people = []
    figures = line_figures([line.id for order in orders for line in order.lines])
    for order in orders:
        lines = [line for line in order.lines if not line.cancelled]
        if not lines:
            continue
        people.append(
            {
                "order_id": order.id,
                "name": order.buyer_name,
                "phone": order.buyer_phone,
                "lines": [
                    {
                        "title": line.item.title,
                        "unit": line.item.unit,
                        "quantity": line.quantity,
                        "delivered": figures[line.id].delivered,
                        "weight_g": figures[line.id].weight_g,
                    }
                    for line in lines
                ],
                # What the buyer pays: the pledge until goods arrive, then what they received.
                "amount_fen": sum(figures[line.id].charged_fen for line in lines),
                "payment_status": order.payment_status,
                "status": order.status,
            }
        )
    return {"campaign": campaign, "unit": unit, "items": list(items.values()), "people": people}
