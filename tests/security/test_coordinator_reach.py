"""How far a unit's coordinator reaches: their own unit's people only, and only while they coordinate that unit.

Ordering under another unit's registered buyer's phone is refused before anything is saved, and the refusal tells
nothing of that person's orders; a per-buyer limit counted across units names no figure of the other unit's orders;
a coordinator demoted or moved to another unit loses the orders they placed for the old one, at the next request.
"""

import io
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
from openpyxl import Workbook
from security.world import session_client

from extensions import db
from factories import make_campaign, make_item, make_listing, make_order, make_unit, make_user
from notifications.models import Notification
from orders.models import Order, OrderLine
from shop.models import CampaignItem

VICTIM_NOTE = "吴的私密备注"


@pytest.fixture
def reach(app):
    """Unit 甲 (coordinator 李主任) and unit 乙 (coordinator 陈静, buyer 吴国强 with 2 of the 2 chickens a person may
    have); an open campaign: 雪毛鸡 (limit 2 a person), 土鸡蛋."""
    unit_a = make_unit(name="乐昌市总工会")
    unit_b = make_unit(name="乐昌市妇联")
    coordinator = make_user(unit=unit_a, coordinator=True, name="李主任", phone="13900000004")
    other_coordinator = make_user(unit=unit_b, coordinator=True, name="陈静", phone="13900000006")
    victim = make_user(unit=unit_b, name="吴国强", phone="13900009006")
    campaign = make_campaign(title="春季消费扶贫")
    chicken = make_item(
        campaign,
        [(make_listing(name="雪毛鸡", unit="只", price_fen=9800, quantity=100), 20)],
        per_buyer_limit=2,
        position=1,
    )
    eggs = make_item(campaign, [(make_listing(name="土鸡蛋", unit="个", price_fen=150, quantity=500), 300)], position=2)
    victim_order = make_order(campaign, [(chicken, 2)], user=victim, note=VICTIM_NOTE)
    return SimpleNamespace(
        unit_a=unit_a,
        unit_b=unit_b,
        coordinator=coordinator,
        other_coordinator=other_coordinator,
        victim=victim,
        victim_order=victim_order,
        campaign=campaign,
        chicken=chicken,
        eggs=eggs,
    )


def everything():
    """What an order could change: orders, lines, live orders, each item's ordered, outbox rows."""
    db.session.expire_all()

    def count(model, *where):
        return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))

    ordered = tuple(db.session.scalars(sa.select(CampaignItem.ordered).order_by(CampaignItem.id)))
    return count(Order), count(OrderLine), count(Order, Order.status != "cancelled"), ordered, count(Notification)


def xlsx(rows) -> bytes:
    workbook = Workbook()
    for row in rows:
        workbook.active.append(list(row))
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def sheet_upload(api, campaign_id, rows, dry_run=False):
    return api.post(
        f"/campaigns/{campaign_id}/group-orders" + ("?dry_run=true" if dry_run else ""),
        data={"file": (io.BytesIO(xlsx([["姓名", "手机号", "雪毛鸡", "土鸡蛋"], *rows])), "报名表.xlsx")},
        content_type="multipart/form-data",
    )


OUTSIDER = "13900009006 已由本单位以外的人注册：联络员只能为本单位的人预订。"


def assert_tells_nothing_of_the_victim(text, reach):
    for secret in (VICTIM_NOTE, "吴国强", "已有", "别处", "限购", f"订单 {reach.victim_order.id}"):
        assert secret not in text


# ---------------------------------------------------------------- another unit's registered buyer


def test_the_api_refuses_to_order_under_another_units_buyers_phone(reach, api_as):
    before = everything()
    body = {"lines": [{"item_id": reach.eggs.id, "quantity": 1}], "buyer_name": "冒名", "buyer_phone": "139 0000 9006"}
    response = api_as(reach.coordinator).post(f"/campaigns/{reach.campaign.id}/orders", json=body)
    assert response.status_code == 422
    assert response.get_json() == {
        "error": {
            "code": "validation_error",
            "message": "请修改标出的字段。",
            "details": {"fields": {"buyer_phone": [OUTSIDER]}},
        }
    }
    assert everything() == before
    # Not even the item that would break the victim's limit gets past the phone: the answer is the same.
    body["lines"] = [{"item_id": reach.chicken.id, "quantity": 1}]
    again = api_as(reach.coordinator).post(f"/campaigns/{reach.campaign.id}/orders", json=body)
    assert again.get_json() == response.get_json()
    assert everything() == before


