"""Real .ods and .xls files built byte by byte, as LibreOffice, WPS and old Excel write them (no converter needed)."""

import io
import struct
import zipfile
from xml.sax.saxutils import escape

ODS_MIME = "application/vnd.oasis.opendocument.spreadsheet"
NS = (
    'xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
    'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
    'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
    'xmlns:of="urn:oasis:names:tc:opendocument:xmlns:of:1.2"'
)


def _ods_cell(value, formula=None):
    extra = f' table:formula="of:{escape(formula, {chr(34): "&quot;"})}"' if formula else ""
    if value is None:
        return "<table:table-cell/>"
    if isinstance(value, bool | int | float):
        return f'<table:table-cell{extra} office:value-type="float" office:value="{value}"><text:p>{value}</text:p></table:table-cell>'
    return f'<table:table-cell{extra} office:value-type="string"><text:p>{escape(str(value))}</text:p></table:table-cell>'


def ods(rows, title="报名表", formulas=(), trailing_blank_rows=1048000, repeat=None) -> bytes:
    """An OpenDocument spreadsheet; ``formulas``: ((row, column) 1-based, formula, cached value); a LibreOffice-like
    run of repeated empty rows at the end; ``repeat`` = (row, columns) repeats that row's last cell (hostile)."""
    formulas = {(r, c): (f, v) for (r, c), f, v in formulas}
    body = []
    for r, row in enumerate(rows, start=1):
        cells = []
        for c, value in enumerate(row, start=1):
            formula, cached = formulas.get((r, c), (None, None))
            cells.append(_ods_cell(cached if formula else value, formula))
        if repeat and repeat[0] == r:
            cells[-1] = cells[-1].replace(
                "<table:table-cell", f'<table:table-cell table:number-columns-repeated="{repeat[1]}"', 1
            )
        body.append(f"<table:table-row>{''.join(cells)}</table:table-row>")
    body.append(
        f'<table:table-row table:number-rows-repeated="{trailing_blank_rows}"><table:table-cell table:number-columns-repeated="1024"/></table:table-row>'
    )
    content = (
        f'<?xml version="1.0" encoding="UTF-8"?><office:document-content {NS} office:version="1.2"><office:body>'
        f'<office:spreadsheet><table:table table:name="{escape(title)}">{"".join(body)}</table:table>'
        "</office:spreadsheet></office:body></office:document-content>"
    )
    manifest = (
        '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0">'
        f'<manifest:file-entry manifest:full-path="/" manifest:media-type="{ODS_MIME}"/>'
        '<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/></manifest:manifest>'
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), ODS_MIME, compress_type=zipfile.ZIP_STORED)
        archive.writestr("META-INF/manifest.xml", manifest)
        archive.writestr("content.xml", content)
    return out.getvalue()


def _record(kind, body=b"") -> bytes:
    return struct.pack("<HH", kind, len(body)) + body


def _biff(rows, title, formulas, far_cell, password):
    """A BIFF8 Workbook stream: globals (BOF, a shared string table, the sheet's name), then the sheet's cells."""
    strings = []
    for row in rows:
        strings += [str(v) for v in row if isinstance(v, str) and str(v) not in strings]
    sst = struct.pack("<LL", len(strings), len(strings)) + b"".join(
        struct.pack("<HB", len(s), 1) + s.encode("utf-16-le") for s in strings
    )
    name = title.encode("utf-16-le")
    bof = lambda kind: _record(0x0809, struct.pack("<HHHHLL", 0x0600, kind, 0x0DBB, 0x07CC, 0, 6))  # noqa: E731
    globals_ = [bof(0x0005), _record(0x0042, struct.pack("<H", 1200))]
    if password:
        globals_.append(_record(0x002F, b"\x01\x00" + b"\x00" * 52))
    boundsheet_at = sum(map(len, globals_))
    globals_ += [_record(0x0085, struct.pack("<LBBBB", 0, 0, 0, len(title), 1) + name), _record(0x00FC, sst), _record(0x000A)]
    cells = []
    formulas = {(r, c): f for (r, c), f in formulas}
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            if (r + 1, c + 1) in formulas:
                # FORMULA: the cached number, then the parsed expression (ptgInt 1).
                cells.append(_record(0x0006, struct.pack("<HHHdHLH", r, c, 15, 1.0, 0, 0, 3) + b"\x1e\x01\x00"))
            elif isinstance(value, str):
                cells.append(_record(0x00FD, struct.pack("<HHHL", r, c, 15, strings.index(value))))
            elif value is not None:
                cells.append(_record(0x0203, struct.pack("<HHHd", r, c, 15, float(value))))
    if far_cell:
        cells.append(_record(0x0203, struct.pack("<HHHd", far_cell[0] - 1, far_cell[1] - 1, 15, 1.0)))
    sheet = [bof(0x0010), *cells, _record(0x000A)]
    stream = bytearray(b"".join(globals_) + b"".join(sheet))
    struct.pack_into("<L", stream, boundsheet_at + 4, len(b"".join(globals_)))  # where the sheet's BOF is
    return bytes(stream)


def xls(rows, title="报名表", formulas=(), far_cell=None, password=False, vba=False) -> bytes:
    """An Excel 97–2003 workbook: a compound file (512-byte sectors) holding a BIFF8 Workbook stream.

    The stream is padded past 4096 bytes, so it lives in ordinary sectors as Excel's and WPS's own files do.
    """
    stream = _biff(rows, title, formulas, far_cell, password)
    stream += b"\x00" * (max(4096, -(-len(stream) // 512) * 512) - len(stream))
    n = len(stream) // 512
    fat = [0xFFFFFFFD, 0xFFFFFFFE] + [3 + i for i in range(n - 1)] + [0xFFFFFFFE]
    fat += [0xFFFFFFFF] * (128 - len(fat))

    def entry(name, kind, start, size, child=0xFFFFFFFF, right=0xFFFFFFFF):
        encoded = (name + "\0").encode("utf-16-le") if name else b""
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBBLLL", len(encoded), kind, 1, 0xFFFFFFFF, right, child)
            + b"\0" * 16
            + struct.pack("<LQQLLL", 0, 0, 0, start, size, 0)
        )

    entries = [
        entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1),
        entry("Workbook", 2, 2, len(stream), right=2 if vba else 0xFFFFFFFF),
    ]
    if vba:
        entries.append(entry("_VBA_PROJECT_CUR", 1, 0xFFFFFFFE, 0))
    directory = b"".join(entries).ljust(512, b"\0")
    header = (
        bytes.fromhex("d0cf11e0a1b11ae1")
        + b"\0" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\0" * 10  # reserved, and no directory sector count in version 3
        + struct.pack("<LLLLLLLL", 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
        + struct.pack("<109L", 0, *([0xFFFFFFFF] * 108))  # the FAT is sector 0
    )
    return header + struct.pack("<128L", *fat) + directory + stream
