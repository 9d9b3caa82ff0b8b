"""Campaign rules: who may see which campaign."""

import sqlalchemy as sa

from extensions import db
from shop.models import Campaign, campaign_unit


def visible_campaigns(user):
    """Operators see every campaign; a buyer sees published ones open to their unit (no units listed = all)."""
    query = sa.select(Campaign).order_by(Campaign.closes_at.desc())
    if user.role != "operator":
        unrestricted = ~sa.exists().where(campaign_unit.c.campaign_id == Campaign.id)
        own_unit = sa.exists().where(campaign_unit.c.campaign_id == Campaign.id, campaign_unit.c.unit_id == user.unit_id)
        query = query.where(Campaign.status != "draft", Campaign.status != "cancelled", unrestricted | own_unit)
    return db.session.scalars(query).all()
