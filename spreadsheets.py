"""Writing xlsx workbooks, with one rule for text a spreadsheet would run as a formula (``=HYPERLINK(...)``): it stays text.

The rule: text that starts like a formula (``= + - @``, tab, carriage return) is written as a string cell with
Excel's quote prefix, so the cell shows and holds exactly that text and is never run; nothing is added to the
value. A csv has no cell types, so there the only defence is a leading apostrophe (:func:`safe_text`).
"""

import io
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

from openpyxl import Workbook
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from plain_text import strip_controls

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
MONEY = "#,##0.00"  # yuan, from measures.yuan_decimal
WEIGHT = "#,##0.0##"  # kg or jin, exact decimals
MIN_WIDTH, MAX_WIDTH = 8, 60
TEXT = "@"
BOLD = Font(bold=True)


def looks_like_formula(value) -> bool:
    return isinstance(value, str) and value.startswith(FORMULA_TRIGGERS)


def safe_text(value):
    """For csv: text starting like a formula gets a leading apostrophe; anything else is returned unchanged."""
    if looks_like_formula(value):
        return "'" + value
    return value


@dataclass
class WholeNumbers:
    """Cells of some columns that accept only whole numbers in a range (a sheet to fill in)."""

    first_column: int  # 0-based, inclusive
    last_column: int
    low: int
    high: int
    message: str


@dataclass
class Sheet:
    """One worksheet: optional lines above a table, the table (bold header, rows, a bold footer), its layout.

    Values may be text, int, Decimal (money in yuan, weights in kg: exact, never floats), dates or None (empty).
    """

    title: str
    header: list
    rows: list = field(default_factory=list)
    caption: str | None = None  # a bold first line
    notes: list = field(default_factory=list)  # plain lines under the caption
    labelled: list = field(default_factory=list)  # (label, value) lines above the table, the label bold
    footer: list | None = None  # a bold row under the table (totals)
    bold_rows: set = field(default_factory=set)  # 0-based indexes into rows written bold (subtotals within the table)
    widths: dict = field(default_factory=dict)  # 0-based column → width; others are sized from their content
    number_formats: dict = field(default_factory=dict)  # 0-based column → Excel number format (MONEY, TEXT, "0.00")
    entry_rows: int = 0  # blank rows under the header kept in each column's number format, for filling in
    whole_numbers: WholeNumbers | None = None
    frozen_columns: int = 0  # besides the header, keep these first columns in view
    freeze: bool = True


def sheet_title(text) -> str:
    """A worksheet name Excel accepts: at most 31 characters, none of []:*?/\\."""
    return "".join(ch for ch in strip_controls(str(text)) if ch not in "[]:*?/\\")[:31] or "Sheet1"


def write_workbook(sheets) -> bytes:
    """The xlsx file of ``sheets`` (Sheet objects, in tab order); every text cell holds its text, never a formula."""
    workbook = Workbook()
    workbook.remove(workbook.active)
    for sheet in sheets:
        _write_sheet(workbook.create_sheet(sheet_title(sheet.title)), sheet)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _put(worksheet, row, column, value, *, bold=False, number_format=None):
    """Write one cell (1-based row and column): text as a string cell by the one rule, anything else as it is.

    Control characters that older rows may still hold (typed before forms refused them) are left out: the file
    must open, whatever the database holds."""
    cell = worksheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = strip_controls(value)
        cell.data_type = "s"  # openpyxl would otherwise store "=..." as a formula
        if looks_like_formula(value):
            cell.quotePrefix = True
    else:
        cell.value = value
    if bold:
        cell.font = BOLD
    if number_format and not isinstance(value, str):
        cell.number_format = number_format
    return cell


def _write_sheet(worksheet, sheet: Sheet) -> None:
    row = 0
    if sheet.caption is not None:
        row += 1
        _put(worksheet, row, 1, sheet.caption, bold=True)
        row += 1
    for line in sheet.notes:
        row += 1
        _put(worksheet, row, 1, line)
    for label, value in sheet.labelled:
        row += 1
        _put(worksheet, row, 1, label, bold=True)
        _put(worksheet, row, 2, value)
    if row:
        row += 1
    row += 1
    header_row = row
    _write_row(worksheet, row, sheet.header, sheet.number_formats, bold=True)
    for index, values in enumerate(sheet.rows):
        row += 1
        _write_row(worksheet, row, values, sheet.number_formats, bold=index in sheet.bold_rows)
    if sheet.footer is not None:
        row += 1
        _write_row(worksheet, row, sheet.footer, sheet.number_formats, bold=True)
    _lay_out(worksheet, sheet, header_row)


def _write_row(worksheet, row, values, number_formats, *, bold=False) -> None:
    for index, value in enumerate(values):
        _put(worksheet, row, index + 1, value, bold=bold, number_format=number_formats.get(index))


def display_width(value) -> int:
    """How many narrow characters a value takes in a cell: a Chinese character (or any wide one) counts two."""
    if value is None:
        return 0
    text = value if isinstance(value, str) else (f"{value:,.2f}" if isinstance(value, Decimal) else str(value))
    longest = max(text.split("\n"), key=len, default="")
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in longest)


def column_widths(sheet: Sheet) -> list[int]:
    """Each column wide enough for its heading and its longest value (names are never cut), within sane bounds."""
    widths = []
    for index, heading in enumerate(sheet.header):
        if sheet.widths.get(index):
            widths.append(sheet.widths[index])
            continue
        values = [heading, *(row[index] for row in sheet.rows if index < len(row))]
        if sheet.footer is not None and index < len(sheet.footer):
            values.append(sheet.footer[index])
        widths.append(max(MIN_WIDTH, min(MAX_WIDTH, max(display_width(v) for v in values) + 2)))
    return widths


def _lay_out(worksheet, sheet: Sheet, header_row) -> None:
    for index, width in enumerate(column_widths(sheet)):
        worksheet.column_dimensions[get_column_letter(index + 1)].width = width
    first_entry, last_entry = header_row + 1, header_row + sheet.entry_rows
    for index, number_format in sheet.number_formats.items():
        for row in range(first_entry, last_entry + 1):
            worksheet.cell(row=row, column=index + 1).number_format = number_format
    if sheet.whole_numbers is not None and sheet.entry_rows:
        rule = sheet.whole_numbers
        validation = DataValidation(
            type="whole",
            operator="between",
            formula1=str(rule.low),
            formula2=str(rule.high),
            allow_blank=True,
            showErrorMessage=True,
            error=rule.message,
        )
        first, last = get_column_letter(rule.first_column + 1), get_column_letter(rule.last_column + 1)
        validation.add(f"{first}{first_entry}:{last}{last_entry}")
        worksheet.add_data_validation(validation)
    if sheet.freeze:
        worksheet.freeze_panes = worksheet.cell(row=header_row + 1, column=sheet.frozen_columns + 1).coordinate
