"""The buyer's campaign page under a launch rush: /c/<slug> with --items items (each with a photo) at 1 and 50
connections, side by side with a bare Flask GET in the same gunicorn settings, on PostgreSQL + Redis and on the
embedded defaults (SQLite, the in-process cache). Not a test: it prints figures, and exits non-zero when a check fails.

Run (needs `wrk`):
    .venv/bin/python bench/campaign_page/run.py
    .venv/bin/python bench/campaign_page/run.py --duration 5 --backends postgres      # a quick trial
    .venv/bin/python bench/campaign_page/run.py --workers 4 --clients 1,50 --pg postgresql://postgres@127.0.0.1:5432/test

It reuses bench/orders/run.py's pieces: its scratch database and open campaign (here with --items items, each with one
photo and its thumbnail, and one item of only --scarce units), its private redis-server, its gunicorn settings (the
README's production ones, `gunicorn -w 4`, sync workers, PINBANG_ENV=production) and its CPU counters. The baseline is
bench/orders/bare.py's app with a GET (bench/campaign_page/bare_page.py). wrk asks for the page as a visitor (no
cookie), after a warm-up, for --duration seconds per run.

Checks, on each backend: every page answered 200 and showed every item; and while 50 clients load the page, one
order buys the scarce item's last units: the page must show it sold out within 2 seconds of that order's answer
(polled every 50 ms, as a visitor). Targets (printed, not enforced): at least 0.30 × the bare GET's requests per
second, p99 under 300 ms.
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import requests
import sqlalchemy as sa

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "orders"))

import run as orders  # noqa: E402 - bench/orders/run.py: scratch database, campaign, servers, wrk's figures, CPU

from backends import create_scratch_postgres, drop_scratch_postgres, psycopg_url  # noqa: E402
from ports import free_port  # noqa: E402

SLUG = "benchmrk"  # bench/orders/run.py's campaign
SOLD_OUT_WITHIN = 2.0
TARGET_RATIO, TARGET_P99_MS = 0.30, 300
BARE, PAGE, BUYER = "bare Flask GET", "campaign page", "buyer's page"
SECRET_KEY = "bench-only"  # bench/orders/run.py's server_env


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--backends", default="postgres,embedded", help="postgres (with Redis), embedded (SQLite)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers, for both servers (production: 4)")
    parser.add_argument("--worker-class", default="sync")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--clients", default="1,50")
    parser.add_argument("--items", type=int, default=50)
    parser.add_argument("--scarce", type=int, default=5, help="units of the item the sold-out check buys up")
    return parser.parse_args()


def prepare(url, instance, args):
    """bench/orders/run.py's campaign with --items items, a photo for each, and the last item scarce.

    :returns: (campaign id, scarce item id, a buyer's API token, a logged-in buyer's session cookie)
    """
    ids = orders.prepare(url, instance, SimpleNamespace(items=args.items, buyers=5, limit=None))
    from PIL import Image

    from accounts.models import User
    from app import create_app
    from extensions import db
    from producers.models import ListingPhoto
    from producers.photos import encode_jpeg, photo_dir
    from shop.models import CampaignItem, Supply

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, SECRET_KEY=SECRET_KEY)
    with app.app_context():
        thumbnail = encode_jpeg(Image.new("RGB", (1600, 1200), (200, 160, 60)), 400, 80)
        items = db.session.scalars(sa.select(CampaignItem).order_by(CampaignItem.id)).all()
        for item in items:
            supply = db.session.scalar(sa.select(Supply).where(Supply.item_id == item.id))
            stem = uuid.uuid4().hex
            (photo_dir() / f"{stem}.jpg").write_bytes(thumbnail)
            (photo_dir() / f"{stem}_t.jpg").write_bytes(thumbnail)
            db.session.add(ListingPhoto(listing_id=supply.listing_id, filename=f"{stem}.jpg", thumbnail=f"{stem}_t.jpg"))
        scarce = items[-1]
        scarce.capacity = args.scarce
        supply = db.session.scalar(sa.select(Supply).where(Supply.item_id == scarce.id))
        supply.quantity = args.scarce
        db.session.commit()
        scarce_id = scarce.id
        cookie = session_cookie(app, db.session.scalar(sa.select(User).order_by(User.id)))
        db.session.remove()
        db.engine.dispose()
    token = (instance / "tokens.txt").read_text().split()[0]
    return ids["campaign"], scarce_id, token, cookie


def session_cookie(app, user):
    """The session cookie a buyer's browser holds after logging in (Flask-Login's keys, signed with the servers' key)."""
    return app.session_interface.get_signing_serializer(app).dumps({"_user_id": user.session_token, "_fresh": True})


