"""Reading an uploaded sign-up sheet (xlsx, xls, ods or csv) safely into a table of raw values, refusing hostile files.

Nothing here touches the database; ``units.sheet_rows`` then checks the rows. Every problem names the row, the
column and the reason, in the user's language (``problem``).

Hostile files are refused before any parser sees them, or by limits while reading:

- upload bytes (``max_bytes``);
- a workbook (xlsx and ods are zips, xls a compound file) is checked from its raw bytes first
  (``units.sheet_guards``: zip entries and unpacked size, macros, external links, passwords, DTDs and
  entities, and how far each sheet's values reach), then read by one reader for all three, python-calamine,
  which never runs a formula or follows a link;
- rows, columns and characters per cell are limited; a sheet reaching past the row or column limit is refused
  before it is read, so a sheet claiming a million rows costs nothing;
- formulas are found in the raw sheet and refused: only typed values are imported;
- csv is decoded strictly as UTF-8 (with or without BOM), then GBK; anything else is refused.
"""

import csv
import io
import re
import unicodedata
from dataclasses import dataclass, field

from flask_babel import gettext as _
from python_calamine import CalamineWorkbook

from errors import InvalidSheet, UploadTooLarge
from units.sheet_guards import OLE_MAGIC, ZIP_MAGIC, damaged, scan_workbook

__all__ = ["OLE_MAGIC", "ZIP_MAGIC"]


@dataclass(frozen=True)
class SheetLimits:
    """How much of a sheet is read at most; the defaults fit a work unit's sign-up list many times over."""

    max_bytes: int = 2 * 1024 * 1024
    max_entries: int = 100
    max_uncompressed: int = 10 * 1024 * 1024
    max_sheet_without_dimension: int = 2 * 1024 * 1024
    max_people: int = 1000  # one transaction holds the items' rows while it writes: bigger units split by department
    max_scanned_rows: int = 10_000  # blank rows included: formatting often reaches far below the data
    max_columns: int = 60
    max_cell_chars: int = 500


LIMITS = SheetLimits()


@dataclass
class Table:
    """A sheet's header and non-blank data rows as raw values; ``problems`` are cells refused while reading."""

    kind: str
    headers: list
    rows: list  # (row number as the spreadsheet shows it, [values])
    problems: list = field(default_factory=list)
    header_row: int = 1


def problem(row, column, message, cell=None) -> dict:
    """One entry of an InvalidSheet's ``rows``: row number (None: the whole file), column label, reason."""
    return {"row": row, "column": column, "cell": cell, "message": str(message)}


def _formula_refused(row_number, headers, index) -> dict:
    """A cell that holds (or, in a csv, would become) a formula: a sheet brings values, not formulas."""
    message = _("Formulas are not accepted; type the value itself.")
    return problem(row_number, header_label(headers, index), message, f"{column_letter(index)}{row_number}")


