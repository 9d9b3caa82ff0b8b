"""Placing a pre-order through the API: the shape, exact money, idempotency, and every kind of bad input refused with nothing saved."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_campaign, make_item, make_listing, make_producer, make_unit, make_user
from notifications.models import Notification
from orders.models import Order, OrderLine
from shop.models import CampaignItem


def counts():
    db.session.expire_all()
    orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order))
    lines = db.session.scalar(sa.select(sa.func.count()).select_from(OrderLine))
    ordered = db.session.scalar(sa.select(sa.func.coalesce(sa.func.sum(CampaignItem.ordered), 0)))
    return orders, lines, ordered


@pytest.fixture
def shop():
    """An open campaign with eggs (150 fen, 2 households pooled) and chickens (9800 fen, limit 2 a person)."""
    campaign = make_campaign()
    eggs = make_item(
        campaign, [(make_listing(quantity=500), 300), (make_listing(quantity=500), 200)], title="土鸡蛋", price_fen=150
    )
    chickens = make_item(
        campaign,
        [(make_listing(name="雪毛鸡", unit="只", price_fen=9800, quantity=50, unit_weight_g=1500), 20)],
        per_buyer_limit=2,
    )
    buyer = make_user(email="zhang@example.cn")
    return campaign, eggs, chickens, buyer


def test_a_buyer_places_a_pre_order(api_as, shop):
    campaign, eggs, chickens, buyer = shop
    response = api_as(buyer).post(
        f"/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": eggs.id, "quantity": 30}, {"item_id": chickens.id, "quantity": 2}], "note": "放门卫室"},
        headers={"Idempotency-Key": "k-1"},
    )
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["status"] == "placed"
    assert body["total_fen"] == 30 * 150 + 2 * 9800
    assert [(line["item_id"], line["quantity"], line["price_fen"]) for line in body["lines"]] == [
        (eggs.id, 30, 150),
        (chickens.id, 2, 9800),
    ]
    assert body["buyer_phone"] == buyer.phone and body["unit_id"] == buyer.unit_id and body["note"] == "放门卫室"
    db.session.expire_all()
    assert (eggs.ordered, chickens.ordered) == (30, 2)
    # The confirmation waits in the outbox, once per channel the buyer has, in Chinese.
    rows = db.session.scalars(sa.select(Notification).where(Notification.kind == "order_confirmed")).all()
    assert {row.channel for row in rows} == {"inapp", "sms", "email"}
    assert rows[0].title == f"预订单 {body['number']} 已确认" and "土鸡蛋 × 30个；雪毛鸡 × 2只。合计 ¥241.00" in rows[0].body


def test_the_price_is_snapshotted_per_line(api_as, shop):
    campaign, eggs, _chickens, buyer = shop
    order_id = (
        api_as(buyer)
        .post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 3}]})
        .get_json()["id"]
    )
    eggs.price_fen = 999
    db.session.commit()
    body = api_as(buyer).get(f"/orders/{order_id}").get_json()
    assert body["lines"][0]["price_fen"] == 150 and body["total_fen"] == 450


def test_the_same_key_and_body_returns_the_first_order(api_as, shop):
    campaign, eggs, _chickens, buyer = shop
    client = api_as(buyer)
    body = {"lines": [{"item_id": eggs.id, "quantity": 5}]}
    first = client.post(f"/campaigns/{campaign.id}/orders", json=body, headers={"Idempotency-Key": "abc"})
    again = client.post(f"/campaigns/{campaign.id}/orders", json=body, headers={"Idempotency-Key": "abc"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json() == first.get_json()
    assert counts() == (1, 1, 5)


def test_the_same_key_with_another_body_is_a_conflict(api_as, shop):
    campaign, eggs, _chickens, buyer = shop
    client = api_as(buyer)
    client.post(
        f"/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": eggs.id, "quantity": 5}]},
        headers={"Idempotency-Key": "abc"},
    )
    other = client.post(
        f"/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": eggs.id, "quantity": 6}]},
        headers={"Idempotency-Key": "abc"},
    )
    assert other.status_code == 409
    assert other.get_json()["error"]["code"] == "idempotency_conflict"
    assert other.get_json()["error"]["message"] == "此幂等键已用于另一笔订单。"
    assert counts() == (1, 1, 5)


def test_a_key_is_per_user_and_a_retry_after_closing_still_gets_the_order(api_as, shop):
    campaign, eggs, _chickens, buyer = shop
    colleague = make_user(unit=buyer.unit)
    body = {"lines": [{"item_id": eggs.id, "quantity": 5}]}
    first = api_as(buyer).post(f"/campaigns/{campaign.id}/orders", json=body, headers={"Idempotency-Key": "same"})
    second = api_as(colleague).post(f"/campaigns/{campaign.id}/orders", json=body, headers={"Idempotency-Key": "same"})
    assert (first.status_code, second.status_code) == (201, 201)
    campaign.status = "closed"
    db.session.commit()
    retry = api_as(buyer).post(f"/campaigns/{campaign.id}/orders", json=body, headers={"Idempotency-Key": "same"})
    assert retry.status_code == 200 and retry.get_json()["id"] == first.get_json()["id"]


def test_an_idempotency_key_too_long_is_refused(api_as, shop):
    campaign, eggs, _chickens, buyer = shop
    response = api_as(buyer).post(
        f"/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": eggs.id, "quantity": 1}]},
        headers={"Idempotency-Key": "x" * 81},
    )
    assert response.status_code == 422 and "Idempotency-Key" in response.get_json()["error"]["details"]["fields"]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "quantity,message",
    [
        (0, "第 1 行：数量须为不小于 1 的整数。"),
        (-3, "第 1 行：数量须为不小于 1 的整数。"),
        (10**12, "第 1 行：一次最多 10000。"),
    ],
)
def test_zero_negative_and_huge_quantities_are_refused(api_as, shop, quantity, message):
    campaign, eggs, _chickens, buyer = shop
    response = api_as(buyer).post(
        f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": quantity}]}
    )
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "validation_error"
    assert error["details"]["fields"]["lines"] == [message]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize("quantity", ["3", 2.5, None, True, [1]])
def test_quantities_that_are_not_integers_are_refused(api_as, shop, quantity):
    campaign, eggs, _chickens, buyer = shop
    response = api_as(buyer).post(
        f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": quantity}]}
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"lines": []},
        {"lines": "eggs"},
        {"lines": [{"item_id": 1}]},
        {"lines": [{"quantity": 1}]},
        [1, 2],
        {"lines": [], "extra": 1},
    ],
)
def test_malformed_bodies_are_refused(api_as, shop, body):
    campaign, _eggs, _chickens, buyer = shop
    response = api_as(buyer).post(f"/campaigns/{campaign.id}/orders", json=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "validation_error"
    assert counts() == (0, 0, 0)


def test_a_body_that_is_not_json_is_refused(api_as, shop):
    campaign, _eggs, _chickens, buyer = shop
    client = api_as(buyer)
    response = client.post(f"/campaigns/{campaign.id}/orders", data="{lines: ", content_type="application/json")
    assert response.status_code in (400, 422)
    assert response.get_json()["error"]["code"] in ("bad_request", "validation_error")
    assert counts() == (0, 0, 0)


def test_unknown_items_and_another_campaigns_items_are_refused(api_as, shop):
    campaign, eggs, _chickens, buyer = shop
    other = make_item(make_campaign(title="另一场"), [(make_listing(), 10)])
    response = api_as(buyer).post(
        f"/campaigns/{campaign.id}/orders",
        json={
            "lines": [
                {"item_id": eggs.id, "quantity": 1},
                {"item_id": other.id, "quantity": 1},
                {"item_id": 99999, "quantity": 1},
            ]
        },
    )
    assert response.status_code == 422
    assert response.get_json()["error"]["details"]["fields"]["lines"] == [
        f"商品 {other.id} 属于另一场活动。",
        "没有编号为 99999 的商品。",
    ]
    assert counts() == (0, 0, 0)


@pytest.mark.parametrize(
    "opens_in,closes_in,status,fragment",
    [
        (timedelta(hours=2), timedelta(days=1), "published", "开始接受预订"),
        (timedelta(days=-2), timedelta(minutes=-1), "published", "已于"),
        (timedelta(days=-2), timedelta(days=1), "closed", "已于"),
    ],
)
def test_a_campaign_not_yet_open_or_already_closed_takes_no_order(api_as, opens_in, closes_in, status, fragment):
    campaign = make_campaign(opens_in=opens_in, closes_in=closes_in, status=status)
    item = make_item(campaign, [(make_listing(), 10)])
    response = api_as(make_user()).post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": item.id, "quantity": 1}]})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "campaign_not_open" and fragment in error["message"]
    assert counts() == (0, 0, 0)


def test_a_draft_campaign_is_not_found(api_as):
    campaign = make_campaign(status="draft")
    item = make_item(campaign, [(make_listing(), 10)])
    response = api_as(make_user()).post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": item.id, "quantity": 1}]})
    assert response.status_code == 404 and response.get_json()["error"]["code"] == "not_found"


def test_a_unit_that_is_not_eligible_cannot_order(api_as):
    union, federation = make_unit(name="总工会"), make_unit(name="妇联")
    campaign = make_campaign(units=[union])
    item = make_item(campaign, [(make_listing(), 10)])
    outsider = api_as(make_user(unit=federation)).post(
        f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": item.id, "quantity": 1}]}
    )
    assert outsider.status_code == 403
    assert outsider.get_json()["error"] == {"code": "forbidden", "message": "此活动不对您所在的单位开放。", "details": {}}
    insider = api_as(make_user(unit=union)).post(
        f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": item.id, "quantity": 1}]}
    )
    assert insider.status_code == 201
    assert counts() == (1, 1, 1)


def test_not_enough_left_is_insufficient_stock_and_nothing_is_reserved(api_as, shop):
    campaign, eggs, chickens, buyer = shop
    response = api_as(buyer).post(
        f"/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": chickens.id, "quantity": 1}, {"item_id": eggs.id, "quantity": 501}]},
    )
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "insufficient_stock"
    assert error["message"] == "土鸡蛋只剩 500 个。"
    assert error["details"] == {"item_id": eggs.id, "remaining": 500}
    assert counts() == (0, 0, 0)  # the chicken reserved first was released with the rest


def test_a_sold_out_item_says_so(api_as, shop):
    campaign, eggs, _chickens, buyer = shop
    assert (
        api_as(buyer)
        .post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 500}]})
        .status_code
        == 201
    )
    response = api_as(make_user()).post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 1}]})
    assert response.get_json()["error"]["message"] == "土鸡蛋已售罄。"


def test_the_per_buyer_limit_counts_earlier_orders(api_as, shop):
    campaign, _eggs, chickens, buyer = shop
    client = api_as(buyer)
    assert (
        client.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": chickens.id, "quantity": 1}]}).status_code
        == 201
    )
    response = client.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": chickens.id, "quantity": 2}]})
    assert response.status_code == 409
    error = response.get_json()["error"]
    assert error["code"] == "limit_exceeded"
    assert error["message"] == "雪毛鸡每人限购 2 只，您还可以订 1 只。"
    assert (
        client.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": chickens.id, "quantity": 1}]}).status_code
        == 201
    )
    assert counts() == (2, 2, 2)


def test_the_same_item_twice_in_one_order_is_added_up(api_as, shop):
    campaign, _eggs, chickens, buyer = shop
    response = api_as(buyer).post(
        f"/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": chickens.id, "quantity": 2}, {"item_id": chickens.id, "quantity": 1}]},
    )
    assert response.get_json()["error"]["code"] == "limit_exceeded"


@pytest.mark.parametrize("role", ["operator", "producer"])
def test_only_buyers_place_orders(api_as, shop, role):
    campaign, eggs, _chickens, _buyer = shop
    user = make_user(role=role, producer=make_producer() if role == "producer" else None)
    response = api_as(user).post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 1}]})
    assert response.status_code == 403


def test_ordering_needs_a_token(api, shop):
    campaign, eggs, _chickens, _buyer = shop
    assert api.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 1}]}).status_code == 401


def test_a_coordinator_orders_for_a_colleague_without_an_account(api_as, shop):
    campaign, eggs, chickens, buyer = shop
    coordinator = make_user(unit=buyer.unit, coordinator=True)
    body = {"lines": [{"item_id": chickens.id, "quantity": 2}], "buyer_name": "陈老师", "buyer_phone": "139 0000 7777"}
    response = api_as(coordinator).post(f"/campaigns/{campaign.id}/orders", json=body)
    assert response.status_code == 201
    order = response.get_json()
    assert (order["buyer_name"], order["buyer_phone"], order["source"], order["user_id"]) == (
        "陈老师",
        "13900007777",
        "coordinator",
        None,
    )
    assert order["placed_by_id"] == coordinator.id and order["unit_id"] == buyer.unit_id
    # One order a person: a second one for the same colleague names the first instead.
    again = api_as(coordinator).post(
        f"/campaigns/{campaign.id}/orders", json={**body, "lines": [{"item_id": chickens.id, "quantity": 1}]}
    )
    assert again.status_code == 409
    assert again.get_json()["error"]["code"] == "already_ordered"
    assert again.get_json()["error"]["details"] == {"order_id": order["id"]}
    assert again.get_json()["error"]["message"] == f"陈老师在本次活动中已有订单 {order['id']}，请修改该订单。"
    # The limit belongs to the colleague (by phone), not to the coordinator.
    more = api_as(coordinator).patch(f"/orders/{order['id']}", json={"lines": [{"item_id": chickens.id, "quantity": 3}]})
    assert more.get_json()["error"]["code"] == "limit_exceeded"
    mine = api_as(coordinator).post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": chickens.id, "quantity": 2}]})
    assert mine.status_code == 201
    plain = api_as(buyer).post(f"/campaigns/{campaign.id}/orders", json=body)
    assert plain.status_code == 403


def test_ids_too_large_for_the_database_are_just_not_found(api_as, shop):
    campaign, eggs, _chickens, buyer = shop
    client = api_as(buyer)
    huge = 2**63
    assert client.post(f"/campaigns/{huge}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 1}]}).status_code == 404
    response = client.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": huge, "quantity": 1}]})
    assert response.status_code == 422 and response.get_json()["error"]["details"]["fields"]["lines"] == ["第 1 行：商品无效。"]
    assert client.get(f"/orders/{huge}").status_code == 404
    assert client.get(f"/orders?campaign_id={huge}").status_code == 200
    assert client.get(f"/campaigns/{huge}").status_code == 404
    assert counts() == (0, 0, 0)


def test_the_answer_to_a_new_order_is_the_order_as_read_back(api_as, shop):
    campaign, eggs, chickens, buyer = shop
    client = api_as(buyer)
    lines = [{"item_id": chickens.id, "quantity": 1}, {"item_id": eggs.id, "quantity": 12}]
    placed = client.post(f"/campaigns/{campaign.id}/orders", json={"lines": lines, "note": "下午送"})
    assert placed.status_code == 201
    assert placed.get_json() == client.get(f"/orders/{placed.get_json()['id']}").get_json()
    plain = client.post(f"/campaigns/{campaign.id}/orders", json={"lines": [{"item_id": eggs.id, "quantity": 1}]})
    assert plain.status_code == 201 and plain.get_json()["note"] is None
    assert plain.get_json() == client.get(f"/orders/{plain.get_json()['id']}").get_json()
