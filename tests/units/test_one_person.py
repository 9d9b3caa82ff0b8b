"""One person per phone: a colleague ordered for finds the orders once registered with that phone; a coordinator
never places a second order for someone who already has one in the campaign; everyone ordered for is told by SMS."""

import threading

import pytest
import sqlalchemy as sa
from security.world import session_client

from accounts.models import AuditEntry, User
from accounts.services import create_user
from errors import AlreadyOrdered, InvalidSheet
from extensions import db
from factories import PASSWORD, make_item, make_listing, make_order
from notifications.models import Notification
from notifications.services import dispatch_due
from orders.models import Order, OrderLine
from orders.people import claim_colleague_orders
from orders.services import place_order
from shop.models import CampaignItem
from units.grid import GridRow, enter_orders
from units.sheet_import import import_sheet

STRONG = "tea-garden-2026"  # a password the rule accepts (accounts.passwords)

ZHANG = "13900001001"  # 张伟, a colleague without an account


def _orders_of_phone(phone):
    db.session.expire_all()
    return db.session.scalars(sa.select(Order).where(Order.buyer_phone == phone).order_by(Order.id)).all()


def _outbox(**where):
    db.session.expire_all()
    query = sa.select(Notification).order_by(Notification.id)
    for column, value in where.items():
        query = query.where(getattr(Notification, column) == value)
    return db.session.scalars(query).all()


# ---------------------------------------------------------------- registering claims the orders


def test_a_grid_order_is_the_colleagues_once_they_register_and_they_may_cancel_it(shop, app):
    result = enter_orders(shop.coordinator, shop.campaign.id, [GridRow("张伟", ZHANG, {shop.chicken.id: "2"})])
    (order_id,) = result.order_ids
    # Registered the way accounts.services creates users (registration calls the same service).
    zhang = create_user(None, name="张伟", phone=ZHANG, password=STRONG, role="buyer", unit_id=shop.unit.id)
    assert [order.user_id for order in _orders_of_phone(ZHANG)] == [zhang.id]
    audit = db.session.scalar(sa.select(AuditEntry).where(AuditEntry.action == "user.create", AuditEntry.object_id == zhang.id))
    assert audit.details["claimed_order_ids"] == [order_id]
    client = session_client(app, zhang)
    mine = client.get("/orders/").get_data(as_text=True)
    assert f"/orders/{order_id}" in mine and "春季消费扶贫" in mine
    assert client.post(f"/orders/{order_id}/cancel").status_code == 302
    db.session.expire_all()
    assert db.session.get(Order, order_id).status == "cancelled"
    assert shop.chicken.ordered == 0


def test_the_service_registration_calls_attaches_every_colleague_order_of_the_unit_only(shop, api_as):
    grid = enter_orders(shop.coordinator, shop.campaign.id, [GridRow("张伟", ZHANG, {shop.eggs.id: "3"})]).order_ids[0]
    other_units = place_order(
        shop.other_coordinator,
        shop.campaign.id,
        [{"item_id": shop.honey.id, "quantity": 1}],
        buyer_name="张伟",
        buyer_phone=ZHANG,
        source="coordinator",
    ).order.id
    zhang = User(name="张伟", phone=ZHANG, role="buyer", unit_id=shop.unit.id)
    zhang.set_password(PASSWORD)
    db.session.add(zhang)
    db.session.flush()
    assert claim_colleague_orders(zhang) == [grid]
    db.session.commit()
    assert {order.id: order.user_id for order in _orders_of_phone(ZHANG)} == {grid: zhang.id, other_units: None}
    listed = api_as(zhang).get("/orders").get_json()["items"]
    assert [order["id"] for order in listed] == [grid]
    # Claiming again finds nothing more.
    assert claim_colleague_orders(zhang) == []


@pytest.mark.parametrize("via", ["page", "api"])
def test_an_operator_creating_the_account_attaches_the_sheet_orders(shop, app, api_as, files, via):
    result = import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["张伟", ZHANG, 1, 6, None, None]]), filename="a.xlsx"
    )
    fields = {"name": "张伟", "phone": ZHANG, "password": STRONG, "role": "buyer", "unit_id": shop.unit.id}
    if via == "page":
        response = session_client(app, shop.operator).post("/accounts/users/new", data=fields)
        assert response.status_code == 302
    else:
        response = api_as(shop.operator).post("/users", json=fields)
        assert response.status_code == 201
    zhang = db.session.scalar(sa.select(User).where(User.phone == ZHANG))
    assert [order.user_id for order in _orders_of_phone(ZHANG)] == [zhang.id]
    assert [order["id"] for order in api_as(zhang, STRONG).get("/orders").get_json()["items"]] == result.order_ids


# ---------------------------------------------------------------- never a second order for a person


