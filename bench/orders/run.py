"""Order placement over HTTP: gunicorn + PostgreSQL + Redis at 1, 10 and 50 clients, spread over many items and all on
one hot item, side by side with a bare Flask JSON endpoint (same gunicorn settings) and with pgbench running the SQL
an order minimally needs against the same database. Not a test: it prints figures, and exits non-zero when a check
fails.

Run (needs `wrk`: apt-get install wrk; and `pgbench`, PostgreSQL's client tools):
    .venv/bin/python bench/orders/run.py
    .venv/bin/python bench/orders/run.py --duration 5 --clients 1,50          # a quick trial
    .venv/bin/python bench/orders/run.py --workers 4 --duration 10 --clients 1,10,50 --pg postgresql://postgres@127.0.0.1:5432/test

It creates a scratch database beside --pg (dropped afterwards), an open campaign with --items items and --buyers buyers
with API tokens, a private redis-server on a free port (or --redis URL, with a queue of its own), and starts two
gunicorns on 127.0.0.1 with identical settings, the README's production ones (`gunicorn -w 4`, sync workers,
PINBANG_ENV=production, DATABASE_URL, REDIS_URL, SECRET_KEY): Pinbang's wsgi:app and bench/orders/bare.py. For each
client count, after a short warm-up each, wrk drives for --duration seconds: the bare endpoint, orders spread over all
items, orders all for the first item; then pgbench runs bench/orders/minimal_order.sql (the guarded UPDATE of the
item's counter, the order row, its line, one outbox row, one transaction) with as many clients, spread and hot.
Each HTTP order is one line of quantity 1 with a fresh Idempotency-Key and a random buyer's token.

Checks: every pgbench transaction wrote exactly one order, one line, one outbox row and one unit of an item's counter
(items have room for far more than any run orders, so the guard never refuses); afterwards nothing was oversold: every
item's counter equals the sum of its live order lines and never exceeds its capacity; and nothing was lost: the orders
placed over HTTP (pgbench's are told apart by their idempotency keys) match the 2xx answers.
"""

import argparse
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import uuid
from datetime import timedelta
from pathlib import Path

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from flask_migrate import upgrade  # noqa: E402

from accounts.models import Unit, User  # noqa: E402
from accounts.services import issue_token  # noqa: E402
from app import create_app  # noqa: E402
from backends import create_scratch_postgres, drop_scratch_postgres, psycopg_url  # noqa: E402
from database import utcnow  # noqa: E402
from extensions import db  # noqa: E402
from ports import free_port, wait_for_port  # noqa: E402
from producers.models import Listing, Producer  # noqa: E402
from shop.models import Campaign, CampaignItem, Supply  # noqa: E402

RESULT = re.compile(r"RESULT requests=(\d+) seconds=([\d.]+) p50_ms=([\d.]+) p99_ms=([\d.]+) errors=(\d+) non2xx=(\d+)")
PRICE_FEN = 150
# Far more than any run orders of one item, so a reservation is never refused for want of stock.
CAPACITY = 10_000_000
BARE, SPREAD, HOT = "bare Flask", "orders, spread", "orders, one hot item"
PGBENCH_SPREAD, PGBENCH_HOT = "pgbench, spread", "pgbench, one hot item"
PGBENCH_KEYS = "pgbench-%"


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=None, help="an existing Redis URL (default: a private redis-server)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers, for both servers (production: 4)")
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--clients", default="1,10,50")
    parser.add_argument("--items", type=int, default=100, help="items in the campaign (the spread scenario uses all)")
    parser.add_argument("--buyers", type=int, default=500)
    parser.add_argument(
        "--outbox-rows",
        type=int,
        choices=(1, 2),
        default=1,
        help="confirmation rows pgbench writes per order: 1 (in-app) or 2 (in-app and SMS, as the app does here)",
    )
    parser.add_argument("--limit", type=int, default=None, help="a per-buyer limit on every item (default: none)")
    return parser.parse_args()


