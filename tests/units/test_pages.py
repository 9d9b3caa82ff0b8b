"""The coordinator's pages: unit home, overview, grid, upload with preview and confirmation, distribution list, payments."""

import io
import re

import pytest
import sqlalchemy as sa
from openpyxl import load_workbook

from extensions import db
from factories import make_order, make_user
from orders.models import Order


@pytest.fixture
def coordinator(shop, auth):
    auth.login(shop.coordinator.phone)
    return shop.coordinator


def page(response):
    return response.get_data(as_text=True)


def upload(client, campaign_id, data, filename="报名表.xlsx"):
    return client.post(
        f"/units/campaigns/{campaign_id}/sheet",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_the_nav_shows_my_unit_to_coordinators_only(shop, client, auth):
    auth.login(shop.buyer.phone)
    assert "单位团购" not in page(client.get("/campaigns"))
    auth.logout()
    auth.login(shop.coordinator.phone)
    assert "单位团购" in page(client.get("/campaigns"))


def test_the_unit_home_lists_the_campaigns_with_what_the_unit_ordered(shop, client, coordinator):
    make_order(shop.campaign, [(shop.eggs, 10)], user=shop.buyer)
    text = page(client.get("/units/"))
    assert "乐昌市总工会" in text and "春季消费扶贫" in text
    assert "1 人，1 个订单，¥15.00" in text


def test_first_upload_imports_at_once_and_the_overview_shows_who_ordered_what(shop, client, coordinator, files):
    data = files.xlsx(
        [shop.header, ["张伟", "13900001001", 2, 30, None, "放门卫室"], ["刘洋", "13900001002", None, None, 1, None]]
    )
    response = upload(client, shop.campaign.id, data)
    assert response.status_code == 302
    text = page(client.get(response.headers["Location"]))
    assert "报名表已导入：2 人，3 行，合计 ¥309.00。" in text
    assert "张伟" in text and "雪毛鸡 × 2只；土鸡蛋 × 30个" in text and "放门卫室" in text
    assert "来自报名表" in text
    assert "当前报名表：报名表.xlsx，2 人" in text


def test_an_invalid_upload_lists_row_column_and_reason_in_chinese(shop, client, coordinator, files, snapshot):
    before = snapshot()
    data = files.xlsx([shop.header, ["张伟", "1390000", 2, None, None, None], ["刘洋", "13900001002", None, "很多", None, None]])
    response = upload(client, shop.campaign.id, data)
    assert response.status_code == 422
    text = page(response)
    assert "报名表未导入：发现 2 个问题。" in text
    assert re.search(r"第 2 行</td>\s*<td>手机号.*?“1390000”不是11位手机号码。", text, re.S)
    assert re.search(r"第 3 行</td>\s*<td>土鸡蛋.*?“很多”不是数量，请填写整数。", text, re.S)
    assert snapshot() == before


def test_a_new_upload_shows_the_changes_first_and_replaces_once_confirmed(shop, client, coordinator, files, live):
    upload(
        client,
        shop.campaign.id,
        files.xlsx([shop.header, ["张伟", "13900001001", 2, None, None, None], ["赵六", "13900001003", 1, None, None, None]]),
    )
    second = files.xlsx([shop.header, ["张伟", "13900001001", 1, None, None, None], ["刘洋", "13900001002", None, 5, None, None]])
    preview = upload(client, shop.campaign.id, second, "第二版.xlsx")
    assert preview.status_code == 200
    text = page(preview)
    assert "核对变更" in text and "1 人新增" in text and "1 人变更" in text and "1 人移除" in text
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 2}, "13900001003": {"雪毛鸡": 1}}  # nothing saved yet
    carried = re.search(r'name="sheet" type="hidden" value="([^"]+)"', text).group(1)
    confirmed = client.post(
        f"/units/campaigns/{shop.campaign.id}/sheet/confirm", data={"sheet": carried, "filename": "第二版.xlsx"}
    )
    assert confirmed.status_code == 302
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 1}, "13900001002": {"土鸡蛋": 5}}


def test_the_grid_saves_all_rows_or_none_and_keeps_what_was_typed(shop, client, coordinator, live, snapshot):
    assert "为同事录入订单" in page(client.get(f"/units/campaigns/{shop.campaign.id}/grid"))
    before = snapshot()
    form = {
        "rows": "5",
        "save": "1",
        "name-1": "张伟",
        "phone-1": "13900001001",
        f"qty-1-{shop.chicken.id}": "2",
        "name-2": "刘洋",
        "phone-2": "13900001002",
        f"qty-2-{shop.chicken.id}": "3",  # over the limit of 2
    }
    response = client.post(f"/units/campaigns/{shop.campaign.id}/grid", data=form)
    assert response.status_code == 422
    text = page(response)
    assert "雪毛鸡每人限购 2 只。" in text and 'value="张伟"' in text and 'value="刘洋"' in text
    assert snapshot() == before
    form[f"qty-2-{shop.chicken.id}"] = "1"
    response = client.post(f"/units/campaigns/{shop.campaign.id}/grid", data=form)
    assert response.status_code == 302
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 2}, "13900001002": {"雪毛鸡": 1}}


def test_more_grid_rows_keep_what_was_typed(shop, client, coordinator, snapshot):
    before = snapshot()
    response = client.post(f"/units/campaigns/{shop.campaign.id}/grid", data={"rows": "5", "more": "1", "name-1": "张伟"})
    text = page(response)
    assert 'name="name-10"' in text and 'value="张伟"' in text
    assert snapshot() == before


