"""``flask check-totals`` for delivery day: every delivered figure recomputed from the receipts and the entries.

A producer's figure (the sum of its receipt lines' changes) must equal what its latest receipt line states, and
every buyer line's delivery entries must add up to what the fair rule gives from the standing receipts.
"""

from collections import defaultdict

import sqlalchemy as sa

from delivery.models import Receipt, ReceiptLine
from delivery.resharing import Figures, buyer_lines, current_receipt_lines, delivery_sums, targets
from extensions import db
from shop.models import CampaignItem


def check_ledger(checker, campaign_id=None) -> None:
    """Compare every producer's and buyer's delivered figures with what the receipts say (into ``checker``)."""
    query = (
        sa.select(Receipt.campaign_id, Receipt.unit_id, Receipt.producer_id, ReceiptLine)
        .join(Receipt, Receipt.id == ReceiptLine.receipt_id)
        .order_by(ReceiptLine.id)
    )
    if campaign_id is not None:
        query = query.where(Receipt.campaign_id == campaign_id)
    sums = defaultdict(lambda: [0, 0, 0])
    latest = {}
    for cid, unit_id, producer_id, line in db.session.execute(query):
        key = (cid, unit_id, producer_id, line.item_id)
        total = sums[key]
        total[0] += line.quantity_change
        total[1] += line.weight_change_g
        total[2] += line.value_change_fen
        latest[key] = line
    for key, line in latest.items():
        cid, unit_id, producer_id, item_id = key
        name = f"unit {unit_id} producer {producer_id} item {item_id}"
        stated = [line.quantity, line.weight_g or 0, line.value_fen]
        checker.compare("receipts add up", cid, name, "quantity, weight_g, value_fen", stated, sums[key])
    for cid, unit_id, item_id in sorted({(k[0], k[1], k[3]) for k in latest}):
        item = db.session.get(CampaignItem, item_id)
        standing = list(current_receipt_lines(cid, unit_id, item_id).values())
        lines = buyer_lines(cid, unit_id, item_id)
        wanted = targets(item, standing, lines)
        found = delivery_sums([line.id for line in lines])
        for line in lines:
            checker.compare(
                "shares follow receipts",
                cid,
                f"order line {line.id}",
                "delivered, weight_g, charged_fen",
                wanted[line.id],
                found.get(line.id, Figures(0, 0, 0) if not wanted[line.id].quantity else None),
            )