def prepare(url, instance, args, capacity=CAPACITY):
    """Migrate the scratch database and fill it: one open campaign, its items of ``capacity`` units each, buyers with
    tokens.

    :returns: the ids pgbench needs (campaign, unit, first item, first user; items and users are numbered without gaps).
    """
    os.environ.update({"INSTANCE_PATH": str(instance), "PINBANG_ENV": "testing"})
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="heads")
        unit = Unit(name="乐昌市总工会", address="人民中路")
        producers = [
            Producer(name=f"农户{i}", kind="household", town="秀水镇", village="秀水村", phone=f"138{i:08d}", status="approved")
            for i in range(10)
        ]
        db.session.add_all([unit, *producers])
        db.session.flush()
        now = utcnow()
        campaign = Campaign(
            slug="benchmrk",
            title="压测活动",
            opens_at=now - timedelta(hours=1),
            closes_at=now + timedelta(days=1),
            delivery_on=(now + timedelta(days=3)).date(),
            status="published",
        )
        db.session.add(campaign)
        db.session.flush()
        for n in range(args.items):
            add_item(campaign, producers[n % len(producers)], n, args.limit, now, capacity)
        users = [
            User(name=f"职工{i}", phone=f"137{i:08d}", role="buyer", unit_id=unit.id, password_hash="-")
            for i in range(args.buyers)
        ]
        db.session.add_all(users)
        db.session.commit()
        tokens = [issue_token(user) for user in users]
        item_ids = list(db.session.scalars(sa.select(CampaignItem.id).order_by(CampaignItem.id)))
        user_ids = [user.id for user in users]
        ids = {"campaign": campaign.id, "unit": unit.id, "first_item": item_ids[0], "first_user": user_ids[0]}
        db.session.remove()
        db.engine.dispose()
    if item_ids != list(range(item_ids[0], item_ids[0] + len(item_ids))) or user_ids != list(
        range(user_ids[0], user_ids[0] + len(user_ids))
    ):
        raise RuntimeError("pgbench picks items and buyers by number: their ids must have no gaps")
    (instance / "tokens.txt").write_text("\n".join(tokens) + "\n")
    (instance / "spread.txt").write_text("\n".join(map(str, item_ids)) + "\n")
    (instance / "hot.txt").write_text(f"{item_ids[0]}\n")
    return ids


def add_item(campaign, producer, n, limit, now, capacity=CAPACITY):
    """One campaign item with a listing and a supply of ``capacity`` units."""
    listing = Listing(
        producer_id=producer.id,
        name=f"鸡蛋{n}",
        category="蛋类",
        unit="个",
        unit_weight_g=50,
        price_fen=PRICE_FEN,
        quantity=capacity,
        quantity_committed=capacity,
        ready_on=now.date(),
        status="approved",
    )
    item = CampaignItem(
        campaign_id=campaign.id,
        title=f"鸡蛋{n}",
        unit="个",
        unit_weight_g=50,
        price_fen=PRICE_FEN,
        capacity=capacity,
        ordered=0,
        position=n,
        per_buyer_limit=limit,
    )
    db.session.add_all([listing, item])
    db.session.flush()
    db.session.add(Supply(item_id=item.id, listing_id=listing.id, producer_id=producer.id, quantity=capacity))


