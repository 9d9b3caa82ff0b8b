"""Benchmark: the close job on 10k, 100k and 1M order lines on PostgreSQL, against one SQL GROUP BY over the same lines.

    .venv/bin/python bench/close/run.py [--sizes 10000,100000,1000000] [--base-url postgresql://postgres@127.0.0.1:5432/test]
        [--profile]

For each size it builds a fresh scratch database (about 200 items, 2,000 producers, 300 units; five lines per
order, one buyer per order; three unpopular items fall below their minimum and are cancelled), loads it with
COPY, then measures in a separate process: the reference GROUP BY (median of three), the whole close job
(guarded close, below-minimum cancellation, fair split, delivery split, bulk writes, the fan-out rows for the
below-minimum buyers, the producers and all buyers queued, one commit), and then, apart, the worker's expansion of
the fan-outs into outbox rows, in the order the worker runs them. Peak memory is that process's peak RSS (VmHWM).
Prints Markdown tables and JSON. ``--profile`` runs the close job under cProfile and prints its busiest functions
to stderr: the client's own work apart from the time spent waiting on PostgreSQL (psycopg's ``wait``), at the
profiler's overhead, so the close's figures of that run are not comparable with the others.
"""

import argparse
import cProfile
import io
import json
import os
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

ITEMS, PRODUCERS, UNITS, LINES_PER_ORDER = 200, 2000, 300, 5
BELOW_MINIMUM = 3
PASSWORD_HASH = "scrypt:32768:8:1$bench$" + "0" * 64

GROUP_BY = """
    SELECT l.item_id, o.unit_id, SUM(l.quantity)
    FROM order_line l JOIN buyer_order o ON o.id = l.order_id
    WHERE o.campaign_id = %s AND NOT l.cancelled AND o.status <> 'cancelled'
    GROUP BY l.item_id, o.unit_id
"""


