"""Settlement: each producer's statement per campaign, payouts, and the reconciliation of money collected by units.

Amount due to a producer = what its receipts say it delivered, at what buyers pay for it (the unit price, or the
weighed kilograms at the price per kg; the platform keeps nothing): ``delivery.ledger.delivered_by_allocation``.
Allocated value is shown beside it: it is what the producer will be owed once everything is delivered.
"""

from collections import defaultdict
from datetime import datetime

import sqlalchemy as sa
from flask_babel import gettext as _

import after_commit
from accounts.models import Unit
from accounts.services import record_audit
from claims.ledger import refunded_by_producer
from dashboard.models import PAYOUT_METHODS, Payout
from dashboard.sales import get_campaign
from database import transaction, utcnow
from delivery.ledger import delivered_by_allocation
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from fulfilment.models import Allocation
from measures import yuan
from notifications import messages
from notifications.services import queue_notification
from orders.models import Order, OrderLine
from paging import page_of
from producers.models import Producer
from shop.lifecycle import POOLED, transition
from shop.models import Campaign, CampaignItem, CampaignStatus


def producer_statements(campaign_id, producer_id=None, producer_ids=None) -> list[dict]:
    """One statement per producer allocated goods in (or paid for) a campaign (only ``producer_ids``' when given).

    Each: items (allocated, delivered, unit price, allocated and delivered amounts), allocated_fen, delivered_fen,
    refunded_fen (claims' refunds for its goods), due_fen (delivered − refunded), paid_fen, balance_fen (due − paid)
    and the payouts: the one rule the settlement pages, the payouts' ceiling and the producers' earnings read.
    :raises NotFound: no such campaign.
    """
    get_campaign(campaign_id)
    delivered = delivered_by_allocation(campaign_id)
    query = (
        sa.select(Allocation, CampaignItem, Producer)
        .join(CampaignItem, CampaignItem.id == Allocation.item_id)
        .join(Producer, Producer.id == Allocation.producer_id)
        .where(Allocation.campaign_id == campaign_id, Allocation.quantity > 0)
        .order_by(Producer.name, Producer.id, CampaignItem.position, CampaignItem.id)
    )
    payouts_query = sa.select(Payout).where(Payout.campaign_id == campaign_id).order_by(Payout.paid_at, Payout.id)
    if producer_id is not None:
        query = query.where(Allocation.producer_id == producer_id)
        payouts_query = payouts_query.where(Payout.producer_id == producer_id)
    if producer_ids is not None:
        query = query.where(Allocation.producer_id.in_(producer_ids))
        payouts_query = payouts_query.where(Payout.producer_id.in_(producer_ids))
    statements = {}

    def statement_for(producer):
        return statements.setdefault(
            producer.id,
            {
                "producer": producer,
                "items": [],
                "allocated_fen": 0,
                "delivered_fen": 0,
                "refunded_fen": 0,
                "due_fen": 0,
                "paid_fen": 0,
                "payouts": [],
            },
        )

    for allocation, item, producer in db.session.execute(query):
        statement = statement_for(producer)
        done, _weight_g, due = delivered.get(allocation.id, (0, 0, 0))
        statement["items"].append(
            {
                "item_id": item.id,
                "title": item.title,
                "unit": item.unit,
                "unit_price_fen": item.price_fen,
                "allocated": allocation.quantity,
                "delivered": done,
                "allocated_fen": allocation.quantity * item.price_fen,
                "due_fen": due,
            }
        )
        statement["allocated_fen"] += allocation.quantity * item.price_fen
        statement["delivered_fen"] += due
    for payout in db.session.scalars(payouts_query):
        statement = statement_for(payout.producer)
        statement["payouts"].append(payout)
        statement["paid_fen"] += payout.amount_fen
    refunded = refunded_by_producer(campaign_id)
    for pid, statement in statements.items():
        statement["refunded_fen"] = refunded.get(pid, 0)
        statement["due_fen"] = statement["delivered_fen"] - statement["refunded_fen"]
        statement["balance_fen"] = statement["due_fen"] - statement["paid_fen"]
    return list(statements.values())