def server_env(url, redis_url, queue, instance):
    """The environment of a production web server on the scratch database, with its own Celery queue."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "CELERY_QUEUE")}
    env.update(
        {
            "DATABASE_URL": url,
            "REDIS_URL": redis_url,
            "CELERY_QUEUE": queue,
            "PINBANG_ENV": "production",
            "SECRET_KEY": "bench-only",
            "INSTANCE_PATH": str(instance),
            "PYTHONPATH": str(ROOT),
        }
    )
    return env


def start(command, env, cwd=ROOT, port=None, log=None):
    process = subprocess.Popen(
        command, cwd=cwd, env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT if log else None
    )
    if port and not wait_for_port(port, timeout=30):
        stop(process)
        raise RuntimeError(f"{command[0]}: nothing listens on {port}")
    return process


def start_gunicorn(target, chdir, port, args, env, log):
    command = [str(ROOT / ".venv/bin/gunicorn"), "-w", str(args.workers), "-k", args.worker_class]
    command += ["--threads", str(args.threads), "-b", f"127.0.0.1:{port}", "--chdir", str(chdir)]
    command += ["--log-level", "warning", target]
    return start(command, env, cwd=chdir, port=port, log=log)


def start_redis(instance):
    port = free_port()
    command = [shutil.which("redis-server") or "redis-server", "--port", str(port), "--bind", "127.0.0.1"]
    command += ["--save", "", "--appendonly", "no", "--dir", str(instance)]
    return start(command, dict(os.environ), port=port, log=open(instance / "redis.log", "w")), f"redis://127.0.0.1:{port}/0"


def stop(process):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def wrk(port, clients, seconds, instance, items_file, campaign_id, path=None):
    command = ["wrk", "-t", str(min(clients, 2)), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s"]
    command += ["-s", str(HERE / "order.lua"), f"http://127.0.0.1:{port}", "--"]
    command += [str(instance / "tokens.txt"), str(instance / items_file), str(campaign_id)]
    if path:
        command.append(path)
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    match = RESULT.search(output)
    if not match:
        raise RuntimeError(f"wrk said:\n{output}")
    requests, duration, p50, p99, errors, non2xx = match.groups()
    return {
        "requests": int(requests),
        "seconds": float(duration),
        "p50": float(p50),
        "p99": float(p99),
        "errors": int(errors),
        "non2xx": int(non2xx),
    }


def pgbench(libpq_url, clients, seconds, variables, logs):
    """Run minimal_order.sql with ``clients`` connections; tps and latency percentiles from its per-transaction log."""
    folder = Path(tempfile.mkdtemp(dir=logs))
    command = ["pgbench", "-n", "-f", str(HERE / "minimal_order.sql"), "-c", str(clients), "-j", str(min(clients, 2))]
    command += ["-T", str(seconds), "-M", "prepared", "-l", "--log-prefix", str(folder / "tx")]
    for name, value in {**variables, "n": 0}.items():
        command += ["-D", f"{name}={value}"]
    done = subprocess.run([*command, libpq_url], capture_output=True, text=True, timeout=seconds + 60)
    processed = re.search(r"number of transactions actually processed: (\d+)", done.stdout)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    # Exit status 2: some client was aborted (a refused reservation, a lost connection); the rest still counts.
    if done.returncode not in (0, 2) or not processed or not tps:
        raise RuntimeError(f"pgbench failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    if done.returncode:
        print(f"  pgbench aborted a client: {done.stderr.strip().splitlines()[0]}", flush=True)
    # Each log line: client, transaction number, latency in microseconds, script, epoch seconds, microseconds.
    latencies = sorted(int(line.split()[2]) for log in folder.glob("tx*") for line in log.read_text().splitlines())
    shutil.rmtree(folder, ignore_errors=True)
    count, rate = int(processed.group(1)), float(tps.group(1))
    return {
        "requests": count,
        "seconds": count / rate if rate else float(seconds),
        "p50": percentile(latencies, 50) / 1000,
        "p99": percentile(latencies, 99) / 1000,
        "errors": 0,
        "non2xx": 0,
        "aborted": bool(done.returncode),
    }


def ratio(part, whole):
    """part ÷ whole; NaN when whole is 0 (a run that placed nothing still prints its table)."""
    return part / whole if whole else float("nan")


def percentile(values, q):
    """Nearest rank of sorted ``values``."""
    if not values:
        return float("nan")
    return values[min(len(values) - 1, max(math.ceil(q / 100 * len(values)) - 1, 0))]


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids):
    """User + system CPU time the processes have used so far (processes that are gone count 0)."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def server_pids(process):
    """The gunicorn master and its workers."""
    pids = [process.pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == process.pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def backend_pids(engine, database):
    """The PostgreSQL backends serving the scratch database (the app's pooled connections)."""
    with engine.connect() as connection:
        return list(
            connection.execute(
                sa.text("SELECT pid FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"), {"db": database}
            ).scalars()
        )


def count_rows(engine):
    """Orders (all, and those placed over HTTP), lines, outbox rows and the sum of the items' counters."""
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                """SELECT (SELECT count(*) FROM buyer_order),
                          (SELECT count(*) FROM buyer_order WHERE idempotency_key NOT LIKE :pgbench),
                          (SELECT count(*) FROM order_line),
                          (SELECT count(*) FROM notification),
                          (SELECT coalesce(sum(ordered), 0) FROM campaign_item)"""
            ),
            {"pgbench": PGBENCH_KEYS},
        ).one()


def oversold_items(engine):
    """Items whose counter exceeds their capacity or differs from the sum of their live lines."""
    with engine.connect() as connection:
        return connection.execute(
            sa.text(
                """SELECT i.id, i.capacity, i.ordered, coalesce(sum(l.quantity) FILTER (WHERE NOT l.cancelled), 0) AS lines
               FROM campaign_item i LEFT JOIN order_line l ON l.item_id = i.id
               GROUP BY i.id HAVING i.ordered > i.capacity OR i.ordered <> coalesce(sum(l.quantity) FILTER (WHERE NOT l.cancelled), 0)"""
            )
        ).all()


