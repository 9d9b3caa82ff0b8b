"""After a receipt: a unit's item re-shared over every producer's current figures, written as line entries.

The targets (each buyer's delivered pieces, weight and charge) are computed afresh from the current receipt lines
by the pure rules of ``delivery.sharing``; each line then gets one entry holding the difference between its target
and the sum of its delivery entries so far. So entries only ever add up, and a correction is a new entry beside
the old ones. Entries of other kinds (a claim's refund) are never compared against, hence never undone.
"""

from dataclasses import dataclass

import sqlalchemy as sa
from flask_babel import gettext as _

from delivery.models import DELIVERY_ENTRY_KINDS, LineEntry, Receipt, ReceiptBag, ReceiptLine
from delivery.sharing import BuyerLine, charge_for_weight, share_shortfall, share_weight
from errors import ValidationFailed
from extensions import db
from orders.models import Order, OrderLine


@dataclass(frozen=True)
class Figures:
    quantity: int
    weight_g: int
    charge_fen: int


@dataclass
class LineChange:
    """What one receipt changed on one order line: its figures before (None: no entry yet) and after."""

    line: OrderLine
    before: Figures | None
    after: Figures


def current_receipt_lines(campaign_id, unit_id, item_id, producer_id=None) -> dict[int, ReceiptLine]:
    """The latest receipt line per producer (producer id → line) for an item at a unit: the figures that stand."""
    query = (
        sa.select(Receipt.producer_id, ReceiptLine)
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .where(Receipt.campaign_id == campaign_id, Receipt.unit_id == unit_id, ReceiptLine.item_id == item_id)
        .order_by(ReceiptLine.id)
    )
    if producer_id is not None:
        query = query.where(Receipt.producer_id == producer_id)
    return {producer: line for producer, line in db.session.execute(query)}


def buyer_lines(campaign_id, unit_id, item_id) -> list[OrderLine]:
    """The unit's live order lines of the item, earliest order first."""
    return db.session.scalars(
        sa.select(OrderLine)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.campaign_id == campaign_id,
            Order.unit_id == unit_id,
            Order.status != "cancelled",
            OrderLine.item_id == item_id,
            sa.not_(OrderLine.cancelled),
        )
        .order_by(Order.id, OrderLine.id)
    ).all()


def delivery_sums(line_ids) -> dict[int, Figures]:
    """Each line's delivery entries summed (only lines that have any)."""
    if not line_ids:
        return {}
    rows = db.session.execute(
        sa.select(
            LineEntry.order_line_id,
            sa.func.sum(LineEntry.quantity),
            sa.func.sum(LineEntry.weight_g),
            sa.func.sum(LineEntry.charge_fen),
        )
        .where(LineEntry.order_line_id.in_(sorted(line_ids)), LineEntry.kind.in_(DELIVERY_ENTRY_KINDS))
        .group_by(LineEntry.order_line_id)
    ).all()
    return {line_id: Figures(int(q), int(w), int(c)) for line_id, q, w, c in rows}


def _bag_weights(receipt_lines) -> dict[int, int]:
    ids = [line.id for line in receipt_lines]
    if not ids:
        return {}
    rows = db.session.execute(
        sa.select(ReceiptBag.order_line_id, sa.func.sum(ReceiptBag.weight_g))
        .where(ReceiptBag.receipt_line_id.in_(ids))
        .group_by(ReceiptBag.order_line_id)
    ).all()
    return {line_id: int(grams) for line_id, grams in rows}


def targets(item, standing: list[ReceiptLine], lines: list[OrderLine]) -> dict[int, Figures]:
    """Each buyer line's figures from the standing receipt lines of its item at its unit.

    :raises ValidationFailed: some deliveries weighed per person and others as a whole, or a bag weighed for
        someone who receives nothing of the item.
    """
    arrived = sum(line.quantity for line in standing)
    buyers = [BuyerLine(line.id, line.quantity, line.order_id) for line in lines]
    received = share_shortfall(arrived, buyers)
    weights = dict.fromkeys(received, 0)
    by_weight = item.price_per_kg_fen is not None
    delivered = [line for line in standing if line.quantity > 0]
    weighed = by_weight and all(line.weight_g is not None for line in delivered)
    if by_weight and weighed and delivered:
        bagged = [line for line in delivered if line.bags]
        if bagged and len(bagged) != len(delivered):
            raise ValidationFailed(
                _("Please correct the marked fields."),
                {"bags": [_("Weigh every delivery of this item the same way: each person's bag, or the whole.")]},
            )
        if bagged:
            weights.update(_bag_weights(bagged))
            empty = [line_id for line_id, grams in weights.items() if grams and not received[line_id]]
            if empty:
                raise ValidationFailed(
                    _("Please correct the marked fields."), {"bags": [_("A bag was weighed for someone who receives none.")]}
                )
        else:
            weights = share_weight(sum(line.weight_g for line in delivered), buyers, received)
    result = {}
    for line in lines:
        pieces = received[line.id]
        if weighed:
            charge = charge_for_weight(weights[line.id], item.price_per_kg_fen)
        else:
            # By the piece, or by weight before the weight is in: the pledged price of what was received.
            charge = pieces * line.price_fen
        result[line.id] = Figures(pieces, weights[line.id], charge)
    return result


def reshare(actor, receipt, item) -> list[LineChange]:
    """Write the entries that bring each of the unit's buyer lines of ``item`` to its new figures.

    :returns: the lines whose figures changed (or got their first entry).
    """
    standing = list(current_receipt_lines(receipt.campaign_id, receipt.unit_id, item.id).values())
    lines = buyer_lines(receipt.campaign_id, receipt.unit_id, item.id)
    wanted = targets(item, standing, lines)
    before = delivery_sums([line.id for line in lines])
    changes = []
    for line in lines:
        after, was = wanted[line.id], before.get(line.id)
        if was == after:
            continue
        base = was or Figures(0, 0, 0)
        db.session.add(
            LineEntry(
                order_line_id=line.id,
                kind=receipt.kind,
                receipt_id=receipt.id,
                quantity=after.quantity - base.quantity,
                weight_g=after.weight_g - base.weight_g,
                charge_fen=after.charge_fen - base.charge_fen,
                reason=receipt.reason,
                recorded_by_id=actor.id if actor else None,
                recorded_at=receipt.recorded_at,
            )
        )
        changes.append(LineChange(line, was, after))
    db.session.flush()
    return changes
