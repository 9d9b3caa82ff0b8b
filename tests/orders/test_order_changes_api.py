"""Changing and cancelling orders through the API: capacity moves by the difference, rows are kept, only while open, only by those allowed."""

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_campaign, make_item, make_listing, make_producer, make_user
from notifications.models import Notification
from orders.models import OrderLine


@pytest.fixture
def placed(api_as):
    """A buyer's order of 10 eggs and 1 chicken (limit 2) in an open campaign."""
    campaign = make_campaign()
    eggs = make_item(campaign, [(make_listing(quantity=100), 100)], title="鸡蛋", price_fen=150)
    chickens = make_item(campaign, [(make_listing(name="雪毛鸡", unit="只", price_fen=9800), 10)], per_buyer_limit=2)
    buyer = make_user()
    client = api_as(buyer)
    response = client.post(
        f"/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": eggs.id, "quantity": 10}, {"item_id": chickens.id, "quantity": 1}]},
    )
    assert response.status_code == 201
    return campaign, eggs, chickens, buyer, client, response.get_json()["id"]


def ordered(*items):
    db.session.expire_all()
    return tuple(item.ordered for item in items)


def test_changing_lines_moves_capacity_by_the_difference(placed):
    campaign, eggs, chickens, _buyer, client, order_id = placed
    response = client.patch(
        f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 4}, {"item_id": chickens.id, "quantity": 2}]}
    )
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["total_fen"] == 4 * 150 + 2 * 9800
    assert ordered(eggs, chickens) == (4, 2)
    # Taking an item out keeps its line, marked cancelled; the total counts only the rest.
    body = client.patch(f"/orders/{order_id}", json={"lines": [{"item_id": chickens.id, "quantity": 2}]}).get_json()
    assert [(line["item_id"], line["quantity"], line["cancelled"]) for line in body["lines"]] == [
        (eggs.id, 4, True),
        (chickens.id, 2, False),
    ]
    assert body["total_fen"] == 2 * 9800
    assert ordered(eggs, chickens) == (0, 2)
    # Putting it back reuses the line.
    body = client.patch(
        f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 7}, {"item_id": chickens.id, "quantity": 2}]}
    ).get_json()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(OrderLine)) == 2
    assert body["total_fen"] == 7 * 150 + 2 * 9800 and ordered(eggs, chickens) == (7, 2)
    kinds = db.session.scalars(
        sa.select(Notification.subject).where(Notification.kind == "order_changed", Notification.channel == "inapp")
    ).all()
    assert len(kinds) == 3


def test_sending_the_same_lines_again_changes_nothing(placed):
    _campaign, eggs, chickens, _buyer, client, order_id = placed
    lines = {"lines": [{"item_id": eggs.id, "quantity": 10}, {"item_id": chickens.id, "quantity": 1}]}
    assert client.patch(f"/orders/{order_id}", json=lines).status_code == 200
    assert ordered(eggs, chickens) == (10, 1)
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.kind == "order_changed")) == 0
    )


def test_a_change_beyond_what_is_left_or_the_limit_changes_nothing(placed):
    _campaign, eggs, chickens, _buyer, client, order_id = placed
    too_many = client.patch(f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 101}]})
    assert too_many.status_code == 409 and too_many.get_json()["error"]["code"] == "insufficient_stock"
    over_limit = client.patch(
        f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 1}, {"item_id": chickens.id, "quantity": 3}]}
    )
    assert over_limit.status_code == 409 and over_limit.get_json()["error"]["code"] == "limit_exceeded"
    assert ordered(eggs, chickens) == (10, 1)
    body = client.get(f"/orders/{order_id}").get_json()
    assert [(line["quantity"], line["cancelled"]) for line in body["lines"]] == [(10, False), (1, False)]


def test_a_change_to_nothing_or_to_bad_lines_is_refused(placed):
    _campaign, eggs, _chickens, _buyer, client, order_id = placed
    assert client.patch(f"/orders/{order_id}", json={"lines": []}).status_code == 422
    assert client.patch(f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 0}]}).status_code == 422
    other = make_item(make_campaign(), [(make_listing(), 5)])
    response = client.patch(f"/orders/{order_id}", json={"lines": [{"item_id": other.id, "quantity": 1}]})
    assert response.status_code == 422
    assert ordered(eggs) == (10,)


def test_cancelling_returns_capacity_and_keeps_the_rows(placed):
    _campaign, eggs, chickens, _buyer, client, order_id = placed
    response = client.post(f"/orders/{order_id}/cancel")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "cancelled" and body["total_fen"] == 0 and body["cancelled_at"]
    assert all(line["cancelled"] for line in body["lines"]) and len(body["lines"]) == 2
    assert ordered(eggs, chickens) == (0, 0)
    # Twice is the same as once.
    assert client.post(f"/orders/{order_id}/cancel").get_json()["status"] == "cancelled"
    assert ordered(eggs, chickens) == (0, 0)
    assert client.patch(f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 1}]}).status_code == 409
    assert (
        db.session.scalar(sa.select(sa.func.count()).select_from(Notification).where(Notification.kind == "order_cancelled")) == 2
    )


def test_the_limit_is_free_again_after_cancelling(placed):
    campaign, _eggs, chickens, _buyer, client, order_id = placed
    client.post(f"/orders/{order_id}/cancel")
    again = client.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": chickens.id, "quantity": 2}]})
    assert again.status_code == 201


def test_no_change_or_cancel_after_closing(placed):
    campaign, eggs, _chickens, _buyer, client, order_id = placed
    campaign.status = "closed"
    db.session.commit()
    change = client.patch(f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 1}]})
    cancel = client.post(f"/orders/{order_id}/cancel")
    assert (change.status_code, cancel.status_code) == (409, 409)
    assert {change.get_json()["error"]["code"], cancel.get_json()["error"]["code"]} == {"campaign_not_open"}
    assert ordered(eggs) == (10,)


def test_who_may_see_change_and_cancel(placed, api_as):
    _campaign, eggs, _chickens, buyer, _client, order_id = placed
    stranger = api_as(make_user())
    same_unit = api_as(make_user(unit=buyer.unit))
    coordinator = api_as(make_user(unit=buyer.unit, coordinator=True))
    other_coordinator = api_as(make_user(coordinator=True))
    operator = api_as(make_user(role="operator"))
    producer = api_as(make_user(role="producer", producer=make_producer()))
    for client in (stranger, same_unit, other_coordinator, producer):
        assert client.get(f"/orders/{order_id}").status_code == 404
        assert client.post(f"/orders/{order_id}/cancel").status_code in (403, 404)
    assert stranger.patch(f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 1}]}).status_code == 404
    assert operator.get(f"/orders/{order_id}").status_code == 200
    assert operator.patch(f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 1}]}).status_code == 403
    assert coordinator.patch(f"/orders/{order_id}", json={"lines": [{"item_id": eggs.id, "quantity": 2}]}).status_code == 200
    assert ordered(eggs) == (2,)
    assert operator.post(f"/orders/{order_id}/cancel").get_json()["status"] == "cancelled"


def test_my_orders_lists_only_mine(placed, api_as):
    campaign, eggs, _chickens, _buyer, client, order_id = placed
    other = api_as(make_user())
    other.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 1}]})
    page = client.get("/orders").get_json()
    assert page["total"] == 1 and page["items"][0]["id"] == order_id
    assert client.get(f"/orders?campaign_id={campaign.id + 1}").get_json()["total"] == 0
    assert api_as(make_user(role="operator")).get("/orders").get_json()["total"] == 2