def test_the_grid_refuses_another_units_buyers_phone(reach, app):
    client = session_client(app, reach.coordinator)
    before = everything()
    form = {
        "rows": "2",
        "save": "1",
        "name-1": "张伟",
        "phone-1": "13900001001",
        f"qty-1-{reach.eggs.id}": "5",
        "name-2": "冒名",
        "phone-2": "13900009006",
        f"qty-2-{reach.chicken.id}": "1",
    }
    response = client.post(f"/units/campaigns/{reach.campaign.id}/grid", data=form)
    assert response.status_code == 422
    text = response.get_data(as_text=True)
    assert OUTSIDER in text
    assert_tells_nothing_of_the_victim(text, reach)
    assert everything() == before


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_sheet_listing_another_units_buyer_is_refused_whole(reach, api_as, dry_run):
    before = everything()
    rows = [["张伟", "13900001001", None, 5], ["冒名", "13900009006", 1, None]]
    response = sheet_upload(api_as(reach.coordinator), reach.campaign.id, rows, dry_run=dry_run)
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_sheet"
    assert error["details"]["rows"] == [{"row": 3, "column": "手机号", "cell": "B3", "message": OUTSIDER}]
    assert_tells_nothing_of_the_victim(response.get_data(as_text=True), reach)
    assert everything() == before


def test_phones_of_the_unit_and_unregistered_phones_are_still_ordered_for(reach, api_as):
    member = make_user(unit=reach.unit_a, name="王芳", phone="13900000005")
    rows = [["王芳", member.phone, 1, None], ["张伟", "13900001001", None, 5]]
    assert sheet_upload(api_as(reach.coordinator), reach.campaign.id, rows).status_code == 201
    db.session.expire_all()
    orders = db.session.scalars(sa.select(Order).where(Order.unit_id == reach.unit_a.id).order_by(Order.id)).all()
    assert [(order.buyer_phone, order.user_id) for order in orders] == [(member.phone, member.id), ("13900001001", None)]


# ---------------------------------------------------------------- limits counted across units, figures hidden


