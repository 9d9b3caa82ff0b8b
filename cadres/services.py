"""What a village cadre does for the households of its town: their pick lists (confirmed by phone) and their
deliveries (confirmed at the unit). Every rule of who may act for whom is producers.access's (``cadre_of``)."""

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import Unit
from dashboard.delivery import mark_delivered
from dashboard.models import Delivery
from errors import Forbidden, NotFound
from extensions import db
from fulfilment.models import Allocation, PickLine
from producers.access import cadre_of
from producers.models import PicklistAck, Producer
from shop.lifecycle import POOLED
from shop.models import Campaign


def require_cadre(user):
    """:raises Forbidden: not a village cadre."""
    if user is None or user.role != "cadre":
        raise Forbidden(_("Only a village cadre may do this."))


def town_producers(cadre) -> list[Producer]:
    require_cadre(cadre)
    return db.session.scalars(sa.select(Producer).where(Producer.town == cadre.town).order_by(Producer.name, Producer.id)).all()


def town_work(cadre) -> list[dict]:
    """Per pooled campaign and producer of the cadre's town: what it prepares, whether its pick list is confirmed
    (and how), and per delivery unit whether the goods were handed over. Newest delivery first."""
    require_cadre(cadre)
    rows = db.session.execute(
        sa.select(Campaign, Producer, PickLine.unit_id, Unit.name, sa.func.sum(PickLine.quantity))
        .select_from(PickLine)
        .join(Allocation, Allocation.id == PickLine.allocation_id)
        .join(Campaign, Campaign.id == Allocation.campaign_id)
        .join(Producer, Producer.id == Allocation.producer_id)
        .join(Unit, Unit.id == PickLine.unit_id)
        .where(Producer.town == cadre.town, Campaign.status.in_(POOLED))
        .group_by(Campaign.id, Producer.id, PickLine.unit_id, Unit.name)
        .order_by(Campaign.delivery_on.desc(), Campaign.id.desc(), Producer.name, Producer.id, Unit.name)
    ).all()
    campaign_ids = sorted({campaign.id for campaign, *_rest in rows})
    acks = {
        (ack.campaign_id, ack.producer_id): ack
        for ack in db.session.scalars(sa.select(PicklistAck).where(PicklistAck.campaign_id.in_(campaign_ids)))
    }
    delivered = {
        (d.campaign_id, d.producer_id, d.unit_id): d.delivered_at
        for d in db.session.scalars(sa.select(Delivery).where(Delivery.campaign_id.in_(campaign_ids)))
    }
    work = {}
    for campaign, producer, unit_id, unit_name, quantity in rows:
        entry = work.setdefault(
            (campaign.id, producer.id),
            {"campaign": campaign, "producer": producer, "ack": acks.get((campaign.id, producer.id)), "units": []},
        )
        entry["units"].append(
            {
                "unit_id": unit_id,
                "unit_name": unit_name,
                "quantity": int(quantity),
                "delivered_at": delivered.get((campaign.id, producer.id, unit_id)),
            }
        )
    return list(work.values())


def confirm_delivery(cadre, campaign_id, unit_id, producer_id, note=None):
    """The cadre confirms a household of its town handed its goods over at a unit (the dashboard's own rule).

    :raises Forbidden: not a village cadre.
    :raises NotFound: a producer of another town, or see dashboard.delivery.mark_delivered.
    :raises Conflict, ValidationFailed: see dashboard.delivery.mark_delivered.
    """
    require_cadre(cadre)
    producer = db.session.get(Producer, producer_id)
    if producer is None or not cadre_of(cadre, producer):
        raise NotFound(_("No such producer."))
    return mark_delivered(cadre, campaign_id, unit_id, producer_id, note=note)
