"""A buyer's payment is a flag (the current state) and a trail of entries: each mark and each undo, with who, when,
why and the amount, so what a unit had collected last week can be told again today."""

from datetime import timedelta

import sqlalchemy as sa

from database import utcnow
from extensions import db
from factories import make_order
from units import payments
from units.models import PaymentEntry


def test_each_change_of_a_payment_is_an_entry(shop, api_as):
    order = make_order(shop.campaign, [(shop.eggs, 10)], user=shop.buyer)
    client = api_as(shop.coordinator)
    assert client.post(f"/orders/{order.id}/payment", json={"method": "cash"}).status_code == 200
    assert client.post(f"/orders/{order.id}/payment", json={"method": "cash"}).status_code == 200  # no second entry
    assert client.post(f"/orders/{order.id}/payment", json={"method": "transfer", "reason": "其实是转账"}).status_code == 200
    undone = client.delete(f"/orders/{order.id}/payment?reason=记错了人")
    assert undone.get_json()["payment_status"] == "unpaid"
    history = client.get(f"/orders/{order.id}/payments").get_json()["items"]
    assert [(e["status"], e["method"], e["amount_fen"], e["reason"]) for e in history] == [
        ("paid", "cash", 1500, None),
        ("unpaid", "cash", -1500, "其实是转账"),
        ("paid", "transfer", 1500, "其实是转账"),
        ("unpaid", "transfer", -1500, "记错了人"),
    ]
    assert {e["actor_id"] for e in history} == {shop.coordinator.id}
    assert payments.collected_fen([order.id]) == 0
    assert api_as(shop.other_coordinator).get(f"/orders/{order.id}/payments").status_code == 404


def test_what_was_collected_on_a_past_day_can_be_told_again(shop):
    order = make_order(shop.campaign, [(shop.eggs, 4)], user=shop.buyer)
    payments.record_payment(shop.coordinator, order.id, "cash")
    week_ago = utcnow() - timedelta(days=7)
    db.session.execute(sa.update(PaymentEntry).values(at=week_ago))
    db.session.commit()
    payments.clear_payment(shop.coordinator, order.id, reason="退回")
    assert payments.collected_fen([order.id], until=week_ago + timedelta(seconds=1)) == 600
    assert payments.collected_fen([order.id]) == 0


def test_a_bad_reason_changes_nothing(shop, api_as):
    order = make_order(shop.campaign, [(shop.eggs, 4)], user=shop.buyer)
    client = api_as(shop.coordinator)
    assert client.post(f"/orders/{order.id}/payment", json={"method": "cash", "reason": "x" * 256}).status_code == 422
    assert db.session.scalar(sa.select(sa.func.count()).select_from(PaymentEntry)) == 0
    assert db.session.get(type(order), order.id).payment_status == "unpaid"
