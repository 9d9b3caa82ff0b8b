"""Sign-up sheets: read an uploaded xlsx or csv safely into rows, check every row, and write the template and exports.

Nothing here touches the database: the services in ``orders/group_orders.py`` pass in what they know
(the campaign's items, what each person already has, what is left of each item) and get back rows
and problems. Every problem names the row, the column and the reason, in the user's language.

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

Exports (the template, the distribution list) write text cells as text: a name like
``=HYPERLINK(...)`` is stored as a string with Excel's quote prefix, never as a formula.
"""

import csv
import io
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass, field
from decimal import Decimal

from flask_babel import gettext as _

from errors import InvalidSheet, UploadTooLarge
from spreadsheets import FORMULA_TRIGGERS

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
MAX_NAME = 80
MAX_NOTE = 500
MAX_QUANTITY = 10_000  # the same cap as one order line (orders.services.MAX_LINE_QUANTITY)
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


@dataclass
class SheetRow:
    """One person's wishes: quantities by item id (only those above zero)."""

    row: int
    name: str
    phone: str
    quantities: dict
    note: str | None = None


@dataclass
class ParsedSheet:
    rows: list
    problems: list
    skipped: int = 0


def problem(row, column, message, cell=None) -> dict:
    """One entry of an InvalidSheet's ``rows``: row number (None: the whole file), column label, reason."""
    return {"row": row, "column": column, "cell": cell, "message": str(message)}


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


# ---------------------------------------------------------------- reading a file


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
                _("This workbook unpacks to more than %(n)d MB; a sign-up sheet is much smaller.", n=limits.max_sheet_without_dimension // 2**20)
            )


def _read_xlsx(data: bytes, limits) -> Table:
    import openpyxl

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
    instructions = {_normalize(name) for name in ("说明", "填写说明", "Instructions", _("Instructions"))}
    sheets = [ws for ws in workbook.worksheets if hasattr(ws, "iter_rows")]
    if not sheets:
        raise _whole_file(_("This workbook has no worksheet."))
    for sheet in sheets:
        if _normalize(sheet.title) not in instructions:
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
                table.problems.append(
                    problem(
                        row_number,
                        _header_label(table.headers, index),
                        _("Formulas are not accepted; type the value itself."),
                        f"{column_letter(index)}{row_number}",
                    )
                )
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
        raise _whole_file(_("The csv file is not in UTF-8 or GBK encoding; save it as \"CSV UTF-8\" and upload again."))
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
        raise _whole_file(_("The csv file is not in UTF-8 or GBK encoding; save it as \"CSV UTF-8\" and upload again."))
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
                    table.problems.append(
                        problem(
                            row_number,
                            _header_label(table.headers, index),
                            _("Formulas are not accepted; type the value itself."),
                            f"{column_letter(index)}{row_number}",
                        )
                    )
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
        _header_label(headers, index),
        _("This cell has more than %(n)d characters.", n=limits.max_cell_chars),
        f"{column_letter(index)}{row_number}",
    )


def _is_blank(value) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _add_row(table, row_number, values, limits) -> None:
    while values and _is_blank(values[-1]):
        values.pop()
    if not values:
        return
    if not table.headers:
        table.headers = ["" if _is_blank(v) else str(v).strip() for v in values]
        table.header_row = row_number
        return
    table.rows.append((row_number, values))
    if len(table.rows) > limits.max_people:
        raise _too_many_rows(limits)


def _finish(table) -> Table:
    if not table.headers:
        raise _whole_file(_("The sheet is empty: the first row must hold the column headings (name, phone, one column per item)."))
    return table


def _header_label(headers, index) -> str:
    if index < len(headers) and headers[index]:
        return headers[index]
    return column_letter(index)


# ---------------------------------------------------------------- columns