def _whole_file(message):
    return InvalidSheet(message, [problem(None, None, message)])


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def read_upload(file, limits=LIMITS) -> tuple[bytes, str]:
    """The bytes and name of an uploaded file (werkzeug FileStorage, a file object or bytes), at most ``max_bytes``.

    :raises UploadTooLarge: the file is larger than the limit.
    :raises InvalidSheet: no file, or an empty one.
    """
    if isinstance(file, bytes | bytearray):
        data, filename = bytes(file), ""
    elif file is None:
        data, filename = b"", ""
    else:
        stream = getattr(file, "stream", file)
        data = stream.read(limits.max_bytes + 1)
        filename = getattr(file, "filename", None) or getattr(file, "name", "") or ""
    if len(data) > limits.max_bytes:
        raise UploadTooLarge(
            _("The file is larger than %(n)d KB; a sign-up sheet is much smaller.", n=limits.max_bytes // 1024),
            {"max_bytes": limits.max_bytes},
        )
    if not data:
        raise _whole_file(_("Choose a sign-up sheet (xlsx or csv) to upload."))
    return data, str(filename)


def read_table(data: bytes, filename: str = "", limits=LIMITS) -> Table:
    """Read the first data sheet of an xlsx, or a csv, into a Table; the kind is told by the content, not the name.

    :raises UploadTooLarge: over ``max_bytes``.
    :raises InvalidSheet: not a spreadsheet, a damaged or hostile file, too many rows or columns, no header.
    """
    if len(data) > limits.max_bytes:
        raise UploadTooLarge(
            _("The file is larger than %(n)d KB; a sign-up sheet is much smaller.", n=limits.max_bytes // 1024),
            {"max_bytes": limits.max_bytes},
        )
    name = (filename or "").lower()
    if data.startswith((ZIP_MAGIC, OLE_MAGIC)):
        return _read_workbook(data, limits)
    if name.endswith((".xlsx", ".xlsm", ".xls", ".ods")):
        raise damaged()
    if name.endswith((".csv", ".txt")) or not name:
        return _read_csv(data, limits)
    raise _whole_file(_("Upload the sign-up sheet as an xlsx, xls, ods or csv file."))


def _read_workbook(data: bytes, limits) -> Table:
    """An xlsx, xls or ods through the one reader (python-calamine), once its raw bytes passed units.sheet_guards."""
    kind, scans = scan_workbook(data, limits)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        name = _data_sheet(workbook.sheet_names)
        scan = scans.get(name)
        if scan is None:
            raise damaged()
        if scan.rows > limits.max_scanned_rows:
            raise _too_many_rows(limits)
        if scan.columns > limits.max_columns:
            raise _whole_file(_("The sheet has more than %(n)d columns.", n=limits.max_columns))
        values = workbook.get_sheet_by_name(name).to_python(skip_empty_area=False)
    except InvalidSheet:
        raise
    except Exception:  # noqa: BLE001 - any parser failure on untrusted input is the file's fault, never a 500
        raise _whole_file(_("This workbook could not be read; it may be damaged. Save it again as .xlsx and retry.")) from None
    table, formulas = Table(kind, [], []), set(scan.formulas)
    for row_number, cells in enumerate(values, start=1):
        row = []
        for index, value in enumerate(cells[: limits.max_columns]):
            value = None if (row_number, index + 1) in formulas else _plain(value)
            if isinstance(value, str) and len(value) > limits.max_cell_chars:
                table.problems.append(_too_long(row_number, table.headers, index, limits))
                value = value[: limits.max_cell_chars]
            row.append(value)
        _add_row(table, row_number, row, limits)
    # Every formula, with or without a value the reader saw: a sheet brings values, not formulas.
    table.problems[:0] = [_formula_refused(r, table.headers, c - 1) for r, c in sorted(formulas) if c <= limits.max_columns]
    return _finish(table)


def _plain(value):
    """A value as the row checks expect it: no empty strings, and whole numbers (phones, quantities) as int."""
    if value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _data_sheet(names) -> str:
    """The first worksheet that is not the template's instructions sheet."""
    instructions = {normalize_heading(name) for name in ("说明", "填写说明", "Instructions", _("Instructions"))}
    if not names:
        raise _whole_file(_("This workbook has no worksheet."))
    return next((name for name in names if normalize_heading(name) not in instructions), names[0])


def _read_csv(data: bytes, limits) -> Table:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        # Excel's "Unicode text" is UTF-16; say which encoding to use rather than "not a text file".
        raise _whole_file(_('The csv file is not in UTF-8 or GBK encoding; save it as "CSV UTF-8" and upload again.'))
    if b"\x00" in data:
        raise _whole_file(_("This file is not a spreadsheet or a text (csv) file."))
    text = None
    for encoding in ("utf-8-sig", "gbk"):
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise _whole_file(_('The csv file is not in UTF-8 or GBK encoding; save it as "CSV UTF-8" and upload again.'))
    first_line = text.split("\n", 1)[0]
    delimiter = max((",", "\t", ";"), key=first_line.count)
    if not first_line.count(delimiter):
        delimiter = ","
    table = Table("csv", [], [])
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    scanned = 0
    try:
        for values in reader:
            scanned += 1
            if scanned > limits.max_scanned_rows:
                raise _too_many_rows(limits)
            row_number = scanned
            if len(values) > limits.max_columns and any(v.strip() for v in values[limits.max_columns :]):
                raise _whole_file(_("The sheet has more than %(n)d columns.", n=limits.max_columns))
            values = values[: limits.max_columns]
            cleaned = []
            for index, value in enumerate(values):
                if len(value) > limits.max_cell_chars:
                    table.problems.append(_too_long(row_number, table.headers, index, limits))
                    value = value[: limits.max_cell_chars]
                if value.lstrip().startswith("=") and table.headers:
                    # Excel would run it as a formula when it opens this csv; a sheet brings values, not formulas.
                    table.problems.append(_formula_refused(row_number, table.headers, index))
                    value = ""
                cleaned.append(value)
            _add_row(table, row_number, cleaned, limits)
    except csv.Error:
        raise _whole_file(_("This csv file could not be read: a cell is too large or a quote is not closed.")) from None
    return _finish(table)


def _too_many_rows(limits):
    return _whole_file(_("The sheet has more than %(n)d rows; split it or remove blank rows.", n=limits.max_people))


def _too_long(row_number, headers, index, limits):
    return problem(
        row_number,
        header_label(headers, index),
        _("This cell has more than %(n)d characters.", n=limits.max_cell_chars),
        f"{column_letter(index)}{row_number}",
    )


def is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _add_row(table, row_number, values, limits) -> None:
    while values and is_blank(values[-1]):
        values.pop()
    if not values:
        return
    if not table.headers:
        table.headers = ["" if is_blank(v) else str(v).strip() for v in values]
        table.header_row = row_number
        return
    table.rows.append((row_number, values))
    if len(table.rows) > limits.max_people:
        raise _too_many_rows(limits)


def _finish(table) -> Table:
    if not table.headers:
        raise _whole_file(
            _("The sheet is empty: the first row must hold the column headings (name, phone, one column per item).")
        )
    return table


def header_label(headers, index) -> str:
    if index < len(headers) and headers[index]:
        return headers[index]
    return column_letter(index)


def normalize_heading(text) -> str:
    """Compare headings loosely: full-width forms, case, spaces and a trailing * or colon do not matter."""
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip("*:：").strip()
