"""Orders carry a number people can read and say (C12-0042): on pages, in messages and the API, and it finds the order."""

import sqlalchemy as sa

from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_user
from notifications.models import Notification
from orders.models import order_number, parse_order_number


def test_the_number_is_the_campaign_then_the_order():
    assert order_number(12, 42) == "C12-0042"
    assert order_number(3, 123456) == "C3-123456"
    assert parse_order_number(" c12-0042 ") == (12, 42)
    assert parse_order_number("12-42") == (12, 42)
    assert parse_order_number("42") is None and parse_order_number("C12-") is None and parse_order_number(None) is None


def _shop():
    campaign = make_campaign(title="春季消费扶贫")
    item = make_item(campaign, [(make_listing(name="雪毛鸡", unit="只", price_fen=9800), 20)])
    buyer, other = make_user(name="王芳"), make_user(name="张伟")
    order = make_order(campaign, [(item, 2)], user=buyer)
    hidden = make_order(campaign, [(item, 1)], user=other)
    db.session.commit()
    return campaign, item, buyer, order, hidden


def test_pages_show_the_number_and_a_number_finds_the_order(app, client, auth):
    campaign, _item, buyer, order, hidden = _shop()
    auth.login(buyer.phone)
    mine = client.get("/orders/").get_data(as_text=True)
    assert f"订单 {order.number}" in mine and f"C{campaign.id}-" in order.number
    assert order.number in client.get(f"/orders/{order.id}").get_data(as_text=True)
    found = client.get(f"/orders/?number={order.number.lower()}")
    assert found.status_code == 302 and found.headers["Location"].endswith(f"/orders/{order.id}")
    # Someone else's order, or a number whose campaign does not match, finds nothing and says so.
    for number in (hidden.number, f"C{campaign.id + 1}-{order.id}"):
        page = client.get(f"/orders/?number={number}", follow_redirects=True).get_data(as_text=True)
        assert f"没有您可查看的订单 {number}" in page


def test_the_api_keeps_the_id_and_adds_the_number(app, api_as):
    _campaign, _item, buyer, order, _hidden = _shop()
    body = api_as(buyer).get(f"/orders/{order.id}").get_json()
    assert (body["id"], body["number"]) == (order.id, order.number)


def test_the_confirmation_message_names_the_number(app, api_as):
    campaign, item, buyer, _order, _hidden = _shop()
    response = api_as(buyer).post(
        f"/campaigns/{campaign.id}/orders",
        json={"lines": [{"item_id": item.id, "quantity": 1}]},
        headers={"Idempotency-Key": "k1"},
    )
    assert response.status_code == 201, response.get_json()
    number = response.get_json()["number"]
    rows = db.session.scalars(sa.select(Notification).where(Notification.kind == "order_confirmed")).all()
    assert {row.channel for row in rows} == {"inapp", "sms"}
    assert all(number in (row.title if row.channel == "inapp" else row.body) for row in rows)