def test_a_colleague_with_an_own_order_is_never_given_a_second_one(shop, api_as, files, snapshot):
    own = make_order(shop.campaign, [(shop.eggs, 4)], user=shop.buyer)
    warning = f"王芳在本次活动中已有订单 {own.id}，请修改该订单。"
    before = snapshot()
    with pytest.raises(InvalidSheet) as grid:
        enter_orders(shop.coordinator, shop.campaign.id, [GridRow("王芳", shop.buyer.phone, {shop.honey.id: "1"})])
    assert [(p["row"], p["column"], p["message"]) for p in grid.value.rows] == [(1, "手机号", warning)]
    with pytest.raises(InvalidSheet) as sheet:
        import_sheet(
            shop.coordinator,
            shop.campaign.id,
            files.xlsx([shop.header, ["张伟", ZHANG, None, 2, None, None], ["王芳", shop.buyer.phone, None, None, 1, None]]),
            filename="a.xlsx",
        )
    assert [(p["row"], p["column"], p["cell"], p["message"]) for p in sheet.value.rows] == [(3, "手机号", "B3", warning)]
    response = api_as(shop.coordinator).post(
        f"/campaigns/{shop.campaign.id}/orders",
        json={"lines": [{"item_id": shop.honey.id, "quantity": 1}], "buyer_name": "王芳", "buyer_phone": shop.buyer.phone},
    )
    assert response.status_code == 409
    assert response.get_json()["error"] == {"code": "already_ordered", "message": warning, "details": {"order_id": own.id}}
    assert snapshot() == before
    # The coordinator changes that order instead.
    changed = api_as(shop.coordinator).patch(f"/orders/{own.id}", json={"lines": [{"item_id": shop.eggs.id, "quantity": 6}]})
    assert changed.status_code == 200 and changed.get_json()["total_fen"] == 6 * 150


def test_a_grid_order_then_a_coordinators_api_order_for_the_same_person_is_refused(shop):
    first = enter_orders(shop.coordinator, shop.campaign.id, [GridRow("张伟", ZHANG, {shop.eggs.id: "3"})]).order_ids[0]
    with pytest.raises(AlreadyOrdered) as caught:
        place_order(
            shop.coordinator,
            shop.campaign.id,
            [{"item_id": shop.eggs.id, "quantity": 1}],
            buyer_name="张伟",
            buyer_phone=ZHANG,
            source="coordinator",
        )
    assert caught.value.details == {"order_id": first}
    assert [order.id for order in _orders_of_phone(ZHANG)] == [first]


def test_a_reimported_sheet_still_updates_its_own_people(shop, files, live):
    import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["张伟", ZHANG, 1, None, None, None]]), filename="a"
    )
    import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["张伟", ZHANG, 2, None, None, None]]), filename="b"
    )
    assert live(shop.campaign.id) == {ZHANG: {"雪毛鸡": 2}}


# ---------------------------------------------------------------- people ordered for are told by SMS


def _told(shop, lines, then, total):
    # One SMS segment: the short form (the coordinator's unit and "paid to the coordinator" are in the app).
    day = shop.campaign.delivery_on
    return f"李主任在“春季消费扶贫”为您预订{lines}，{total}，{day.month}月{day.day}日送到。{then}"


UNREGISTERED = "用本手机号注册后，可在“我的订单”中查看。"
REGISTERED = "可在“我的订单”中查看。"


def test_everyone_the_grid_orders_for_gets_an_sms_saying_what_and_by_whom(shop, app, tmp_path):
    rows = [
        GridRow("张伟", ZHANG, {shop.chicken.id: "2", shop.eggs.id: "10"}),
        GridRow("王芳", shop.buyer.phone, {shop.honey.id: "1"}),
    ]
    zhang_order, wang_order = enter_orders(shop.coordinator, shop.campaign.id, rows).order_ids
    sms = {row.address: row for row in _outbox(channel="sms")}
    assert set(sms) == {ZHANG, shop.buyer.phone}
    assert (sms[ZHANG].recipient, sms[ZHANG].user_id, sms[ZHANG].subject) == (
        f"phone:{ZHANG}",
        None,
        f"order:{zhang_order}:placed",
    )
    # Two items do not fit one segment beside the registering hint: they are counted.
    assert sms[ZHANG].body == _told(shop, "2项", UNREGISTERED, "¥211.00")
    assert sms[shop.buyer.phone].body == _told(shop, "蜂蜜 × 1瓶", REGISTERED, "¥68.00")
    # The colleague with an account also finds it in the app.
    (inapp,) = _outbox(channel="inapp", user_id=shop.buyer.id)
    assert (inapp.title, inapp.subject) == ("李主任为您预订了商品", f"order:{wang_order}:placed")
    # And the worker's dispatch sends them through the SMS channel.
    app.config["SMS_LOG_FILE"] = str(tmp_path / "sms.log")
    dispatch_due()
    log = (tmp_path / "sms.log").read_text(encoding="utf-8")
    assert f"{ZHANG}\t【拼帮】{sms[ZHANG].body}" in log


def test_no_sms_leaves_for_a_grid_that_saved_nothing(shop):
    rows = [GridRow("张伟", ZHANG, {shop.eggs.id: "10"}), GridRow("刘洋", "13900001002", {shop.chicken.id: "3"})]
    with pytest.raises(InvalidSheet):
        enter_orders(shop.coordinator, shop.campaign.id, rows)
    assert _outbox() == []


