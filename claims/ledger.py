"""Claims' reading of the line ledger (delivery.models.LineEntry) and of what each producer delivered: a line's
delivered quantity, charge and delivery time, and what claims refunded per producer."""

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from claims.models import ClaimRefund
from database import UTCDateTime
from delivery.ledger import line_figures
from delivery.models import DELIVERY_ENTRY_KINDS, LineEntry, Receipt, ReceiptLine
from extensions import db
from fulfilment.models import Allocation, PickLine

REFUND_KIND = "refund"


@dataclass(frozen=True)
class LineLedger:
    """One order line's ledger summed: delivered pieces (None before any receipt), the charge for the delivery, the
    charge now (after refunds), and when it was first delivered (the claim deadline runs from there)."""

    delivered: int | None
    delivery_charge_fen: int
    charged_fen: int
    delivered_at: datetime | None


def line_ledger(order_line_id) -> LineLedger:
    """The line's figures as the ledger gives them (delivery.ledger.line_figures), with its delivery's own charge and
    first time."""
    figures = line_figures([order_line_id])[order_line_id]
    delivery = LineEntry.kind.in_(DELIVERY_ENTRY_KINDS)
    delivery_charge, first_at = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(LineEntry.charge_fen), 0),
            sa.type_coerce(sa.func.min(LineEntry.recorded_at), UTCDateTime),
        ).where(LineEntry.order_line_id == order_line_id, delivery)
    ).one()
    return LineLedger(
        delivered=figures.delivered,
        delivery_charge_fen=int(delivery_charge),
        charged_fen=figures.charged_fen,
        delivered_at=first_at,
    )


def deliverers(campaign_id, unit_id, item_id) -> dict[int, int]:
    """{producer id: pieces of the item it delivered to the unit}: the receipts' figures (sums of their changes),
    else, for a delivery marked without a receipt, the pick lines."""
    rows = db.session.execute(
        sa.select(Allocation.producer_id, sa.func.sum(ReceiptLine.quantity_change))
        .select_from(ReceiptLine)
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .join(Allocation, Allocation.id == ReceiptLine.allocation_id)
        .where(Receipt.campaign_id == campaign_id, Receipt.unit_id == unit_id, ReceiptLine.item_id == item_id)
        .group_by(Allocation.producer_id)
    ).all()
    found = {producer_id: int(quantity) for producer_id, quantity in rows if quantity}
    if found:
        return found
    rows = db.session.execute(
        sa.select(Allocation.producer_id, PickLine.quantity)
        .join(PickLine, PickLine.allocation_id == Allocation.id)
        .where(Allocation.campaign_id == campaign_id, Allocation.item_id == item_id, PickLine.unit_id == unit_id)
    ).all()
    return {producer_id: int(quantity) for producer_id, quantity in rows if quantity}


def refunded_by_producer(campaign_id) -> dict:
    """{producer id: fen refunded to buyers for its goods in the campaign}."""
    rows = db.session.execute(
        sa.select(ClaimRefund.producer_id, sa.func.sum(ClaimRefund.amount_fen))
        .where(ClaimRefund.campaign_id == campaign_id)
        .group_by(ClaimRefund.producer_id)
    ).all()
    return {producer_id: int(total) for producer_id, total in rows}
