"""Group-order benchmarks: importing and re-importing a unit's sheet, and the worst files the sheet limits still let in.

Run: .venv/bin/python bench/group_orders_bench.py            (SQLite scratch file)
     BENCH_PG=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python bench/group_orders_bench.py   (scratch PostgreSQL db)
"""

import io
import os
import sys
import tempfile
import time
import tracemalloc
import uuid
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="pinbang-bench-"))
os.environ.setdefault("PINBANG_ENV", "testing")


def sheet_bytes(header, rows) -> bytes:
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    workbook.save(out)
    return out.getvalue()


def bench_import(app, people):
    """Import a sheet of ``people`` rows over three items (one limited), then re-import it with a tenth changed."""
    from extensions import db
    from factories import make_campaign, make_item, make_listing, make_unit, make_user
    from orders.models import Order
    from units.sheet_import import import_sheet

    with app.app_context():
        unit = make_unit()
        coordinator = make_user(unit=unit, coordinator=True)
        campaign = make_campaign(title=f"bench {people}")
        big = people * 10
        items = [
            make_item(campaign, [(make_listing(name="雪毛鸡", unit="只", quantity=big), big)], per_buyer_limit=5),
            make_item(campaign, [(make_listing(name="土鸡蛋", quantity=big * 3), big * 3)]),
            make_item(campaign, [(make_listing(name="蜂蜜", unit="瓶", quantity=big), big)]),
        ]
        header = ["姓名", "手机号", *(item.title for item in items), "备注"]
        rows = [[f"同事{n}", f"138{n:08d}", 1 + n % 3, 10 + n % 20, n % 2, None] for n in range(people)]
        first = sheet_bytes(header, rows)
        for row in rows[::10]:
            row[3] += 1
        second = sheet_bytes(header, rows)
        start = time.perf_counter()
        result = import_sheet(coordinator, campaign.id, first, filename="first.xlsx")
        imported = time.perf_counter() - start
        start = time.perf_counter()
        again = import_sheet(coordinator, campaign.id, second, filename="second.xlsx")
        reimported = time.perf_counter() - start
        live = db.session.query(Order).filter(Order.campaign_id == campaign.id, Order.status != "cancelled").count()
        assert result.orders == people and again.unchanged == people - len(rows[::10]) and live == people
        engine = app.config["SQLALCHEMY_DATABASE_URI"].split(":")[0]
        print(
            f"import_sheet on {engine}: {people} people x 3 items ({len(first) // 1024} KB xlsx): {imported:.2f} s "
            f"({people / imported:.0f} rows/s); re-import with {again.changed} changed: {reimported:.2f} s"
        )
        db.session.remove()


def worst_files():
    """Files at the edge of every limit: what a hostile upload can still cost one web worker."""
    from units import sheets

    limits = sheets.LIMITS
    cells = "".join(f'<c r="{sheets.column_letter(c)}{{r}}"><v>1</v></c>' for c in range(limits.max_columns))
    body = []
    size = 0
    row = 1
    # Fill the sheet XML up to just below the uncompressed limit with numeric cells, 100 to a row.
    while size < limits.max_uncompressed - 200_000:
        piece = f'<row r="{row}">' + cells.replace("{r}", str(row)) + "</row>"
        body.append(piece)
        size += len(piece)
        row += 1
    last = f"{sheets.column_letter(limits.max_columns - 1)}{row - 1}"
    for dimension in (f'<dimension ref="A1:{last}"/>', ""):
        xml = (
            '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            + dimension
            + "<sheetData>"
            + "".join(body)
            + "</sheetData></worksheet>"
        ).encode()
        base = sheet_bytes(["姓名"], [])
        source = zipfile.ZipFile(io.BytesIO(base))
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
            for info in source.infolist():
                data = xml if info.filename == "xl/worksheets/sheet1.xml" else source.read(info.filename)
                target.writestr(info.filename, data)
        shape = "with" if dimension else "without"
        yield (
            f"{len(xml) / 2**20:.1f} MB sheet XML {shape} <dimension>, {row - 1} rows x {limits.max_columns} numeric cells",
            out.getvalue(),
        )
    items = limits.max_columns - 2
    yield (
        f"{limits.max_people} people x {limits.max_columns} columns, as written by openpyxl",
        sheet_bytes(
            ["姓名", "手机号", *(f"item{n}" for n in range(items))],
            [[f"p{n}", f"138{n:08d}", *([1] * items)] for n in range(limits.max_people)],
        ),
    )


def bench_worst_files(app):
    from errors import DomainError
    from units import sheets

    with app.app_context():
        for label, data in worst_files():
            tracemalloc.start()
            start = time.perf_counter()
            try:
                table = sheets.read_table(data, "worst.xlsx")
                outcome = f"read {len(table.rows)} rows"
            except DomainError as error:
                outcome = f"refused: {error.message}"
            elapsed = time.perf_counter() - start
            _current, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            print(
                f"worst file ({label}, {len(data) // 1024} KB on the wire): {elapsed:.2f} s, peak {peak / 2**20:.0f} MB, {outcome}"
            )


def main():
    from flask_migrate import upgrade

    from app import create_app

    base = os.environ.get("BENCH_PG")
    if base:
        from backends import create_scratch_postgres, drop_scratch_postgres

        url = create_scratch_postgres(base, f"pinbang_bench_{uuid.uuid4().hex[:8]}")
    else:
        url = f"sqlite:///{os.environ['INSTANCE_PATH']}/bench.sqlite3"
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    try:
        with app.app_context():
            upgrade(revision="heads")
        bench_import(app, 200)
        bench_import(app, 1000)
        if not base:
            bench_worst_files(app)
    finally:
        if base:
            from extensions import db

            with app.app_context():
                db.engine.dispose()
            drop_scratch_postgres(base, url)


if __name__ == "__main__":
    main()
