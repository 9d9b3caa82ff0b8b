"""Receipts at the same moment, on SQLite and on PostgreSQL in the same run, real threads: never counted twice."""

from collections import Counter

import sqlalchemy as sa
from delivery_day import build_delivery_day

from accounts.services import issue_token
from delivery.models import LineEntry, Receipt, ReceiptLine
from extensions import db
from orders.models import OrderLine
from racing import run_at_once


def post_receipt(app, token, campaign_id, body):
    def job():
        response = app.test_client().post(
            f"/api/v1/campaigns/{campaign_id}/receipts", json=body, headers={"Authorization": f"Bearer {token}"}
        )
        return response.status_code

    return job


def egg_figures(day):
    db.session.expire_all()
    stated = db.session.scalar(sa.select(sa.func.sum(ReceiptLine.quantity_change)).where(ReceiptLine.item_id == day.egg.id))
    handed = db.session.scalar(
        sa.select(sa.func.sum(LineEntry.quantity))
        .join(OrderLine, OrderLine.id == LineEntry.order_line_id)
        .where(OrderLine.item_id == day.egg.id)
    )
    return stated, handed


def test_the_same_receipt_sent_at_once_counts_once(backend_app):
    day = build_delivery_day()
    tokens = [issue_token(day.coordinator), issue_token(day.operator)] * 3
    body = {"producer_id": day.p1.id, "unit_id": day.u1.id, "lines": [{"item_id": day.egg.id, "quantity": 9}]}
    db.session.commit()
    jobs = iter([post_receipt(backend_app, token, day.campaign.id, body) for token in tokens])
    results, errors = run_at_once(backend_app, lambda: next(jobs)(), times=len(tokens))
    assert not errors
    assert Counter(results) == {201: 1, 409: 5}
    assert egg_figures(day) == (9, 9)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Receipt)) == 1


def test_a_receipt_and_a_correction_at_once_leave_one_consistent_story(backend_app):
    day = build_delivery_day()
    token = issue_token(day.operator)
    db.session.commit()
    bodies = [
        {"producer_id": day.p1.id, "unit_id": day.u1.id, "lines": [{"item_id": day.egg.id, "quantity": q}], "reason": "点数"}
        for q in (7, 8, 9, 10, 11, 12)
    ]
    jobs = iter([post_receipt(backend_app, token, day.campaign.id, body) for body in bodies])
    results, errors = run_at_once(backend_app, lambda: next(jobs)(), times=len(bodies))
    assert not errors and set(results) == {201}
    # Whatever order they ran in, the producer's figure and the buyers' shares both add up to the last one's.
    db.session.expire_all()
    last = db.session.scalars(sa.select(ReceiptLine).order_by(ReceiptLine.id.desc())).first()
    assert egg_figures(day) == (last.quantity, last.quantity)
