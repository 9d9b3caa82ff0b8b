"""Reading the ledger: each order line's delivered quantity, weight and charge, a producer's delivered figures,
and a household's income replayed entry by entry. Every figure is a sum of entries; nothing here writes.

For other areas (claims, earnings, figures): :func:`line_figures`, :func:`delivered_by_allocation`,
:func:`producer_delivered` and :func:`income_replay`.
"""

from dataclasses import dataclass

import sqlalchemy as sa

from delivery.models import LineEntry, Receipt, ReceiptLine
from extensions import db
from fulfilment.models import Allocation
from orders.models import OrderLine
from shop.models import Campaign, CampaignItem


@dataclass(frozen=True)
class LineFigures:
    """One order line's figures: ``delivered`` and ``weight_g`` are None before any receipt; ``charged_fen`` is
    then the pledged amount (what the buyer pays if everything arrives), 0 for a cancelled line."""

    delivered: int | None
    weight_g: int | None
    charged_fen: int


def line_figures(order_line_ids) -> dict[int, LineFigures]:
    """Figures of each of ``order_line_ids`` (every kind of entry counts, a refund too)."""
    ids = sorted(set(order_line_ids))
    if not ids:
        return {}
    sums = {
        line_id: (int(q), int(w), int(c), n)
        for line_id, q, w, c, n in db.session.execute(
            sa.select(
                LineEntry.order_line_id,
                sa.func.sum(LineEntry.quantity),
                sa.func.sum(LineEntry.weight_g),
                sa.func.sum(LineEntry.charge_fen),
                sa.func.count(LineEntry.receipt_id),
            )
            .where(LineEntry.order_line_id.in_(ids))
            .group_by(LineEntry.order_line_id)
        )
    }
    result = {}
    for line_id, quantity, price_fen, cancelled in db.session.execute(
        sa.select(OrderLine.id, OrderLine.quantity, OrderLine.price_fen, OrderLine.cancelled).where(OrderLine.id.in_(ids))
    ):
        pledged = 0 if cancelled else quantity * price_fen
        entry = sums.get(line_id)
        if entry is None or not entry[3]:
            # No receipt yet (a refund alone cannot come before one): the pledge stands.
            charged = pledged + (entry[2] if entry else 0)
            result[line_id] = LineFigures(None, None, charged)
        else:
            result[line_id] = LineFigures(entry[0], entry[1] or None, entry[2])
    return result


def order_figures(order) -> dict:
    """An order's lines with their figures and its ``charged_fen``: the JSON answer's additions."""
    figures = line_figures([line.id for line in order.lines])
    lines = [
        {
            "item_id": line.item_id,
            "quantity": line.quantity,
            "price_fen": line.price_fen,
            "cancelled": line.cancelled,
            "cancel_reason": line.cancel_reason,
            "delivered": figures[line.id].delivered,
            "weight_g": figures[line.id].weight_g,
            "charged_fen": figures[line.id].charged_fen,
        }
        for line in order.lines
    ]
    return {"lines": lines, "charged_fen": sum(line["charged_fen"] for line in lines)}


def line_entries(order_line_ids) -> list[LineEntry]:
    """Every entry of these lines, oldest first: how a figure came to be."""
    return db.session.scalars(
        sa.select(LineEntry).where(LineEntry.order_line_id.in_(sorted(set(order_line_ids)))).order_by(LineEntry.id)
    ).all()


def delivered_by_allocation(campaign_id) -> dict[int, tuple[int, int, int]]:
    """A producer's delivered figures per allocation: (quantity, weight in g, value in fen), summed over its receipts."""
    rows = db.session.execute(
        sa.select(
            ReceiptLine.allocation_id,
            sa.func.sum(ReceiptLine.quantity_change),
            sa.func.sum(ReceiptLine.weight_change_g),
            sa.func.sum(ReceiptLine.value_change_fen),
        )
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .where(Receipt.campaign_id == campaign_id)
        .group_by(ReceiptLine.allocation_id)
    ).all()
    return {allocation_id: (int(q), int(w), int(v)) for allocation_id, q, w, v in rows}


def received_at_units(campaign_id, producer_id) -> dict[tuple[int, int], tuple[int, int | None]]:
    """What each unit received from the producer: (unit id, item id) → (quantity, weight in g or None), as it stands."""
    rows = db.session.execute(
        sa.select(Receipt.unit_id, ReceiptLine.item_id, ReceiptLine.quantity, ReceiptLine.weight_g)
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .where(Receipt.campaign_id == campaign_id, Receipt.producer_id == producer_id)
        .order_by(ReceiptLine.id)
    )
    return {(unit_id, item_id): (quantity, weight) for unit_id, item_id, quantity, weight in rows}


def producer_delivered(producer_id, campaign_id=None) -> dict[int, int]:
    """What a producer delivered, in fen, per campaign (campaign id → value): its goods at what buyers pay for them."""
    query = (
        sa.select(Receipt.campaign_id, sa.func.sum(ReceiptLine.value_change_fen))
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .where(Receipt.producer_id == producer_id)
        .group_by(Receipt.campaign_id)
    )
    if campaign_id is not None:
        query = query.where(Receipt.campaign_id == campaign_id)
    return {cid: int(value) for cid, value in db.session.execute(query)}


def income_replay(producer_id, campaign_id=None) -> list[dict]:
    """A household's (or cooperative's) delivered income, entry by entry, with the running total: the audit.

    Each entry: when, who recorded it, why, the campaign, unit and item, the figures stated and their change.
    """
    query = (
        sa.select(ReceiptLine, Receipt, CampaignItem.title, CampaignItem.unit, Campaign.title.label("campaign_title"))
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .join(CampaignItem, CampaignItem.id == ReceiptLine.item_id)
        .join(Campaign, Campaign.id == Receipt.campaign_id)
        .join(Allocation, Allocation.id == ReceiptLine.allocation_id)
        .where(Receipt.producer_id == producer_id)
        .order_by(Receipt.recorded_at, ReceiptLine.id)
    )
    if campaign_id is not None:
        query = query.where(Receipt.campaign_id == campaign_id)
    total = 0
    replay = []
    for line, receipt, title, sale_unit, campaign_title in db.session.execute(query):
        total += line.value_change_fen
        replay.append(
            {
                "recorded_at": receipt.recorded_at,
                "recorded_by_id": receipt.recorded_by_id,
                "kind": receipt.kind,
                "reason": receipt.reason,
                "receipt_id": receipt.id,
                "campaign_id": receipt.campaign_id,
                "campaign_title": campaign_title,
                "unit_id": receipt.unit_id,
                "item_id": line.item_id,
                "title": title,
                "unit": sale_unit,
                "quantity": line.quantity,
                "weight_g": line.weight_g,
                "value_fen": line.value_fen,
                "quantity_change": line.quantity_change,
                "weight_change_g": line.weight_change_g,
                "value_change_fen": line.value_change_fen,
                "total_fen": total,
            }
        )
    return replay
