"""Reading an uploaded sign-up sheet (xlsx or csv) safely into a table of raw values, refusing hostile files.

Nothing here touches the database; ``units.sheet_rows`` then checks the rows. Every problem names the row, the
column and the reason, in the user's language (``problem``).

Hostile files are refused before any parser sees them, or by limits while reading:

- upload bytes (``max_bytes``);
- an xlsx is a zip: its entry count and the total of its declared uncompressed sizes are checked
  from the central directory first (``zipfile`` itself refuses to inflate an entry past its declared
  size, so a zip bomb cannot lie its way past that check); macros (``vbaProject.bin``, a
  macro-enabled content type), external links and ActiveX parts are refused; every XML part is
  scanned for a DTD or entity declaration (billion laughs, external entities) — and openpyxl parses
  with defusedxml in any case (``openpyxl.DEFUSEDXML`` must be true, or xlsx is refused);
- rows, columns and characters per cell are counted while reading (openpyxl ``read_only=True``, with
  the sheet's declared dimensions ignored), so a sheet claiming a million rows stops early;
- formulas are read as formulas (``data_only=False``) and refused: only typed values are imported;
- csv is decoded strictly as UTF-8 (with or without BOM), then GBK; anything else is refused.
"""

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field

import openpyxl
from flask_babel import gettext as _

from errors import InvalidSheet, UploadTooLarge

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the old binary .xls (and .doc) format
FORBIDDEN_PARTS = (
    (re.compile(r"(^|/)vbaproject\.bin$", re.I), "macro"),
    (re.compile(r"^xl/externallinks/", re.I), "external"),
    (re.compile(r"^xl/activex/", re.I), "macro"),
)
XML_DECLARATIONS = re.compile(rb"<!\s*(doctype|entity)", re.I)
WORKSHEET_PART = re.compile(r"^xl/worksheets/[^/]+\.xml$", re.I)
DIMENSION = re.compile(rb"<(\w+:)?dimension\b")
SHEET_DATA = re.compile(rb"<(\w+:)?sheetData\b")


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
    if data.startswith(ZIP_MAGIC):
        return _read_xlsx(data, limits)
    if data.startswith(OLE_MAGIC):
        raise _whole_file(_("This is an old-style .xls file (or another Office document); save it as .xlsx and upload again."))
    if name.endswith((".xlsx", ".xlsm", ".xls")):
        raise _whole_file(_("This file is not a valid xlsx workbook; it may be damaged or renamed."))
    if name.endswith((".csv", ".txt")) or not name:
        return _read_csv(data, limits)
    raise _whole_file(_("Upload the sign-up sheet as an xlsx or csv file."))