def _copy(cursor, table, columns, rows):
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def build(url, lines_wanted, seed=2020):
    """Migrate a fresh database and fill it; returns (campaign id, lines written)."""
    import psycopg
    from flask_migrate import upgrade

    from app import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="heads")
        from extensions import db

        db.engine.dispose()

    rng = random.Random(seed)
    now = datetime.now(UTC).replace(tzinfo=None)
    weights = [1 / (i + 1) ** 0.8 for i in range(ITEMS)]
    orders = lines_wanted // LINES_PER_ORDER
    order_items, demand = [], [0] * ITEMS
    lines = []
    for order_id in range(1, orders + 1):
        chosen = set()
        while len(chosen) < LINES_PER_ORDER:
            chosen.add(rng.choices(range(ITEMS), weights)[0])
        for item in sorted(chosen):
            quantity = rng.randint(1, 5)
            demand[item] += quantity
            lines.append((order_id, item + 1, quantity))
        order_items.append(chosen)
    below = sorted(range(ITEMS), key=lambda i: demand[i])[:BELOW_MINIMUM]

    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn, conn.cursor() as cur:
        _copy(
            cur,
            "unit",
            ["id", "name", "address", "created_at", "updated_at"],
            ((u, f"单位{u:03d}", f"乐城街道第{u}号", now, now) for u in range(1, UNITS + 1)),
        )
        _copy(
            cur,
            "producer",
            [
                "id",
                "name",
                "kind",
                "town",
                "village",
                "phone",
                "poverty_household",
                "poverty_id",
                "linked_households",
                "status",
                "created_at",
                "updated_at",
            ],
            (
                (
                    p,
                    f"生产者{p:04d}",
                    "household",
                    "秀水镇",
                    "秀水村",
                    f"138{p:08d}",
                    p % 10 < 3,
                    f"GD-{p:06d}" if p % 10 < 3 else None,
                    0,
                    "approved",
                    now,
                    now,
                )
                for p in range(1, PRODUCERS + 1)
            ),
        )
        cur.execute(
            "INSERT INTO campaign (id, slug, title, opens_at, closes_at, delivery_on, status, created_at, updated_at) "
            "VALUES (1, 'bench', '基准活动', %s, %s, %s, 'published', %s, %s)",
            (now - timedelta(days=3), now - timedelta(minutes=1), date.today() + timedelta(days=3), now, now),
        )
        # Each producer supplies one item, every third one a second item too: about 13 supplies an item.
        supplies = {i: [] for i in range(ITEMS)}
        for p in range(1, PRODUCERS + 1):
            supplies[(p - 1) % ITEMS].append(p)
            if p % 3 == 0:
                supplies[(p * 7 + 3) % ITEMS].append(p)
        listing_rows, supply_rows, item_rows = [], [], []
        next_id = 1
        for i in range(ITEMS):
            producers = supplies[i]
            offered = max(demand[i] * 5 // 4, len(producers))
            cuts = sorted(rng.sample(range(1, offered), len(producers) - 1)) if len(producers) > 1 else []
            quantities = [b - a for a, b in zip([0, *cuts], [*cuts, offered], strict=True)]
            for producer, quantity in zip(producers, quantities, strict=True):
                listing_rows.append(
                    (
                        next_id,
                        producer,
                        f"商品{i + 1}",
                        "蔬果",
                        "斤",
                        500,
                        450,
                        quantity,
                        quantity,
                        date.today(),
                        "approved",
                        now,
                        now,
                    )
                )
                supply_rows.append((next_id, i + 1, next_id, producer, quantity))
                next_id += 1
            item_rows.append(
                (
                    i + 1,
                    1,
                    f"商品{i + 1}",
                    "斤",
                    500,
                    450,
                    demand[i] + 1 if i in below else None,
                    "poor_first" if i % 5 == 0 else "proportional",
                    offered,
                    demand[i],
                    i,
                    False,
                    now,
                    now,
                )
            )
        _copy(
            cur,
            "listing",
            [
                "id",
                "producer_id",
                "name",
                "category",
                "unit",
                "unit_weight_g",
                "price_fen",
                "quantity",
                "quantity_committed",
                "ready_on",
                "status",
                "created_at",
                "updated_at",
            ],
            listing_rows,
        )
        _copy(
            cur,
            "campaign_item",
            [
                "id",
                "campaign_id",
                "title",
                "unit",
                "unit_weight_g",
                "price_fen",
                "min_total",
                "policy",
                "capacity",
                "ordered",
                "position",
                "cancelled_below_minimum",
                "created_at",
                "updated_at",
            ],
            item_rows,
        )
        _copy(cur, "supply", ["id", "item_id", "listing_id", "producer_id", "quantity"], supply_rows)
        units_of = [rng.randint(1, UNITS) for _ in range(orders)]
        _copy(
            cur,
            '"user"',
            [
                "id",
                "name",
                "phone",
                "password_hash",
                "session_token",
                "role",
                "unit_id",
                "coordinator",
                "active",
                "created_at",
                "updated_at",
            ],
            (
                (o, f"职工{o}", f"1{o:010d}", PASSWORD_HASH, f"bench-{o}", "buyer", units_of[o - 1], False, True, now, now)
                for o in range(1, orders + 1)
            ),
        )
        _copy(
            cur,
            "buyer_order",
            [
                "id",
                "campaign_id",
                "unit_id",
                "user_id",
                "buyer_name",
                "buyer_phone",
                "placed_by_id",
                "source",
                "status",
                "total_fen",
                "payment_status",
                "created_at",
                "updated_at",
            ],
            (
                (o, 1, units_of[o - 1], o, f"职工{o}", f"1{o:010d}", o, "buyer", "placed", 0, "unpaid", now, now)
                for o in range(1, orders + 1)
            ),
        )
        _copy(
            cur,
            "order_line",
            ["id", "order_id", "item_id", "quantity", "price_fen", "cancelled"],
            ((n, o, i, q, 450, False) for n, (o, i, q) in enumerate(lines, start=1)),
        )
        cur.execute(
            "UPDATE buyer_order o SET total_fen = s.total FROM (SELECT order_id, SUM(quantity * price_fen) AS total FROM order_line GROUP BY order_id) s WHERE s.order_id = o.id"
        )
        for table in (
            "unit",
            "producer",
            "campaign",
            "listing",
            "campaign_item",
            "supply",
            '"user"',
            "buyer_order",
            "order_line",
        ):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT MAX(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        cur.execute("VACUUM ANALYZE")
    return 1, len(lines)


def peak_rss_mb():
    """This process's peak resident set (VmHWM). Unlike ru_maxrss it is not inherited from the parent at fork."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def keeping_cost(db, campaign_id):
    """The close task's last step, timed: keeping the pooled campaign's figures (committed, as the task does), then the
    outcomes-only refresh a payment runs (rolled back)."""
    from dashboard.kept_figures import keep_campaign_outcomes, keep_pending_figures

    start = time.perf_counter()
    assert keep_pending_figures(campaign_id)
    kept = time.perf_counter() - start
    start = time.perf_counter()
    keep_campaign_outcomes(campaign_id)
    outcomes = time.perf_counter() - start
    db.session.rollback()
    return kept, outcomes


def build_open_figures(url, campaign_id):
    """The open figures the orders would have kept (the lines came by COPY), so the keeping replaces real ones."""
    from app import create_app
    from dashboard.kept_figures import keep_campaign_figures
    from database import transaction
    from extensions import db

    with create_app("testing", SQLALCHEMY_DATABASE_URI=url).app_context():
        start = time.perf_counter()
        with transaction():
            keep_campaign_figures(campaign_id)
        rows = db.session.scalar(
            db.text(
                "SELECT (SELECT COUNT(*) FROM open_sale) + (SELECT COUNT(*) FROM open_buyer) + (SELECT COUNT(*) FROM open_item_buyer)"
            )
        )
        db.session.remove()
    print(f"open figures: {rows:,} rows built in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return time.perf_counter() - start


def measure_child(url, campaign_id, profile=False):
    """Runs in its own process: the GROUP BY reference, then the close job; prints JSON."""
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="pinbang-bench-")
    import psycopg

    open_figures_s = build_open_figures(url, campaign_id)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as conn, conn.cursor() as cur:
        cur.execute("ANALYZE open_sale, open_buyer, open_item_buyer")
        times = []
        for _ in range(3):
            start = time.perf_counter()
            cur.execute(GROUP_BY, (campaign_id,))
            cur.fetchall()
            times.append(time.perf_counter() - start)
    group_by = statistics.median(times)

    from app import create_app
    from fulfilment import closing
    from fulfilment.notices import RENDERERS
    from notifications.fanout import expand_fanouts

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    steps = {}
    with app.app_context():
        from extensions import db

        db.session.execute(db.text("SELECT 1"))
        baseline_mb = peak_rss_mb()
        start = time.perf_counter()

        def step_done(_app, campaign_id, step):
            steps.setdefault(step, time.perf_counter() - start)

        profiler = cProfile.Profile() if profile else None
        with closing.close_step_done.connected_to(step_done):
            if profiler:
                outcome = profiler.runcall(closing.close_campaign, campaign_id)
            else:
                outcome = closing.close_campaign(campaign_id)
        close = time.perf_counter() - start
        if profiler:
            report = io.StringIO()
            pstats.Stats(profiler, stream=report).sort_stats("tottime").print_stats(25)
            pstats.Stats(profiler, stream=report).sort_stats("cumulative").print_stats(40)
            print(report.getvalue(), file=sys.stderr)
        peak_mb = peak_rss_mb()

        start = time.perf_counter()
        producers_told = expand_fanouts(RENDERERS, kinds=("picklist", "no_allocation"))
        producers_fanout = time.perf_counter() - start
        start = time.perf_counter()
        below_told = expand_fanouts(RENDERERS, kinds=("below_minimum",))
        below_fanout = time.perf_counter() - start
        start = time.perf_counter()
        buyers_told = expand_fanouts(RENDERERS, kinds=("order_allocated",))
        fanout = time.perf_counter() - start
        fanout_peak_mb = peak_rss_mb()
        keep_s, outcomes_s = keeping_cost(db, campaign_id)
        check = db.session.execute(
            db.text(
                "SELECT (SELECT COALESCE(SUM(quantity), 0) FROM allocation WHERE campaign_id = :c),"
                " (SELECT COALESCE(SUM(l.quantity), 0) FROM order_line l JOIN buyer_order o ON o.id = l.order_id"
                "   WHERE o.campaign_id = :c AND NOT l.cancelled AND o.status <> 'cancelled'),"
                " (SELECT COUNT(*) FROM pick_line), (SELECT COUNT(*) FROM notification),"
                " (SELECT COUNT(*) FROM order_line WHERE cancel_reason = 'below_minimum'),"
                " (SELECT COUNT(DISTINCT COALESCE(user_id, placed_by_id)) FROM buyer_order"
                "   WHERE campaign_id = :c AND status <> 'cancelled'),"
                " (SELECT COUNT(*) FROM notification WHERE kind = 'order_allocated' AND channel = 'inapp'),"
                " (SELECT COUNT(DISTINCT COALESCE(o.user_id, o.placed_by_id)) FROM order_line l"
                "   JOIN buyer_order o ON o.id = l.order_id WHERE o.campaign_id = :c AND l.cancel_reason = 'below_minimum'),"
                " (SELECT COUNT(*) FROM notification WHERE kind = 'below_minimum' AND channel = 'inapp'),"
                " (SELECT COUNT(DISTINCT s.producer_id) FROM supply s JOIN campaign_item i ON i.id = s.item_id"
                "   WHERE i.campaign_id = :c),"
                " (SELECT COUNT(*) FROM notification WHERE kind IN ('picklist', 'no_allocation') AND channel = 'inapp')"
            ),
            {"c": campaign_id},
        ).one()
    print(
        json.dumps(
            {
                "outcome": outcome,
                "keep_s": keep_s,
                "open_figures_s": open_figures_s,
                "keep_outcomes_s": outcomes_s,
                "group_by_s": group_by,
                "close_s": close,
                "steps_s": steps,
                "baseline_rss_mb": baseline_mb,
                "peak_rss_mb": peak_mb,
                "allocated": int(check[0]),
                "live_demand": int(check[1]),
                "pick_lines": check[2],
                "notifications": check[3],
                "lines_cancelled_below_minimum": check[4],
                "fanout_s": fanout,
                "load_average": os.getloadavg()[0],
                "fanout_peak_rss_mb": fanout_peak_mb,
                "buyers_told": buyers_told,
                "live_buyers": check[5],
                "buyer_inapp_rows": check[6],
                "below_minimum_fanout_s": below_fanout,
                "below_minimum_told": below_told,
                "below_minimum_buyers": check[7],
                "below_minimum_inapp_rows": check[8],
                "producers_fanout_s": producers_fanout,
                "producers_told": producers_told,
                "producers": check[9],
                "producer_inapp_rows": check[10],
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--base-url", default=os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--profile", action="store_true", help="cProfile the close job; its report goes to stderr")
    parser.add_argument("--child", nargs=2, metavar=("URL", "CAMPAIGN"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("PINBANG_ENV", "testing")
    if args.child:
        measure_child(args.child[0], int(args.child[1]), args.profile)
        return
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="pinbang-bench-")
    from backends import create_scratch_postgres, drop_scratch_postgres

    results = []
    for size in (int(s) for s in args.sizes.split(",")):
        url = create_scratch_postgres(args.base_url, f"pinbang_bench_close_{size}")
        try:
            started = time.perf_counter()
            campaign_id, lines = build(url, size)
            load = time.perf_counter() - started
            out = subprocess.run(
                [sys.executable, __file__, "--child", url, str(campaign_id), *["--profile"] * args.profile],
                capture_output=True,
                text=True,
                check=True,
            )
            if args.profile:
                print(out.stderr, file=sys.stderr)
            result = json.loads(out.stdout.strip().splitlines()[-1])
            result.update(lines=lines, load_s=load)
            assert result["outcome"] == "allocated" and result["allocated"] == result["live_demand"], result
            assert result["buyers_told"] == result["live_buyers"] == result["buyer_inapp_rows"], result
            assert result["below_minimum_told"] == result["below_minimum_buyers"] == result["below_minimum_inapp_rows"], result
            assert result["producers"] == result["producers_told"] == result["producer_inapp_rows"], result
            results.append(result)
            print(
                f"{lines:>9} lines: close {result['close_s']:.2f} s, GROUP BY {result['group_by_s']:.3f} s, "
                f"peak {result['peak_rss_mb']:.0f} MB; below-minimum fan-out {result['below_minimum_fanout_s']:.2f} s, "
                f"producers' fan-out {result['producers_fanout_s']:.2f} s, "
                f"buyers' fan-out {result['fanout_s']:.2f} s; then keeping figures {result['keep_s']:.2f} s "
                f"({100 * result['keep_s'] / result['close_s']:.0f} % of the close), a payment's outcomes-only "
                f"refresh {result['keep_outcomes_s']:.3f} s (load {load:.0f} s, "
                f"load average {os.getloadavg()[0]:.1f})",
                file=sys.stderr,
            )
        finally:
            drop_scratch_postgres(args.base_url, url)

    print(
        "| order lines | close job (s) | GROUP BY (s) | ratio | step vs previous size (×, linear = 10) | peak RSS (MB) | RSS before close (MB) |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|")
    previous = None
    for r in results:
        step = f"{r['close_s'] / previous:.1f}" if previous else "—"
        print(
            f"| {r['lines']:,} | {r['close_s']:.2f} | {r['group_by_s']:.3f} | {r['close_s'] / r['group_by_s']:.1f} | {step} | "
            f"{r['peak_rss_mb']:.0f} | {r['baseline_rss_mb']:.0f} |"
        )
        previous = r["close_s"]
    print()
    print("| order lines | close (s) | keeping figures after it (s) | keeping ÷ close (%) | payment's refresh (s) |")
    print("|---:|---:|---:|---:|---:|")
    for r in results:
        extra = 100 * r["keep_s"] / r["close_s"]
        print(f"| {r['lines']:,} | {r['close_s']:.2f} | {r['keep_s']:.2f} | {extra:.1f} | {r['keep_outcomes_s']:.3f} |")
    print()
    print("Where the time goes (seconds): each step of the close job, from its close_step_done signal; then, apart,")
    print("the worker's expansion of the fan-outs in the order it runs them (after the close has committed).")
    print()
    names = ["closed", "below_minimum", "allocated", "producers_notified", "notified"]  # fulfilment.closing.STEPS
    labels = [
        "close (guarded UPDATE)",
        "lock + demand GROUP BY + below-minimum",
        "fair split + bulk writes + stock back + pick lines",
        "producers' fan-out rows",
        "buyers' fan-out row",
        "audit + commit",
    ]
    after = ["producers' notices", "below-minimum notices", 'buyers\' "on its way"']
    print("| order lines | " + " | ".join(labels + after) + " |")
    print("|---:|" + "---:|" * (len(labels) + len(after)))
    for r in results:
        marks = [0.0] + [r["steps_s"][n] for n in names] + [r["close_s"]]
        steps = " | ".join(f"{b - a:.2f}" for a, b in zip(marks, marks[1:], strict=False))
        print(
            f"| {r['lines']:,} | {steps} | {r['producers_fanout_s']:.2f} ({r['producers_told']:,} producers) "
            f"| {r['below_minimum_fanout_s']:.2f} ({r['below_minimum_told']:,} buyers) | {r['fanout_s']:.2f} ({r['buyers_told']:,} buyers) |"
        )
    print()
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
