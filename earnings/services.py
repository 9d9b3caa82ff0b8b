"""What a producer earns per campaign, from the settlement's statement: allocated, delivered, refunded, due, paid,
still owed, when it falls due (payment terms: N days after delivery) and whether it is overdue.

Payment terms: one global default (PAYMENT_TERMS_DAYS, 15) with a per-campaign override set by operators; a campaign
is where producers, prices and delivery day are agreed, and most campaigns keep the county's usual terms.
"""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from accounts.services import record_audit
from dashboard.models import Payout
from dashboard.settlement import producer_statements
from database import UTCDateTime, local_today, local_zone, transaction
from delivery.models import Receipt
from errors import Forbidden, NotFound, ValidationFailed
from extensions import db
from fulfilment.models import Allocation
from producers.models import Producer
from shop.lifecycle import POOLED
from shop.models import Campaign

MAX_TERMS_DAYS = 365


def terms_days(campaign) -> int:
    """Days after delivery within which the campaign's producers are paid: its own terms, else the default."""
    if campaign.payment_terms_days is not None:
        return campaign.payment_terms_days
    return current_app.config["PAYMENT_TERMS_DAYS"]


def set_payment_terms(actor, campaign_id, days) -> Campaign:
    """Operators set a campaign's payment terms; ``days`` None returns it to the default.

    :raises Forbidden: not an operator.
    :raises NotFound: no such campaign.
    :raises ValidationFailed: not a whole number of days from 0 to 365.
    """
    if actor is None or actor.role != "operator":
        raise Forbidden(_("Only operators may do this."))
    if days is not None and (not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= MAX_TERMS_DAYS):
        raise ValidationFailed(
            _("Please correct the marked fields."), {"days": [_("Enter whole days from 0 to %(n)d.", n=MAX_TERMS_DAYS)]}
        )
    with transaction():
        campaign = db.session.get(Campaign, campaign_id)
        if campaign is None:
            raise NotFound(_("No such campaign."))
        before = campaign.payment_terms_days
        campaign.payment_terms_days = days
        record_audit(actor, "campaign.payment_terms", campaign, before=before, after=days)
    return campaign


def _delivered_on(campaign_id) -> dict:
    """Per producer: the local day of its last receipt in the campaign (a correction too): the day its terms start."""
    rows = db.session.execute(
        sa.select(Receipt.producer_id, sa.type_coerce(sa.func.max(Receipt.recorded_at), UTCDateTime))
        .where(Receipt.campaign_id == campaign_id)
        .group_by(Receipt.producer_id)
    ).all()
    zone = local_zone()
    return {producer_id: at.astimezone(zone).date() for producer_id, at in rows if at is not None}


def campaign_earnings(campaign, producer_id=None, today=None) -> list[dict]:
    """Each producer's (or one producer's) earnings in one campaign.

    delivered_fen: what was delivered, at the items' prices; refunded_fen: refunds from claims; due_fen: delivered less
    refunded; owed_fen: due less paid; due_on: the last delivery's day plus the payment terms (None before any
    delivery); overdue: past due_on with money still owed.
    """
    today = today or local_today()
    delivered_on = _delivered_on(campaign.id)
    days = terms_days(campaign)
    rows = []
    for statement in producer_statements(campaign.id, producer_id):
        pid = statement["producer"].id
        refund, delivered_fen, due_fen = statement["refunded_fen"], statement["delivered_fen"], statement["due_fen"]
        owed_fen = statement["balance_fen"]
        due_on = delivered_on[pid] + timedelta(days=days) if pid in delivered_on else None
        rows.append(
            {
                "campaign_id": campaign.id,
                "title": campaign.title,
                "producer_id": pid,
                "producer_name": statement["producer"].name,
                "allocated_fen": statement["allocated_fen"],
                "delivered_fen": delivered_fen,
                "refunded_fen": refund,
                "due_fen": due_fen,
                "paid_fen": statement["paid_fen"],
                "owed_fen": owed_fen,
                "due_on": due_on,
                "terms_days": days,
                "overdue": due_on is not None and today > due_on and owed_fen > 0,
            }
        )
    return rows


def _check_viewer(viewer, producer_id) -> Producer:
    """:raises Forbidden: neither an operator nor a producer account. :raises NotFound: another producer."""
    if viewer.role not in ("operator", "producer"):
        raise Forbidden(_("Your role may not do this."))
    producer = db.session.get(Producer, producer_id)
    if producer is None or (viewer.role == "producer" and viewer.producer_id != producer_id):
        raise NotFound(_("No such producer."))
    return producer


def producer_earnings(viewer, producer_id, today=None) -> dict:
    """A producer's earnings in every pooled campaign it had goods or payouts in, newest delivery first.

    :raises Forbidden: neither an operator nor a producer account.
    :raises NotFound: no such producer, or another producer's.
    """
    producer = _check_viewer(viewer, producer_id)
    with_goods = sa.select(Allocation.campaign_id).where(Allocation.producer_id == producer_id, Allocation.quantity > 0)
    with_payouts = sa.select(Payout.campaign_id).where(Payout.producer_id == producer_id)
    campaigns = db.session.scalars(
        sa.select(Campaign)
        .where(Campaign.status.in_(POOLED), sa.or_(Campaign.id.in_(with_goods), Campaign.id.in_(with_payouts)))
        .order_by(Campaign.delivery_on.desc(), Campaign.id.desc())
    ).all()
    items = [row for campaign in campaigns for row in campaign_earnings(campaign, producer_id, today)]
    totals = {
        key: sum(row[key] for row in items)
        for key in ("allocated_fen", "delivered_fen", "refunded_fen", "due_fen", "paid_fen", "owed_fen")
    }
    return {"producer": producer, "items": items, "totals": totals}


def overdue_payouts(today=None) -> list[dict]:
    """Every producer still owed money past its due date, in every pooled campaign, the longest overdue first."""
    today = today or local_today()
    delivered = sa.select(Receipt.campaign_id)
    campaigns = db.session.scalars(
        sa.select(Campaign).where(Campaign.status.in_(POOLED), Campaign.id.in_(delivered)).order_by(Campaign.id)
    ).all()
    rows = [row for campaign in campaigns for row in campaign_earnings(campaign, today=today) if row["overdue"]]
    return sorted(rows, key=lambda row: (row["due_on"], row["campaign_id"], row["producer_name"]))