def statements_page(campaign_id, filters=None, page=None, per_page=None):
    """One page of the campaign's statements, producers by name, paged in SQL (filtered by producer and town).

    :returns: (the page of producers, their statements in the same order).
    :raises NotFound: no such campaign.
    """
    get_campaign(campaign_id)
    allocated = sa.select(Allocation.producer_id).where(Allocation.campaign_id == campaign_id, Allocation.quantity > 0)
    paid = sa.select(Payout.producer_id).where(Payout.campaign_id == campaign_id)
    query = (
        sa.select(Producer.id, Producer.name)
        .where(sa.or_(Producer.id.in_(allocated), Producer.id.in_(paid)))
        .order_by(Producer.name, Producer.id)
    )
    if filters is not None:
        query = filters.apply(query, producer=Producer.id, town=Producer.town)
    producers = page_of(query, page, per_page, rows=True)
    ids = [row.id for row in producers.items]
    by_id = {s["producer"].id: s for s in producer_statements(campaign_id, producer_ids=ids)} if ids else {}
    return producers, [by_id[i] for i in ids if i in by_id]


def producer_statement(campaign_id, producer_id) -> dict:
    """:raises NotFound: the producer has neither an allocation nor a payout in this campaign."""
    statements = producer_statements(campaign_id, producer_id)
    if not statements:
        raise NotFound(_("This producer has nothing to settle in this campaign."))
    return statements[0]


def record_payout(actor, campaign_id, producer_id, amount_fen, method, reference=None, paid_at=None) -> Payout:
    """Record money paid to a producer for a campaign, never more than is still due for what was delivered.

    When the campaign is delivered and every producer is paid in full, the campaign becomes settled.
    The producer is told (in-app, SMS, email) through the outbox.

    :raises NotFound: no such campaign, or nothing to settle with this producer.
    :raises Conflict: the campaign is not allocated yet.
    :raises ValidationFailed: a non-positive amount, more than the balance, an unknown method, a future date.
    """
    with transaction(write=True):
        # Payouts for one campaign are serialised on its row, so two operators cannot both pay the same balance.
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.id == campaign_id).with_for_update())
        if campaign is None:
            raise NotFound(_("No such campaign."))
        if campaign.status not in POOLED:
            raise Conflict(_("Producers can be paid once the campaign is allocated."))
        statement = producer_statement(campaign_id, producer_id)
        now = utcnow()
        reference = (reference or "").strip() or None
        _check_payout(statement, amount_fen, method, reference, paid_at, now)
        payout = Payout(
            campaign_id=campaign_id,
            producer_id=producer_id,
            amount_fen=amount_fen,
            method=method,
            reference=reference,
            paid_at=paid_at or now,
            recorded_by_id=actor.id if actor else None,
        )
        db.session.add(payout)
        db.session.flush()
        record_audit(
            actor, "payout.record", payout, campaign_id=campaign_id, producer_id=producer_id, amount_fen=amount_fen, method=method
        )
        title, body, sms = messages.payout_made(campaign, amount_fen, method)
        queue_notification(
            kind="payout",
            subject=f"payout:{payout.id}",
            producer=statement["producer"],
            title=title,
            body=body,
            sms_body=sms,
        )
        after_commit.dispatch_notifications()
        if campaign.status == CampaignStatus.DELIVERED and _all_paid(campaign_id):
            transition(campaign, CampaignStatus.SETTLED)
            record_audit(actor, "campaign.settled", campaign)
    return payout


def _check_payout(statement, amount_fen, method, reference, paid_at, now):
    """:raises ValidationFailed: every wrong field of a payout at once."""
    errors = {}
    if not isinstance(amount_fen, int) or isinstance(amount_fen, bool) or amount_fen <= 0:
        errors["amount_fen"] = [_("Enter an amount greater than zero.")]
    elif amount_fen > statement["balance_fen"]:
        errors["amount_fen"] = [
            _("At most %(balance)s is still due for what was delivered.", balance=yuan(max(statement["balance_fen"], 0)))
        ]
    if method not in PAYOUT_METHODS:
        errors["method"] = [_("Choose bank transfer or cash.")]
    if reference is not None and len(reference) > 80:
        errors["reference"] = [_("At most %(n)d characters.", n=80)]
    if paid_at is not None and (not isinstance(paid_at, datetime) or paid_at.tzinfo is None or paid_at > now):
        errors["paid_at"] = [_("Enter a time that is not in the future.")]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)