def wrk(port, clients, seconds, path, cookie=None):
    command = ["wrk", "-t", str(min(clients, 2)), "-c", str(clients), "-d", f"{seconds}s", "--timeout", "10s"]
    command += ["-s", str(HERE / "page.lua"), f"http://127.0.0.1:{port}", "--", path] + ([cookie] if cookie else [])
    output = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60).stdout
    match = orders.RESULT.search(output)
    if not match:
        raise RuntimeError(f"wrk said:\n{output}")
    requests_, duration, p50, p99, errors, non2xx = match.groups()
    return {
        "requests": int(requests_),
        "seconds": float(duration),
        "p50": float(p50),
        "p99": float(p99),
        "errors": int(errors),
        "non2xx": int(non2xx),
    }


def card(page, item_id):
    """The HTML of one item's card on the page (up to the next card)."""
    start = page.find(f'id="item-{item_id}"')
    if start < 0:
        return None
    end = page.find('id="item-', start + 1)
    return page[start : end if end > 0 else len(page)]


def sold_out_check(port, campaign_id, item_id, token, quantity):
    """Buy the scarce item's last units, then poll the page until its card says sold out.

    :returns: seconds from the order's answer to the first page showing it sold out (None: not within 10 s).
    """
    base = f"http://127.0.0.1:{port}"
    before = requests.get(f"{base}/c/{SLUG}", timeout=10).text
    if "text-danger" in (card(before, item_id) or "text-danger"):
        raise RuntimeError("the scarce item shows sold out before anyone bought it")
    answer = requests.post(
        f"{base}/api/v1/campaigns/{campaign_id}/orders",
        json={"lines": [{"item_id": item_id, "quantity": quantity}]},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": uuid.uuid4().hex},
        timeout=10,
    )
    answered = time.monotonic()
    if answer.status_code != 201:
        raise RuntimeError(f"the order for the scarce item was refused: {answer.status_code} {answer.text[:200]}")
    while time.monotonic() - answered < 10:
        shown = card(requests.get(f"{base}/c/{SLUG}", timeout=10).text, item_id) or ""
        if "text-danger" in shown:
            return time.monotonic() - answered
        time.sleep(0.05)
    return None


