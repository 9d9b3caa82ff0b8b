"""Delivery: mark per unit (all producers or one), what stays outstanding, sheets, and the statuses that follow."""

import re

import pytest
import sqlalchemy as sa

from dashboard import delivery
from dashboard.models import Delivery
from errors import Conflict, NotFound
from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_unit, make_user
from orders.models import Order
from shop.models import Campaign


def _order_statuses(campaign_id, unit_id):
    return set(db.session.scalars(sa.select(Order.status).where(Order.campaign_id == campaign_id, Order.unit_id == unit_id)))


def test_outstanding_before_anything_is_delivered(sales_data):
    d = sales_data
    overview = delivery.delivery_overview(d.camp_a.id)
    # Pick lines: 工会 gets P1 2 鸡, P2 1 鸡, P3 40 蛋; 妇联 gets P3 10 蛋, P4 50 蛋.
    assert (overview["pairs"], overview["delivered_pairs"]) == (5, 0)
    assert overview["outstanding"] == [
        {"title": "雪毛鸡", "unit": "只", "quantity": 3},
        {"title": "鸡蛋", "unit": "个", "quantity": 100},
    ]
    assert len(delivery.outstanding_deliveries()) == 5
    assert delivery.outstanding_deliveries(d.camp_b.id) == []  # not pooled: nothing to deliver yet


def test_mark_one_producer_then_the_rest_of_the_unit(sales_data, operator):
    d = sales_data
    added = delivery.mark_delivered(operator, d.camp_a.id, d.u1.id, d.p3.id)
    assert [x.producer_id for x in added] == [d.p3.id]
    remaining = {(row["unit_id"], row["producer_id"]) for row in delivery.outstanding_deliveries(d.camp_a.id)}
    assert remaining == {(d.u1.id, d.p1.id), (d.u1.id, d.p2.id), (d.u2.id, d.p3.id), (d.u2.id, d.p4.id)}
    assert "delivered" not in _order_statuses(d.camp_a.id, d.u1.id)  # the chickens are still on their way

    added = delivery.mark_delivered(operator, d.camp_a.id, d.u1.id)
    assert sorted(x.producer_id for x in added) == sorted([d.p1.id, d.p2.id])
    # Every live order of the unit is delivered now; 工会 has no cancelled order.
    assert _order_statuses(d.camp_a.id, d.u1.id) == {"delivered"}
    assert db.session.get(Campaign, d.camp_a.id).status == "allocated"  # 妇联 still waits


def test_marking_again_changes_nothing(sales_data, operator):
    d = sales_data
    delivery.mark_delivered(operator, d.camp_a.id, d.u2.id)
    assert delivery.mark_delivered(operator, d.camp_a.id, d.u2.id) == []
    count = db.session.scalar(sa.select(sa.func.count()).select_from(Delivery).where(Delivery.unit_id == d.u2.id))
    assert count == 2


def test_campaign_is_delivered_when_every_unit_is(sales_data, operator):
    d = sales_data
    delivery.mark_delivered(operator, d.camp_a.id, d.u1.id)
    delivery.mark_delivered(operator, d.camp_a.id, d.u2.id)
    assert db.session.get(Campaign, d.camp_a.id).status == "delivered"
    # The cancelled order stays cancelled.
    assert _order_statuses(d.camp_a.id, d.u2.id) == {"delivered", "cancelled"}
    assert delivery.outstanding_deliveries() == []


def test_refusals(sales_data, operator):
    d = sales_data
    with pytest.raises(Conflict):
        delivery.mark_delivered(operator, d.camp_b.id, d.u1.id)  # open campaign: nothing pooled
    with pytest.raises(NotFound):
        delivery.mark_delivered(operator, d.camp_a.id, d.u1.id, d.p4.id)  # P4 delivers to 妇联 only
    with pytest.raises(NotFound):
        delivery.mark_delivered(operator, 9999, d.u1.id)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0


def test_delivery_sheet_lists_goods_and_people(sales_data):
    d = sales_data
    sheet = delivery.delivery_sheet(d.camp_a.id, d.u1.id)
    goods = {
        item["title"]: (item["quantity"], [(p["name"], p["quantity"]) for p in item["producers"]]) for item in sheet["items"]
    }
    assert goods == {"雪毛鸡": (3, [("秀水镇雪毛鸡合作社", 2), ("陈华养鸡户", 1)]), "鸡蛋": (40, [("李桂英蛋鸡户", 40)])}
    people = [(p["name"], [(line["title"], line["quantity"]) for line in p["lines"]], p["amount_fen"]) for p in sheet["people"]]
    # 李四's honey was dropped below its minimum: only the chicken is handed over. 张三's two orders are two rows.
    assert people == [
        ("张三", [("雪毛鸡", 2), ("鸡蛋", 30)], 24100),
        ("张三", [("鸡蛋", 10)], 1500),
        ("李四", [("雪毛鸡", 1)], 9800),
    ]


def test_delivery_page_marks_through_the_form(sales_data, operator, client, auth):
    d = sales_data
    auth.login(operator.phone)
    page = client.get(f"/dashboard/campaigns/{d.camp_a.id}/delivery").get_data(as_text=True)
    assert "已记录 0/5 项送达" in page
    response = client.post(f"/dashboard/campaigns/{d.camp_a.id}/delivery", data={"unit_id": d.u2.id, "producer_id": d.p4.id})
    assert response.status_code == 302
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "已记录送达" in page
    assert db.session.scalar(sa.select(Delivery.producer_id).where(Delivery.unit_id == d.u2.id)) == d.p4.id
    refused = client.post(f"/dashboard/campaigns/{d.camp_b.id}/delivery", data={"unit_id": d.u1.id}, follow_redirects=True)
    assert "活动分配完成后、结算之前才能记录送达。" in refused.get_data(as_text=True)


def test_delivery_sheet_page(sales_data, operator, client, auth):
    d = sales_data
    auth.login(operator.phone)
    page = client.get(f"/dashboard/campaigns/{d.camp_a.id}/delivery/{d.u1.id}").get_data(as_text=True)
    assert "张三" in page and "13700000001" in page and "秀水镇雪毛鸡合作社" in page


def test_marking_needs_a_csrf_token(csrf_app):
    campaign = make_campaign(status="allocated")
    unit = make_unit()
    listing = make_listing()
    make_allocation(make_item(campaign, [(listing, 10)]), listing.producer, 5, units=[(unit, 5)])
    operator = make_user(role="operator")
    client = csrf_app.test_client()
    token = re.search(
        r'name="csrf_token" type="hidden" value="([^"]+)"', client.get("/accounts/login").get_data(as_text=True)
    ).group(1)
    client.post("/accounts/login", data={"login": operator.phone, "password": "password123", "csrf_token": token})
    assert client.post(f"/dashboard/campaigns/{campaign.id}/delivery", data={"unit_id": unit.id}).status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 0
    token = re.search(
        r'name="csrf_token" value="([^"]+)"', client.get(f"/dashboard/campaigns/{campaign.id}/delivery").get_data(as_text=True)
    ).group(1)
    accepted = client.post(f"/dashboard/campaigns/{campaign.id}/delivery", data={"unit_id": unit.id, "csrf_token": token})
    assert accepted.status_code == 302
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Delivery)) == 1
