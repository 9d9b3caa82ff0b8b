"""A sheet racing individual orders for the same item: never oversold, the sheet all in or all out, and a lost race names its row."""

import io
import threading

import pytest
import sqlalchemy as sa

from accounts.models import User
from accounts.services import issue_token
from errors import InvalidSheet
from extensions import db
from orders import group_orders, sheets
from orders.models import Order, OrderLine


def test_when_an_order_takes_the_stock_after_the_check_the_whole_sheet_rolls_back_naming_the_row(shop, files, snapshot, monkeypatch):
    """The building block's own guarded UPDATE is the last word: with the sheet-wide pre-check skipped (as if another
    order had committed in between), the failing row is reported and the rows before it are undone too."""
    group_orders.import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["赵六", "13900001003", None, 7, None, None]]), filename="v1"
    )
    before = snapshot()
    monkeypatch.setattr(sheets, "check_limits_and_capacity", lambda *args, **kwargs: [])
    data = files.xlsx([shop.header, ["张伟", "13900001001", None, 1, 6, None], ["刘洋", "13900001002", None, None, 5, None]])
    with pytest.raises(InvalidSheet) as caught:
        group_orders.import_sheet(shop.coordinator, shop.campaign.id, data, filename="v2")
    assert [(p["row"], p["column"], p["message"]) for p in caught.value.rows] == [(3, "蜂蜜", "蜂蜜只剩 4 瓶。")]
    assert snapshot() == before  # 张伟's order, 赵六's cancellation and the new sheet are all undone


def test_a_sheet_racing_buyers_for_the_last_jars(shop, files, app):
    """Honey has 10 jars: a sheet asks for 6 while 8 colleagues each order 1 at the same moment."""
    users = [User(name=f"职工{i}", phone=f"1370000{i:04d}", role="buyer", unit_id=shop.other_unit.id, password_hash="-") for i in range(8)]
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
