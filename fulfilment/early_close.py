"""A campaign whose every item is sold out closes by itself, early: nothing is left to order, so waiting for its
closing time only keeps producers from preparing. Beat's sweep finds such campaigns; operators are told.
"""

import sqlalchemy as sa

import after_commit
from accounts.models import User
from accounts.services import record_audit
from database import UTCDateTime, transaction, utcnow
from extensions import db
from notifications import running_campaigns
from notifications.services import queue_notification
from shop.models import Campaign, CampaignItem, CampaignStatus

campaign_t = Campaign.__table__
item_t = CampaignItem.__table__


def _sold_out(campaign_id_column):
    """SQL: the campaign has items, and none (still offered) has anything left."""
    offered = sa.and_(item_t.c.campaign_id == campaign_id_column, item_t.c.cancelled_below_minimum == sa.false())
    return sa.and_(
        sa.exists().where(offered),
        ~sa.exists().where(offered, item_t.c.ordered < item_t.c.capacity),
    )


def close_sold_out_campaigns(now=None) -> list[int]:
    """Close every open campaign that has sold out, as an operator's "close now" would; returns their ids.

    Each is closed by a guarded UPDATE that checks again that it is open and sold out, so an order cancelled in the
    meantime keeps it open; the pooling follows through the sweep like any closed campaign.
    """
    now = now or utcnow()
    open_now = sa.and_(
        campaign_t.c.status == CampaignStatus.PUBLISHED, campaign_t.c.opens_at <= now, campaign_t.c.closes_at > now
    )
    candidates = db.session.scalars(sa.select(campaign_t.c.id).where(open_now, _sold_out(campaign_t.c.id))).all()
    db.session.rollback()
    closed = []
    for campaign_id in candidates:
        with transaction():
            done = db.session.execute(
                campaign_t.update()
                .where(campaign_t.c.id == campaign_id, open_now, _sold_out(campaign_t.c.id))
                .values(status=CampaignStatus.CLOSED, closed_at=now, closes_at=sa.literal(now, UTCDateTime()), updated_at=now)
            ).rowcount
            if done:
                campaign = db.session.get(Campaign, campaign_id)
                db.session.refresh(campaign)
                record_audit(None, "campaign.close", campaign, sold_out=True)
                _tell_operators(campaign)
                closed.append(campaign_id)
    return closed


def _tell_operators(campaign) -> None:
    title, body, sms = running_campaigns.campaign_sold_out(campaign)
    for operator in db.session.scalars(sa.select(User).where(User.role == "operator", User.active.is_(True))):
        queue_notification(
            kind="campaign_sold_out", subject=f"campaign:{campaign.id}", title=title, body=body, sms_body=sms, user=operator
        )
    after_commit.dispatch_notifications()
