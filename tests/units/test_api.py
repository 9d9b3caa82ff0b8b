"""The group-orders, sheet-template, unit-orders and payment endpoints, and who may call them."""

import io

import pytest
from openpyxl import load_workbook

from extensions import db
from factories import make_order, make_user


def post_sheet(client, campaign_id, data, filename="报名表.xlsx", query=""):
    return client.post(
        f"/campaigns/{campaign_id}/group-orders{query}",
        data={"file": (io.BytesIO(data), filename)},
        content_type="multipart/form-data",
    )


def test_a_coordinator_uploads_a_sheet(shop, files, api_as, live):
    data = files.xlsx([shop.header, ["张伟", "13900001001", 2, 30, None, None], ["刘洋", "13900001002", None, None, 1, None]])
    response = post_sheet(api_as(shop.coordinator), shop.campaign.id, data)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert (body["orders"], body["lines"], body["total_fen"]) == (2, 3, 2 * 9800 + 30 * 150 + 6800)
    assert body["added"] == 2 and body["replaced_sheet_id"] is None and len(body["order_ids"]) == 2
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 2, "土鸡蛋": 30}, "13900001002": {"蜂蜜": 1}}


def test_an_invalid_sheet_is_422_with_every_row_and_nothing_saved(shop, files, api_as, snapshot):
    before = snapshot()
    data = files.csv([shop.header, ["张伟", "13900001001", "2", "", "", ""], ["", "1234", "-1", "", "", ""]], "gbk")
    response = post_sheet(api_as(shop.coordinator), shop.campaign.id, data, "报名表.csv")
    assert response.status_code == 422
    error = response.get_json()["error"]
    assert error["code"] == "invalid_sheet"
    assert [(r["row"], r["column"]) for r in error["details"]["rows"]] == [(3, "姓名"), (3, "手机号"), (3, "雪毛鸡")]
    assert snapshot() == before


def test_a_dry_run_lists_the_changes_and_saves_nothing(shop, files, api_as, snapshot):
    client = api_as(shop.coordinator)
    post_sheet(client, shop.campaign.id, files.xlsx([shop.header, ["张伟", "13900001001", 2, None, None, None]]))
    before = snapshot()
    response = post_sheet(
        client, shop.campaign.id, files.xlsx([shop.header, ["刘洋", "13900001002", 1, None, None, None]]), query="?dry_run=true"
    )
    assert response.status_code == 200
    body = response.get_json()
    assert body["dry_run"] is True and (body["added"], body["removed"]) == (1, 1)
    assert [(c["kind"], c["name"], c["before"], c["after"]) for c in body["changes"]] == [
        ("added", "刘洋", {}, {str(shop.chicken.id): 1}),
        ("removed", "张伟", {str(shop.chicken.id): 2}, {}),
    ]
    assert snapshot() == before


def test_uploading_without_a_file_is_a_field_error(shop, api_as):
    response = api_as(shop.coordinator).post(
        f"/campaigns/{shop.campaign.id}/group-orders", data={}, content_type="multipart/form-data"
    )
    assert response.status_code == 422 and "file" in response.get_json()["error"]["details"]["fields"]


@pytest.mark.parametrize("who,status", [("buyer", 403), ("operator", 403), ("other_coordinator_unlisted", 404)])
def test_who_may_upload(shop, files, api_as, snapshot, who, status):
    if who == "other_coordinator_unlisted":
        shop.campaign.units = [shop.unit]  # the campaign is not open to the other unit
        db.session.commit()
        user = shop.other_coordinator
    else:
        user = getattr(shop, who)
    before = snapshot()
    response = post_sheet(api_as(user), shop.campaign.id, files.xlsx([shop.header, ["张伟", "13900001001", 1, None, None, None]]))
    assert response.status_code == status
    assert snapshot() == before


def test_the_sheet_template_is_an_xlsx_for_coordinators_only(shop, api_as):
    response = api_as(shop.coordinator).get(f"/campaigns/{shop.campaign.id}/sheet-template")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    assert "attachment" in response.headers["Content-Disposition"]
    workbook = load_workbook(io.BytesIO(response.data))
    assert [c.value for c in workbook.worksheets[0][1]] == shop.header
    assert len(workbook.worksheets) == 2
    assert api_as(shop.buyer).get(f"/campaigns/{shop.campaign.id}/sheet-template").status_code == 403
    assert api_as(shop.coordinator).get("/campaigns/999999/sheet-template").status_code == 404


