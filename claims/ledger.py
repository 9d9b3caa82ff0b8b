"""What claims refunded, per producer: the part of each refund that lowers what a producer is due."""

import sqlalchemy as sa

from claims.models import ClaimRefund
from extensions import db


def refunded_by_producer(campaign_id) -> dict:
    """{producer id: fen refunded to buyers for its goods in the campaign}."""
    rows = db.session.execute(
        sa.select(ClaimRefund.producer_id, sa.func.sum(ClaimRefund.amount_fen))
        .where(ClaimRefund.campaign_id == campaign_id)
        .group_by(ClaimRefund.producer_id)
    ).all()
    return {producer_id: int(total) for producer_id, total in rows}