def test_the_limit_error_names_no_figure_of_another_units_orders(reach, api_as):
    stranger = {"buyer_name": "张伟", "buyer_phone": "13900001001"}  # no account: both units may order for him
    placed = api_as(reach.other_coordinator).post(
        f"/campaigns/{reach.campaign.id}/orders", json={"lines": [{"item_id": reach.chicken.id, "quantity": 1}], **stranger}
    )
    assert placed.status_code == 201
    before = everything()
    response = api_as(reach.coordinator).post(
        f"/campaigns/{reach.campaign.id}/orders", json={"lines": [{"item_id": reach.chicken.id, "quantity": 2}], **stranger}
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == {
        "code": "limit_exceeded",
        "message": "雪毛鸡每人限购 2 只；加上此人在别处的订单，将超出限购。",
        "details": {"item_id": reach.chicken.id, "limit": 2},
    }
    assert everything() == before
    # The limit still holds across units: one more is all he may have.
    ok = api_as(reach.coordinator).post(
        f"/campaigns/{reach.campaign.id}/orders", json={"lines": [{"item_id": reach.chicken.id, "quantity": 1}], **stranger}
    )
    assert ok.status_code == 201


def test_the_sheet_preview_names_no_figure_of_another_units_orders(reach, api_as, app):
    api_as(reach.other_coordinator).post(
        f"/campaigns/{reach.campaign.id}/orders",
        json={"lines": [{"item_id": reach.chicken.id, "quantity": 1}], "buyer_name": "张伟", "buyer_phone": "13900001001"},
    )
    before = everything()
    expected = {"row": 2, "column": "雪毛鸡", "cell": "C2", "message": "雪毛鸡每人限购 2 只；加上张伟在别处的订单，将超出限购。"}
    preview = sheet_upload(api_as(reach.coordinator), reach.campaign.id, [["张伟", "13900001001", 2, None]], dry_run=True)
    assert preview.status_code == 422
    assert preview.get_json()["error"]["details"]["rows"] == [expected]
    # The upload page says the same, and no figure either.
    client = session_client(app, reach.coordinator)
    page = client.post(
        f"/units/campaigns/{reach.campaign.id}/sheet",
        data={"file": (io.BytesIO(xlsx([["姓名", "手机号", "雪毛鸡"], ["张伟", "13900001001", 2]])), "报名表.xlsx")},
        content_type="multipart/form-data",
    )
    assert page.status_code == 422
    text = page.get_data(as_text=True)
    assert expected["message"] in text and "已有" not in text
    assert everything() == before


# ---------------------------------------------------------------- rights follow the current role and unit

ORDER_ROUTES = [
    ("api", "GET", "/api/v1/orders/{id}"),
    ("api", "PATCH", "/api/v1/orders/{id}"),
    ("api", "POST", "/api/v1/orders/{id}/cancel"),
    ("page", "GET", "/orders/{id}"),
    ("page", "POST", "/orders/{id}/change"),
    ("page", "GET", "/orders/{id}/cancel"),
    ("page", "POST", "/orders/{id}/cancel"),
]


def _call(client, headers, kind, method, path, reach):
    if kind == "api":
        body = {"lines": [{"item_id": reach.eggs.id, "quantity": 1}]} if method == "PATCH" else None
        return client.open(path, method=method, headers=headers, json=body)
    data = {f"qty-{reach.eggs.id}": "1"} if path.endswith("/change") else {}
    return client.open(path, method=method, data=data)


@pytest.mark.parametrize("what", ["demoted", "moved"])
def test_a_coordinator_demoted_or_moved_loses_the_orders_they_placed_for_the_old_unit(reach, app, api_as, what):
    api = api_as(reach.coordinator)
    placed = api.post(
        f"/campaigns/{reach.campaign.id}/orders",
        json={"lines": [{"item_id": reach.eggs.id, "quantity": 10}], "buyer_name": "张伟", "buyer_phone": "13900001001"},
        headers={"Idempotency-Key": "zhang-wei-1"},
    )
    order_id = placed.get_json()["id"]
    page = session_client(app, reach.coordinator)
    headers = {"Authorization": f"Bearer {api.token}"}
    # While they coordinate the unit, the order is theirs to read (the same token and session are used after).
    assert api.get(f"/orders/{order_id}").status_code == 200
    assert page.get(f"/orders/{order_id}").status_code == 200
    if what == "demoted":
        reach.coordinator.coordinator = False
    else:
        reach.coordinator.unit_id = reach.unit_b.id
    db.session.commit()
    for kind, method, path in ORDER_ROUTES:
        client = api.client if kind == "api" else page
        response = _call(client, headers, kind, method, path.format(id=order_id), reach)
        assert response.status_code == 404, (kind, method, path, response.status_code)
    # Repeating the old request with its key gets no order back either.
    again = api.post(
        f"/campaigns/{reach.campaign.id}/orders",
        json={"lines": [{"item_id": reach.eggs.id, "quantity": 10}], "buyer_name": "张伟", "buyer_phone": "13900001001"},
        headers={"Idempotency-Key": "zhang-wei-1"},
    )
    assert again.status_code in (403, 409) and "张伟" not in again.get_data(as_text=True)
    unit_orders = api.get(f"/units/{reach.unit_a.id}/orders?campaign_id={reach.campaign.id}")
    assert unit_orders.status_code in (403, 404) and "张伟" not in unit_orders.get_data(as_text=True)
    db.session.expire_all()
    order = db.session.get(Order, order_id)
    assert (order.status, [(line.quantity, line.cancelled) for line in order.lines]) == ("placed", [(10, False)])
    # The unit's current coordinator still has it.
    successor = make_user(unit=reach.unit_a, coordinator=True, name="新主任")
    assert api_as(successor).get(f"/orders/{order_id}").status_code == 200