NAME_HEADERS = ("姓名", "名字", "Name", "Full name", "Buyer", "Buyer name")
PHONE_HEADERS = ("手机号", "手机", "手机号码", "电话", "联系电话", "Phone", "Mobile", "Mobile phone", "Phone number")
NOTE_HEADERS = ("备注", "说明", "Note", "Notes", "Remark", "Remarks")
IGNORED_HEADERS = ("序号", "编号", "No", "No.", "#", "Number")


def _normalize(text) -> str:
    """Compare headings loosely: full-width forms, case, spaces and a trailing * or colon do not matter."""
    text = unicodedata.normalize("NFKC", str(text or "")).casefold()
    text = re.sub(r"\s+", " ", text).strip()
    return text.rstrip("*:：").strip()


@dataclass
class ItemColumn:
    """What the sheet needs to know of a campaign item."""

    id: int
    title: str
    unit: str
    price_fen: int = 0
    per_buyer_limit: int | None = None
    withdrawn: bool = False


def item_headers(items) -> dict[int, str]:
    """The heading of each item's column: its title, or title and id when two items share a title."""
    counts = {}
    for item in items:
        counts[_normalize(item.title)] = counts.get(_normalize(item.title), 0) + 1
    return {item.id: item.title if counts[_normalize(item.title)] == 1 else f"{item.title} #{item.id}" for item in items}


def map_columns(headers, items) -> tuple[dict, list]:
    """Which column holds what: {index: "name" | "phone" | "note" | ("item", id)}; problems for headings that fit nothing.

    Headings may be Chinese or English (姓名/Name, 手机号/Phone, 备注/Notes); an item column is headed by the item's
    title, optionally followed by its unit in brackets (``雪毛鸡（只）``).
    """
    known = {}
    for label in (*NAME_HEADERS, _("Full name")):
        known[_normalize(label)] = "name"
    for label in (*PHONE_HEADERS, _("Mobile phone")):
        known[_normalize(label)] = "phone"
    for label in (*NOTE_HEADERS, _("Notes")):
        known[_normalize(label)] = "note"
    for label in IGNORED_HEADERS:
        known[_normalize(label)] = "ignore"
    headings = item_headers(items)
    ambiguous = set()
    for item in items:
        labels = {headings[item.id], f"{headings[item.id]}({item.unit})", f"{item.title} #{item.id}"}
        for label in labels:
            key = _normalize(label)
            if key in known and known[key] != ("item", item.id):
                ambiguous.add(key)
            known.setdefault(key, ("item", item.id))
    columns, problems, seen = {}, [], {}
    for index, heading in enumerate(headers):
        if not heading:
            continue
        key = _normalize(heading)
        role = known.get(key)
        if role is None or key in ambiguous:
            if key in ambiguous:
                message = _("Two items are called “%(heading)s”; use the column headings of the downloaded template.", heading=heading)
            else:
                message = _("“%(heading)s” is not an item of this campaign (nor name, phone or notes).", heading=heading)
            problems.append(problem(1, heading, message, f"{column_letter(index)}1"))
            continue
        if role == "ignore":
            continue
        if role in seen:
            problems.append(
                problem(
                    1,
                    heading,
                    _("This column repeats the column “%(other)s”.", other=headers[seen[role]]),
                    f"{column_letter(index)}1",
                )
            )
            continue
        seen[role] = index
        columns[index] = role
    if "name" not in seen:
        problems.append(problem(1, None, _("The sheet needs a column headed “%(heading)s”.", heading=_("Full name"))))
    if "phone" not in seen:
        problems.append(problem(1, None, _("The sheet needs a column headed “%(heading)s”.", heading=_("Mobile phone"))))
    if not any(isinstance(role, tuple) for role in columns.values()) and not problems:
        problems.append(problem(1, None, _("The sheet has no item column; head one column with each item's title.")))
    return columns, problems


# ---------------------------------------------------------------- rows


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return unicodedata.normalize("NFC", str(value)).strip()


