"""我的收入: a producer's earnings per campaign (allocated, delivered, refunded, due, paid, owed, due date, overdue),
payment terms, overdue payouts on the dashboard, the payout SMS, and payouts corrected by reversing entries."""

from datetime import timedelta

import sqlalchemy as sa

from dashboard import settlement
from dashboard.models import Payout
from database import local_today, utcnow
from delivery.models import Receipt
from earnings import services
from extensions import db
from factories import make_user
from notifications.models import Notification
from notifications.rendering import signed_sms


def _refund_two(d, api_as):
    claim = api_as(d.buyer).post(f"/orders/{d.order.id}/claims", json={"item_id": d.egg.id, "quantity": 2, "reason": "damaged"})
    decided = api_as(d.operator).post(f"/claims/{claim.get_json()['id']}/decide", json={"decision": "refund", "note": ""})
    assert decided.status_code == 200


def _producer_user(producer):
    return make_user(role="producer", producer=producer)


def test_a_producer_sees_what_it_earned(delivered, api_as):
    d = delivered
    _refund_two(d, api_as)  # 300 fen refunded: 180 borne by p1 (6 of 10 delivered), 120 by p2
    settlement.record_payout(d.operator, d.campaign.id, d.p1.id, 500, "transfer")
    response = api_as(_producer_user(d.p1)).get(f"/producers/{d.p1.id}/earnings")
    assert response.status_code == 200, response.get_json()
    [row] = response.get_json()["items"]
    assert row["campaign_id"] == d.campaign.id and row["title"] == d.campaign.title
    # Allocated: 6 eggs at 1.50 and 2 jin of ginger at 8.00; delivered: the 6 eggs.
    assert (row["allocated_fen"], row["delivered_fen"], row["refunded_fen"]) == (900 + 1600, 900, 180)
    assert (row["due_fen"], row["paid_fen"], row["owed_fen"]) == (720, 500, 220)
    assert row["due_on"] == (local_today() + timedelta(days=15)).isoformat()
    assert row["overdue"] is False


def test_past_the_terms_money_still_owed_is_overdue(delivered, api_as):
    d = delivered
    db.session.execute(sa.update(Receipt).values(recorded_at=utcnow() - timedelta(days=3)))
    db.session.commit()
    operator = api_as(d.operator)
    assert operator.put(f"/campaigns/{d.campaign.id}/payment-terms", json={"days": 2}).get_json()["days"] == 2
    [row] = operator.get(f"/producers/{d.p2.id}/earnings").get_json()["items"]
    assert row["overdue"] is True and row["owed_fen"] == 600
    assert sorted((r["producer_id"], r["owed_fen"]) for r in services.overdue_payouts()) == [(d.p1.id, 900), (d.p2.id, 600)]
    settlement.record_payout(d.operator, d.campaign.id, d.p2.id, 600, "cash")
    assert [r["producer_id"] for r in services.overdue_payouts()] == [d.p1.id]


def test_payment_terms_bad_input_and_roles(delivered, api_as):
    operator = api_as(delivered.operator)
    for days in (-1, 366, "5", 1.5):
        assert operator.put(f"/campaigns/{delivered.campaign.id}/payment-terms", json={"days": days}).status_code == 422
    assert db.session.get(type(delivered.campaign), delivered.campaign.id).payment_terms_days is None
    reset = operator.put(f"/campaigns/{delivered.campaign.id}/payment-terms", json={"days": None}).get_json()
    assert reset == {"campaign_id": delivered.campaign.id, "days": 15, "default": True}
    producer = api_as(_producer_user(delivered.p1))
    assert producer.put(f"/campaigns/{delivered.campaign.id}/payment-terms", json={"days": 3}).status_code == 403


def test_no_one_else_sees_a_producers_earnings(delivered, api_as):
    d = delivered
    assert api_as(_producer_user(d.p2)).get(f"/producers/{d.p1.id}/earnings").status_code == 404
    assert api_as(d.buyer).get(f"/producers/{d.p1.id}/earnings").status_code == 403
    cadre = make_user(role="cadre", town=d.p1.town)
    assert api_as(cadre).get(f"/producers/{d.p1.id}/earnings").status_code == 403


def test_my_income_page_and_own_statement(delivered, client, auth):
    d = delivered
    user = _producer_user(d.p1)
    auth.login(user.phone)
    page = client.get("/earnings/")
    assert page.status_code == 200 and d.campaign.title in page.get_data(as_text=True)
    assert client.get(f"/dashboard/campaigns/{d.campaign.id}/settlement/{d.p1.id}").status_code == 200
    assert client.get(f"/dashboard/campaigns/{d.campaign.id}/settlement/{d.p2.id}").status_code == 404
    assert client.get(f"/dashboard/campaigns/{d.campaign.id}/settlement").status_code == 403


def test_the_dashboard_flags_overdue_payouts(delivered, client, auth):
    db.session.execute(sa.update(Receipt).values(recorded_at=utcnow() - timedelta(days=20)))
    db.session.commit()
    auth.login(delivered.operator.phone)
    page = client.get("/dashboard/").get_data(as_text=True)
    assert 'id="overdue-payouts"' in page and delivered.p1.name in page


def test_a_payout_sms_is_self_contained_and_short(delivered):
    d = delivered
    d.campaign.title = "乐昌市2026年春季消费扶贫暨农产品产销对接专场活动"
    db.session.commit()
    payout = settlement.record_payout(d.operator, d.campaign.id, d.p1.id, 900, "transfer")
    sms = db.session.scalar(
        sa.select(Notification).where(Notification.subject == f"payout:{payout.id}", Notification.channel == "sms")
    )
    received = signed_sms(sms.body)  # what the phone shows: the channel adds the sender's signature
    assert len(received) <= 70 and "9.00" in received and "拼帮" in received
    assert received.count("拼帮") == 1 and "银行转账" in sms.body and "我的收入" in sms.body


def test_a_wrong_payout_is_reversed_by_an_entry_never_edited(delivered, api_as):
    d = delivered
    wrong = settlement.record_payout(d.operator, d.campaign.id, d.p1.id, 900, "cash")
    operator = api_as(d.operator)
    assert operator.post(f"/payouts/{wrong.id}/reverse", json={"reason": ""}).status_code == 422
    response = operator.post(f"/payouts/{wrong.id}/reverse", json={"reason": "付给了别的农户"})
    assert response.status_code == 201, response.get_json()
    reversal = response.get_json()
    assert reversal["amount_fen"] == -900 and reversal["reverses_id"] == wrong.id and reversal["reason"] == "付给了别的农户"
    assert operator.post(f"/payouts/{wrong.id}/reverse", json={"reason": "again"}).status_code == 409
    assert operator.post(f"/payouts/{reversal['id']}/reverse", json={"reason": "undo"}).status_code == 409
    assert db.session.get(Payout, wrong.id).amount_fen == 900  # the original entry stands
    [statement] = settlement.producer_statements(d.campaign.id, d.p1.id)
    assert statement["paid_fen"] == 0 and statement["balance_fen"] == 900
    settlement.record_payout(d.operator, d.campaign.id, d.p1.id, 900, "transfer")
    assert api_as(_producer_user(d.p1)).post(f"/payouts/{wrong.id}/reverse", json={"reason": "x"}).status_code == 403