def test_payments_on_the_overview(shop, client, coordinator):
    order = make_order(shop.campaign, [(shop.eggs, 10)], user=shop.buyer)
    response = client.post(f"/units/orders/{order.id}/payment", data={"method": "cash"}, follow_redirects=True)
    text = page(response)
    assert "王芳：已付 ¥15.00。" in text and "由 李主任 登记" in text
    db.session.expire_all()
    assert (order.payment_status, order.payment_method, order.payment_recorded_by_id) == ("paid", "cash", shop.coordinator.id)
    assert "暂无待付款的人。" in page(client.get(f"/units/campaigns/{shop.campaign.id}?unpaid=1"))
    client.post(f"/units/orders/{order.id}/payment/clear")
    db.session.expire_all()
    assert order.payment_status == "unpaid"


def test_the_distribution_list_prints_and_exports_with_formulas_kept_as_text(shop, client, coordinator):
    evil = '=HYPERLINK("http://evil.example","点我")'
    make_order(shop.campaign, [(shop.chicken, 1), (shop.eggs, 12)], user=shop.buyer)
    make_order(
        shop.campaign, [(shop.honey, 2)], user=shop.coordinator, buyer_name=evil, buyer_phone="13900001001", source="coordinator"
    )
    text = page(client.get(f"/units/campaigns/{shop.campaign.id}/distribution"))
    assert "发放清单" in text and "签收" in text and "王芳" in text and "¥136.00" in text
    response = client.get(f"/units/campaigns/{shop.campaign.id}/distribution.xlsx")
    assert response.status_code == 200 and "attachment" in response.headers["Content-Disposition"]
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[cell for cell in row] for row in sheet.iter_rows()]
    names = [row[1] for row in rows if row[1].value in (evil, "王芳")]
    # Kept intact as text, the same way as in the dashboard's exports: a string cell with Excel's quote prefix.
    assert [(cell.value, cell.data_type, cell.quotePrefix) for cell in names] == [(evil, "s", True), ("王芳", "s", False)]
    assert not any(cell.data_type == "f" for row in rows for cell in row)
    header = next(row for row in rows if row[0].value == "序号")
    assert [cell.value for cell in header][:6] == ["序号", "姓名", "手机号", "雪毛鸡 (只)", "土鸡蛋 (个)", "蜂蜜 (瓶)"]
    total = next(row for row in rows if row[0].value == "合计")
    assert [cell.value for cell in total][3:7] == [1, 12, 2, 9800 / 100 + 18 + 136]


@pytest.mark.parametrize(
    "path",
    [
        "/units/",
        "/units/campaigns/{c}",
        "/units/campaigns/{c}/grid",
        "/units/campaigns/{c}/sheet",
        "/units/campaigns/{c}/template.xlsx",
        "/units/campaigns/{c}/distribution",
        "/units/campaigns/{c}/distribution.xlsx",
    ],
)
def test_a_plain_buyer_cannot_use_the_coordinator_pages(shop, client, auth, path):
    auth.login(shop.buyer.phone)
    assert client.get(path.format(c=shop.campaign.id)).status_code == 403


def test_a_plain_buyer_cannot_import(shop, client, auth, files, snapshot):
    auth.login(shop.buyer.phone)
    before = snapshot()
    response = upload(client, shop.campaign.id, files.xlsx([shop.header, ["张伟", "13900001001", 1, None, None, None]]))
    assert response.status_code == 403 and snapshot() == before


def test_another_units_coordinator_sees_and_changes_nothing_of_this_unit(shop, client, auth):
    order = make_order(shop.campaign, [(shop.eggs, 10)], user=shop.buyer)
    auth.login(shop.other_coordinator.phone)
    assert "王芳" not in page(client.get(f"/units/campaigns/{shop.campaign.id}"))
    assert client.post(f"/units/orders/{order.id}/payment", data={"method": "cash"}).status_code == 404
    assert client.post(f"/units/orders/{order.id}/payment/clear").status_code == 404
    db.session.expire_all()
    assert order.payment_status == "unpaid"
    # A campaign not open to their unit is not found at all.
    shop.campaign.units = [shop.unit]
    db.session.commit()
    assert client.get(f"/units/campaigns/{shop.campaign.id}").status_code == 404


def test_the_upload_form_carries_csrf(csrf_app, files):
    from factories import PASSWORD, make_campaign, make_item, make_listing

    coordinator = make_user(coordinator=True)
    campaign = make_campaign()
    make_item(campaign, [(make_listing(name="土鸡蛋"), 100)])
    client = csrf_app.test_client()
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page(client.get("/accounts/login"))).group(1)
    client.post("/accounts/login", data={"login": coordinator.phone, "password": PASSWORD, "csrf_token": token})
    form = page(client.get(f"/units/campaigns/{campaign.id}/sheet"))
    assert 'name="csrf_token"' in form and 'enctype="multipart/form-data"' in form
    without = client.post(
        f"/units/campaigns/{campaign.id}/sheet",
        data={"file": (io.BytesIO(files.xlsx([["姓名", "手机号", "土鸡蛋"], ["张伟", "13900001001", 1]])), "a.xlsx")},
        content_type="multipart/form-data",
    )
    assert without.status_code == 400
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_a_colleague_with_an_account_sees_the_sheet_order_in_my_orders(shop, client, auth, files):
    colleague = make_user(unit=shop.unit, name="张伟", phone="13900001001")
    from units.sheet_import import import_sheet

    import_sheet(
        shop.coordinator, shop.campaign.id, files.xlsx([shop.header, ["张伟", "13900001001", 1, None, None, None]]), filename="a"
    )
    auth.login(colleague.phone)
    assert "春季消费扶贫" in page(client.get("/orders/"))
