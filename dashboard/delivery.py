"""Delivery: marking goods handed over per campaign and unit (all producers or one), delivery sheets, what is outstanding.

A delivery record says "producer P's goods for campaign C reached unit U". The quantities delivered are
P's pick lines to U, never typed in again, so delivered figures always agree with the allocation.
"""

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import Unit
from accounts.services import record_audit
from dashboard.models import Delivery
from dashboard.sales import get_campaign
from database import transaction, utcnow
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from fulfilment.models import Allocation, PickLine
from list_filters import ListFilter
from orders.models import Order, OrderLine
from paging import page_of
from producers.models import Producer
from shop.lifecycle import DELIVERABLE, transition
from shop.models import Campaign, CampaignItem, CampaignStatus

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


def _outstanding_query(campaign_id=None, filters=NO_FILTER):
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
    return filters.apply(query, unit=Unit.id, producer=Producer.id, town=Producer.town)


def outstanding_deliveries(campaign_id=None, filters=NO_FILTER) -> list[dict]:
    """Pick lines not yet delivered, per campaign, unit, producer and item (for every pooled campaign when None)."""
    return [dict(row._mapping) for row in db.session.execute(_outstanding_query(campaign_id, filters))]


def outstanding_page(campaign_id=None, filters=NO_FILTER, page=None, per_page=None):
    """One page of :func:`outstanding_deliveries` (rows), paged in SQL."""
    return page_of(_outstanding_query(campaign_id, filters), page, per_page, rows=True)


def count_outstanding(campaign_id=None) -> int:
    """How many pick lines are not yet delivered (in one campaign, or every pooled one)."""
    query = _outstanding_query(campaign_id).order_by(None).subquery()
    return int(db.session.scalar(sa.select(sa.func.count()).select_from(query)) or 0)


def mark_delivered(actor, campaign_id, unit_id, producer_id=None, note=None) -> list[Delivery]:
    """Record that goods reached a unit: every producer's (``producer_id`` None) or one producer's.

    Marking again what is already marked changes nothing. When every producer has delivered to a unit,
    that unit's orders become delivered; when every unit has had everything, so does the campaign.

    :returns: the delivery records added by this call.
    :raises NotFound: no such campaign or unit, or nothing allocated for that unit (and producer).
    :raises Conflict: the campaign is not allocated yet, or already settled.
    """
    try:
        with transaction(write=True):
            campaign = db.session.scalar(sa.select(Campaign).where(Campaign.id == campaign_id).with_for_update())
            if campaign is None:
                raise NotFound(_("No such campaign."))
            if campaign.status not in DELIVERABLE:
                raise Conflict(_("Deliveries can be recorded once the campaign is allocated, and until it is settled."))
            if db.session.get(Unit, unit_id) is None:
                raise NotFound(_("No such unit."))
            if note is not None and len(note) > 255:
                raise ValidationFailed(_("Please correct the marked fields."), {"note": [_("At most %(n)d characters.", n=255)]})
            added = _add_deliveries(actor, campaign_id, unit_id, _producers_to_deliver(campaign_id, unit_id, producer_id), note)
            _advance_statuses(actor, campaign, unit_id)
    except sa.exc.IntegrityError:
        # Another operator recorded the same delivery at the same moment; theirs stands.
        raise Conflict(_("This delivery was just recorded by someone else; reload the page.")) from None
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


def _add_deliveries(actor, campaign_id, unit_id, producers, note):
    """A delivery record (and its audit entry) for each of ``producers`` not yet recorded at this unit."""
    already = set(
        db.session.scalars(
            sa.select(Delivery.producer_id).where(Delivery.campaign_id == campaign_id, Delivery.unit_id == unit_id)
        )
    )
    now = utcnow()
    added = []
    for pid in sorted(producers - already):
        delivery = Delivery(
            campaign_id=campaign_id,
            unit_id=unit_id,
            producer_id=pid,
            delivered_at=now,
            recorded_by_id=actor.id,
            note=note or None,
        )
        db.session.add(delivery)
        added.append(delivery)
    db.session.flush()
    for delivery in added:
        record_audit(actor, "delivery.mark", delivery, campaign_id=campaign_id, unit_id=unit_id, producer_id=delivery.producer_id)
    return added


def _advance_statuses(actor, campaign, unit_id):
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
    if campaign.status == CampaignStatus.ALLOCATED and not count_outstanding(campaign.id):
        transition(campaign, CampaignStatus.DELIVERED)
        record_audit(actor, "campaign.delivered", campaign)


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
    for order in orders:
        lines = [line for line in order.lines if not line.cancelled]
        if not lines:
            continue
        people.append(
            {
                "order_id": order.id,
                "name": order.buyer_name,
                "phone": order.buyer_phone,
                "lines": [{"title": line.item.title, "unit": line.item.unit, "quantity": line.quantity} for line in lines],
                "amount_fen": sum(line.quantity * line.price_fen for line in lines),
                "payment_status": order.payment_status,
                "status": order.status,
            }
        )
    return {"campaign": campaign, "unit": unit, "items": list(items.values()), "people": people}