def test_unit_orders_per_person_for_its_coordinator_and_operators(shop, api_as):
    own = make_order(shop.campaign, [(shop.chicken, 1), (shop.eggs, 10)], user=shop.buyer)
    make_order(
        shop.campaign, [(shop.eggs, 5)], user=shop.coordinator, buyer_name="张伟", buyer_phone="13900001001", source="coordinator"
    )
    make_order(shop.campaign, [(shop.eggs, 7)], user=make_user(unit=shop.other_unit))
    response = api_as(shop.coordinator).get(f"/units/{shop.unit.id}/orders?campaign_id={shop.campaign.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert [(p["name"], p["due_fen"], p["payment_status"]) for p in body["people"]] == [
        ("张伟", 750, "unpaid"),
        ("王芳", 9800 + 1500, "unpaid"),
    ]
    assert [(line["title"], line["quantity"]) for line in body["people"][1]["lines"]] == [("雪毛鸡", 1), ("土鸡蛋", 10)]
    assert body["people"][1]["orders"][0]["id"] == own.id
    assert [(i["title"], i["quantity"], i["amount_fen"]) for i in body["items"]] == [("雪毛鸡", 1, 9800), ("土鸡蛋", 15, 2250)]
    assert (body["due_fen"], body["collected_fen"], body["outstanding_fen"]) == (12050, 0, 12050)
    assert api_as(shop.operator).get(f"/units/{shop.unit.id}/orders?campaign_id={shop.campaign.id}").status_code == 200
    # Another unit's coordinator: not found; a plain buyer: not allowed.
    assert api_as(shop.other_coordinator).get(f"/units/{shop.unit.id}/orders").status_code == 404
    assert api_as(shop.buyer).get(f"/units/{shop.unit.id}/orders").status_code == 403


def test_payments_through_the_api(shop, api_as):
    order = make_order(shop.campaign, [(shop.eggs, 10)], user=shop.buyer)
    client = api_as(shop.coordinator)
    response = client.post(f"/orders/{order.id}/payment", json={"method": "transfer"})
    assert response.status_code == 200
    body = response.get_json()
    assert (body["payment_status"], body["payment_method"], body["payment_recorded_by_id"]) == (
        "paid",
        "transfer",
        shop.coordinator.id,
    )
    unpaid = client.get(f"/units/{shop.unit.id}/orders?campaign_id={shop.campaign.id}&unpaid=true").get_json()
    assert unpaid["people"] == [] and unpaid["collected_fen"] == 1500
    assert client.post(f"/orders/{order.id}/payment", json={"method": "bitcoin"}).status_code == 422
    assert api_as(shop.other_coordinator).delete(f"/orders/{order.id}/payment").status_code == 404
    assert api_as(shop.buyer).post(f"/orders/{order.id}/payment", json={"method": "cash"}).status_code == 403
    assert client.delete(f"/orders/{order.id}/payment").get_json()["payment_status"] == "unpaid"


def test_the_endpoints_are_in_the_openapi_spec(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert {
        "/api/v1/campaigns/{campaign_id}/group-orders",
        "/api/v1/campaigns/{campaign_id}/sheet-template",
        "/api/v1/units/{unit_id}/orders",
        "/api/v1/orders/{order_id}/payment",
    } <= set(paths)


def test_problems_come_in_the_users_language(shop, files, api_as):
    shop.coordinator.locale = "en"
    db.session.commit()
    data = files.xlsx([shop.header, ["", "13900001001", 1, None, None, None]])
    error = post_sheet(api_as(shop.coordinator), shop.campaign.id, data).get_json()["error"]
    assert error["details"]["rows"] == [{"row": 2, "column": "姓名", "cell": "A2", "message": "The name is missing."}]
    assert error["message"].startswith("The sheet was not imported: 1 problem(s) found.")