def server_of(scenario):
    """Which gunicorn serves a wrk scenario."""
    return "bare" if scenario == BARE else "app"


class Bench:
    """One run: the servers, the database, and the figures gathered so far."""

    def __init__(self, args, instance, database, url, engine, ids):
        self.args, self.instance, self.database, self.engine, self.ids = args, instance, database, engine, ids
        self.libpq_url = url.replace("postgresql+psycopg://", "postgresql://", 1)
        self.rows, self.answered_2xx, self.errors, self.pgbench_mismatches = [], 0, 0, []
        self.servers = {}

    def count_http(self, result):
        self.errors += result["errors"]
        self.answered_2xx += result["requests"] - result["non2xx"] - result["errors"]

    def warm_up(self):
        """Every worker answers a few requests first (its first ones compile queries and fill caches)."""
        for name, items_file in ((BARE, "spread.txt"), (SPREAD, "spread.txt"), (HOT, "hot.txt")):
            warm = self.wrk(name, 2 * self.args.workers, max(self.args.warmup, 3), items_file)
            if name != BARE:
                self.count_http(warm)

    def wrk(self, name, clients, seconds, items_file):
        port, path = self.servers[server_of(name)][1], "/bare" if name == BARE else None
        return wrk(port, clients, seconds, self.instance, items_file, self.ids["campaign"], path)

    def run_http(self, name, clients, items_file):
        if name != BARE:
            self.count_http(self.wrk(name, clients, self.args.warmup, items_file))
        before = count_rows(self.engine)[0]
        app_pids = server_pids(self.servers[server_of(name)][0])
        db_pids = [] if name == BARE else backend_pids(self.engine, self.database)
        cpu_before = cpu_seconds(app_pids), cpu_seconds(db_pids)
        result = self.wrk(name, clients, self.args.duration, items_file)
        cpu_after = cpu_seconds(app_pids), cpu_seconds(db_pids)
        created = count_rows(self.engine)[0] - before
        if name != BARE:
            self.count_http(result)
        requests = max(result["requests"], 1)
        result.update(
            orders_per_s=None if name == BARE else created / result["seconds"],
            app_cpu_ms=1000 * (cpu_after[0] - cpu_before[0]) / requests,
            db_cpu_ms=1000 * (cpu_after[1] - cpu_before[1]) / requests,
        )
        return result

    def run_pgbench(self, name, clients):
        items = 1 if name == PGBENCH_HOT else self.args.items
        tag = uuid.uuid4().hex[:8]
        variables = {**self.ids, "items": items, "buyers": self.args.buyers, "price": PRICE_FEN}
        variables["outbox_rows"] = self.args.outbox_rows
        pgbench(self.libpq_url, clients, self.args.warmup, {**variables, "run": tag + "w"}, self.instance)
        before = count_rows(self.engine)
        result = pgbench(self.libpq_url, clients, self.args.duration, {**variables, "run": tag}, self.instance)
        after = count_rows(self.engine)
        orders, _, lines, outbox, ordered = (a - b for a, b in zip(after, before, strict=True))
        if result["aborted"] or not orders == lines == outbox // self.args.outbox_rows == ordered == result["requests"]:
            self.pgbench_mismatches.append((clients, name, result["requests"], orders, lines, outbox, ordered))
        result.update(orders_per_s=orders / result["seconds"], app_cpu_ms=None, db_cpu_ms=None)
        return result

    def run(self, clients):
        for name, items_file in (
            (BARE, "spread.txt"),
            (SPREAD, "spread.txt"),
            (HOT, "hot.txt"),
            (PGBENCH_SPREAD, None),
            (PGBENCH_HOT, None),
        ):
            result = self.run_pgbench(name, clients) if items_file is None else self.run_http(name, clients, items_file)
            result.update(name=name, clients=clients, rate=result["requests"] / result["seconds"])
            self.rows.append(result)
            if result["app_cpu_ms"] is None:
                tail = "  ABORTED" if result["aborted"] else ""
            else:
                tail = (
                    f"  CPU/request: app {result['app_cpu_ms']:.2f} ms, PostgreSQL {result['db_cpu_ms']:.2f} ms  "
                    f"non-2xx {result['non2xx']}  errors {result['errors']}"
                )
            print(
                f"  {clients:>3} clients  {name:<22} {result['rate']:8.0f} req/s  p50 {result['p50']:7.2f} ms  "
                f"p99 {result['p99']:7.2f} ms{tail}",
                flush=True,
            )

    def row(self, clients, name):
        return next(row for row in self.rows if row["clients"] == clients and row["name"] == name)