def _check_archive(data: bytes, limits) -> None:
    """Everything about an xlsx that can be checked from its zip directory and raw XML, before openpyxl opens it."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise _whole_file(_("This file is not a valid xlsx workbook; it may be damaged or renamed.")) from None
    if len(entries) > limits.max_entries:
        raise _whole_file(_("This workbook has too many parts (%(n)d) to be a sign-up sheet.", n=len(entries)))
    if sum(entry.file_size for entry in entries) > limits.max_uncompressed:
        raise _whole_file(
            _("This workbook unpacks to more than %(n)d MB; a sign-up sheet is much smaller.", n=limits.max_uncompressed // 2**20)
        )
    names = {entry.filename for entry in entries}
    if "[Content_Types].xml" not in names or "xl/workbook.xml" not in names:
        raise _whole_file(_("This file is not a valid xlsx workbook; it may be damaged or renamed."))
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise _whole_file(_("This workbook is password-protected; remove the password and upload again."))
        for pattern, reason in FORBIDDEN_PARTS:
            if pattern.search(entry.filename):
                if reason == "macro":
                    raise _whole_file(_("This workbook contains macros; save it as a plain .xlsx workbook and upload again."))
                raise _whole_file(_("This workbook links to other files; remove the external links and upload again."))
    try:
        content_types = archive.read("[Content_Types].xml")
        if b"macroenabled" in content_types.lower():
            raise _whole_file(_("This workbook contains macros; save it as a plain .xlsx workbook and upload again."))
        for entry in entries:
            if entry.filename.lower().endswith((".xml", ".rels", ".vml")):
                _scan_xml(archive, entry, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
        raise _whole_file(_("This file is not a valid xlsx workbook; it may be damaged or renamed.")) from None


def _scan_xml(archive, entry, limits) -> None:
    """Refuse DTDs and entity declarations in any XML part (billion laughs, external entities); streamed, never whole.

    A worksheet without a ``<dimension>`` before its data makes openpyxl read the whole part once just to size
    it; real spreadsheet programs always write one, so such a part is held to a smaller size.
    """
    tail, head = b"", None
    with archive.open(entry) as stream:
        while chunk := stream.read(64 * 1024):
            if head is None:
                head = chunk
            window = tail + chunk
            if XML_DECLARATIONS.search(window):
                raise _whole_file(_("This workbook contains XML declarations that are not allowed (a DTD or entities)."))
            tail = window[-16:]
    if WORKSHEET_PART.match(entry.filename) and entry.file_size > limits.max_sheet_without_dimension:
        dimension, data = DIMENSION.search(head or b""), SHEET_DATA.search(head or b"")
        if dimension is None or (data is not None and data.start() < dimension.start()):
            raise _whole_file(
                _(
                    "This workbook unpacks to more than %(n)d MB; a sign-up sheet is much smaller.",
                    n=limits.max_sheet_without_dimension // 2**20,
                )
            )


def _read_xlsx(data: bytes, limits) -> Table:
    if not openpyxl.DEFUSEDXML:
        # Only reachable if defusedxml is missing or OPENPYXL_DEFUSEDXML=False: never parse untrusted XML then.
        raise _whole_file(_("Reading xlsx files is switched off on this server; upload a csv file instead."))
    _check_archive(data, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=False, keep_links=False)
            try:
                return _xlsx_table(workbook, limits)
            finally:
                workbook.close()
    except InvalidSheet:
        raise
    except Exception:  # noqa: BLE001 - any parser failure on untrusted input is the file's fault, never a 500
        raise _whole_file(_("This workbook could not be read; it may be damaged. Save it again as .xlsx and retry.")) from None


def _data_sheet(workbook):
    """The first worksheet that is not the template's instructions sheet."""
    instructions = {normalize_heading(name) for name in ("说明", "填写说明", "Instructions", _("Instructions"))}
    sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
    if not sheets:
        raise _whole_file(_("This workbook has no worksheet."))
    for sheet in sheets:
        if normalize_heading(sheet.title) not in instructions:
            return sheet
    return sheets[0]


def _xlsx_table(workbook, limits) -> Table:
    sheet = _data_sheet(workbook)
    # The <dimension> element is the file's own claim; ignore it and read the rows actually there.
    sheet.reset_dimensions()
    table = Table("xlsx", [], [])
    scanned = 0
    for row_number, cells in enumerate(sheet.iter_rows(max_col=limits.max_columns + 1), start=1):
        scanned += 1
        if scanned > limits.max_scanned_rows:
            raise _too_many_rows(limits)
        values = []
        for index, cell in enumerate(cells):
            value = getattr(cell, "value", None)
            if value is None:
                values.append(None)
                continue
            if index >= limits.max_columns:
                raise _whole_file(_("The sheet has more than %(n)d columns.", n=limits.max_columns))
            if getattr(cell, "data_type", None) == "f":
                table.problems.append(_formula_refused(row_number, table.headers, index))
                values.append(None)
                continue
            if isinstance(value, str) and len(value) > limits.max_cell_chars:
                table.problems.append(_too_long(row_number, table.headers, index, limits))
                value = value[: limits.max_cell_chars]
            values.append(value)
        _add_row(table, row_number, values, limits)
    return _finish(table)


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
