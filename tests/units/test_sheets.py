"""Reading sheets: xlsx and csv (UTF-8, UTF-8 with BOM, GBK), Chinese or English headings, the template round trip."""

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook

from errors import InvalidSheet
from units import sheet_rows
from units.sheet_import import import_sheet
from units.sheet_rows import ItemColumn
from units.sheet_template import sheet_template


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gbk"])
def test_csv_in_utf8_with_or_without_bom_or_gbk_imports_the_same(shop, files, live, encoding):
    data = files.csv(
        [shop.header, ["张伟", "13900001001", "2", "30", "", "放门卫室"], ["刘洋", "13900001002", "", "", "1", ""]], encoding
    )
    result = import_sheet(shop.coordinator, shop.campaign.id, data, filename="报名.csv")
    assert result.orders == 2
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 2, "土鸡蛋": 30}, "13900001002": {"蜂蜜": 1}}
    from extensions import db
    from orders.models import Order

    assert db.session.query(Order).filter_by(buyer_phone="13900001001").one().note == "放门卫室"


@pytest.mark.parametrize(
    "text,encoding",
    [("姓名,手机号,雪毛鸡\n张伟,13900001001,1\n", "utf-16"), ("Name,Phone,Chicken\nJosé,13900001001,1\n", "cp1252")],
)
def test_a_csv_in_another_encoding_is_refused_clearly(shop, files, snapshot, text, encoding):
    before = snapshot()
    data = text.encode(encoding)
    with pytest.raises(InvalidSheet) as caught:
        import_sheet(shop.coordinator, shop.campaign.id, data, filename="a.csv")
    assert caught.value.rows[0]["message"] == "此 csv 文件的编码不是 UTF-8 或 GBK；请另存为“CSV UTF-8”后重新上传。"
    assert snapshot() == before


def test_english_headings_in_a_tab_separated_csv(shop, files, live):
    data = files.csv([["Name", "Phone", "土鸡蛋", "Remarks"], ["Li Si", "13900001009", "12", "after 5pm"]], delimiter="\t")
    import_sheet(shop.coordinator, shop.campaign.id, data, filename="list.csv")
    assert live(shop.campaign.id) == {"13900001009": {"土鸡蛋": 12}}


def test_phones_typed_as_numbers_and_full_width_digits_are_read(shop, files, live):
    data = files.xlsx(
        [shop.header, ["张伟", 13900001001, "２", None, None, None], ["刘洋", "139-0000-1002", 1.0, None, None, None]]
    )
    import_sheet(shop.coordinator, shop.campaign.id, data, filename="a.xlsx")
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 2}, "13900001002": {"雪毛鸡": 1}}


def test_the_template_has_a_column_per_item_notes_and_instructions_and_round_trips(shop, live):
    shop.honey.per_buyer_limit = 3
    from extensions import db

    db.session.commit()
    filename, data = sheet_template(shop.coordinator, shop.campaign.id)
    assert filename == f"pinbang-sheet-{shop.campaign.id}.xlsx"
    workbook = load_workbook(io.BytesIO(data))
    assert workbook.sheetnames == ["报名表", "填写说明"]
    sheet = workbook["报名表"]
    assert [cell.value for cell in sheet[1]] == ["姓名", "手机号", "雪毛鸡", "土鸡蛋", "蜂蜜", "备注"]
    instructions = [row for row in workbook["填写说明"].iter_rows(values_only=True)]
    assert instructions[0][0] == "春季消费扶贫"
    assert ("蜂蜜", "瓶", 68, 3) in instructions
    assert ("土鸡蛋", "个", 1.5, "不限") in instructions
    # A coordinator fills it in and uploads it as it is.
    sheet.append(["张伟", "13900001001", 1, None, 2, "谢谢"])
    out = io.BytesIO()
    workbook.save(out)
    import_sheet(shop.coordinator, shop.campaign.id, out.getvalue(), filename=filename)
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 1, "蜂蜜": 2}}


def test_two_items_with_the_same_title_get_distinct_headings(app):
    items = [ItemColumn(1, "鸡蛋", "个"), ItemColumn(2, "鸡蛋", "盒"), ItemColumn(3, "蜂蜜", "瓶")]
    assert sheet_rows.item_headers(items) == {1: "鸡蛋 #1", 2: "鸡蛋 #2", 3: "蜂蜜"}
    columns, problems = sheet_rows.map_columns(["姓名", "手机号", "鸡蛋 #2", "鸡蛋", "蜂蜜（瓶）"], items)
    assert columns == {0: "name", 1: "phone", 2: ("item", 2), 4: ("item", 3)}
    assert [p["column"] for p in problems] == ["鸡蛋"]


@pytest.mark.parametrize(
    "raw,expected",
    [(None, 0), ("", 0), (" 3 ", 3), (4, 4), (4.0, 4), ("5.0", 5), ("１２", 12), ("1,000", 1000), (10000, 10000)],
)
def test_quantities_that_are_whole_numbers(app, raw, expected):
    assert sheet_rows.parse_quantity(raw) == (expected, None)


@pytest.mark.parametrize("raw", [-1, "-2", 2.5, "2.5", "两个", True, 10001, "1e3"])
def test_quantities_that_are_not(app, raw):
    number, message = sheet_rows.parse_quantity(raw)
    assert number is None and message


@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 5)), min_size=1, max_size=30), st.integers(0, 40))
def test_capacity_is_reported_once_exactly_where_the_running_total_passes_what_is_left(app_for_properties, wishes, left):
    """Property: one problem iff the sheet's total exceeds what is left, at the first row where the running total does."""
    with app_for_properties.app_context():
        rows = [
            sheet_rows.SheetRow(n + 2, f"p{n}", f"1390000{n:04d}", {7: q} if q else {}) for n, (_phone, q) in enumerate(wishes)
        ]
        rows = [row for row in rows if row.quantities]
        problems = sheet_rows.check_limits_and_capacity(rows, [ItemColumn(7, "蜂蜜", "瓶")], {}, {7: left}, {7: ("蜂蜜", 4)})
        total, first_over = 0, None
        for row in rows:
            total += row.quantities[7]
            if first_over is None and total > left:
                first_over = row.row
        assert [p["row"] for p in problems] == ([first_over] if first_over else [])


@pytest.fixture(scope="module")
def app_for_properties():
    """A bare app for pure functions (they translate their messages); no database is touched."""
    from app import create_app

    return create_app("testing")