def main():
    args = parse_args()
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            sys.exit(f"{tool} is needed: apt-get install {'wrk' if tool == 'wrk' else 'postgresql-client'}")
    instance = Path(tempfile.mkdtemp(prefix="pinbang-bench-orders-"))
    database = f"pinbang_bench_orders_{uuid.uuid4().hex[:8]}"
    queue = f"pinbang-bench-orders-{uuid.uuid4().hex[:8]}"
    url = create_scratch_postgres(args.pg, database)
    engine = sa.create_engine(psycopg_url(url))
    processes = []
    try:
        ids = prepare(url, instance, args)
        redis_url = args.redis
        if redis_url is None:
            server, redis_url = start_redis(instance)
            processes.append(server)
        env = server_env(url, redis_url, queue, instance)
        bench = Bench(args, instance, database, url, engine, ids)
        bare_port, app_port = free_port(), free_port()
        bare_log, app_log = open(instance / "bare.log", "w"), open(instance / "app.log", "w")
        bench.servers["bare"] = start_gunicorn("bare:app", HERE, bare_port, args, env, bare_log), bare_port
        bench.servers["app"] = start_gunicorn("wsgi:app", ROOT, app_port, args, env, app_log), app_port
        processes += [bench.servers["bare"][0], bench.servers["app"][0]]
        print(
            f"gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}, PINBANG_ENV=production; "
            f"PostgreSQL scratch db; Redis; {args.items} items, {args.buyers} buyers, per-buyer limit {args.limit}; "
            f"{args.duration}s per run after {args.warmup}s warm-up; pgbench -M prepared, same clients",
            flush=True,
        )
        bench.warm_up()
        for clients in [int(c) for c in args.clients.split(",")]:
            bench.run(clients)
        report(bench.rows)
        for process in processes:
            stop(process)  # a graceful stop lets every request in flight finish before the counts are taken
        ok = check(bench, args)
        show_errors(instance / "app.log")
        summary(bench, ok)
        return 0 if all(ok.values()) else 1
    finally:
        for process in processes:
            stop(process)
        if args.redis:
            redis.Redis.from_url(args.redis).delete(queue)  # this run's queue, on a Redis that is not ours
        engine.dispose()
        drop_scratch_postgres(args.pg, url)
        shutil.rmtree(instance, ignore_errors=True)


def check(bench, args):
    """Nothing oversold, nothing lost, every pgbench transaction an order: each printed, and returned by name."""
    bad = oversold_items(bench.engine)
    total, http_orders, lines, outbox, ordered = count_rows(bench.engine)
    print()
    print(f"Oversold or miscounted items: {len(bad)} {bad[:5] if bad else ''}")
    print(
        f"Orders in the database: {total} ({http_orders} over HTTP, {total - http_orders} by pgbench); "
        f"2xx order answers: {bench.answered_2xx}; lines {lines}; items' counters sum {ordered}; outbox rows {outbox}"
    )
    # wrk stops counting at the end of a run while up to one request per client is still in flight; those
    # orders are made (and counted here) but never answered to wrk: at most the clients of every order run
    # (two scenarios, each a warm-up and a measured run) plus requests wrk gave up on.
    in_flight = 4 * sum(int(c) for c in args.clients.split(",")) + 4 * args.workers + bench.errors
    print(
        f"Orders over HTTP without a 2xx answer: {http_orders - bench.answered_2xx} "
        f"(at most {in_flight} can be requests still in flight when wrk stopped, or given up on)"
    )
    ok = {
        "nothing oversold or lost": not bad
        and total == lines == ordered
        and bench.answered_2xx <= http_orders <= bench.answered_2xx + in_flight,
        "every pgbench transaction wrote one order": not bench.pgbench_mismatches,
    }
    for clients, name, transactions, *written in bench.pgbench_mismatches:
        print(f"  {clients} clients, {name}: {transactions} transactions wrote orders/lines/outbox/counter {written}")
    for name, met in ok.items():
        print(f"{name[0].upper()}{name[1:]}: {'yes' if met else 'NO'}")
    return ok