def wait_until_answering(url, timeout=120):
    """gunicorn listens before its workers have built the app (seconds each, on a busy machine)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            status = requests.get(url, timeout=5).status_code
            if status < 500:
                return
        except requests.RequestException as error:
            status = error
        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} still answers {status} after {timeout} s")
        time.sleep(0.5)


def load_average():
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Backend:
    """One backend's servers and figures."""

    def __init__(self, name, args, instance, env, app_pids_of_db=None, cookie=None):
        self.name, self.args, self.instance, self.env, self.cookie = name, args, instance, env, cookie
        self.db_pids, self.servers, self.rows, self.problems = app_pids_of_db, {}, [], []

    def start(self, processes):
        """Start both servers (added to ``processes`` at once, so they are stopped whatever happens next)."""
        bare_port, app_port = free_port(), free_port()
        bare_log = open(self.instance / f"bare-{self.name}.log", "w")
        app_log = open(self.instance / f"app-{self.name}.log", "w")
        self.servers[BARE] = orders.start_gunicorn("bare_page:app", HERE, bare_port, self.args, self.env, bare_log), bare_port
        self.servers[PAGE] = orders.start_gunicorn("wsgi:app", orders.ROOT, app_port, self.args, self.env, app_log), app_port
        self.servers[BUYER] = self.servers[PAGE]
        processes += [self.servers[BARE][0], self.servers[PAGE][0]]
        for scenario, (_server, port) in list(self.servers.items())[:2]:
            wait_until_answering(f"http://127.0.0.1:{port}{self.path(scenario)}")

    def path(self, scenario):
        return "/bare" if scenario == BARE else f"/c/{SLUG}"

    def check_page(self, items):
        page = requests.get(f"http://127.0.0.1:{self.servers[PAGE][1]}/c/{SLUG}", timeout=10)
        shown = len(re.findall(r'id="item-\d+"', page.text))
        sized = len(re.findall(r'<img src="/producers/photos/\w+/thumb" width="\d+" height="\d+"', page.text))
        self.page_bytes = len(page.content)
        if page.status_code != 200 or shown != items or sized != items:
            self.problems.append(f"the page answered {page.status_code} with {shown} of {items} items ({sized} sized photos)")
        mine = requests.get(
            f"http://127.0.0.1:{self.servers[PAGE][1]}/c/{SLUG}", headers={"Cookie": f"session={self.cookie}"}, timeout=10
        )
        if mine.status_code != 200 or mine.text.count("/cart/add") < items - 1:
            self.problems.append(f"the buyer's page answered {mine.status_code} without its order forms")

    def measure(self, scenario, clients, seconds, during=None):
        server, port = self.servers[scenario]
        pids = orders.server_pids(server)
        db_pids = self.db_pids() if self.db_pids and scenario != BARE else []
        before = orders.cpu_seconds(pids), orders.cpu_seconds(db_pids)
        load = load_average()
        worker = threading.Thread(target=during) if during else None
        result = {}

        def drive():
            result.update(wrk(port, clients, seconds, self.path(scenario), self.cookie if scenario == BUYER else None))

        runner = threading.Thread(target=drive)
        runner.start()
        if worker:
            time.sleep(min(2, seconds / 3))
            worker.start()
            worker.join()
        runner.join()
        after = orders.cpu_seconds(pids), orders.cpu_seconds(db_pids)
        count = max(result["requests"], 1)
        result.update(
            name=scenario,
            clients=clients,
            rate=result["requests"] / result["seconds"],
            app_cpu_ms=1000 * (after[0] - before[0]) / count,
            db_cpu_ms=1000 * (after[1] - before[1]) / count,
            load=load,
        )
        if result["errors"] or result["non2xx"]:
            self.problems.append(f"{scenario} at {clients}: {result['errors']} errors, {result['non2xx']} non-2xx")
        return result

    def run(self, campaign_id, scarce_id, token):
        self.check_page(self.args.items)
        for scenario in (BARE, PAGE, BUYER):
            cookie = self.cookie if scenario == BUYER else None
            wrk(self.servers[scenario][1], 2 * self.args.workers, self.args.warmup, self.path(scenario), cookie)
        clients_list = [int(c) for c in self.args.clients.split(",")]
        for clients in clients_list:
            for scenario in (BARE, PAGE, BUYER):
                row = self.measure(scenario, clients, self.args.duration)
                self.rows.append(row)
                database = f", PostgreSQL {row['db_cpu_ms']:.2f} ms" if self.db_pids and scenario != BARE else ""
                print(
                    f"  {self.name:<9} {clients:>3} clients  {scenario:<15} {row['rate']:8.0f} req/s  "
                    f"p50 {row['p50']:7.2f} ms  p99 {row['p99']:7.2f} ms  CPU/request app {row['app_cpu_ms']:.2f} ms"
                    f"{database}  (load {row['load']})",
                    flush=True,
                )
        seen = {}

        def check():
            seen["after"] = sold_out_check(self.servers[PAGE][1], campaign_id, scarce_id, token, self.args.scarce)

        top = max(clients_list)
        self.measure(PAGE, top, max(self.args.duration, 6), during=check)
        self.sold_out_after = seen.get("after")
        if self.sold_out_after is None or self.sold_out_after > SOLD_OUT_WITHIN:
            self.problems.append(f"the sold-out item showed sold out after {self.sold_out_after} s")
        shown = "never (10 s)" if self.sold_out_after is None else f"{self.sold_out_after:.2f} s after the order's answer"
        print(f"  {self.name:<9} sold out shown {shown}, under {top} clients", flush=True)

    def row(self, clients, name):
        return next(row for row in self.rows if row["clients"] == clients and row["name"] == name)


