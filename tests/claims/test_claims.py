"""Claims through the API: filed within the deadline on delivered lines only, decided once by an operator; a refund
lowers the line's charge and what each producer is due. Bad input changes nothing."""

from datetime import timedelta

import sqlalchemy as sa
from delivered import build_delivered

from claims.models import Claim, ClaimRefund
from database import utcnow
from delivery.models import LineEntry
from extensions import db
from notifications.models import Notification


def _claim(api, d, **body):
    return api.post(f"/orders/{d.order.id}/claims", json={"item_id": d.egg.id, "quantity": 2, "reason": "damaged", **body})


def _counts():
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(Claim)),
        db.session.scalar(sa.select(sa.func.count()).select_from(LineEntry)),
        db.session.scalar(sa.select(sa.func.count()).select_from(ClaimRefund)),
    )


def _charged(line):
    return db.session.scalar(sa.select(sa.func.sum(LineEntry.charge_fen)).where(LineEntry.order_line_id == line.id))


def test_a_buyer_files_a_claim_and_the_producers_and_operators_are_told(delivered, api_as):
    response = _claim(api_as(delivered.buyer), delivered, note="三个破了")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "open" and body["quantity"] == 2 and body["reason"] == "damaged" and body["note"] == "三个破了"
    told = db.session.execute(
        sa.select(Notification.producer_id, Notification.user_id).where(
            Notification.kind == "claim_filed", Notification.channel == "inapp"
        )
    ).all()
    assert {producer for producer, _user in told if producer} == {delivered.p1.id, delivered.p2.id}
    assert delivered.operator.id in {user for _producer, user in told}


def test_the_coordinator_files_for_a_colleague_but_not_another_unit(delivered, api_as):
    assert _claim(api_as(delivered.coordinator), delivered).status_code == 201
    assert _claim(api_as(delivered.outsider), delivered).status_code == 404
    assert _claim(api_as(delivered.operator), delivered).status_code == 403


def test_no_more_than_delivered_less_already_claimed(delivered, api_as):
    api = api_as(delivered.buyer)
    assert _claim(api, delivered, quantity=7).status_code == 201
    before = _counts()
    response = _claim(api, delivered, quantity=4)
    assert response.status_code == 422
    assert "quantity" in response.get_json()["error"]["details"]["fields"]
    assert _counts() == before
    assert _claim(api, delivered, quantity=3).status_code == 201


def test_an_undelivered_line_or_a_late_claim_is_a_conflict(app, api_as):
    d = build_delivered(delivered_at=utcnow() - timedelta(days=3, minutes=1))
    api = api_as(d.buyer)
    late = _claim(api, d)
    assert late.status_code == 409
    undelivered = api.post(f"/orders/{d.order.id}/claims", json={"item_id": d.ginger.id, "quantity": 1, "reason": "short"})
    assert undelivered.status_code == 409
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Claim)) == 0


def test_bad_input_is_refused_and_changes_nothing(delivered, api_as):
    api = api_as(delivered.buyer)
    before = _counts()
    for body in ({"reason": "ugly"}, {"quantity": 0}, {"quantity": "2"}, {"note": "x" * 501}, {"producer_id": 999999}):
        assert _claim(api, delivered, **body).status_code == 422, body
    assert _counts() == before


def test_a_partial_refund_lowers_the_charge_and_is_shared_by_what_each_producer_delivered(delivered, api_as):
    claim_id = _claim(api_as(delivered.buyer), delivered, quantity=4).get_json()["id"]
    operator = api_as(delivered.operator)
    response = operator.post(f"/claims/{claim_id}/decide", json={"decision": "refund", "quantity": 3, "note": "退三个"})
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "refunded" and body["refund_quantity"] == 3 and body["refund_fen"] == 450
    # Six and four delivered: 450 fen shared 270 / 180.
    assert {r["producer_id"]: r["amount_fen"] for r in body["refunds"]} == {delivered.p1.id: 270, delivered.p2.id: 180}
    assert _charged(delivered.egg_line) == 1500 - 450
    told = db.session.scalar(sa.select(Notification).where(Notification.kind == "claim_decided", Notification.channel == "inapp"))
    assert told.user_id == delivered.buyer.id and "4.50" in told.body