def test_a_coordinators_api_order_and_a_sheet_tell_the_person_by_sms(shop, api_as, files):
    response = api_as(shop.coordinator).post(
        f"/campaigns/{shop.campaign.id}/orders",
        json={"lines": [{"item_id": shop.eggs.id, "quantity": 4}], "buyer_name": "张伟", "buyer_phone": ZHANG},
    )
    assert response.status_code == 201
    import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["刘洋", "13900001002", 1, None, None, None]]), filename="a"
    )
    bodies = {row.address: row.body for row in _outbox(channel="sms")}
    assert bodies == {
        ZHANG: _told(shop, "土鸡蛋 × 4个", UNREGISTERED, "¥6.00"),
        "13900001002": _told(shop, "雪毛鸡 × 1只", UNREGISTERED, "¥98.00"),
    }
    # The coordinator ordering for themselves is not told they were ordered for.
    mine = api_as(shop.coordinator).post(
        f"/campaigns/{shop.campaign.id}/orders",
        json={"lines": [{"item_id": shop.eggs.id, "quantity": 1}], "buyer_name": "李主任", "buyer_phone": shop.coordinator.phone},
    )
    assert mine.status_code == 201
    assert _outbox(kind="group_order_placed", address=shop.coordinator.phone) == []
    assert [row.kind for row in _outbox(user_id=shop.coordinator.id, channel="inapp")] == ["order_confirmed"]


def test_a_long_order_is_counted_in_the_sms_not_listed(shop, app):
    for n in range(6):
        make_item(
            shop.campaign, [(make_listing(name=f"很长名字的扶贫农产品第{n}号", unit="袋", price_fen=1000, quantity=50), 50)]
        )
    items = [item for item in shop.campaign.items if item.title.startswith("很长")]
    enter_orders(shop.coordinator, shop.campaign.id, [GridRow("张伟", ZHANG, {item.id: "1" for item in items})])
    (sms,) = _outbox(channel="sms")
    assert sms.body.startswith("李主任在“春季消费扶贫”为您预订6项，¥60.00")
    assert len("【拼帮】" + sms.body) <= 70


# ---------------------------------------------------------------- at the same moment


def test_a_grid_and_an_api_order_for_the_same_person_at_once_make_one_order(shop, app):
    """On PostgreSQL for real: both take the unit's sheet lock before looking for the person's order, so the second
    sees the first's and is refused, whichever wins."""
    coordinator_id, campaign_id, eggs_id = shop.coordinator.id, shop.campaign.id, shop.eggs.id
    barrier = threading.Barrier(2)
    outcomes = {}

    def run(channel):
        with app.app_context():
            coordinator = db.session.get(User, coordinator_id)
            barrier.wait()
            try:
                if channel == "grid":
                    enter_orders(coordinator, campaign_id, [GridRow("张伟", ZHANG, {eggs_id: "3"})])
                else:
                    place_order(
                        coordinator,
                        campaign_id,
                        [{"item_id": eggs_id, "quantity": 2}],
                        buyer_name="张伟",
                        buyer_phone=ZHANG,
                        source="coordinator",
                    )
                outcomes[channel] = "placed"
            except (AlreadyOrdered, InvalidSheet) as error:
                outcomes[channel] = error.message
            finally:
                db.session.remove()

    for _round in range(5):
        db.session.execute(sa.delete(Notification))
        db.session.execute(sa.delete(OrderLine))
        db.session.execute(sa.delete(Order))
        db.session.execute(sa.update(CampaignItem).values(ordered=0))
        db.session.commit()
        threads = [threading.Thread(target=run, args=(channel,)) for channel in ("grid", "api")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert sorted(outcomes.values()).count("placed") == 1, outcomes
        orders = _orders_of_phone(ZHANG)
        assert len(orders) == 1 and shop.eggs.ordered == sum(line.quantity for line in orders[0].lines)
        assert len(_outbox(channel="sms")) == 1


def test_a_coordinators_retry_with_the_same_key_gets_the_first_order_not_a_warning(shop, api_as):
    api = api_as(shop.coordinator)
    body = {"lines": [{"item_id": shop.eggs.id, "quantity": 4}], "buyer_name": "张伟", "buyer_phone": ZHANG}
    first = api.post(f"/campaigns/{shop.campaign.id}/orders", json=body, headers={"Idempotency-Key": "k-1"})
    again = api.post(f"/campaigns/{shop.campaign.id}/orders", json=body, headers={"Idempotency-Key": "k-1"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.get_json()["id"] == first.get_json()["id"]
    other = api.post(f"/campaigns/{shop.campaign.id}/orders", json=body, headers={"Idempotency-Key": "k-2"})
    assert other.status_code == 409 and other.get_json()["error"]["code"] == "already_ordered"
    assert len(_orders_of_phone(ZHANG)) == 1 and len(_outbox(channel="sms")) == 1