def run_backend(name, args):
    instance = Path(tempfile.mkdtemp(prefix=f"pinbang-bench-page-{name}-"))
    processes, engine, url = [], None, None
    try:
        if name == "postgres":
            url = create_scratch_postgres(args.pg, f"pinbang_bench_page_{uuid.uuid4().hex[:8]}")
            engine = sa.create_engine(psycopg_url(url))
        else:
            url = f"sqlite:///{instance / 'pinbang.sqlite3'}"
        campaign_id, scarce_id, token, cookie = prepare(url, instance, args)
        redis_url = None
        if name == "postgres":
            server, redis_url = orders.start_redis(instance)
            processes.append(server)
        env = orders.server_env(url, redis_url or "", f"pinbang-bench-page-{uuid.uuid4().hex[:8]}", instance)
        if redis_url is None:
            env.pop("REDIS_URL")
        database = url.rsplit("/", 1)[-1]
        db_pids = (lambda: orders.backend_pids(engine, database)) if engine is not None else None
        backend = Backend(name, args, instance, env, db_pids, cookie)
        backend.start(processes)
        try:
            backend.run(campaign_id, scarce_id, token)
        except Exception:
            for log in sorted(instance.glob("app-*.log")):
                print(f"--- {log.name} (last lines)\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:]))
            raise
        return backend
    finally:
        for process in processes:
            orders.stop(process)
        if engine is not None:
            engine.dispose()
            drop_scratch_postgres(args.pg, url)
        shutil.rmtree(instance, ignore_errors=True)


def summary(backends, args):
    top = max(int(c) for c in args.clients.split(","))
    print()
    print(f"Summary at {top} clients ({args.items} items; gunicorn -w {args.workers} -k {args.worker_class})")
    print(
        f"  {'backend':<9} {'page req/s':>10} {'bare req/s':>10} {'÷ bare':>7} {'p50 ms':>7} {'p99 ms':>7} {'sold out shown':>15}  verdict"
    )
    ok = True
    for backend in backends:
        page, bare = backend.row(top, PAGE), backend.row(top, BARE)
        share = orders.ratio(page["rate"], bare["rate"])
        met = share >= TARGET_RATIO and page["p99"] < TARGET_P99_MS
        verdict = "met" if met else "MISSED"
        verdict += "" if not backend.problems else "; " + "; ".join(backend.problems)
        ok = ok and not backend.problems
        print(
            f"  {backend.name:<9} {page['rate']:10.0f} {bare['rate']:10.0f} {share:7.2f} {page['p50']:7.1f} "
            f"{page['p99']:7.1f} {backend.sold_out_after or float('nan'):13.2f} s  {verdict}"
        )
        buyer = backend.row(top, BUYER)
        print(
            f"  {'':<9} {buyer['rate']:10.0f} {'':>10} {orders.ratio(buyer['rate'], bare['rate']):7.2f} "
            f"{buyer['p50']:7.1f} {buyer['p99']:7.1f} {'':>15}  (a logged-in buyer's page: no target)"
        )
    print(f"  targets: ≥ {TARGET_RATIO:.2f} × bare, p99 < {TARGET_P99_MS} ms, sold out shown within {SOLD_OUT_WITHIN:.0f} s")
    print(f"  the page: {backends[0].page_bytes} bytes of HTML; load average at the end {load_average()}")
    return ok


def main():
    args = parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is needed: apt-get install wrk")
    print(
        f"gunicorn -w {args.workers} -k {args.worker_class} --threads {args.threads}, PINBANG_ENV=production; "
        f"{args.items} items with photos; {args.duration}s per run after {args.warmup}s warm-up; load {load_average()}",
        flush=True,
    )
    backends = [run_backend(name, args) for name in args.backends.split(",")]
    return 0 if summary(backends, args) else 1


if __name__ == "__main__":
    sys.exit(main())