def test_a_refund_named_to_one_producer_is_all_its(delivered, api_as):
    claim_id = _claim(api_as(delivered.buyer), delivered, quantity=2, producer_id=delivered.p2.id).get_json()["id"]
    body = api_as(delivered.operator).post(f"/claims/{claim_id}/decide", json={"decision": "refund", "note": ""}).get_json()
    assert body["refund_fen"] == 300
    assert body["refunds"] == [{"producer_id": delivered.p2.id, "amount_fen": 300}]


def test_one_decision_only_and_a_refund_above_the_charge_is_refused(delivered, api_as):
    claim_id = _claim(api_as(delivered.buyer), delivered, quantity=2).get_json()["id"]
    operator = api_as(delivered.operator)
    before = _counts()
    too_much = operator.post(f"/claims/{claim_id}/decide", json={"decision": "refund", "quantity": 3, "note": ""})
    assert too_much.status_code == 422
    no_reason = operator.post(f"/claims/{claim_id}/decide", json={"decision": "reject", "note": ""})
    assert no_reason.status_code == 422
    assert _counts() == before
    assert operator.post(f"/claims/{claim_id}/decide", json={"decision": "reject", "note": "照片看不出破损"}).status_code == 200
    again = operator.post(f"/claims/{claim_id}/decide", json={"decision": "refund", "note": ""})
    assert again.status_code == 409
    assert _charged(delivered.egg_line) == 1500
    # A rejected claim's pieces may be claimed again.
    assert _claim(api_as(delivered.buyer), delivered, quantity=10).status_code == 201


def test_only_operators_decide_and_replacements_move_no_money(delivered, api_as):
    claim_id = _claim(api_as(delivered.buyer), delivered).get_json()["id"]
    assert api_as(delivered.buyer).post(f"/claims/{claim_id}/decide", json={"decision": "refund", "note": ""}).status_code == 403
    body = (
        api_as(delivered.operator).post(f"/claims/{claim_id}/decide", json={"decision": "replace", "note": "下周补送"}).get_json()
    )
    assert body["status"] == "replaced" and body["refund_fen"] is None
    assert _charged(delivered.egg_line) == 1500


def test_partial_refunds_add_up_to_the_whole_charge(app, api_as):
    d = build_delivered()
    # Ten pieces charged 10 yuan in all (as a weighed charge might be): refunds of 3, 3 and 4 must add up to it.
    first, second = db.session.scalars(
        sa.select(LineEntry).where(LineEntry.order_line_id == d.egg_line.id).order_by(LineEntry.id)
    )
    first.charge_fen, second.charge_fen = 601, 399
    db.session.commit()
    buyer, operator = api_as(d.buyer), api_as(d.operator)
    refunded = 0
    for quantity in (3, 3, 4):
        claim_id = _claim(buyer, d, quantity=quantity).get_json()["id"]
        refunded += operator.post(f"/claims/{claim_id}/decide", json={"decision": "refund", "note": ""}).get_json()["refund_fen"]
    assert refunded == 1000 and _charged(d.egg_line) == 0


def test_the_queue_and_the_order_list_claims(delivered, api_as):
    claim_id = _claim(api_as(delivered.buyer), delivered).get_json()["id"]
    queue = api_as(delivered.operator).get("/claims").get_json()["items"]
    assert [c["id"] for c in queue] == [claim_id]
    assert [c["id"] for c in api_as(delivered.coordinator).get(f"/orders/{delivered.order.id}/claims").get_json()["items"]] == [
        claim_id
    ]
    assert api_as(delivered.outsider).get(f"/claims/{claim_id}").status_code == 404


def test_a_refund_lowers_what_the_settlement_says_each_producer_is_due(delivered, api_as):
    from dashboard.settlement import producer_statements

    before = {s["producer"].id: s for s in producer_statements(delivered.order.campaign_id)}
    claim_id = _claim(api_as(delivered.buyer), delivered, quantity=4).get_json()["id"]
    api_as(delivered.operator).post(f"/claims/{claim_id}/decide", json={"decision": "refund", "quantity": 3, "note": "退三个"})
    after = {s["producer"].id: s for s in producer_statements(delivered.order.campaign_id)}
    for producer, refund in ((delivered.p1.id, 270), (delivered.p2.id, 180)):
        assert after[producer]["delivered_fen"] == before[producer]["delivered_fen"]
        assert after[producer]["refunded_fen"] == refund
        assert after[producer]["due_fen"] == before[producer]["due_fen"] - refund
        assert after[producer]["balance_fen"] == before[producer]["balance_fen"] - refund
