"""My orders on a phone: the list, an order, changing it and cancelling it until closing time."""

import pytest
import sqlalchemy as sa

from extensions import db
from factories import make_campaign, make_item, make_listing, make_user
from orders.models import Order
from orders.services import place_order


def page(response):
    return response.get_data(as_text=True)


@pytest.fixture
def order(client, auth):
    campaign = make_campaign(title="乐昌冬季助农")
    eggs = make_item(campaign, [(make_listing(quantity=100), 100)], title="土鸡蛋", price_fen=150)
    rice = make_item(campaign, [(make_listing(name="丝苗米", unit="袋", price_fen=4500, quantity=50), 50)], per_buyer_limit=3)
    buyer = make_user(name="张伟")
    placed_id = place_order(buyer, campaign.id, [{"item_id": eggs.id, "quantity": 20}], note="放传达室").order.id
    placed = db.session.get(Order, placed_id)
    auth.login(buyer.phone)
    return campaign, eggs, rice, buyer, placed


def test_my_orders_and_an_order(client, order):
    campaign, _eggs, _rice, _buyer, placed = order
    mine = page(client.get("/orders/"))
    assert "乐昌冬季助农" in mine and "¥30.00" in mine and "已下单" in mine and "前可修改或取消" in mine
    detail = page(client.get(f"/orders/{placed.id}"))
    assert "土鸡蛋 × 20个" in detail and "¥30.00" in detail and "放传达室" in detail and "货到付款" in detail
    assert "修改订单" in detail and "取消订单" in detail


def test_change_the_quantities(client, order):
    _campaign, eggs, rice, _buyer, placed = order
    response = client.post(
        f"/orders/{placed.id}/change", data={f"qty-{eggs.id}": "5", f"qty-{rice.id}": "2"}, follow_redirects=True
    )
    assert "订单已修改" in page(response)
    db.session.expire_all()
    assert placed.total_fen == 5 * 150 + 2 * 4500 and (eggs.ordered, rice.ordered) == (5, 2)
    over = client.post(f"/orders/{placed.id}/change", data={f"qty-{eggs.id}": "5", f"qty-{rice.id}": "4"})
    assert over.status_code == 409 and "丝苗米每人限购 3 袋" in page(over)
    empty = client.post(f"/orders/{placed.id}/change", data={f"qty-{eggs.id}": "0", f"qty-{rice.id}": "0"})
    assert empty.status_code == 422 and "请直接取消订单" in page(empty)
    db.session.expire_all()
    assert (eggs.ordered, rice.ordered) == (5, 2)


def test_cancel_asks_first_then_returns_the_goods(client, order):
    _campaign, eggs, _rice, _buyer, placed = order
    confirm = page(client.get(f"/orders/{placed.id}/cancel"))
    assert "确定取消订单" in confirm and "确认取消订单" in confirm
    db.session.expire_all()
    assert eggs.ordered == 20  # asking changes nothing
    response = client.post(f"/orders/{placed.id}/cancel", follow_redirects=True)
    assert "订单已取消" in page(response) and "修改订单" not in page(response)
    db.session.expire_all()
    assert placed.status == "cancelled" and eggs.ordered == 0


def test_after_closing_there_is_no_change_or_cancel(client, order):
    campaign, eggs, _rice, _buyer, placed = order
    campaign.status = "closed"
    db.session.commit()
    detail = page(client.get(f"/orders/{placed.id}"))
    assert "修改订单" not in detail and "取消订单" not in detail
    response = client.post(f"/orders/{placed.id}/change", data={f"qty-{eggs.id}": "1"})
    assert response.status_code == 409 and "截止预订" in page(response)
    response = client.post(f"/orders/{placed.id}/cancel", follow_redirects=True)
    assert "截止预订" in page(response)
    db.session.expire_all()
    assert placed.status == "placed" and eggs.ordered == 20


def test_someone_elses_order_is_not_found(client, auth, order):
    _campaign, _eggs, _rice, _buyer, placed = order
    auth.logout()
    auth.login(make_user().phone)
    assert client.get(f"/orders/{placed.id}").status_code == 404
    assert client.post(f"/orders/{placed.id}/cancel").status_code == 404
    assert "乐昌冬季助农" not in page(client.get("/orders/"))
    db.session.expire_all()
    assert db.session.scalar(sa.select(Order.status)) == "placed"


def test_operators_see_every_order(client, auth, order):
    _campaign, _eggs, _rice, _buyer, placed = order
    auth.logout()
    auth.login(make_user(role="operator").phone)
    assert "张伟" in page(client.get("/orders/"))
    assert client.get(f"/orders/{placed.id}").status_code == 200
