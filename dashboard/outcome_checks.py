"""`flask check-totals` for delivery day's figures: delivered, refunded and completed sales (and the poverty
households completed sales reached), and each producer's delivered, refunded, due, paid and owed money, rebuilt in
Python from the raw rows (line entries, order lines, orders, receipt lines, claims' refunds, payouts) and compared
with what the pages and the API show (dashboard.totals, earnings.services)."""

from collections import defaultdict

import sqlalchemy as sa

from claims.models import Claim, ClaimRefund
from dashboard.models import Payout
from dashboard.sales import THROUGH_KINDS
from dashboard.totals import sales_totals
from delivery.models import DELIVERY_ENTRY_KINDS, LineEntry, Receipt, ReceiptLine
from earnings.services import campaign_earnings
from extensions import db
from orders.models import Order, OrderLine
from producers.models import Producer
from shop.lifecycle import POOLED
from shop.models import Campaign

ALL = "all"


def _line_outcomes():
    """{scope: {delivered_fen, refunded_fen, completed_fen}} and {scope: {producer id: completed fen}}."""
    orders = {
        row.id: row
        for row in db.session.execute(sa.select(Order.id, Order.campaign_id, Order.stored_status, Order.payment_status))
    }
    entries = defaultdict(list)
    for line_id, kind, charge, receipt_id in db.session.execute(
        sa.select(LineEntry.order_line_id, LineEntry.kind, LineEntry.charge_fen, LineEntry.receipt_id)
    ):
        entries[line_id].append((kind, charge, receipt_id))
    producer_of = dict(db.session.execute(sa.select(Receipt.id, Receipt.producer_id)).all())
    totals = defaultdict(lambda: {"delivered_fen": 0, "refunded_fen": 0, "completed_fen": 0})
    by_producer = defaultdict(lambda: defaultdict(int))
    for line in db.session.execute(
        sa.select(OrderLine.id, OrderLine.order_id, OrderLine.quantity, OrderLine.price_fen, OrderLine.cancelled)
    ):
        order = orders[line.order_id]
        deliveries = [(charge, receipt_id) for kind, charge, receipt_id in entries[line.id] if kind in DELIVERY_ENTRY_KINDS]
        if line.cancelled or order.stored_status == "cancelled" or not (deliveries or order.stored_status == "delivered"):
            continue
        delivered = sum(charge for charge, _ in deliveries) if deliveries else line.quantity * line.price_fen
        refunded = -sum(charge for kind, charge, _ in entries[line.id] if kind not in DELIVERY_ENTRY_KINDS)
        completed = delivered - refunded if order.payment_status == "paid" else 0
        shares = defaultdict(int)
        for charge, receipt_id in deliveries:
            if receipt_id is not None:
                shares[producer_of[receipt_id]] += charge
        whole = sum(value for value in shares.values() if value > 0)
        for scope in (ALL, order.campaign_id):
            totals[scope]["delivered_fen"] += delivered
            totals[scope]["refunded_fen"] += refunded
            totals[scope]["completed_fen"] += completed
            if completed > 0 and whole:
                for producer_id, value in shares.items():
                    if value > 0:
                        by_producer[scope][producer_id] += completed * value // whole
    return totals, by_producer


def check_outcomes(checker, scopes) -> None:
    """Compare delivered, refunded and completed sales and completed households per scope (ALL or a campaign id)."""
    totals, by_producer = _line_outcomes()
    producers = {
        row.id: row
        for row in db.session.execute(
            sa.select(Producer.id, Producer.kind, Producer.poverty_household, Producer.linked_households)
        )
    }
    for scope in scopes:
        found = sales_totals(None if scope == ALL else scope)
        for field in ("delivered_fen", "refunded_fen", "completed_fen"):
            checker.compare("completed sales", scope, "-", field, totals[scope][field], found[field])
        households = 0
        for producer_id, value in by_producer[scope].items():
            row = producers[producer_id]
            if value <= 0:
                continue
            if row.poverty_household:
                households += 1
            elif row.kind in THROUGH_KINDS:
                households += row.linked_households
        checker.compare("completed sales", scope, "-", "completed_households", households, found["completed_households"])


def check_earnings(checker, campaign_id=None) -> None:
    """Each producer's delivered, refunded, due, paid and owed money in every pooled campaign, from the raw rows."""
    delivered = defaultdict(int)
    for cid, pid, value in db.session.execute(
        sa.select(Receipt.campaign_id, Receipt.producer_id, ReceiptLine.value_change_fen).join(
            Receipt, Receipt.id == ReceiptLine.receipt_id
        )
    ):
        delivered[(cid, pid)] += value
    refunded = defaultdict(int)
    by_claim = defaultdict(int)
    for claim_id, cid, pid, amount in db.session.execute(
        sa.select(ClaimRefund.claim_id, ClaimRefund.campaign_id, ClaimRefund.producer_id, ClaimRefund.amount_fen)
    ):
        refunded[(cid, pid)] += amount
        by_claim[claim_id] += amount
    _check_refunds(checker, by_claim, campaign_id)
    paid = defaultdict(int)
    for cid, pid, amount in db.session.execute(sa.select(Payout.campaign_id, Payout.producer_id, Payout.amount_fen)):
        paid[(cid, pid)] += amount
    campaigns = db.session.scalars(sa.select(Campaign).where(Campaign.status.in_(POOLED)).order_by(Campaign.id)).all()
    for campaign in campaigns:
        if campaign_id not in (None, campaign.id):
            continue
        for row in campaign_earnings(campaign):
            key = (campaign.id, row["producer_id"])
            name = f"producer {row['producer_id']}"
            due = delivered[key] - refunded[key]
            expected = {
                "delivered_fen": delivered[key],
                "refunded_fen": refunded[key],
                "due_fen": due,
                "paid_fen": paid[key],
                "owed_fen": due - paid[key],
            }
            for field, value in expected.items():
                checker.compare("producer earnings", campaign.id, name, field, value, row[field])


def _check_refunds(checker, by_claim, campaign_id) -> None:
    """Each refunded claim: its amount, the buyer's refund entry and the producers' shares are the same money."""
    query = (
        sa.select(Claim.id, Claim.campaign_id, Claim.refund_fen, LineEntry.charge_fen)
        .outerjoin(LineEntry, LineEntry.id == Claim.line_entry_id)
        .where(Claim.status == "refunded")
    )
    if campaign_id is not None:
        query = query.where(Claim.campaign_id == campaign_id)
    for claim_id, cid, refund_fen, charge in db.session.execute(query):
        name = f"claim {claim_id}"
        checker.compare("refund entries", cid, name, "refund_fen", refund_fen, -(charge or 0))
        checker.compare("refund shares", cid, name, "refund_fen", refund_fen, by_claim.get(claim_id, 0))
