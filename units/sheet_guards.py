"""What an uploaded workbook (xlsx, ods, xls) holds, read from its raw bytes before any parser opens it.

The reader (python-calamine) builds a whole sheet in memory at once, as wide and as tall as its farthest cell:
one value at the bottom right corner of an 80-byte file would ask for gigabytes. So every worksheet's extent and
its formulas are found here first, from the zip directory and the raw XML (xlsx, ods) or the BIFF records of the
compound file (xls), and a hostile file is refused before the reader sees it:

- the zip's entry count and declared uncompressed sizes (``zipfile`` refuses to inflate past a declared size, so a
  zip bomb cannot lie its way past that check), encrypted entries, macros, external links and ActiveX parts, and
  any DTD or entity declaration in any XML part (billion laughs, external entities);
- in an xls: a password (FILEPASS), macros (a VBA storage), a damaged sector chain;
- per worksheet, the farthest row and column holding a value, and where formulas are.
"""

import html
import io
import re
import struct
import zipfile
from dataclasses import dataclass, field

from defusedxml import ElementTree
from flask_babel import gettext as _

from errors import InvalidSheet

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of the old binary .xls (and .doc)
ODS_TYPE = b"application/vnd.oasis.opendocument.spreadsheet"
FORBIDDEN_PARTS = (
    (re.compile(r"(^|/)vbaproject\.bin$", re.I), "macro"),
    (re.compile(r"^xl/externallinks/", re.I), "external"),
    (re.compile(r"^xl/activex/", re.I), "macro"),
    (re.compile(r"^(basic|scripts)/", re.I), "macro"),  # ods: StarBasic and script macros
)
XML_DECLARATIONS = re.compile(rb"<!\s*(doctype|entity)", re.I)
XLSX_ROW_OR_CELL = re.compile(rb"<(?:\w+:)?row\b([^>]*)>|<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
ROW_REF = re.compile(rb'\br="(\d{1,7})"')
CELL_REF = re.compile(rb'\br="([A-Z]{1,3})(\d{1,7})"')
ODS_TAG = re.compile(rb"<table:(table-row|table-cell|covered-table-cell|table)(?=[\s/>])([^>]*)>")
ODS_REPEAT = {"table-row": re.compile(rb'number-rows-repeated="(\d+)"'), "cell": re.compile(rb'number-columns-repeated="(\d+)"')}
ODS_NAME = re.compile(rb'table:name="([^"]*)"')


@dataclass
class SheetScan:
    """One worksheet as its raw bytes describe it: how far its values reach (1-based) and where formulas are."""

    rows: int = 0
    columns: int = 0
    formulas: list = field(default_factory=list)  # (row, column), 1-based

    def add(self, row, column, formula=False) -> None:
        self.rows, self.columns = max(self.rows, row), max(self.columns, column)
        if formula:
            self.formulas.append((row, column))


def refuse(message) -> InvalidSheet:
    return InvalidSheet(message, [{"row": None, "column": None, "cell": None, "message": str(message)}])


def damaged() -> InvalidSheet:
    return refuse(_("This file is not a valid workbook (xlsx, xls or ods); it may be damaged or renamed."))


def macros() -> InvalidSheet:
    return refuse(_("This workbook contains macros; save it as a plain .xlsx workbook and upload again."))


def password() -> InvalidSheet:
    return refuse(_("This workbook is password-protected; remove the password and upload again."))


def too_big(mb) -> InvalidSheet:
    return refuse(_("This workbook unpacks to more than %(n)d MB; a sign-up sheet is much smaller.", n=mb))


def column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + letter - 64
    return number


def scan_workbook(data: bytes, limits) -> tuple[str, dict]:
    """The kind of a workbook (``xlsx``, ``ods``, ``xls``) and a SheetScan per worksheet name.

    :raises InvalidSheet: not a workbook, damaged, or hostile (see the module's docstring).
    """
    if data.startswith(OLE_MAGIC):
        return "xls", _scan_xls(data)
    archive = _open_zip(data, limits)
    names = set(archive.namelist())
    if "mimetype" in names and archive.read("mimetype").strip() == ODS_TYPE:
        return "ods", _scan_ods(archive, limits)
    if "[Content_Types].xml" in names and "xl/workbook.xml" in names:
        if b"macroenabled" in archive.read("[Content_Types].xml").lower():
            raise macros()
        return "xlsx", _scan_xlsx(archive, limits)
    raise damaged()


def _open_zip(data, limits) -> zipfile.ZipFile:
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        entries = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise damaged() from None
    if len(entries) > limits.max_entries:
        raise refuse(_("This workbook has too many parts (%(n)d) to be a sign-up sheet.", n=len(entries)))
    if sum(entry.file_size for entry in entries) > limits.max_uncompressed:
        raise too_big(limits.max_uncompressed // 2**20)
    for entry in entries:
        if entry.flag_bits & 0x1:
            raise password()
        for pattern, reason in FORBIDDEN_PARTS:
            if pattern.search(entry.filename):
                if reason == "macro":
                    raise macros()
                raise refuse(_("This workbook links to other files; remove the external links and upload again."))
    return archive


def _xml(archive, name) -> bytes:
    """One XML part, whole (the archive's total is already bounded), refused if it declares a DTD or entities."""
    try:
        text = archive.read(name)
    except (KeyError, zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError, NotImplementedError, RuntimeError):
        raise damaged() from None
    if XML_DECLARATIONS.search(text):
        raise refuse(_("This workbook contains XML declarations that are not allowed (a DTD or entities)."))
    return text


def _check_every_xml(archive) -> None:
    for name in archive.namelist():
        if name.lower().endswith((".xml", ".rels", ".vml", ".rdf")):
            _xml(archive, name)


def _scan_xlsx(archive, limits) -> dict:
    _check_every_xml(archive)
    try:
        workbook = ElementTree.fromstring(_xml(archive, "xl/workbook.xml"))
        relations = ElementTree.fromstring(_xml(archive, "xl/_rels/workbook.xml.rels"))
    except Exception:  # noqa: BLE001 - any parser failure on untrusted input is the file's fault
        raise damaged() from None
    targets = {rel.get("Id"): rel.get("Target", "") for rel in relations}
    scans = {}
    for sheet in workbook.iter():
        if not sheet.tag.endswith("}sheet"):
            continue
        rel = next((value for key, value in sheet.attrib.items() if key.endswith("}id")), None)
        target = targets.get(rel, "").lstrip("/")
        part = target if target.startswith("xl/") else f"xl/{target}"
        if part in archive.namelist():
            scans[sheet.get("name", "")] = _scan_xlsx_sheet(_xml(archive, part))
    return scans


def _scan_xlsx_sheet(text: bytes) -> SheetScan:
    """Rows and cells as the reader places them: by their ``r`` reference, or next after the previous one."""
    scan, row, column = SheetScan(), 0, 0
    for match in XLSX_ROW_OR_CELL.finditer(text):
        if match.group(1) is not None:
            number = ROW_REF.search(match.group(1))
            row, column = int(number.group(1)) if number else row + 1, 0
            continue
        attributes, inner = match.group(2), match.group(3) or b""
        ref = CELL_REF.search(attributes)
        if ref:
            row, column = int(ref.group(2)), column_number(ref.group(1))
        else:
            column += 1
        has_formula = b"<f" in inner or b":f" in inner
        if has_formula or b"<v" in inner or b"<is" in inner or b":v" in inner or b":is" in inner:
            scan.add(row, column, has_formula)
    return scan


def _scan_ods(archive, limits) -> dict:
    _check_every_xml(archive)
    if b"encryption-data" in _xml(archive, "META-INF/manifest.xml"):
        raise password()
    scans, scan, first_row, last_row, column = {}, SheetScan(), 0, 0, 0
    for match in ODS_TAG.finditer(_xml(archive, "content.xml")):
        tag, attributes = match.group(1).decode(), match.group(2)
        if tag == "table":
            name = ODS_NAME.search(attributes)
            scan = scans.setdefault(html.unescape(name.group(1).decode("utf-8", "replace")) if name else "", SheetScan())
            last_row = 0
        elif tag == "table-row":
            repeat = ODS_REPEAT["table-row"].search(attributes)
            first_row, last_row, column = last_row + 1, last_row + (int(repeat.group(1)) if repeat else 1), 0
        else:
            repeat = ODS_REPEAT["cell"].search(attributes)
            first_column, column = column + 1, column + (int(repeat.group(1)) if repeat else 1)
            formula = b"formula=" in attributes
            # A repeated cell with a value repeats the value: its whole run counts towards the sheet's extent.
            if formula or b"value-type=" in attributes:
                scan.add(last_row, column)
            if formula:
                scan.formulas.extend(
                    (row, col)
                    for row in range(first_row, min(last_row, first_row + 100) + 1)
                    for col in range(first_column, min(column, first_column + 100) + 1)
                )
    return scans


# xls: a compound file (sectors chained by a FAT) holding a BIFF8 "Workbook" stream of typed records.
FREE, END_OF_CHAIN = 0xFFFFFFFF, 0xFFFFFFFE
BIFF_VALUES = {0x0203, 0x0204, 0x00FD, 0x027E, 0x0205, 0x0006}  # NUMBER LABEL LABELSST RK BOOLERR FORMULA
BOF, EOF, FILEPASS, BOUNDSHEET, MULRK, FORMULA = 0x0809, 0x000A, 0x002F, 0x0085, 0x00BD, 0x0006


def _scan_xls(data: bytes) -> dict:
    try:
        stream = _workbook_stream(data)
        return _scan_biff(stream)
    except (struct.error, IndexError, ValueError, KeyError, UnicodeDecodeError):
        raise damaged() from None


def _chain(fat, start, sectors) -> list[int]:
    chain = []
    while start not in (END_OF_CHAIN, FREE):
        if start >= len(fat) or len(chain) > sectors:
            raise ValueError("broken chain")  # a loop or a pointer past the end: a damaged or hostile file
        chain.append(start)
        start = fat[start]
    return chain


def _workbook_stream(data: bytes) -> bytes:
    sector_size = 1 << struct.unpack_from("<H", data, 30)[0]
    mini_size = 1 << struct.unpack_from("<H", data, 32)[0]
    first_directory, mini_cutoff, first_minifat = struct.unpack_from("<L4xLL", data, 48)
    sectors = (len(data) - 512) // sector_size + 1

    def sector(number):
        offset = 512 + number * sector_size if sector_size == 512 else (number + 1) * sector_size
        if offset >= len(data):
            raise ValueError("sector past the end")
        return data[offset : offset + sector_size]

    difat = [n for n in struct.unpack_from("<109L", data, 76) if n not in (FREE, END_OF_CHAIN)]
    fat = [entry for n in difat for entry in struct.unpack(f"<{sector_size // 4}L", sector(n).ljust(sector_size, b"\0"))]

    def read(start, size, small=False):
        if small:
            chain = _chain(minifat, start, len(minifat))
            return b"".join(ministream[n * mini_size : (n + 1) * mini_size] for n in chain)[:size]
        return b"".join(sector(n) for n in _chain(fat, start, sectors))[:size]

    directory = read(first_directory, sectors * sector_size)
    entries = {}
    for offset in range(0, len(directory) - 127, 128):
        name_length = struct.unpack_from("<H", directory, offset + 64)[0]
        name = directory[offset : offset + max(name_length - 2, 0)].decode("utf-16-le", "replace")
        kind, start, size = directory[offset + 66], *struct.unpack_from("<LL", directory, offset + 116)
        entries[name] = (kind, start, size)
    if any(name.upper() in ("_VBA_PROJECT_CUR", "VBA", "MACROS", "_VBA_PROJECT") for name in entries):
        raise macros()
    root = next(value for value in entries.values() if value[0] == 5)
    ministream = read(root[1], root[2])
    minifat = []
    if first_minifat not in (FREE, END_OF_CHAIN):
        raw = read(first_minifat, sectors * sector_size)
        minifat = list(struct.unpack(f"<{len(raw) // 4}L", raw[: len(raw) // 4 * 4]))
    kind, start, size = entries.get("Workbook") or entries.get("Book") or entries["Workbook"]
    return read(start, size, small=size < mini_cutoff)


def _scan_biff(stream: bytes) -> dict:
    names, scans, scan, offset = {}, {}, None, 0
    while offset + 4 <= len(stream):
        record, length = struct.unpack_from("<HH", stream, offset)
        body = stream[offset + 4 : offset + 4 + length]
        if record == BOF:
            kind = struct.unpack_from("<H", body, 2)[0] if len(body) >= 4 else 0
            scan = scans.setdefault(names.get(offset, str(len(scans))), SheetScan()) if kind == 0x0010 else None
        elif record == FILEPASS:
            raise password()
        elif record == BOUNDSHEET:
            position, count, wide = struct.unpack_from("<L2xBB", body)
            names[position] = body[8 : 8 + count * (2 if wide else 1)].decode("utf-16-le" if wide else "latin-1")
        elif scan is not None and record in BIFF_VALUES:
            row, column = struct.unpack_from("<HH", body)
            scan.add(row + 1, column + 1, record == FORMULA)
        elif scan is not None and record == MULRK:
            row, column = struct.unpack_from("<HH", body)
            scan.add(row + 1, struct.unpack_from("<H", body, length - 2)[0] + 1)
        elif record == EOF:
            scan = None
        offset += 4 + length
    return scans
