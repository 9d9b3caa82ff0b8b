"""Time dashboard.totals.sales_summary against hand-written raw SQL giving the same figures, per grouping.

    .venv/bin/python bench/stats/generate.py --lines 1000000      # once
    .venv/bin/python bench/stats/run.py --repeat 5

Both sides produce the same output: the totals (one aggregate over the sold lines), the producers and
poverty households reached, and one row per group. The raw side runs the SQL a person would write by hand
through a bare psycopg connection; the service side is the real function, SQLAlchemy Core and all.
Prints a Markdown table of medians and the ratio service / raw (target: at most 1.5 for every grouping); then the
same summaries read from the kept and open figures (dashboard.kept_reading, target ≤ 0.25 × raw), and the pages that
read them: the all-campaign overview, one pooled and one open campaign's overview and public results page (target
≤ 100 ms).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

GROUPINGS = ("product", "producer", "town", "unit", "day", "campaign")
COUNTED = "NOT ol.cancelled AND o.status <> 'cancelled' AND c.status NOT IN ('draft', 'cancelled')"
LINES = (
    "order_line ol JOIN buyer_order o ON o.id = ol.order_id JOIN campaign c ON c.id = o.campaign_id "
    "JOIN campaign_item ci ON ci.id = ol.item_id"
)
MEASURES = (
    "SUM(ol.quantity), SUM(ol.quantity::bigint * ol.price_fen), SUM(ol.quantity::bigint * COALESCE(ci.unit_weight_g, 0)), "
    "SUM(CASE WHEN ci.unit_weight_g IS NULL THEN ol.quantity ELSE 0 END), COUNT(DISTINCT o.id), "
    "COUNT(DISTINCT o.buyer_phone), MIN(ci.unit), MAX(ci.unit)"
)
POOLED = "('allocated', 'delivered', 'settled')"


def raw_statements(group_by, campaign_id):
    """The hand-written SQL for one summary: totals, reach, and the grouped rows."""
    scope = f" AND o.campaign_id = {int(campaign_id)}" if campaign_id else ""
    alloc_scope = f" AND a.campaign_id = {int(campaign_id)}" if campaign_id else ""
    supply_scope = f" AND ci.campaign_id = {int(campaign_id)}" if campaign_id else ""
    pooled = (
        "WITH pa AS (SELECT a.item_id, a.producer_id, a.quantity FROM allocation a JOIN campaign c ON c.id = a.campaign_id "
        f"WHERE c.status IN {POOLED} AND a.quantity > 0{alloc_scope}) "
    )
    statements = [
        f"SELECT {MEASURES}, COUNT(ol.id), SUM(CASE WHEN c.status NOT IN {POOLED} THEN ol.quantity::bigint * ol.price_fen "
        f"ELSE 0 END) FROM {LINES} WHERE {COUNTED}{scope}",
        "SELECT p.id, p.kind, p.poverty_household, p.linked_households, SUM(r.revenue), MAX(r.pooled) FROM ("
        "SELECT a.producer_id, SUM(a.quantity::bigint * ci.price_fen) AS revenue, 1 AS pooled FROM allocation a "
        "JOIN campaign c ON c.id = a.campaign_id JOIN campaign_item ci ON ci.id = a.item_id "
        f"WHERE c.status IN {POOLED} AND a.quantity > 0{alloc_scope} GROUP BY a.producer_id "
        "UNION ALL SELECT s.producer_id, 0, 0 FROM supply s JOIN campaign_item ci ON ci.id = s.item_id "
        f"JOIN campaign c ON c.id = ci.campaign_id WHERE c.status NOT IN ('draft', 'cancelled', 'allocated', 'delivered', 'settled'){supply_scope} "
        "AND EXISTS (SELECT 1 FROM order_line ol JOIN buyer_order o ON o.id = ol.order_id "
        "WHERE ol.item_id = ci.id AND NOT ol.cancelled AND o.status <> 'cancelled')"
        ") r JOIN producer p ON p.id = r.producer_id GROUP BY p.id, p.kind, p.poverty_household, p.linked_households",
    ]
    if group_by == "product":
        statements.append(f"SELECT ci.title, ci.unit, {MEASURES} FROM {LINES} WHERE {COUNTED}{scope} GROUP BY ci.title, ci.unit")
    elif group_by == "unit":
        statements.append(
            f"SELECT u.id, u.name, {MEASURES} FROM {LINES} JOIN unit u ON u.id = o.unit_id WHERE {COUNTED}{scope} GROUP BY u.id, u.name"
        )
    elif group_by == "day":
        statements.append(
            f"SELECT (o.created_at + INTERVAL '8 hours')::date, {MEASURES} FROM {LINES} WHERE {COUNTED}{scope} GROUP BY 1"
        )
    elif group_by == "campaign":
        statements.append(f"SELECT c.id, c.title, {MEASURES} FROM {LINES} WHERE {COUNTED}{scope} GROUP BY c.id, c.title")
    else:
        key, joins = (
            ("pa.producer_id", "") if group_by == "producer" else ("p.town", " LEFT JOIN producer p ON p.id = pa.producer_id")
        )
        statements.append(
            f"{pooled}SELECT {key}, {MEASURES} FROM {LINES} LEFT JOIN pa ON pa.item_id = ol.item_id{joins} "
            f"WHERE {COUNTED}{scope} GROUP BY {key}"
        )
        extra = "p.id, p.name, p.town, p.kind, p.poverty_household" if group_by == "producer" else "p.town"
        statements.append(
            f"{pooled}SELECT {extra}, SUM(pa.quantity), SUM(pa.quantity::bigint * ci.price_fen), "
            "SUM(pa.quantity::bigint * COALESCE(ci.unit_weight_g, 0)), SUM(CASE WHEN ci.unit_weight_g IS NULL THEN pa.quantity ELSE 0 END), "
            f"MIN(ci.unit), MAX(ci.unit) FROM pa JOIN campaign_item ci ON ci.id = pa.item_id JOIN producer p ON p.id = pa.producer_id GROUP BY {extra}"
        )
    return statements


def run_raw(connection, group_by, campaign_id):
    result = None
    with connection.cursor() as cursor:
        for statement in raw_statements(group_by, campaign_id):
            cursor.execute(statement)
            result = cursor.fetchall()
    connection.rollback()
    return result


def timed(function, repeat):
    function()  # warm caches and plans
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/pinbang_bench")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--groupings", default=",".join(GROUPINGS))
    parser.add_argument("--skip-live", action="store_true", help="only the kept figures and the pages")
    parser.add_argument("--pages-only", action="store_true", help="only the pages")
    args = parser.parse_args()
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="pinbang-bench-"))
    from app import create_app
    from dashboard.totals import sales_summary
    from extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=args.url.replace("postgresql://", "postgresql+psycopg://", 1))
    with app.app_context(), psycopg.connect(args.url) as connection:
        lines = connection.execute("SELECT COUNT(*) FROM order_line").fetchone()[0]
        campaign = connection.execute("SELECT id, title FROM campaign WHERE status = 'allocated' ORDER BY id LIMIT 1").fetchone()
        connection.rollback()
        print(f"{lines:,} order lines; one campaign = #{campaign[0]} {campaign[1]}\n")
        if not (args.skip_live or args.pages_only):
            compare(connection, args, campaign[0], sales_summary, "service", 1.5)
        from dashboard.kept_reading import figures_summary

        if not args.pages_only:
            compare(connection, args, campaign[0], figures_summary, "kept figures", 0.25)
        time_pages(app, db, campaign[0], args.repeat)


def compare(connection, args, campaign_id, summary, name, target):
    from extensions import db

    print(f"| grouping | scope | {name} (ms) | raw SQL (ms) | {name} / raw |")
    print("|---|---|---:|---:|---:|")
    worst = 0
    for group_by in args.groupings.split(","):
        for scope, scope_id in (("all campaigns", None), ("one campaign", campaign_id)):

            def service(campaign_id=scope_id, group_by=group_by):
                summary(campaign_id, group_by)
                db.session.rollback()

            def raw(campaign_id=scope_id, group_by=group_by):
                run_raw(connection, group_by, campaign_id)

            raw_time = timed(raw, args.repeat)
            service_time = timed(service, args.repeat)
            ratio = service_time / raw_time
            worst = max(worst, ratio)
            print(f"| {group_by} | {scope} | {service_time * 1000:.0f} | {raw_time * 1000:.0f} | {ratio:.2f} |", flush=True)
    print(f"\nworst ratio {worst:.2f} (target ≤ {target}), load average {os.getloadavg()[0]:.1f}\n")


def time_pages(app, db, campaign_id, repeat):
    """The pages as a request runs them: the view function in a request context, an operator logged in."""
    from flask_login import login_user

    from accounts.models import User
    from dashboard import routes

    operator = User(name="bench", phone="19900000000", password_hash="-", role="operator")
    db.session.add(operator)
    db.session.flush()
    slug = db.session.scalar(db.text("SELECT slug FROM campaign WHERE id = :c"), {"c": campaign_id})
    open_id, open_slug = db.session.execute(
        db.text("SELECT id, slug FROM campaign WHERE status = 'published' ORDER BY id LIMIT 1")
    ).one()
    pages = (
        ("all-campaign overview `/dashboard/`", "/dashboard/", routes.index, {}),
        ("one campaign's overview", f"/dashboard/?campaign_id={campaign_id}", routes.index, {}),
        ("sales by producer, all campaigns", "/dashboard/sales?group_by=producer", routes.sales, {}),
        ("public results page", f"/dashboard/results/{slug}", routes.results, {"slug": slug}),
        ("an open campaign's overview", f"/dashboard/?campaign_id={open_id}", routes.index, {}),
        ("an open campaign's public results page", f"/dashboard/results/{open_slug}", routes.results, {"slug": open_slug}),
    )
    print("| page | median (ms) |")
    print("|---|---:|")
    for name, path, view, kwargs in pages:

        def request(path=path, view=view, kwargs=kwargs):
            with app.test_request_context(path):
                login_user(operator)
                view(**kwargs)

        print(f"| {name} | {timed(request, repeat) * 1000:.0f} |", flush=True)
    db.session.rollback()


if __name__ == "__main__":
    main()
