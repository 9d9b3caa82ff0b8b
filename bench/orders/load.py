"""A bounded load test: 50 clients place, change and cancel orders and upload sign-up sheets at once, on items with
far less stock than they ask for, against gunicorn + PostgreSQL + Redis (production settings). Not a test: it prints
figures, and exits non-zero when a check fails.

Run:
    .venv/bin/python bench/orders/load.py
    .venv/bin/python bench/orders/load.py --clients 50 --attempts 5000 --workers 4 --pg postgresql://postgres@127.0.0.1:5432/test

It reuses bench/orders/run.py's setup (a scratch database beside --pg, one open campaign, buyers with API tokens, a
private redis-server, gunicorn with the README's production settings), with --items items of --capacity units each
and a per-buyer limit. Each client owns some buyers and one of the unit's coordinators, and makes --attempts ÷ clients
requests, one after another: place an order (one or two lines, a fresh Idempotency-Key each), change one of its
orders, cancel one, or upload the coordinator's sheet (csv, a few colleagues with their quantities). Every request is
well-formed; refusals are the expected 409 (insufficient_stock, limit_exceeded) or 422 invalid_sheet.

Checks: no answer of 500 or more and none 400 (malformed); nothing oversold (every item's counter equals its live
lines and stays within its capacity; no buyer over the limit); every acknowledged order is saved as acknowledged
(lines after its last acknowledged change, cancelled if its cancel was acknowledged), no refused order is saved, and
every acknowledged sheet is in the database.
"""

import argparse
import collections
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent))

import run  # noqa: E402 - bench/orders/run.py: the scratch database, its campaign and buyers, the servers

from backends import create_scratch_postgres, drop_scratch_postgres, psycopg_url  # noqa: E402
from ports import free_port  # noqa: E402

KINDS = ("place", "change", "cancel", "sheet")


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers (production: 4)")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--attempts", type=int, default=5000, help="requests in all, shared by the clients")
    parser.add_argument("--items", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=60, help="units of each item, far below what is asked")
    parser.add_argument("--limit", type=int, default=6, help="per-buyer limit on every item")
    parser.add_argument("--buyers", type=int, default=300, help="buyers ordering for themselves")
    parser.add_argument("--coordinators", type=int, default=10, help="of the same unit, each uploading its sheet")
    parser.add_argument("--mix", default="55,20,17,8", help="percent of place, change, cancel, sheet")
    return parser.parse_args()


