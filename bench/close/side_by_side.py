"""Side by side at 1M order lines: the reference GROUP BY and the close job on clones of one loaded database.

    .venv/bin/python bench/close/side_by_side.py [--runs 3] [--code /path/to/another/checkout] [--statements]

Loads the 1M-line database once (kept as ``pinbang_bench_close_template`` for later runs; ``--rebuild`` loads it
again), then for each run clones it with ``CREATE DATABASE … TEMPLATE``, migrates the clone to the heads of the code
measured, and in a separate process times the reference GROUP BY (median of three) and then
``fulfilment.closing.close_campaign()`` as bench/close/run.py does, without the fan-outs' expansion. ``--code`` measures
another checkout (e.g. ``git archive`` of an older commit) so two versions alternate on the same machine and load.
``--statements`` also prints each statement of the close slower than 5 ms, timed by the client (SQLAlchemy cursor
events and the COPYs), and PostgreSQL's plan of the demand GROUP BY as the close runs it (auto_explain).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
ROOT = HERE.parents[2]
TEMPLATE = "pinbang_bench_close_template"


def _admin(base_url):
    import sqlalchemy as sa

    sys.path.insert(0, str(ROOT / "tests"))
    from backends import psycopg_url

    return sa.create_engine(psycopg_url(base_url), isolation_level="AUTOCOMMIT")


def _exists(engine, name):
    import sqlalchemy as sa

    with engine.connect() as connection:
        return connection.scalar(sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is not None


def _clone(engine, name):
    import sqlalchemy as sa

    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}" TEMPLATE "{TEMPLATE}"'))


def _drop(engine, name):
    import sqlalchemy as sa

    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def measure(url, campaign_id, statements, profile=False):
    """In its own process, with the code of the checkout it was started from: migrate, GROUP BY ×3, close."""
    os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="pinbang-bench-")
    sys.path.insert(0, str(Path.cwd()))
    import psycopg
    import sqlalchemy as sa
    from flask_migrate import upgrade

    from app import create_app

    sys.path.insert(0, str(Path.cwd() / "bench" / "close"))
    from run import GROUP_BY

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="heads")
        from extensions import db

        db.session.remove()
        db.engine.dispose()
        with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
            conn.autocommit = True
            conn.execute("VACUUM ANALYZE")
            times = []
            for _ in range(3):
                start = time.perf_counter()
                conn.execute(GROUP_BY, (campaign_id,)).fetchall()
                times.append(time.perf_counter() - start)
        from fulfilment import bulk, closing

        slow, notices = [], []
        if statements:
            began = {}

            @sa.event.listens_for(db.engine, "before_cursor_execute")
            def _before(conn, cursor, statement, parameters, context, executemany):
                began[id(cursor)] = time.perf_counter()

            @sa.event.listens_for(db.engine, "after_cursor_execute")
            def _after(conn, cursor, statement, parameters, context, executemany):
                took = time.perf_counter() - began.pop(id(cursor), time.perf_counter())
                if took > 0.005:
                    slow.append((round(took, 3), " ".join(statement.split())[:110]))

            @sa.event.listens_for(db.engine, "connect")
            def _explain(dbapi_connection, record):
                dbapi_connection.add_notice_handler(lambda d: notices.append(d.message_primary))
                with dbapi_connection.cursor() as cursor:
                    cursor.execute("LOAD 'auto_explain'")
                    for name, value in (
                        ("log_min_duration", "100"),
                        ("log_analyze", "on"),
                        ("log_nested_statements", "on"),
                        ("log_level", "notice"),
                    ):
                        cursor.execute(f"SET auto_explain.{name} = '{value}'")
                dbapi_connection.commit()

            copy = bulk.copy_rows

            def timed_copy(table, *args, **kwargs):  # whatever the measured checkout's signature
                start = time.perf_counter()
                result = copy(table, *args, **kwargs)
                slow.append((round(time.perf_counter() - start, 3), f"COPY {table.name}"))
                return result

            bulk.copy_rows = timed_copy

        steps = {}
        db.session.execute(sa.text("SELECT 1"))
        db.session.commit()
        start = time.perf_counter()

        def step_done(_app, campaign_id, step):
            steps.setdefault(step, round(time.perf_counter() - start, 3))

        with closing.close_step_done.connected_to(step_done):
            if profile:
                import cProfile
                import pstats

                profiler = cProfile.Profile()
                outcome = profiler.runcall(closing.close_campaign, campaign_id)
                close = time.perf_counter() - start
                pstats.Stats(profiler, stream=sys.stderr).sort_stats("tottime").print_stats(30)
            else:
                outcome = closing.close_campaign(campaign_id)
                close = time.perf_counter() - start
        assert outcome == "allocated", outcome
        check = db.session.execute(
            sa.text(
                "SELECT (SELECT SUM(quantity) FROM allocation WHERE campaign_id = :c),"
                " (SELECT SUM(l.quantity) FROM order_line l JOIN buyer_order o ON o.id = l.order_id"
                "   WHERE o.campaign_id = :c AND NOT l.cancelled AND o.status <> 'cancelled'),"
                " (SELECT COUNT(*) FROM pick_line)"
            ),
            {"c": campaign_id},
        ).one()
        assert check[0] == check[1], check
    group_by = statistics.median(times)
    print(
        json.dumps(
            {
                "close_s": close,
                "group_by_s": group_by,
                "group_by_runs": times,
                "steps_s": steps,
                "pick_lines": check[2],
                "slow": slow,
                "plans": [n for n in notices if "duration" in n],
                "load": os.getloadavg()[0],
            }
        )
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--base-url", default=os.environ.get("DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--code", action="append", default=[], help="another checkout to alternate with this one")
    parser.add_argument("--statements", action="store_true")
    parser.add_argument("--profile", action="store_true", help="cProfile the close (client CPU), printed to stderr")
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    os.environ.setdefault("PINBANG_ENV", "testing")
    if args.child:
        measure(args.child[0], int(args.child[1]), args.statements, args.profile)
        return
    sys.path.insert(0, str(ROOT))
    sys.path.insert(0, str(ROOT / "tests"))
    from backends import with_database

    engine = _admin(args.base_url)
    if args.rebuild or not _exists(engine, TEMPLATE):
        os.environ["INSTANCE_PATH"] = tempfile.mkdtemp(prefix="pinbang-bench-")
        sys.path.insert(0, str(HERE.parent))
        from run import build

        _drop(engine, TEMPLATE)
        with engine.connect() as connection:
            import sqlalchemy as sa

            connection.execute(sa.text(f'CREATE DATABASE "{TEMPLATE}"'))
        started = time.perf_counter()
        build(with_database(args.base_url, TEMPLATE), 1_000_000)
        print(f"loaded the 1M-line template in {time.perf_counter() - started:.0f} s", file=sys.stderr)
    checkouts = [str(ROOT), *args.code]
    clone = "pinbang_bench_close_clone"
    for run in range(args.runs):
        for code in checkouts:
            _clone(engine, clone)
            try:
                command = [sys.executable, str(Path(code) / "bench/close/side_by_side.py"), "--child"]
                command += [with_database(args.base_url, clone), "1"]
                command += ["--statements"] * args.statements + ["--profile"] * args.profile
                uptime = os.getloadavg()[0]
                out = subprocess.run(command, cwd=code, capture_output=True, text=True)
                if out.returncode or args.profile:
                    print(out.stderr[-6000:], file=sys.stderr)
                if out.returncode:
                    continue
                r = json.loads(out.stdout.strip().splitlines()[-1])
                print(
                    f"run {run + 1} {code}: close {r['close_s']:.2f} s, GROUP BY {r['group_by_s']:.3f} s "
                    f"({', '.join(f'{t:.3f}' for t in r['group_by_runs'])}), ratio {r['close_s'] / r['group_by_s']:.2f}; "
                    f"steps {r['steps_s']}; load {uptime:.1f} -> {r['load']:.1f}",
                    flush=True,
                )
                for took, statement in r["slow"]:
                    print(f"    {took:6.3f}  {statement}")
                for plan in r["plans"]:
                    print("    " + plan.replace("\n", "\n    "))
            finally:
                _drop(engine, clone)


if __name__ == "__main__":
    main()