def parse_quantity(value):
    """A quantity cell as an int (blank is 0), or a message saying why it is not one."""
    if value is None:
        return 0, None
    if isinstance(value, bool):
        return None, _("“%(value)s” is not a quantity; type a whole number.", value=value)
    if isinstance(value, int):
        number = value
    elif isinstance(value, float):
        if not value.is_integer():
            return None, _("%(value)s is not a whole number.", value=_text(value) if value == value else "NaN")
        number = int(value)
    else:
        text = unicodedata.normalize("NFKC", str(value)).strip().replace(",", "")
        if text == "":
            return 0, None
        if re.fullmatch(r"[+-]?\d+(\.0*)?", text):
            number = int(float(text)) if "." in text else int(text)
        elif re.fullmatch(r"[+-]?\d*\.\d+", text):
            return None, _("%(value)s is not a whole number.", value=text)
        else:
            return None, _("“%(value)s” is not a quantity; type a whole number.", value=str(value)[:40])
    if number < 0:
        return None, _("The quantity cannot be negative (%(value)d).", value=number)
    if number > MAX_QUANTITY:
        return None, _("At most %(max)d of one item per person.", max=MAX_QUANTITY)
    return number, None


def parse_rows(table, columns, items, normalize_phone) -> ParsedSheet:
    """Every data row as a SheetRow, and every problem found (all rows are checked, not just up to the first error).

    :param columns: from map_columns.
    :param items: ItemColumn objects of the campaign.
    :param normalize_phone: turns a raw phone into 11 digits, or None.
    """
    by_id = {item.id: item for item in items}
    roles = {role: index for index, role in columns.items() if isinstance(role, str)}
    problems = list(table.problems)
    rows, skipped, first_row_of = [], 0, {}
    for row_number, values in table.rows:
        found = []
        parsed = _parse_row(row_number, values, columns, roles, by_id, table.headers, normalize_phone, first_row_of, found)
        problems.extend(found)
        if parsed == "skip":
            skipped += 1
        elif parsed is not None:
            rows.append(parsed)
    return ParsedSheet(rows, problems, skipped)


def _parse_row(row_number, values, columns, roles, by_id, headers, normalize_phone, first_row_of, problems):
    """One row as a SheetRow, "skip" for a row that orders nothing, or None when it has problems (added to ``problems``)."""

    def cell(index):
        return values[index] if index is not None and index < len(values) else None

    def report(index, message):
        label = _header_label(headers, index) if index is not None else None
        problems.append(problem(row_number, label, message, f"{column_letter(index)}{row_number}" if index is not None else None))

    quantities, row_ok = {}, True
    for index, role in columns.items():
        if not isinstance(role, tuple):
            continue
        item = by_id[role[1]]
        number, message = parse_quantity(cell(index))
        if message:
            report(index, message)
            row_ok = False
        elif number and item.withdrawn:
            report(index, _("%(title)s has been withdrawn and cannot be ordered.", title=item.title))
            row_ok = False
        elif number:
            quantities[item.id] = number
    for index, value in enumerate(values):
        if index not in columns and not _is_blank(value) and (index >= len(headers) or not headers[index]):
            report(index, _("This column has no heading; head it with an item's title or clear it."))
            row_ok = False
    if not quantities and row_ok:
        # A person listed with nothing wanted (or a row of notes only) orders nothing.
        return "skip"
    name_index, phone_index, note_index = roles.get("name"), roles.get("phone"), roles.get("note")
    name, raw_phone, note = _text(cell(name_index)), _text(cell(phone_index)), _text(cell(note_index))
    if not name:
        report(name_index, _("The name is missing."))
        row_ok = False
    elif len(name) > MAX_NAME:
        report(name_index, _("The name is longer than %(n)d characters.", n=MAX_NAME))
        row_ok = False
    phone = normalize_phone(raw_phone)
    if not raw_phone:
        report(phone_index, _("The mobile phone number is missing."))
        row_ok = False
    elif phone is None:
        report(phone_index, _("“%(value)s” is not an 11-digit mobile phone number.", value=raw_phone[:40]))
        row_ok = False
    elif phone in first_row_of:
        report(phone_index, _("The same person (phone %(phone)s) is already in row %(row)d.", phone=phone, row=first_row_of[phone]))
        row_ok = False
    else:
        first_row_of[phone] = row_number
    if len(note) > MAX_NOTE:
        report(note_index, _("The note is longer than %(n)d characters.", n=MAX_NOTE))
        row_ok = False
    return SheetRow(row_number, name, phone, quantities, note or None) if row_ok else None


