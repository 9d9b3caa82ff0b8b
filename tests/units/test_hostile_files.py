"""Hostile uploads: each gets a clear error in Chinese through the API, nothing is saved, and the app keeps answering."""

import io
import struct
import zipfile

import pytest

from units import sheets

BILLION_LAUGHS = b"""<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>Name</t></is></c><c r="B1" t="inlineStr"><is><t>&lol9;</t></is></c></row>
</sheetData></worksheet>"""


def rezip(data, replace=None, add=None, drop=()):
    """The same workbook with some parts replaced, added or dropped."""
    replace, add = replace or {}, add or {}
    source = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename in drop:
                continue
            target.writestr(info.filename, replace.get(info.filename, source.read(info.filename)))
        for name, content in add.items():
            target.writestr(name, content)
    return out.getvalue()


@pytest.fixture
def upload(shop, api_as, snapshot):
    """Upload as the coordinator; assert nothing changed; return (status, error)."""
    client = api_as(shop.coordinator)

    def send(data, filename="报名表.xlsx"):
        before = snapshot()
        response = client.post(
            f"/campaigns/{shop.campaign.id}/group-orders",
            data={"file": (io.BytesIO(data), filename)},
            content_type="multipart/form-data",
        )
        assert snapshot() == before
        return response.status_code, response.get_json()["error"]

    return send


@pytest.fixture
def good(shop, files):
    return files.xlsx([shop.header, ["张伟", "13900001001", 1, 2, None, None]])


def first_message(error):
    assert error["code"] == "invalid_sheet"
    return error["details"]["rows"][0]["message"]


