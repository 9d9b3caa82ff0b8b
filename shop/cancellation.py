"""Cancelling a campaign for real, before it closes: every order cancelled and never charged, the stock back with the
producers, and buyers (or the coordinators who ordered for them) and producers told.

One transaction, set-based: the orders, lines and counters are rewritten by a statement each, so a campaign of
thousands of orders cancels as fast as one; each buyer's notice is rendered after the commit from the lines cancelled
here (shop.notices), queued now as one fan-out row.
"""

import sqlalchemy as sa
from flask_babel import gettext as _

import after_commit
from accounts.services import record_audit
from dashboard.kept_figures import keep_campaign_figures
from database import UTCDateTime, transaction, utcnow
from errors import Conflict, ValidationFailed
from extensions import db
from notifications import messages
from notifications.fanout import queue_rendered_fanout
from notifications.services import queue_notification
from orders.models import Order, OrderLine
from producers.models import Producer
from producers.stock import release_listing_quantity
from shop.lifecycle import cancellable, transition
from shop.models import Campaign, CampaignItem, CampaignStatus, Supply
from shop.running import clean_reason, locked_campaign

CANCEL_REASON = "campaign_cancelled"  # on each order line the cancellation took

order_t = Order.__table__
line_t = OrderLine.__table__
item_t = CampaignItem.__table__


def cancellation_subject(campaign_id) -> str:
    return f"campaign:{campaign_id}:cancelled"


def cancel_campaign(actor, campaign_id, reason) -> Campaign:
    """Cancel a draft or published campaign; cancelling a cancelled one changes nothing.

    :raises ValidationFailed: no reason, or one too long.
    :raises NotFound: no such campaign.
    :raises Conflict: it has closed already (the close and delivery own it).
    """
    errors = {}
    reason = clean_reason(errors, reason, required=True)
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    with transaction():
        campaign = locked_campaign(campaign_id)
        if campaign.status == CampaignStatus.CANCELLED:
            return campaign
        if not cancellable(campaign.status):
            raise Conflict(_("This campaign has closed; it can no longer be cancelled."))
        was_published = campaign.status == CampaignStatus.PUBLISHED
        now = utcnow()
        cancelled_lines = _cancel_orders(campaign.id, now)
        producers = _give_stock_back(campaign.id)
        transition(campaign, CampaignStatus.CANCELLED)
        campaign.cancelled_at, campaign.cancel_reason = now, reason
        record_audit(actor, "campaign.cancel", campaign, reason=reason, lines=cancelled_lines)
        if was_published:
            _tell_everyone(campaign, producers, has_orders=cancelled_lines > 0)
        keep_campaign_figures(campaign.id)
    return campaign


def _cancel_orders(campaign_id, now) -> int:
    """Every live line and order of the campaign cancelled, totals to 0, the items' counters back to 0."""
    live_orders = sa.select(order_t.c.id).where(order_t.c.campaign_id == campaign_id, order_t.c.status != "cancelled")
    lines = db.session.execute(
        line_t.update()
        .where(line_t.c.order_id.in_(live_orders), line_t.c.cancelled == sa.false())
        .values(cancelled=True, cancel_reason=CANCEL_REASON)
    ).rowcount
    db.session.execute(
        order_t.update()
        .where(order_t.c.campaign_id == campaign_id, order_t.c.status != "cancelled")
        .values(status="cancelled", total_fen=0, cancelled_at=sa.literal(now, UTCDateTime()), updated_at=now)
    )
    db.session.execute(item_t.update().where(item_t.c.campaign_id == campaign_id).values(ordered=0, updated_at=now))
    return lines


def _give_stock_back(campaign_id) -> list[Producer]:
    """Each supply's quantity back to its listing, in ascending listing id (as items take them); the producers."""
    supplies = db.session.scalars(
        sa.select(Supply).join(CampaignItem).where(CampaignItem.campaign_id == campaign_id).order_by(Supply.listing_id)
    ).all()
    for supply in supplies:
        release_listing_quantity(supply.listing_id, supply.quantity)
    producer_ids = sorted({supply.producer_id for supply in supplies})
    return db.session.scalars(sa.select(Producer).where(Producer.id.in_(producer_ids)).order_by(Producer.id)).all()


def _tell_everyone(campaign, producers, *, has_orders) -> None:
    if has_orders:
        queue_rendered_fanout(campaign_id=campaign.id, kind="campaign_cancelled", subject=cancellation_subject(campaign.id))
    for producer in producers:
        title, body, sms = messages.campaign_cancelled_to_producer(producer.name, campaign)
        queue_notification(
            kind="campaign_cancelled",
            subject=cancellation_subject(campaign.id),
            title=title,
            body=body,
            sms_body=sms,
            producer=producer,
        )
    after_commit.dispatch_notifications()
