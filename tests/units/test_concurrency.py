"""A sheet racing individual orders for the same item: never oversold, the sheet all in or all out, and a lost race names its row."""

import io
import threading

import pytest
import sqlalchemy as sa

from accounts.models import User
from accounts.services import issue_token
from errors import InvalidSheet
from extensions import db
from orders.models import Order, OrderLine
from units import colleague_orders, sheet_rows
from units.sheet_import import import_sheet


def test_when_an_order_takes_the_stock_after_the_check_the_whole_sheet_rolls_back_naming_the_row(
    shop, files, snapshot, monkeypatch
):
    """The building block's own guarded UPDATE is the last word: with the sheet-wide pre-check skipped (as if another
    order had committed in between), the failing row is reported and the rows before it are undone too."""
    import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["赵六", "13900001003", None, 7, None, None]]), filename="v1"
    )
    before = snapshot()
    monkeypatch.setattr(sheet_rows, "check_limits_and_capacity", lambda *args, **kwargs: [])
    data = files.xlsx([shop.header, ["张伟", "13900001001", None, 1, 6, None], ["刘洋", "13900001002", None, None, 5, None]])
    with pytest.raises(InvalidSheet) as caught:
        import_sheet(shop.coordinator, shop.campaign.id, data, filename="v2")
    assert [(p["row"], p["column"], p["message"]) for p in caught.value.rows] == [(3, "蜂蜜", "蜂蜜只剩 4 瓶。")]
    assert snapshot() == before  # 张伟's order, 赵六's cancellation and the new sheet are all undone


def test_a_sheet_racing_buyers_for_the_last_jars(shop, files, app):
    """Honey has 10 jars: a sheet asks for 6 while 8 colleagues each order 1 at the same moment."""
    users = [
        User(name=f"职工{i}", phone=f"1370000{i:04d}", role="buyer", unit_id=shop.other_unit.id, password_hash="-")
        for i in range(8)
    ]
    db.session.add_all(users)
    db.session.commit()
    tokens = [issue_token(user) for user in users]
    coordinator_token = issue_token(shop.coordinator)
    sheet = files.xlsx([shop.header] + [[f"同事{n}", f"1390000200{n}", None, None, 2, None] for n in range(3)])
    campaign_id, honey_id = shop.campaign.id, shop.honey.id  # threads must not touch this session's objects
    barrier = threading.Barrier(len(tokens) + 1)
    results = {}

    def order(index, token):
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/campaigns/{campaign_id}/orders",
            json={"lines": [{"item_id": honey_id, "quantity": 1}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        results[index] = response.status_code

    def upload():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/campaigns/{campaign_id}/group-orders",
            data={"file": (io.BytesIO(sheet), "sheet.xlsx")},
            content_type="multipart/form-data",
            headers={"Authorization": f"Bearer {coordinator_token}"},
        )
        results["sheet"] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=order, args=(i, t)) for i, t in enumerate(tokens)] + [threading.Thread(target=upload)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    status, body = results.pop("sheet")
    assert set(results.values()) <= {201, 409} and status in (201, 422), (results, status, body)
    db.session.expire_all()
    live = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0))
        .join(Order)
        .where(OrderLine.item_id == shop.honey.id, OrderLine.cancelled.is_(False), Order.status != "cancelled")
    )
    sheet_orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order).where(Order.source == "sheet"))
    single = sum(1 for code in results.values() if code == 201)
    assert shop.honey.ordered == live <= 10
    if status == 201:
        assert sheet_orders == 3 and single == 4 and live == 10
    else:
        assert body["error"]["code"] == "invalid_sheet" and body["error"]["details"]["rows"][0]["row"] in (2, 3, 4)
        assert sheet_orders == 0 and single == 8 and live == 8