def show_errors(log, top=3):
    """The exceptions the app's log holds, most frequent first (a 5xx answer's cause)."""
    found = re.findall(r"^(\w+(?:\.\w+)*(?:Error|Exception)\b.*)$", log.read_text(errors="replace"), re.MULTILINE)
    if found:
        print(f"Exceptions in the app's log ({len(found)}):")
        for line in sorted(set(found), key=found.count, reverse=True)[:top]:
            print(f"  {found.count(line)} × {line[:200]}")


def report(rows):
    print()
    print(
        f"{'clients':>7}  {'scenario':<22} {'req/s':>8} {'orders/s':>9} {'vs bare':>8} {'vs pgbench':>10} {'p50 ms':>8} {'p99 ms':>8}"
    )
    rates = {(row["clients"], row["name"]): row for row in rows}
    for row in rows:
        orders = row["orders_per_s"]
        bare = rates[row["clients"], BARE]["rate"]
        pgbench_row = {SPREAD: PGBENCH_SPREAD, HOT: PGBENCH_HOT}.get(row["name"])
        vs_bare = "" if orders is None or pgbench_row is None else f"{ratio(orders, bare):.0%}"
        vs_pgbench = "" if pgbench_row is None else f"{ratio(orders, rates[row['clients'], pgbench_row]['orders_per_s']):.0%}"
        print(
            f"{row['clients']:>7}  {row['name']:<22} {row['rate']:8.0f} {'' if orders is None else f'{orders:.0f}':>9} "
            f"{vs_bare:>8} {vs_pgbench:>10} {row['p50']:8.2f} {row['p99']:8.2f}"
        )
    top = max(row["clients"] for row in rows)
    print()
    print(f"CPU per request at {top} clients (gunicorn workers + the app's PostgreSQL backends, from /proc):")
    for row in rows:
        if row["clients"] == top and row["app_cpu_ms"] is not None:
            print(f"  {row['name']:<22} app {row['app_cpu_ms']:.2f} ms + PostgreSQL backend {row['db_cpu_ms']:.2f} ms")


def summary(bench, ok):
    """The figures the targets are about, at the most clients, in one table."""
    top = max(row["clients"] for row in bench.rows)
    spread, hot, bare = bench.row(top, SPREAD), bench.row(top, HOT), bench.row(top, BARE)
    pg_spread, pg_hot = bench.row(top, PGBENCH_SPREAD), bench.row(top, PGBENCH_HOT)

    def verdict(met):
        return "met" if met else "MISSED"

    lines = [
        ("orders/s, spread", f"{spread['orders_per_s']:.0f}", "", ""),
        ("orders/s, one hot item", f"{hot['orders_per_s']:.0f}", "", ""),
        ("hot ÷ spread", f"{ratio(hot['orders_per_s'], spread['orders_per_s']):.2f}", "≥ 0.8", None),
        ("p99 spread / hot (ms)", f"{spread['p99']:.0f} / {hot['p99']:.0f}", "< 250 ms", None),
        ("bare Flask req/s", f"{bare['rate']:.0f}", "", ""),
        ("pgbench tps spread / hot", f"{pg_spread['rate']:.0f} / {pg_hot['rate']:.0f}", "", ""),
        (
            "orders ÷ pgbench, spread / hot",
            f"{ratio(spread['orders_per_s'], pg_spread['rate']):.2f} / {ratio(hot['orders_per_s'], pg_hot['rate']):.2f}",
            "",
            "",
        ),
        ("orders ÷ bare Flask, spread", f"{ratio(spread['orders_per_s'], bare['rate']):.2f}", "", ""),
        ("nothing oversold or lost", "yes" if ok["nothing oversold or lost"] else "NO", "yes", None),
        ("pgbench: one order a transaction", "yes" if ok["every pgbench transaction wrote one order"] else "NO", "yes", None),
    ]
    met = {
        "hot ÷ spread": hot["orders_per_s"] >= 0.8 * spread["orders_per_s"],
        "p99 spread / hot (ms)": spread["p99"] < 250 and hot["p99"] < 250,
        "nothing oversold or lost": ok["nothing oversold or lost"],
        "pgbench: one order a transaction": ok["every pgbench transaction wrote one order"],
    }
    print()
    print(f"Summary at {top} clients")
    print(f"  {'figure':<34} {'value':>15}  {'target':<9} ")
    for name, value, target, status in lines:
        status = verdict(met[name]) if status is None else status
        print(f"  {name:<34} {value:>15}  {target:<9} {status}")


if __name__ == "__main__":
    sys.exit(main())