def check_limits_and_capacity(rows, items, already, remaining, columns_of) -> list:
    """Per-buyer limits and what is left of each item, counting the whole sheet.

    :param already: {phone: {item_id: quantity}} that person has in other orders of the campaign.
    :param remaining: {item_id: quantity} the sheet may take (what is left, plus what it replaces).
    :param columns_of: {item_id: (label, index)} to name the column in a problem.
    """
    by_id = {item.id: item for item in items}
    problems = []
    running = {}
    for row in rows:
        for item_id in sorted(row.quantities):
            item, wanted = by_id[item_id], row.quantities[item_id]
            label, index = columns_of.get(item_id, (item.title, None))
            cell = f"{column_letter(index)}{row.row}" if index is not None else None
            if item.per_buyer_limit:
                have = already.get(row.phone, {}).get(item_id, 0)
                if have + wanted > item.per_buyer_limit:
                    if have:
                        message = _(
                            "%(title)s is limited to %(limit)d %(unit)s per person, and %(name)s already has %(have)d in other orders.",
                            title=item.title,
                            limit=item.per_buyer_limit,
                            unit=item.unit,
                            name=row.name,
                            have=have,
                        )
                    else:
                        message = _(
                            "%(title)s is limited to %(limit)d %(unit)s per person.",
                            title=item.title,
                            limit=item.per_buyer_limit,
                            unit=item.unit,
                        )
                    problems.append(problem(row.row, label, message, cell))
            before = running.get(item_id, 0)
            running[item_id] = before + wanted
            left = remaining.get(item_id, 0)
            if before <= left < running[item_id]:
                problems.append(
                    problem(
                        row.row,
                        label,
                        _(
                            "Not enough %(title)s: %(left)d %(unit)s left, and the sheet asks for %(total)d up to this row.",
                            title=item.title,
                            left=max(left, 0),
                            unit=item.unit,
                            total=running[item_id],
                        ),
                        cell,
                    )
                )
    return problems


def sort_problems(problems) -> list:
    """Whole-file problems first, then by row and column."""
    return sorted(problems, key=lambda p: (p["row"] is not None, p["row"] or 0, p.get("cell") or ""))


# ---------------------------------------------------------------- writing


