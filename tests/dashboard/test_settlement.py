"""Settlement: producer statements, payouts never beyond what is due, money collected by units reconciled."""

import pytest
import sqlalchemy as sa

from dashboard import delivery, settlement
from dashboard.models import Payout
from errors import Conflict, ValidationFailed
from extensions import db
from notifications.models import Notification
from shop.models import Campaign


def statements_by_producer(campaign_id):
    return {s["producer"].id: s for s in settlement.producer_statements(campaign_id)}


def test_statements_before_delivery(sales_data):
    d = sales_data
    statements = statements_by_producer(d.camp_a.id)
    assert set(statements) == {d.p1.id, d.p2.id, d.p3.id, d.p4.id}
    p1 = statements[d.p1.id]
    assert p1["items"] == [
        {
            "item_id": d.a_chicken.id,
            "title": "雪毛鸡",
            "unit": "只",
            "unit_price_fen": 9800,
            "allocated": 2,
            "delivered": 0,
            "allocated_fen": 19600,
            "due_fen": 0,
        }
    ]
    assert (p1["allocated_fen"], p1["due_fen"], p1["paid_fen"], p1["balance_fen"]) == (19600, 0, 0, 0)


def test_due_follows_what_was_delivered(sales_data, operator):
    d = sales_data
    delivery.mark_delivered(operator, d.camp_a.id, d.u1.id, d.p3.id)  # P3's 40 eggs to 工会, not its 10 to 妇联
    p3 = statements_by_producer(d.camp_a.id)[d.p3.id]
    assert (p3["items"][0]["allocated"], p3["items"][0]["delivered"]) == (50, 40)
    assert (p3["allocated_fen"], p3["due_fen"], p3["balance_fen"]) == (7500, 6000, 6000)


def test_payout_is_recorded_and_the_producer_told(sales_data, operator):
    d = sales_data
    delivery.mark_delivered(operator, d.camp_a.id, d.u1.id)
    payout = settlement.record_payout(operator, d.camp_a.id, d.p1.id, 10000, "transfer", reference="ZH20260310-01")
    assert (payout.amount_fen, payout.method, payout.recorded_by_id) == (10000, "transfer", operator.id)
    p1 = statements_by_producer(d.camp_a.id)[d.p1.id]
    assert (p1["due_fen"], p1["paid_fen"], p1["balance_fen"]) == (19600, 10000, 9600)
    told = db.session.scalars(
        sa.select(Notification).where(Notification.producer_id == d.p1.id, Notification.kind == "payout")
    ).all()
    assert {n.channel for n in told} == {"inapp", "sms"}
    assert "¥100.00" in told[0].body


def test_payout_beyond_the_balance_is_refused_and_changes_nothing(sales_data, operator):
    d = sales_data
    with pytest.raises(ValidationFailed) as refused:
        settlement.record_payout(operator, d.camp_a.id, d.p1.id, 100, "cash")  # nothing delivered yet
    assert "amount_fen" in refused.value.fields
    delivery.mark_delivered(operator, d.camp_a.id, d.u1.id)
    with pytest.raises(ValidationFailed):
        settlement.record_payout(operator, d.camp_a.id, d.p1.id, 19601, "cash")
    with pytest.raises(ValidationFailed) as bad:
        settlement.record_payout(operator, d.camp_a.id, d.p1.id, 0, "cheque")
    assert set(bad.value.fields) == {"amount_fen", "method"}
    with pytest.raises(Conflict):
        settlement.record_payout(operator, d.camp_b.id, d.p6.id, 100, "cash")  # not pooled
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payout)) == 0


def test_campaign_settles_when_everything_is_delivered_and_paid(sales_data, operator):
    d = sales_data
    delivery.mark_delivered(operator, d.camp_a.id, d.u1.id)
    delivery.mark_delivered(operator, d.camp_a.id, d.u2.id)
    for producer, amount in ((d.p1, 19600), (d.p2, 9800), (d.p3, 7500)):
        settlement.record_payout(operator, d.camp_a.id, producer.id, amount, "transfer")
    assert db.session.get(Campaign, d.camp_a.id).status == "delivered"
    settlement.record_payout(operator, d.camp_a.id, d.p4.id, 7500, "cash")
    assert db.session.get(Campaign, d.camp_a.id).status == "settled"


def test_reconciliation_per_unit(sales_data):
    d = sales_data
    data = settlement.reconciliation(d.camp_a.id)
    units = {u["name"]: u for u in data["units"]}
    # 工会: o1 24100 (unpaid), o2 9800 (paid in cash), o5 1500 (unpaid). 妇联: o3 9000 (paid); o4 is cancelled.
    assert (
        units["乐昌市总工会"]["owed_fen"],
        units["乐昌市总工会"]["collected_fen"],
        units["乐昌市总工会"]["outstanding_fen"],
    ) == (35400, 9800, 25600)
    assert (units["乐昌市总工会"]["orders"], units["乐昌市总工会"]["paid_orders"]) == (3, 1)
    assert (units["乐昌市妇联"]["owed_fen"], units["乐昌市妇联"]["collected_fen"], units["乐昌市妇联"]["orders"]) == (
        9000,
        9000,
        1,
    )
    assert data["totals"]["owed_fen"] == 44400 == data["totals"]["allocated_fen"]
    assert all(check["ok"] for check in data["checks"])


def test_reconciliation_flags_allocations_that_do_not_match_sales(sales_data):
    d = sales_data
    d.alloc_p4.quantity = 49  # one egg lost between orders and allocation
    db.session.commit()
    checks = settlement.reconciliation(d.camp_a.id)["checks"]
    assert [c["ok"] for c in checks][0] is False and (checks[0]["left"], checks[0]["right"]) == (44400, 44250)


def test_settlement_page_records_a_payout(sales_data, operator, client, auth):
    d = sales_data
    delivery.mark_delivered(operator, d.camp_a.id, d.u2.id)
    auth.login(operator.phone)
    url = f"/dashboard/campaigns/{d.camp_a.id}/settlement"
    too_much = client.post(url, data={"producer_id": d.p4.id, "amount": "75.01", "method": "cash"})
    assert too_much.status_code == 422
    assert "尚欠" in too_much.get_data(as_text=True)
    done = client.post(url, data={"producer_id": d.p4.id, "amount": "75.00", "method": "cash", "reference": "收据 001"})
    assert done.status_code == 302
    page = client.get(url).get_data(as_text=True)
    assert "已记录付款" in page and "收据 001" in page
    statement = client.get(f"{url}/{d.p4.id}").get_data(as_text=True)
    assert 'id="balance">¥0.00<' in statement
