"""One reader for every sheet a coordinator may have: xlsx, WPS's or old Excel's .xls, LibreOffice's .ods, and csv,
with the same refusals for hostile files whatever the format."""

import io
import zipfile

import pytest
from workbook_files import ods, xls

from errors import InvalidSheet
from units import sheets
from units.sheet_import import import_sheet

ROWS = [
    ["姓名", "手机号", "雪毛鸡", "土鸡蛋", "蜂蜜", "备注"],
    ["张伟", "13900001001", 2, 30, None, "放门卫室"],
    ["刘洋", 13900001002, None, 60, 1, None],
]


def _messages(error):
    return [row["message"] for row in error.value.details["rows"]]


@pytest.fixture
def every_format(files):
    return {"xlsx": files.xlsx(ROWS), "xls": xls(ROWS), "ods": ods(ROWS), "csv": files.csv(ROWS)}


def test_every_format_reads_into_the_same_rows(app, every_format):
    tables = {kind: sheets.read_table(data, f"报名表.{kind}") for kind, data in every_format.items()}
    assert {kind: table.kind for kind, table in tables.items()} == {k: k for k in every_format}
    expected = [(2, ["张伟", "13900001001", 2, 30, None, "放门卫室"]), (3, ["刘洋", 13900001002, None, 60, 1])]
    for kind in ("xlsx", "xls", "ods"):
        assert tables[kind].headers == ROWS[0]
        assert tables[kind].rows == expected, kind
        assert tables[kind].problems == []


@pytest.mark.parametrize("kind", ["xls", "ods"])
def test_a_wps_or_libreoffice_sheet_becomes_orders(shop, live, kind):
    data = {"xls": xls, "ods": ods}[kind]([shop.header, ["张伟", "139 0000 1001", 2, 30, None, "放门卫室"]])
    result = import_sheet(shop.coordinator, shop.campaign.id, data, filename=f"总工会.{kind}")
    assert (result.orders, result.lines) == (1, 2)
    assert live(shop.campaign.id) == {"13900001001": {"雪毛鸡": 2, "土鸡蛋": 30}}


def test_an_xls_upload_through_the_api_is_accepted(shop, api_as):
    response = api_as(shop.coordinator).post(
        f"/campaigns/{shop.campaign.id}/group-orders?dry_run=true",
        data={"file": (io.BytesIO(xls([shop.header, ["张伟", "13900001001", 1]])), "报名表.xls")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 200, response.get_json()


@pytest.mark.parametrize("kind", ["xls", "ods"])
def test_formulas_are_refused_cell_by_cell_in_every_format(app, kind):
    rows = [["姓名", "手机号", "雪毛鸡"], ["张伟", "13900001001", 2]]
    data = xls(rows, formulas=[((2, 3), "=1")]) if kind == "xls" else ods(rows, formulas=[((2, 3), "=1+1", 2)])
    table = sheets.read_table(data, f"a.{kind}")
    assert [(p["row"], p["column"], p["cell"]) for p in table.problems] == [(2, "雪毛鸡", "C2")]
    assert table.rows == [(2, ["张伟", "13900001001"])]


def test_a_value_far_away_is_refused_before_the_reader_builds_the_sheet(app):
    # One value at row 60000, column 200 of a 5 KB file: the reader would build 12 million cells.
    with pytest.raises(InvalidSheet) as error:
        sheets.read_table(xls(ROWS, far_cell=(60000, 200)), "a.xls")
    assert _messages(error) == ["报名表超过 1000 行；请拆分或删除空行。"]
    with pytest.raises(InvalidSheet) as error:
        sheets.read_table(xls(ROWS, far_cell=(5, 200)), "a.xls")
    assert _messages(error) == ["报名表超过 60 列。"]


def test_a_repeated_ods_cell_is_counted_as_all_its_copies(app):
    with pytest.raises(InvalidSheet) as error:
        sheets.read_table(ods(ROWS, repeat=(2, 16000)), "a.ods")
    assert _messages(error) == ["报名表超过 60 列。"]
    # LibreOffice's own run of a million empty rows at the end is nothing.
    assert len(sheets.read_table(ods(ROWS), "a.ods").rows) == 2


def test_password_macros_and_damage_are_refused_in_xls(app):
    for data, message in [
        (xls(ROWS, password=True), "此工作簿设有密码；请取消密码后重新上传。"),
        (xls(ROWS, vba=True), "此工作簿含有宏；请另存为普通 .xlsx 工作簿后重新上传。"),
        (xls(ROWS)[:1500], "此文件不是有效的工作簿（xlsx、xls 或 ods），可能已损坏或被改了扩展名。"),
    ]:
        with pytest.raises(InvalidSheet) as error:
            sheets.read_table(data, "a.xls")
        assert _messages(error) == [message]


def test_macros_and_entities_are_refused_in_ods(app):
    macro = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(ods(ROWS))) as source, zipfile.ZipFile(macro, "w") as target:
        for info in source.infolist():
            target.writestr(info, source.read(info))
        target.writestr("Basic/Standard/Module1.xml", "<script/>")
    with pytest.raises(InvalidSheet) as error:
        sheets.read_table(macro.getvalue(), "a.ods")
    assert "宏" in _messages(error)[0]
    entities = ods(ROWS).replace(b"content.xml", b"content.xml")
    with zipfile.ZipFile(io.BytesIO(entities)) as source:
        content = source.read("content.xml").replace(b"?>", b'?><!DOCTYPE x [<!ENTITY a "b">]>', 1)
    bad = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(entities)) as source, zipfile.ZipFile(bad, "w") as target:
        for info in source.infolist():
            target.writestr(info, content if info.filename == "content.xml" else source.read(info))
    with pytest.raises(InvalidSheet) as error:
        sheets.read_table(bad.getvalue(), "a.ods")
    assert "XML" in _messages(error)[0]
