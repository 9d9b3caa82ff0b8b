"""How the campaigns taking orders are doing, for the operators' home: each item against its minimum total and its
supply, and the campaign's closing time. Built from the items' own figures (ordered, capacity, min_total) only."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import selectinload

from database import utcnow
from extensions import db
from shop.lifecycle import taking_orders
from shop.models import Campaign, CampaignItem


@dataclass(frozen=True)
class CampaignProgress:
    campaign: Campaign
    items: list[CampaignItem]

    @property
    def closes_at(self) -> datetime:
        return self.campaign.closes_at

    @property
    def sold_pct(self) -> int | None:
        """What is ordered as a share of what producers offered, by value (items' units differ), rounded down."""
        offered = sum(item.capacity * item.price_fen for item in self.items)
        return 100 * sum(item.ordered * item.price_fen for item in self.items) // offered if offered else None

    @property
    def below_minimum(self) -> list[CampaignItem]:
        """Items that would be cancelled if the campaign closed now."""
        return [item for item in self.items if item.short_of_minimum]


def open_campaigns_progress(now=None) -> list[CampaignProgress]:
    """Every campaign taking orders now, closing soonest first, with its items' progress."""
    campaigns = db.session.scalars(
        sa.select(Campaign)
        .where(taking_orders(now or utcnow()))
        .order_by(Campaign.closes_at, Campaign.id)
        .options(selectinload(Campaign.items))
    ).all()
    return [CampaignProgress(campaign, list(campaign.items)) for campaign in campaigns]


def item_sold_pct(item: CampaignItem) -> int:
    """What is ordered of an item as a share of its supply, rounded down."""
    return 100 * item.ordered // item.capacity if item.capacity else 0
