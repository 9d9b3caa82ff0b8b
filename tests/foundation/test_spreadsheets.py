"""The one xlsx writer: text that looks like a formula is kept exactly as typed, as text, never run as a formula."""

import io
from decimal import Decimal

import pytest
from openpyxl import load_workbook

from spreadsheets import MONEY, Sheet, safe_text, write_workbook

# A leading carriage return is a trigger too, but XML reads a bare "\r" back as "\n", so it cannot round-trip here.
TRIGGERS = ["=1+1", '=HYPERLINK("http://evil.example","点我")', "+86 139", "-2", "@SUM(A1)", "\tcmd"]


def _read(sheet):
    return load_workbook(io.BytesIO(write_workbook([sheet]))).active


@pytest.mark.parametrize("text", TRIGGERS)
def test_formula_like_text_is_kept_intact_as_a_text_cell(text):
    worksheet = _read(Sheet(title="名单", header=[text], rows=[[text]], footer=[text]))
    for row in (1, 2, 3):
        cell = worksheet.cell(row=row, column=1)
        assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", True)


@pytest.mark.parametrize("text", ["王芳", "13900000001", "a=b", "'already"])
def test_ordinary_text_is_written_as_it_is(text):
    cell = _read(Sheet(title="名单", header=["姓名"], rows=[[text]])).cell(row=2, column=1)
    assert (cell.value, cell.data_type, cell.quotePrefix) == (text, "s", False)


def test_numbers_stay_numbers_with_their_format_and_lines_above_the_table():
    sheet = Sheet(
        title="a/b:c",
        labelled=[("单位", "=总工会")],
        header=["姓名", "金额（元）", "数量"],
        rows=[["王芳", Decimal("12.50"), 3]],
        bold_rows={0},
        footer=["合计", Decimal("12.50"), 3],
        number_formats={1: MONEY},
    )
    worksheet = _read(sheet)
    assert worksheet.title == "abc"
    assert [[c.value for c in row] for row in worksheet.iter_rows()] == [
        ["单位", "=总工会", None],
        [None, None, None],
        ["姓名", "金额（元）", "数量"],
        ["王芳", 12.5, 3],
        ["合计", 12.5, 3],
    ]
    assert worksheet["B2"].data_type != "f" and worksheet.cell(row=1, column=2).quotePrefix
    assert worksheet["B4"].number_format == MONEY and worksheet["B4"].data_type == "n"
    assert worksheet.freeze_panes == "A4"
    assert [worksheet[f"A{row}"].font.b for row in (1, 3, 4, 5)] == [True, True, True, True] and not worksheet["B1"].font.b
    assert all(cell.data_type != "f" for row in worksheet.iter_rows() for cell in row)


def test_csv_text_has_no_cell_type_so_it_gets_an_apostrophe():
    assert [safe_text(text) for text in ("=1+1", "王芳")] == ["'=1+1", "王芳"]
