"""POST /api/v1/campaigns/{id}/receipts and the order's delivered and charged figures."""

import sqlalchemy as sa

from delivery.models import LineEntry, Receipt
from extensions import db


def count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def body(day, producer, lines, **kw):
    return {"producer_id": producer.id, "unit_id": day.u1.id, "lines": lines, **kw}


def test_a_receipt_and_the_orders_figures(day, api_as):
    coordinator = api_as(day.coordinator)
    before = api_as(day.a).get(f"/orders/{day.order_a.id}").get_json()
    assert [(line["delivered"], line["charged_fen"]) for line in before["lines"]] == [(None, 900), (None, 9000)]
    assert before["charged_fen"] == before["total_fen"] == 9900
    response = coordinator.post(
        f"/campaigns/{day.campaign.id}/receipts", json=body(day, day.p1, [{"item_id": day.egg.id, "quantity": 9}])
    )
    assert response.status_code == 201, response.get_json()
    receipt = response.get_json()
    assert (receipt["kind"], receipt["lines"][0]["quantity"], receipt["lines"][0]["value_fen"]) == ("receipt", 9, 1350)
    weighed = api_as(day.operator).post(
        f"/campaigns/{day.campaign.id}/receipts",
        json=body(day, day.p3, [{"item_id": day.chicken.id, "quantity": 3, "weight_kg": 4.5}]),
    )
    assert weighed.status_code == 201, weighed.get_json()
    after = api_as(day.a).get(f"/orders/{day.order_a.id}").get_json()
    assert [(line["delivered"], line["weight_g"], line["charged_fen"]) for line in after["lines"]] == [
        (5, None, 750),
        (2, 3000, 9000),
    ]
    assert after["charged_fen"] == 9750


def test_refusals_change_nothing(day, api_as):
    coordinator = api_as(day.coordinator)
    path = f"/campaigns/{day.campaign.id}/receipts"
    above = coordinator.post(path, json=body(day, day.p1, [{"item_id": day.egg.id, "quantity": 13}]))
    assert above.status_code == 422
    assert "lines.0.quantity" in above.get_json()["error"]["details"]["fields"]
    zero = coordinator.post(path, json=body(day, day.p3, [{"item_id": day.chicken.id, "quantity": 3, "weight_kg": 0}]))
    assert zero.status_code == 422
    far = coordinator.post(path, json=body(day, day.p3, [{"item_id": day.chicken.id, "quantity": 3, "weight_kg": "450"}]))
    assert far.status_code == 409 and far.get_json()["error"]["code"] == "weight_unconfirmed"
    other = api_as(day.other_coordinator).post(path, json=body(day, day.p1, [{"item_id": day.egg.id, "quantity": 9}]))
    assert other.status_code == 404
    buyer = api_as(day.a).post(path, json=body(day, day.p1, [{"item_id": day.egg.id, "quantity": 9}]))
    assert buyer.status_code == 403
    assert (count(Receipt), count(LineEntry)) == (0, 0)
    first = coordinator.post(path, json=body(day, day.p1, [{"item_id": day.egg.id, "quantity": 9}]))
    assert first.status_code == 201
    no_reason = coordinator.post(path, json=body(day, day.p1, [{"item_id": day.egg.id, "quantity": 10}]))
    assert no_reason.status_code == 422 and "reason" in no_reason.get_json()["error"]["details"]["fields"]
    corrected = coordinator.post(path, json=body(day, day.p1, [{"item_id": day.egg.id, "quantity": 10}], reason="数错了"))
    assert corrected.status_code == 201 and corrected.get_json()["kind"] == "correction"
    assert count(Receipt) == 2