def _all_paid(campaign_id):
    statements = producer_statements(campaign_id)
    return all(s["balance_fen"] == 0 and s["delivered_fen"] == s["allocated_fen"] for s in statements)


def payouts_query(campaign_id=None):
    """Payouts, newest first (one campaign's, or all)."""
    query = sa.select(Payout).order_by(Payout.paid_at.desc(), Payout.id.desc())
    if campaign_id is not None:
        query = query.where(Payout.campaign_id == campaign_id)
    return query


def list_payouts(campaign_id=None) -> list[Payout]:
    return db.session.scalars(payouts_query(campaign_id)).all()


def _unit_money(campaign_id):
    """Per unit: orders, paid orders, owed for sold lines, collected as marked paid, outstanding."""
    amount = sa.cast(OrderLine.quantity, sa.BigInteger) * OrderLine.price_fen
    paid = Order.payment_status == "paid"
    rows = db.session.execute(
        sa.select(
            Order.unit_id,
            Unit.name,
            sa.func.count(sa.distinct(Order.id)).label("orders"),
            sa.func.count(sa.distinct(sa.case((paid, Order.id)))).label("paid_orders"),
            sa.func.sum(amount).label("owed_fen"),
            sa.func.sum(sa.case((paid, amount), else_=0)).label("collected_fen"),
        )
        .select_from(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .join(Unit, Unit.id == Order.unit_id)
        .where(Order.campaign_id == campaign_id, Order.status != "cancelled", sa.not_(OrderLine.cancelled))
        .group_by(Order.unit_id, Unit.name)
        .order_by(Unit.name)
    ).all()
    return [
        {
            "unit_id": row.unit_id,
            "name": row.name,
            "orders": row.orders,
            "paid_orders": row.paid_orders,
            "unpaid_orders": row.orders - row.paid_orders,
            "owed_fen": int(row.owed_fen or 0),
            "collected_fen": int(row.collected_fen or 0),
            "outstanding_fen": int(row.owed_fen or 0) - int(row.collected_fen or 0),
        }
        for row in rows
    ]


def _check(name, ok, left, right):
    return {"name": name, "ok": ok, "left": left, "right": right}


def _money_checks(campaign, totals):
    """The checks that hold once a campaign is pooled, always, and once it is delivered."""
    owed, allocated, due = totals.get("owed_fen", 0), totals.get("allocated_fen", 0), totals.get("due_fen", 0)
    paid, collected = totals.get("paid_fen", 0), totals.get("collected_fen", 0)
    checks = []
    if campaign.status in POOLED:
        checks.append(_check(_("Buyers owe what producers were allocated"), owed == allocated, owed, allocated))
    checks.append(_check(_("Paid out to producers does not exceed collected from units"), paid <= collected, paid, collected))
    if campaign.status in (CampaignStatus.DELIVERED, CampaignStatus.SETTLED):
        checks.append(_check(_("Everything allocated is delivered and due"), due == allocated, due, allocated))
    return checks


def reconciliation(campaign_id) -> dict:
    """Money per unit (owed for sold lines, collected as marked paid, outstanding) against what producers are owed.

    The checks: buyers owe exactly what producers were allocated (same goods, same prices); nothing was paid
    out that units have not collected; once delivered, what is due equals what was allocated.
    :raises NotFound: no such campaign.
    """
    campaign = get_campaign(campaign_id)
    units = _unit_money(campaign_id)
    statements = producer_statements(campaign_id)
    totals = defaultdict(int)
    for unit in units:
        for key in ("owed_fen", "collected_fen", "outstanding_fen", "orders", "paid_orders", "unpaid_orders"):
            totals[key] += unit[key]
    for statement in statements:
        for key in ("allocated_fen", "due_fen", "paid_fen"):
            totals[key] += statement[key]
    totals = dict(totals)
    return {
        "campaign": campaign,
        "units": units,
        "statements": statements,
        "totals": totals,
        "checks": _money_checks(campaign, totals),
    }
