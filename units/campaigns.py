"""The campaigns a coordinator orders in: their items (as a sheet's columns) and what the unit ordered in each."""

import sqlalchemy as sa

from extensions import db
from orders.models import Order, OrderLine
from shop import catalogue as shop_catalogue
from shop import lifecycle as shop_lifecycle
from shop.models import CampaignItem
from units.access import require_coordinator
from units.sheet_rows import ItemColumn


def campaign_items(campaign_id) -> list[CampaignItem]:
    """The campaign's items in display order, read afresh (capacity and ordered as of now)."""
    return db.session.scalars(
        sa.select(CampaignItem)
        .where(CampaignItem.campaign_id == campaign_id)
        .order_by(CampaignItem.position, CampaignItem.id)
        .execution_options(populate_existing=True)
    ).all()


def item_columns(items) -> list[ItemColumn]:
    return [
        ItemColumn(
            id=item.id,
            title=item.title,
            unit=item.unit,
            price_fen=item.price_fen,
            per_buyer_limit=item.per_buyer_limit,
            withdrawn=item.cancelled_below_minimum,
        )
        for item in items
    ]


def unit_campaigns(coordinator) -> list[dict]:
    """Campaigns open to the coordinator's unit, newest first, with the unit's order count and money due in each."""
    require_coordinator(coordinator)
    campaigns = shop_catalogue.visible_campaigns(coordinator)
    amount = OrderLine.quantity * OrderLine.price_fen
    counts = {
        campaign_id: (orders, people, int(due or 0))
        for campaign_id, orders, people, due in db.session.execute(
            sa.select(
                Order.campaign_id,
                sa.func.count(sa.distinct(Order.id)),
                sa.func.count(sa.distinct(Order.buyer_phone)),
                sa.func.sum(amount),
            )
            .join(OrderLine, OrderLine.order_id == Order.id)
            .where(Order.unit_id == coordinator.unit_id, Order.status != "cancelled", OrderLine.cancelled.is_(False))
            .group_by(Order.campaign_id)
        )
    }
    return [
        {
            "campaign": campaign,
            "phase": shop_lifecycle.campaign_phase(campaign),
            "orders": counts.get(campaign.id, (0, 0, 0))[0],
            "people": counts.get(campaign.id, (0, 0, 0))[1],
            "due_fen": counts.get(campaign.id, (0, 0, 0))[2],
        }
        for campaign in campaigns
    ]