class Client(threading.Thread):
    """One phone or script: its own buyers' tokens, its coordinator's, and what the server acknowledged to it."""

    def __init__(self, n, args, base, campaign_id, items, tokens, coordinator, weights):
        super().__init__(daemon=True)
        self.n, self.args, self.base, self.campaign_id, self.items = n, args, base, campaign_id, items
        self.tokens, self.coordinator, self.weights = tokens, coordinator, weights
        self.random = random.Random(n)
        self.http = requests.Session()
        self.answers = collections.Counter()  # (kind, status, code)
        self.examples = {}  # (kind, status, code) -> the first such answer's error message
        self.latencies = []
        self.orders = {}  # order id -> {"token", "lines": {item: quantity}, "cancelled": bool}
        self.refused_keys = []
        self.sheets = []  # acknowledged sheet ids
        self.unexpected = []

    def run(self):
        for _ in range(self.args.attempts // self.args.clients):
            live = [order_id for order_id, order in self.orders.items() if not order["cancelled"]]
            kind = self.random.choices(KINDS, self.weights)[0]
            if kind in ("change", "cancel") and not live:
                kind = "place"
            getattr(self, kind)(live)

    def call(self, kind, method, path, token, **kwargs):
        started = time.perf_counter()
        try:
            response = self.http.request(
                method,
                self.base + path,
                headers={"Authorization": f"Bearer {token}", **kwargs.pop("headers", {})},
                timeout=120,
                **kwargs,
            )
        except requests.RequestException as error:
            self.answers[kind, "no answer", type(error).__name__] += 1
            return None
        self.latencies.append((kind, time.perf_counter() - started))
        code = ""
        if response.status_code >= 300:
            try:
                error = response.json()["error"]
                code, example = error["code"], error["message"]
                rows = error["details"].get("rows")
                example += f" {rows[0]['message']}" if rows else ""
            except (ValueError, KeyError, TypeError):
                code, example = "", response.text[:80]
            self.examples.setdefault((kind, response.status_code, code), example)
        self.answers[kind, response.status_code, code] += 1
        if response.status_code >= 500 or response.status_code == 400:
            self.unexpected.append((kind, response.status_code, response.text[:300]))
        return response

    def lines(self):
        chosen = self.random.sample(self.items, self.random.choice((1, 2)))
        return {item_id: self.random.randint(1, 3) for item_id in chosen}

    def place(self, _live):
        token, lines, key = self.random.choice(self.tokens), self.lines(), uuid.uuid4().hex
        body = {"lines": [{"item_id": i, "quantity": q} for i, q in lines.items()]}
        response = self.call(
            "place",
            "POST",
            f"/api/v1/campaigns/{self.campaign_id}/orders",
            token,
            json=body,
            headers={"Idempotency-Key": key},
        )
        if response is not None and response.status_code in (200, 201):
            self.orders[response.json()["id"]] = {"token": token, "lines": lines, "cancelled": False}
        elif response is not None:
            self.refused_keys.append(key)

    def change(self, live):
        order_id = self.random.choice(live)
        order, lines = self.orders[order_id], self.lines()
        body = {"lines": [{"item_id": i, "quantity": q} for i, q in lines.items()]}
        response = self.call("change", "PATCH", f"/api/v1/orders/{order_id}", order["token"], json=body)
        if response is not None and response.status_code == 200:
            order["lines"] = lines

    def cancel(self, live):
        order_id = self.random.choice(live)
        response = self.call("cancel", "POST", f"/api/v1/orders/{order_id}/cancel", self.orders[order_id]["token"])
        if response is not None and response.status_code == 200:
            self.orders[order_id]["cancelled"] = True

    def sheet(self, _live):
        """The coordinator's colleagues (their own numbers, never a registered buyer's) and what each wants."""
        titles = self.random.sample(range(len(self.items)), 2)
        rows = ["姓名,手机号," + ",".join(f"鸡蛋{t}" for t in titles)]
        for person in range(self.random.randint(2, 5)):
            quantities = ",".join(str(self.random.randint(0, 2)) for _ in titles)
            rows.append(f"同事{self.n}-{person},136{self.n:04d}{person:04d},{quantities}")
        sheet = ("\n".join(rows) + "\n").encode()
        response = self.call(
            "sheet",
            "POST",
            f"/api/v1/campaigns/{self.campaign_id}/group-orders",
            self.coordinator,
            files={"file": ("sheet.csv", sheet, "text/csv")},
        )
        if response is not None and response.status_code == 201:
            self.sheets.append(response.json()["sheet_id"])


def check(engine, clients, args, ids):
    """Each check printed, and returned by name."""
    acknowledged = {order_id: order for client in clients for order_id, order in client.orders.items()}
    refused = [key for client in clients for key in client.refused_keys]
    sheets = [sheet for client in clients for sheet in client.sheets]
    with engine.connect() as connection:
        saved = {
            row.id: row
            for row in connection.execute(sa.text("SELECT id, status, cancelled_at FROM buyer_order WHERE source = 'buyer'"))
        }
        lines = collections.defaultdict(dict)
        for row in connection.execute(
            sa.text(
                "SELECT l.order_id, l.item_id, l.quantity FROM order_line l JOIN buyer_order o ON o.id = l.order_id"
                " WHERE o.source = 'buyer' AND NOT l.cancelled"
            )
        ):
            lines[row.order_id][row.item_id] = row.quantity
        refused_saved = connection.execute(
            sa.text("SELECT count(*) FROM buyer_order WHERE idempotency_key = ANY(:keys)"), {"keys": refused}
        ).scalar()
        sheets_saved = connection.execute(
            sa.text("SELECT count(*) FROM group_sheet WHERE id = ANY(:ids)"), {"ids": sheets}
        ).scalar()
        over_limit = connection.execute(
            sa.text(
                """SELECT o.buyer_phone, l.item_id, sum(l.quantity) FROM order_line l JOIN buyer_order o ON o.id = l.order_id
                   WHERE NOT l.cancelled GROUP BY o.buyer_phone, l.item_id HAVING sum(l.quantity) > :limit"""
            ),
            {"limit": args.limit},
        ).all()
    wrong = []
    for order_id, order in acknowledged.items():
        row = saved.get(order_id)
        if row is None:
            wrong.append((order_id, "missing"))
        elif order["cancelled"] != (row.cancelled_at is not None):
            wrong.append((order_id, "cancelled" if row.cancelled_at else "not cancelled"))
        elif not order["cancelled"] and lines[order_id] != order["lines"]:
            wrong.append((order_id, f"lines {lines[order_id]} instead of {order['lines']}"))
    unacknowledged = set(saved) - set(acknowledged)
    bad_items = run.oversold_items(engine)
    print()
    print(f"Acknowledged orders: {len(acknowledged)}; saved as acknowledged: {len(acknowledged) - len(wrong)} {wrong[:5]}")
    print(f"Buyers' orders saved that were never acknowledged: {len(unacknowledged)}; refused orders saved: {refused_saved}")
    print(f"Acknowledged sheets: {len(sheets)}, in the database: {sheets_saved}")
    print(f"Oversold or miscounted items: {len(bad_items)} {bad_items[:5]}; buyers over the limit: {len(over_limit)}")
    unexpected = [answer for client in clients for answer in client.unexpected]
    for kind, status, text in unexpected[:5]:
        print(f"  {kind} → {status}: {text}")
    return {
        "no answer >= 500 or 400": not unexpected
        and not any(status == "no answer" for client in clients for (_k, status, _c) in client.answers),
        "nothing oversold": not bad_items and not over_limit,
        "every acknowledged order saved, nothing refused saved": not wrong and not unacknowledged and not refused_saved,
        "every acknowledged sheet saved": sheets_saved == len(sheets),
    }


def report(clients, seconds):
    answers = collections.Counter()
    for client in clients:
        answers.update(client.answers)
    latencies = collections.defaultdict(list)
    for client in clients:
        for kind, latency in client.latencies:
            latencies[kind].append(latency)
            latencies["all"].append(latency)
    total = sum(answers.values())
    print(f"\n{total} requests in {seconds:.1f} s ({total / seconds:.0f}/s)")
    for kind in ("all", *KINDS):
        times = sorted(latencies[kind])
        print(
            f"  {kind:<7} {len(times):>6} requests  p50 {1000 * run.percentile(times, 50):6.0f} ms  "
            f"p99 {1000 * run.percentile(times, 99):6.0f} ms"
        )
    print(f"  {'kind':<7} {'status':>6}  {'code':<20} {'count':>6}")
    examples = {}
    for client in clients:
        examples = {**client.examples, **examples}
    for (kind, status, code), count in sorted(answers.items(), key=lambda a: (KINDS.index(a[0][0]), str(a[0][1]))):
        example = examples.get((kind, status, code), "")
        print(f"  {kind:<7} {status!s:>6}  {code:<20} {count:>6}  {example[:110]}")
    return answers


def main():
    args = parse_args()
    weights = [int(w) for w in args.mix.split(",")]
    instance = Path(tempfile.mkdtemp(prefix="pinbang-bench-load-"))
    database = f"pinbang_bench_load_{uuid.uuid4().hex[:8]}"
    url = create_scratch_postgres(args.pg, database)
    engine = sa.create_engine(psycopg_url(url))
    processes = []
    try:
        setup = argparse.Namespace(items=args.items, buyers=args.buyers + args.coordinators, limit=args.limit)
        ids = run.prepare(url, instance, setup, capacity=args.capacity)
        tokens = (instance / "tokens.txt").read_text().split()
        coordinators = list(range(ids["first_user"], ids["first_user"] + args.coordinators))
        with engine.begin() as connection:
            connection.execute(sa.text('UPDATE "user" SET coordinator = true WHERE id = ANY(:ids)'), {"ids": coordinators})
        items = [int(line) for line in (instance / "spread.txt").read_text().split()]
        redis_server, redis_url = run.start_redis(instance)
        processes.append(redis_server)
        env = run.server_env(url, redis_url, f"pinbang-bench-load-{uuid.uuid4().hex[:8]}", instance)
        port = free_port()
        server_args = argparse.Namespace(workers=args.workers, worker_class="sync", threads=1)
        processes.append(run.start_gunicorn("wsgi:app", run.ROOT, port, server_args, env, open(instance / "app.log", "w")))
        print(
            f"gunicorn -w {args.workers}, PINBANG_ENV=production, PostgreSQL scratch db, Redis; {args.clients} clients, "
            f"{args.attempts} requests (mix place/change/cancel/sheet {args.mix} %); {args.items} items of "
            f"{args.capacity} units, limit {args.limit} a buyer; {args.buyers} buyers, {args.coordinators} coordinators",
            flush=True,
        )
        buyers = tokens[args.coordinators :]
        clients = [
            Client(
                n,
                args,
                f"http://127.0.0.1:{port}",
                ids["campaign"],
                items,
                buyers[n :: args.clients],
                tokens[n % args.coordinators],
                weights,
            )
            for n in range(args.clients)
        ]
        started = time.perf_counter()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        seconds = time.perf_counter() - started
        answers = report(clients, seconds)
        for process in processes:
            run.stop(process)
        ok = check(engine, clients, args, ids)
        demand = sum(count for (kind, _s, _c), count in answers.items() if kind == "place")
        print(f"Stock: {args.items * args.capacity} units for {demand} order attempts of 1–6 units each")
        run.show_errors(instance / "app.log")
        for name, met in ok.items():
            print(f"{name[0].upper()}{name[1:]}: {'yes' if met else 'NO'}")
        return 0 if all(ok.values()) else 1
    finally:
        for process in processes:
            run.stop(process)
        engine.dispose()
        drop_scratch_postgres(args.pg, url)
        shutil.rmtree(instance, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