def test_a_sheet_and_the_same_people_ordering_themselves_never_deadlock_or_break_a_limit(shop, files, app):
    """Rows touch items in any order (honey, then chicken) and name people who are ordering limited chicken
    themselves at the same moment: every request ends in an answer (no 500), limits and capacity hold."""
    users = [
        User(name=f"同事{i}", phone=f"1370000{i:04d}", role="buyer", unit_id=shop.unit.id, password_hash="-") for i in range(8)
    ]
    db.session.add_all(users)
    db.session.commit()
    tokens = [issue_token(user) for user in users]
    coordinator_token = issue_token(shop.coordinator)
    rows = [[user.name, user.phone, 1 if n % 2 else None, None, None if n % 2 else 1, None] for n, user in enumerate(users)]
    sheet = files.xlsx([shop.header, *rows])
    campaign_id, chicken_id, honey_id = shop.campaign.id, shop.chicken.id, shop.honey.id
    barrier = threading.Barrier(len(tokens) + 1)
    results = {}

    def order(index, token):
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/campaigns/{campaign_id}/orders",
            json={"lines": [{"item_id": chicken_id, "quantity": 2}, {"item_id": honey_id, "quantity": 1}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        results[index] = response.status_code

    def upload():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            f"/api/v1/campaigns/{campaign_id}/group-orders",
            data={"file": (io.BytesIO(sheet), "sheet.xlsx")},
            content_type="multipart/form-data",
            headers={"Authorization": f"Bearer {coordinator_token}"},
        )
        results["sheet"] = response.status_code

    threads = [threading.Thread(target=order, args=(i, t)) for i, t in enumerate(tokens)] + [threading.Thread(target=upload)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sheet_status = results.pop("sheet")
    assert set(results.values()) <= {201, 409} and sheet_status in (201, 422), (results, sheet_status)
    db.session.expire_all()
    per_person = dict(
        db.session.execute(
            sa.select(Order.buyer_phone, sa.func.sum(OrderLine.quantity))
            .join(Order)
            .where(OrderLine.item_id == chicken_id, OrderLine.cancelled.is_(False), Order.status != "cancelled")
            .group_by(Order.buyer_phone)
        ).all()
    )
    assert all(quantity <= 2 for quantity in per_person.values())
    for item in (shop.chicken, shop.honey):
        live = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0))
            .join(Order)
            .where(OrderLine.item_id == item.id, OrderLine.cancelled.is_(False), Order.status != "cancelled")
        )
        assert item.ordered == live <= item.capacity
    sheet_orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order).where(Order.source == "sheet"))
    assert sheet_orders == (8 if sheet_status == 201 else 0)


def test_a_buyer_ordering_while_the_sheet_is_half_written_waits_instead_of_deadlocking(shop, files, app, monkeypatch):
    """The sheet is paused after its first row (honey) while a colleague it lists orders chicken and honey; then it
    goes on to that colleague's row (limited chicken). Taking every buyer and item lock up front means the order
    simply waits for the sheet; taking them row by row would deadlock (PostgreSQL aborts one side with a 500)."""
    colleague = User(name="刘洋", phone="13700000001", role="buyer", unit_id=shop.unit.id, password_hash="-")
    db.session.add(colleague)
    db.session.commit()
    token, coordinator_token = issue_token(colleague), issue_token(shop.coordinator)
    sheet = files.xlsx([shop.header, ["张伟", "13900001001", None, None, 1, None], ["刘洋", "13700000001", 1, None, None, None]])
    campaign_id, chicken_id, honey_id = shop.campaign.id, shop.chicken.id, shop.honey.id
    first_row_written, go_on = threading.Event(), threading.Event()
    place = colleague_orders.reserve_and_write_order

    def paused_after_first_row(*args, **kwargs):
        order = place(*args, **kwargs)
        if not first_row_written.is_set():
            first_row_written.set()
            go_on.wait(10)
        return order

    monkeypatch.setattr(colleague_orders, "reserve_and_write_order", paused_after_first_row)
    results = {}

    def upload():
        response = app.test_client().post(
            f"/api/v1/campaigns/{campaign_id}/group-orders",
            data={"file": (io.BytesIO(sheet), "sheet.xlsx")},
            content_type="multipart/form-data",
            headers={"Authorization": f"Bearer {coordinator_token}"},
        )
        results["sheet"] = response.status_code

    def order():
        response = app.test_client().post(
            f"/api/v1/campaigns/{campaign_id}/orders",
            json={"lines": [{"item_id": chicken_id, "quantity": 2}, {"item_id": honey_id, "quantity": 1}]},
            headers={"Authorization": f"Bearer {token}"},
        )
        results["order"] = (response.status_code, response.get_json())

    sheet_thread, order_thread = threading.Thread(target=upload), threading.Thread(target=order)
    sheet_thread.start()
    assert first_row_written.wait(30)
    order_thread.start()
    order_thread.join(1.0)  # give the order time to reach the locks the sheet holds (it must wait there)
    go_on.set()
    sheet_thread.join()
    order_thread.join()
    assert results["sheet"] == 201
    status, body = results["order"]
    # The sheet gave 刘洋 1 chicken first, so 2 more would break the limit of 2.
    assert status == 409 and body["error"]["code"] == "limit_exceeded"