def test_a_file_that_is_not_a_spreadsheet(upload):
    status, error = upload(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj <<>> endobj", "通知.pdf")
    assert status == 422 and first_message(error) == "请以 xlsx、xls、ods 或 csv 文件上传报名表。"


def test_a_renamed_binary(upload):
    png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 20
    status, error = upload(png, "报名表.xlsx")
    assert status == 422 and first_message(error) == "此文件不是有效的工作簿（xlsx、xls 或 ods），可能已损坏或被改了扩展名。"
    status, error = upload(png, "报名表.csv")
    assert status == 422 and first_message(error) == "此文件不是电子表格，也不是文本（csv）文件。"


def test_a_damaged_xls_file_is_refused_as_damaged(upload):
    status, error = upload(sheets.OLE_MAGIC + b"\x00" * 1024, "报名表.xls")
    assert status == 422 and first_message(error) == "此文件不是有效的工作簿（xlsx、xls 或 ods），可能已损坏或被改了扩展名。"


def test_a_zip_bomb_is_refused_before_it_is_inflated(upload, good):
    huge = b'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    huge += b" " * (sheets.LIMITS.max_uncompressed + 1) + b"</sheetData></worksheet>"
    bomb = rezip(good, replace={"xl/worksheets/sheet1.xml": huge})
    assert len(bomb) < 100_000  # small on the wire
    status, error = upload(bomb)
    assert status == 422 and first_message(error) == "此工作簿解压后超过 10 MB；报名表远没有这么大。"


def test_a_zip_bomb_that_lies_about_its_size_is_refused_too(upload, good):
    huge = b" " * (sheets.LIMITS.max_uncompressed + 1)
    bomb = bytearray(rezip(good, replace={"xl/worksheets/sheet1.xml": huge}))
    # Declare 100 bytes in both the local header and the central directory; zipfile stops there and the CRC fails.
    archive = zipfile.ZipFile(io.BytesIO(bytes(bomb)))
    info = archive.getinfo("xl/worksheets/sheet1.xml")
    struct.pack_into("<I", bomb, info.header_offset + 22, 100)
    position = bytes(bomb).find(b"PK\x01\x02")
    while bytes(bomb)[position + 46 : position + 46 + len(info.filename)] != info.filename.encode():
        position = bytes(bomb).find(b"PK\x01\x02", position + 4)
    struct.pack_into("<I", bomb, position + 24, 100)
    assert zipfile.ZipFile(io.BytesIO(bytes(bomb))).getinfo(info.filename).file_size == 100
    status, error = upload(bytes(bomb))
    assert status == 422 and first_message(error) == "此文件不是有效的工作簿（xlsx、xls 或 ods），可能已损坏或被改了扩展名。"


def test_a_big_sheet_part_without_a_dimension_is_refused_before_the_reader_builds_it(upload, good):
    """A worksheet's rows are counted from its raw XML, whatever its <dimension> says or lacks."""
    rows = "".join(f'<row r="{n}"><c r="A{n}"><v>1</v></c></row>' for n in range(1, 60_000))
    xml = (
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        + rows
        + "</sheetData></worksheet>"
    ).encode()
    assert sheets.LIMITS.max_sheet_without_dimension < len(xml) < sheets.LIMITS.max_uncompressed
    status, error = upload(rezip(good, replace={"xl/worksheets/sheet1.xml": xml}))
    # Its cells are counted from the raw XML before the reader builds the sheet: too many rows, nothing read.
    assert status == 422 and first_message(error) == "报名表超过 1000 行；请拆分或删除空行。"


def test_too_many_parts(upload, good):
    status, error = upload(rezip(good, add={f"xl/media/image{n}.png": b"x" for n in range(150)}))
    assert status == 422 and "部件太多" in first_message(error)


def test_a_sheet_with_too_many_rows(upload, shop, files):
    rows = [shop.header] + [[f"同事{n}", f"139{n:08d}", None, 1, None, None] for n in range(sheets.LIMITS.max_people + 1)]
    status, error = upload(files.xlsx(rows))
    assert status == 422 and first_message(error) == "报名表超过 1000 行；请拆分或删除空行。"


def test_a_sheet_claiming_a_million_rows_stops_early(upload, shop):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(shop.header)
    sheet.append(["张伟", "13900001001", 1, None, None, None])
    sheet.cell(row=1_000_000, column=1, value="末行")
    out = io.BytesIO()
    workbook.save(out)
    status, error = upload(out.getvalue())
    assert status == 422 and first_message(error) == "报名表超过 1000 行；请拆分或删除空行。"


def test_huge_cells(upload, shop, files):
    status, error = upload(files.xlsx([shop.header, ["张" * 100_000, "13900001001", 1, None, None, None]]))
    assert status == 422
    assert error["details"]["rows"][0] == {"row": 2, "column": "姓名", "cell": "A2", "message": "此单元格超过 500 个字符。"}
    status, error = upload(files.csv([shop.header, ["张伟", "13900001001", "1", "", "", "备" * 200_000]]), "报名表.csv")
    assert status == 422 and first_message(error) == "无法读取此 csv 文件：某个单元格太大或引号没有闭合。"


def test_formulas_are_refused_cell_by_cell(upload, shop, files):
    data = files.xlsx(
        [shop.header, ["张伟", "13900001001", None, 5, None, None]],
        formulas=[("C2", "=1+1"), ("A3", '=HYPERLINK("http://evil.example","点我")'), ("B3", "13900001002"), ("D3", 1)],
    )
    status, error = upload(data)
    assert status == 422
    assert [(p["cell"], p["message"]) for p in error["details"]["rows"]] == [
        ("C2", "不接受公式；请直接填写数值。"),
        ("A3", "不接受公式；请直接填写数值。"),
        ("A3", "姓名未填写。"),
    ]


def test_a_formula_in_a_csv_is_refused_too(upload, shop, files):
    status, error = upload(files.csv([shop.header, ["=cmd|' /C calc'!A0", "13900001001", "1", "", "", ""]]), "a.csv")
    assert status == 422 and first_message(error) == "不接受公式；请直接填写数值。"


def test_a_macro_enabled_workbook(upload, good):
    status, error = upload(rezip(good, add={"xl/vbaProject.bin": b"\xd0\xcf\x11\xe0" + b"\x00" * 512}), "报名表.xlsm")
    assert status == 422 and first_message(error) == "此工作簿含有宏；请另存为普通 .xlsx 工作簿后重新上传。"
    types = (
        zipfile.ZipFile(io.BytesIO(good)).read("[Content_Types].xml").replace(b"sheet.main+xml", b"sheet.macroEnabled.main+xml")
    )
    status, error = upload(rezip(good, replace={"[Content_Types].xml": types}))
    assert status == 422 and first_message(error) == "此工作簿含有宏；请另存为普通 .xlsx 工作簿后重新上传。"


def test_external_links(upload, good):
    status, error = upload(rezip(good, add={"xl/externalLinks/externalLink1.xml": b"<externalLink/>"}))
    assert status == 422 and first_message(error) == "此工作簿链接了其他文件；请删除外部链接后重新上传。"


def test_xml_entity_tricks(upload, good):
    status, error = upload(rezip(good, replace={"xl/worksheets/sheet1.xml": BILLION_LAUGHS}))
    assert status == 422 and first_message(error) == "此工作簿含有不允许的 XML 声明（DTD 或实体）。"


def test_entities_are_never_expanded_even_past_our_own_scan(upload, good, monkeypatch):
    """Defence in depth: with the pre-scan switched off, the reader (calamine's XML parser) expands no entity."""
    import re

    from units import sheet_guards

    monkeypatch.setattr(sheet_guards, "XML_DECLARATIONS", re.compile(rb"(?!)"))
    status, error = upload(rezip(good, replace={"xl/worksheets/sheet1.xml": BILLION_LAUGHS}))
    assert status == 422 and "lol" not in str(error)


def test_a_file_over_the_size_limit_is_413(upload):
    status, error = upload(b"a,b\n" * (sheets.LIMITS.max_bytes // 4 + 1), "big.csv")
    assert status == 413 and error["code"] == "too_large"


def test_damaged_xml_inside_a_real_zip(upload, good):
    status, error = upload(rezip(good, replace={"xl/worksheets/sheet1.xml": b"<worksheet><sheetData><row>"}))
    assert status == 422 and first_message(error) == "无法读取此工作簿，可能已损坏。请重新另存为 .xlsx 后再试。"


def test_after_all_that_a_good_sheet_still_goes_in(upload, shop, api_as, good):
    upload(b"garbage", "x.xlsx")
    response = api_as(shop.coordinator).post(
        f"/campaigns/{shop.campaign.id}/group-orders",
        data={"file": (io.BytesIO(good), "ok.xlsx")},
        content_type="multipart/form-data",
    )
    assert response.status_code == 201 and response.get_json()["orders"] == 1
