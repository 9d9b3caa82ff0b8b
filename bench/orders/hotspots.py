"""Where an order's time goes: place API orders in-process (Flask test client, production config, PostgreSQL) under cProfile.

Run:
    .venv/bin/python bench/orders/hotspots.py                       # 2000 orders, top 40 functions by own time
    .venv/bin/python bench/orders/hotspots.py --orders 5000 --sort cumulative --top 60
    .venv/bin/python bench/orders/hotspots.py --statements          # also count the SQL statements of one order

It builds the same scratch database as run.py (dropped afterwards), warms up, then profiles a loop of
``POST /api/v1/campaigns/{id}/orders`` with random buyers' tokens, one line each, a fresh Idempotency-Key.
The figure printed first (ms per order, wall clock, one process) includes the PostgreSQL round trips.
"""

import argparse
import cProfile
import os
import pstats
import random
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(Path(__file__).resolve().parent)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--items", type=int, default=100)
    parser.add_argument("--buyers", type=int, default=500)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--sort", default="tottime")
    parser.add_argument("--top", type=int, default=40)
    parser.add_argument("--statements", action="store_true", help="print the SQL statements of one order")
    parser.add_argument("--callers", metavar="FUNCTION", help="also print who calls the functions matching this")
    args = parser.parse_args()

    from run import prepare

    from backends import create_scratch_postgres, drop_scratch_postgres

    instance = Path(tempfile.mkdtemp(prefix="pinbang-profile-orders-"))
    url = create_scratch_postgres(args.pg, f"pinbang_profile_orders_{uuid.uuid4().hex[:8]}")
    try:
        prepare_args = argparse.Namespace(items=args.items, buyers=args.buyers, limit=args.limit)
        campaign_id = prepare(url, instance, prepare_args)["campaign"]
        tokens = (instance / "tokens.txt").read_text().split()
        items = [int(i) for i in (instance / "spread.txt").read_text().split()]
        os.environ.update({"DATABASE_URL": url, "SECRET_KEY": "bench-only", "PINBANG_ENV": "production"})
        os.environ.pop("REDIS_URL", None)
        from app import create_app

        app = create_app("production")
        client = app.test_client()
        path = f"/api/v1/campaigns/{campaign_id}/orders"
        counter = iter(range(10**9))

        def order():
            response = client.post(
                path,
                json={"lines": [{"item_id": random.choice(items), "quantity": 1}]},
                headers={"Authorization": f"Bearer {random.choice(tokens)}", "Idempotency-Key": f"p-{next(counter)}"},
            )
            assert response.status_code == 201, response.get_data(as_text=True)

        for _ in range(200):
            order()
        if args.statements:
            show_statements(app, order)
        order_cpu, bare_cpu = interleaved_cpu(order, bare_request(), args.orders)
        print(
            f"CPU in this process, best of {ROUNDS} interleaved rounds: an order {1000 * order_cpu:.2f} ms, a bare Flask "
            f"request (bare.py) {1000 * bare_cpu:.3f} ms: an order costs {order_cpu / bare_cpu:.1f} bare requests "
            "(PostgreSQL's own CPU not included)"
        )
        # CPU time, not wall clock: waiting for PostgreSQL is the round-trip count's business, shown by --statements.
        profiler = cProfile.Profile(time.process_time)
        profiler.enable()
        for _ in range(args.orders):
            order()
        profiler.disable()
        stats = pstats.Stats(profiler)
        stats.sort_stats(args.sort).print_stats(args.top)
        if args.callers:
            stats.print_callers(args.callers)
        with app.app_context():
            from extensions import db

            db.session.remove()
            db.engine.dispose()
    finally:
        drop_scratch_postgres(args.pg, url)
        shutil.rmtree(instance, ignore_errors=True)


ROUNDS = 10


def bare_request():
    """One request to bench/orders/bare.py through a test client: the yardstick."""
    from bare import app

    client = app.test_client()
    body = {"lines": [{"item_id": 1, "quantity": 1}]}
    return lambda: client.post("/bare", json=body)


def interleaved_cpu(order, bare, count):
    """CPU seconds of one order and of one bare request, each the best of ROUNDS rounds taken in turns,
    so that other work on the machine disturbs both alike and the ratio stays meaningful."""
    per_round = max(count // ROUNDS, 1)
    best_order = best_bare = float("inf")
    for _ in range(ROUNDS):
        started = time.process_time()
        for _ in range(per_round):
            order()
        best_order = min(best_order, (time.process_time() - started) / per_round)
        started = time.process_time()
        for _ in range(per_round * 4):
            bare()
        best_bare = min(best_bare, (time.process_time() - started) / (per_round * 4))
    return best_order, best_bare


def show_statements(app, order):
    import sqlalchemy as sa

    from extensions import db

    seen = []

    def before(conn, cursor, statement, parameters, context, executemany):
        seen.append(" ".join(statement.split())[:160])

    with app.app_context():
        engine = db.engine
    sa.event.listen(engine, "before_cursor_execute", before)
    order()
    sa.event.remove(engine, "before_cursor_execute", before)
    print(f"{len(seen)} statements in one order (BEGIN/COMMIT/ROLLBACK are not listed):")
    for statement in seen:
        print("   ", statement)


if __name__ == "__main__":
    main()