def put(sheet, row, column, value, bold=False, number_format=None):
    """Write one cell; text is always stored as text (with Excel's quote prefix when it looks like a formula)."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
    from openpyxl.styles import Font

    cell = sheet.cell(row=row, column=column)
    if isinstance(value, str):
        cell.value = ILLEGAL_CHARACTERS_RE.sub("", value)
        cell.data_type = "s"
        if value.startswith(FORMULA_TRIGGERS):
            cell.quotePrefix = True
    else:
        cell.value = value
    if bold:
        cell.font = Font(bold=True)
    if number_format:
        cell.number_format = number_format
    return cell


def yuan_value(fen) -> Decimal:
    """Fen as an exact yuan amount for a spreadsheet cell (never a float)."""
    return (Decimal(int(fen)) / 100).quantize(Decimal("0.01"))


def sheet_title(text) -> str:
    return "".join(ch for ch in str(text) if ch not in "[]:*?/\\")[:31] or "Sheet1"


def to_bytes(workbook) -> bytes:
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def template_xlsx(campaign, items, instructions, template_rows=300) -> bytes:
    """The sign-up sheet to fill in: one row a person, one column an item headed by its title, a notes column,
    and an instructions sheet.

    :param items: ItemColumn objects in display order.
    :param instructions: lines of text for the instructions sheet (already in the user's language).
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment
    from openpyxl.utils import get_column_letter
    from openpyxl.worksheet.datavalidation import DataValidation

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title(_("Sign-up sheet"))
    headings = item_headers(items)
    header = [_("Full name"), _("Mobile phone"), *(headings[item.id] for item in items), _("Notes")]
    for column, text in enumerate(header, start=1):
        put(sheet, 1, column, text, bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = max(10, min(30, len(text) * 2 + 4))
    sheet.column_dimensions["B"].width = 16
    sheet.column_dimensions[get_column_letter(len(header))].width = 30
    # Phones as text, or Excel shows 1.39E+10 and drops a leading +86.
    for row in range(2, template_rows + 2):
        sheet.cell(row=row, column=2).number_format = "@"
    if items:
        first, last = get_column_letter(3), get_column_letter(2 + len(items))
        validation = DataValidation(
            type="whole",
            operator="between",
            formula1="0",
            formula2=str(MAX_QUANTITY),
            allow_blank=True,
            showErrorMessage=True,
            error=_("Type a whole number, 0 or more."),
        )
        validation.add(f"{first}2:{last}{template_rows + 1}")
        sheet.add_data_validation(validation)
    sheet.freeze_panes = "C2"

    notes = workbook.create_sheet(sheet_title(_("Instructions")))
    notes.column_dimensions["A"].width = 28
    for column in "BCDE":
        notes.column_dimensions[column].width = 16
    row = 1
    put(notes, row, 1, campaign.title, bold=True)
    row += 2
    for line in instructions:
        cell = put(notes, row, 1, line)
        cell.alignment = Alignment(wrap_text=False)
        row += 1
    row += 1
    for column, text in enumerate((_("Item"), _("Unit of sale"), _("Price (yuan)"), _("Limit per person")), start=1):
        put(notes, row, column, text, bold=True)
    for item in items:
        row += 1
        put(notes, row, 1, headings[item.id])
        put(notes, row, 2, item.unit)
        put(notes, row, 3, yuan_value(item.price_fen), number_format="0.00")
        put(notes, row, 4, item.per_buyer_limit if item.per_buyer_limit else _("no limit"))
    return to_bytes(workbook)


def distribution_xlsx(heading_rows, columns, people, totals_row) -> bytes:
    """The delivery-day list: heading lines, then one row a person (item quantities, amount, paid), then totals.

    :param heading_rows: [(label, value)] shown above the table.
    :param columns: column headings.
    :param people: rows of values matching ``columns``.
    :param totals_row: values under the table.
    """
    from openpyxl import Workbook
    from openpyxl.utils import get_column_letter

    workbook = Workbook()
    sheet = workbook.active
    sheet.title = sheet_title(_("Distribution list"))
    row = 1
    for label, value in heading_rows:
        put(sheet, row, 1, label, bold=True)
        put(sheet, row, 2, value)
        row += 1
    row += 1
    for column, text in enumerate(columns, start=1):
        put(sheet, row, column, text, bold=True)
        sheet.column_dimensions[get_column_letter(column)].width = max(8, min(30, len(str(text)) * 2 + 4))
    sheet.freeze_panes = sheet.cell(row=row + 1, column=1).coordinate
    for values in people:
        row += 1
        for column, value in enumerate(values, start=1):
            put(sheet, row, column, value, number_format="0.00" if isinstance(value, Decimal) else None)
    row += 1
    for column, value in enumerate(totals_row, start=1):
        put(sheet, row, column, value, bold=True, number_format="0.00" if isinstance(value, Decimal) else None)
    return to_bytes(workbook)
