"""Soak: a campaign rush of hundreds of simulated buyers against gunicorn + PostgreSQL + Redis + a real Celery worker
and beat, then the close; prints throughput, latency percentiles and errors, and checks afterwards that totals,
allocations, pick lists and notifications are exactly right. Not a test (not run in CI): it prints figures and exits
non-zero if any check fails.

    .venv/bin/python bench/soak/run.py                                  # 300 buyers, 3 minutes
    .venv/bin/python bench/soak/run.py --buyers 500 --duration 300 --workers 4
    .venv/bin/python bench/soak/run.py --duration 20 --buyers 50         # a quick smoke run

Everything is local (127.0.0.1): a scratch database beside --pg (dropped afterwards), a private redis-server on a free
port (or --redis URL, e.g. the machine's; then a queue name of its own is used), gunicorn (--workers sync workers, as
in production: PINBANG_ENV=production), one Celery worker (--celery-concurrency) and one beat.

Each simulated buyer is a thread with its own bearer token (issued up front: the login rate limit is per address and
every buyer here shares 127.0.0.1). It loops until the end of the rush: opens the campaign page (GET /campaigns/{id}),
then places a pre-order of 1-3 items (a fresh Idempotency-Key; one in ten is sent twice, as a phone on a bad network
would), or changes or cancels one it has, or lists its orders; it waits --think seconds at most between requests.
Some orders ask for more than the per-buyer limit or than is left: the 409 refusals that follow are expected answers,
counted apart from errors. One operator thread reads the live totals (GET /stats/summary) every two seconds.
Errors are 5xx answers, answers the API contract does not allow for the request, and failed connections.
"""

import argparse
import http.client
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from ports import free_port, wait_for_port  # noqa: E402

MAX_DURATION = 1800

# (title, unit, price in fen, capacity per 100 buyers, per-buyer limit, minimum total, policy,
#  [(producer index, share of capacity)]) — capacities scale with --buyers so the hot items sell out in every run.
ITEMS = [
    ("雪毛鸡", "只", 9800, 150, 4, None, "proportional", [(0, 5), (5, 2), (6, 1)]),
    ("土鸡蛋", "个", 150, 12000, 120, None, "proportional", [(6, 3), (9, 2)]),
    ("乐昌马蹄", "斤", 450, 1_000_000, None, None, "proportional", [(1, 3), (7, 1)]),
    ("天堂姜", "斤", 800, 50_000, 20, 40_000, "proportional", [(2, 1)]),  # its minimum is out of reach: cancelled at close
    ("百花蜜", "瓶", 6800, 40, 6, None, "poor_first", [(3, 2), (5, 1)]),
    ("丝苗米 5kg", "袋", 4500, 400, 10, 10, "proportional", [(4, 1)]),
    ("农家红薯干", "袋", 2000, 600, None, None, "poor_first", [(8, 1), (5, 1), (7, 1)]),
    ("山地走地鸡", "只", 9800, 30, 2, None, "proportional", [(5, 1), (6, 1)]),
]
PRODUCERS = [
    ("秀水镇雪毛鸡养殖合作社", "cooperative", "秀水镇", False, True),
    ("北乡镇马蹄种植专业合作社", "cooperative", "北乡镇", False, True),
    ("梅花镇天堂姜合作社", "cooperative", "梅花镇", False, False),
    ("乐昌九峰山蜂业有限公司", "enterprise", "九峰镇", False, True),
    ("黄圃镇大米加工厂", "enterprise", "黄圃镇", False, False),
    ("陈华养鸡户", "household", "秀水镇", True, False),
    ("李桂英蛋鸡户", "household", "两江镇", True, True),
    ("邓志强马蹄种植户", "household", "北乡镇", True, False),
    ("黄秀兰红薯干加工户", "household", "坪石镇", True, False),
    ("周光明鸡蛋户", "household", "廊田镇", False, False),
]
UNITS = 12


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg", default=os.environ.get("BENCH_PG", "postgresql://postgres@127.0.0.1:5432/test"))
    parser.add_argument("--redis", default=None, help="an existing Redis URL (default: a private redis-server on a free port)")
    parser.add_argument("--duration", type=int, default=180, help=f"seconds of rush (at most {MAX_DURATION})")
    parser.add_argument("--buyers", type=int, default=300)
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument("--think", type=float, default=0.5, help="at most this many seconds between a buyer's requests")
    parser.add_argument("--seed", type=int, default=2020)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures to this file")
    args = parser.parse_args()
    if not 1 <= args.duration <= MAX_DURATION:
        parser.error(f"--duration must be between 1 and {MAX_DURATION} seconds")
    if not 1 <= args.buyers <= 5000:
        parser.error("--buyers must be between 1 and 5000")
    return args


# ------------------------------------------------------------------------------------------------ processes


def start(command, env, log_path):
    log = open(log_path, "w")
    return subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def stop(process, timeout=30):
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


# ------------------------------------------------------------------------------------------------ data


def prepare(url, instance, args):
    """Migrate the scratch database and fill it: units, producers, listings, one open campaign, buyers and tokens."""
    os.environ.update({"INSTANCE_PATH": str(instance), "PINBANG_ENV": "testing"})
    from flask_migrate import upgrade

    from accounts.models import Unit, User
    from accounts.services import issue_token
    from app import create_app
    from database import utcnow
    from extensions import db
    from producers.models import Listing, Producer
    from shop.models import Campaign, CampaignItem, Supply

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="heads")
        units = [Unit(name=f"乐昌市第{n + 1}单位", address=f"乐城街道人民中路{n + 1}号") for n in range(UNITS)]
        producers = [
            Producer(
                name=name,
                kind=kind,
                town=town,
                village=f"{town[:-1]}村",
                phone=f"1380000{n:04d}",
                email=f"producer{n}@example.cn" if with_email else None,
                poverty_household=poor,
                poverty_id=f"GD-LC-2016-{n:05d}" if poor else None,
                status="approved",
            )
            for n, (name, kind, town, poor, with_email) in enumerate(PRODUCERS)
        ]
        db.session.add_all(units + producers)
        db.session.flush()
        now = utcnow()
        campaign = Campaign(
            slug=f"soak{uuid.uuid4().hex[:8]}",
            title="乐昌消费扶贫·压力测试专场",
            opens_at=now - timedelta(minutes=5),
            closes_at=now + timedelta(seconds=args.duration + 3600),
            delivery_on=(now + timedelta(days=3)).date(),
            status="published",
        )
        db.session.add(campaign)
        db.session.flush()
        scale = max(args.buyers, 100) / 100
        for position, (title, unit, price, capacity, limit, minimum, policy, shares) in enumerate(ITEMS):
            capacity = max(int(capacity * scale), len(shares))
            total_share = sum(share for _p, share in shares)
            quantities = [capacity * share // total_share for _p, share in shares]
            quantities[0] += capacity - sum(quantities)
            item = CampaignItem(
                campaign_id=campaign.id,
                title=title,
                unit=unit,
                unit_weight_g=500,
                price_fen=price,
                capacity=capacity,
                ordered=0,
                position=position,
                per_buyer_limit=limit,
                min_total=int(minimum * scale) if minimum and minimum > 100 else minimum,
                policy=policy,
            )
            db.session.add(item)
            db.session.flush()
            for (producer_index, _share), quantity in zip(shares, quantities, strict=True):
                producer = producers[producer_index]
                listing = Listing(
                    producer_id=producer.id,
                    name=title,
                    category="农副",
                    unit=unit,
                    unit_weight_g=500,
                    price_fen=price,
                    quantity=quantity,
                    quantity_committed=quantity,
                    ready_on=now.date(),
                    status="approved",
                )
                db.session.add(listing)
                db.session.flush()
                db.session.add(Supply(item_id=item.id, listing_id=listing.id, producer_id=producer.id, quantity=quantity))
        buyers = [
            User(
                name=f"职工{n}",
                phone=f"137{n:08d}",
                email=f"buyer{n}@example.cn" if n % 3 == 0 else None,
                role="buyer",
                unit_id=units[n % UNITS].id,
                password_hash="-",
            )
            for n in range(args.buyers)
        ]
        operator = User(name="运营员", phone="13900000001", role="operator", password_hash="-")
        db.session.add_all([*buyers, operator])
        db.session.commit()
        tokens = [issue_token(user) for user in buyers]
        operator_token = issue_token(operator)
        items = [
            {"id": i.id, "title": i.title, "capacity": i.capacity, "limit": i.per_buyer_limit, "price_fen": i.price_fen}
            for i in db.session.scalars(
                db.select(CampaignItem).where(CampaignItem.campaign_id == campaign.id).order_by(CampaignItem.id)
            )
        ]
        campaign_id = campaign.id
        db.session.remove()
        db.engine.dispose()
    return campaign_id, items, tokens, operator_token


# ------------------------------------------------------------------------------------------------ load


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples = defaultdict(list)  # operation → latencies in ms
        self.statuses = defaultdict(Counter)  # operation → status → count
        self.errors = []  # (operation, status or exception, body excerpt)
        self.refusals = Counter()  # expected 409 codes

    def add(self, operation, status, ms, body=None, expected=(200, 201), refusals=()):
        with self.lock:
            self.samples[operation].append(ms)
            self.statuses[operation][status] += 1
            code = body.get("error", {}).get("code") if isinstance(body, dict) else None
            if status in expected:
                return True
            if status == 409 and code in refusals:
                self.refusals[code] += 1
                return False
            self.errors.append((operation, status, json.dumps(body, ensure_ascii=False)[:300] if body is not None else ""))
            return False


def call(port, method, path, token, body=None, headers=None):
    """One request on a fresh connection (gunicorn's sync workers close it after each answer)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    sent = {"Authorization": f"Bearer {token}", "Accept": "application/json", **(headers or {})}
    data = None
    if body is not None:
        data = json.dumps(body).encode()
        sent["Content-Type"] = "application/json"
    started = time.perf_counter()
    try:
        connection.request(method, path, body=data, headers=sent)
        response = connection.getresponse()
        raw = response.read()
        status = response.status
    except OSError as error:
        return None, {"exception": repr(error)}, (time.perf_counter() - started) * 1000
    finally:
        connection.close()
    ms = (time.perf_counter() - started) * 1000
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = {"raw": raw[:200].decode(errors="replace")}
    return status, parsed, ms


class Buyer(threading.Thread):
    """One simulated buyer; ``orders`` is what the API acknowledged: order id → {item id: quantity} (None: cancelled)."""

    def __init__(self, index, token, port, campaign_id, items, deadline, recorder, args):
        super().__init__(daemon=True)
        self.index, self.token, self.port, self.campaign_id = index, token, port, campaign_id
        self.items, self.deadline, self.recorder, self.think = items, deadline, recorder, args.think
        self.random = random.Random(args.seed * 100_003 + index)
        self.orders = {}
        self.uncertain = set()  # orders whose last change got no clear answer (should stay empty)
        self.unanswered_places = 0

    def run(self):
        time.sleep(self.random.uniform(0, min(2.0, self.think * 4)))  # the rush: everyone arrives within two seconds
        while time.monotonic() < self.deadline:
            self.browse()
            live = [order_id for order_id, lines in self.orders.items() if lines is not None]
            roll = self.random.random()
            if not live or roll < 0.45:
                self.place()
            elif roll < 0.70:
                self.change(self.random.choice(live))
            elif roll < 0.78:
                self.cancel(self.random.choice(live))
            else:
                self.list_orders()
            time.sleep(self.random.uniform(0, self.think))

    def _lines(self):
        chosen = self.random.sample(self.items, self.random.randint(1, 3))
        lines = []
        for item in chosen:
            top = item["limit"] or 10
            quantity = self.random.randint(1, top)
            if self.random.random() < 0.05:
                quantity = top + self.random.randint(1, 5)  # over the limit on purpose: limit_exceeded expected
            lines.append({"item_id": item["id"], "quantity": quantity})
        return lines

    def browse(self):
        status, body, ms = call(self.port, "GET", f"/api/v1/campaigns/{self.campaign_id}", self.token)
        self.recorder.add("GET /campaigns/{id}", status, ms, body)

    def place(self):
        body = {"lines": self._lines()}
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        for attempt in range(2 if self.random.random() < 0.1 else 1):
            status, answer, ms = call(
                self.port, "POST", f"/api/v1/campaigns/{self.campaign_id}/orders", self.token, body, headers
            )
            ok = self.recorder.add(
                "POST /campaigns/{id}/orders" + (" (repeat)" if attempt else ""),
                status,
                ms,
                answer,
                expected=(201,) if attempt == 0 else (200,),
                refusals=("insufficient_stock", "limit_exceeded"),
            )
            if ok:
                order_id = answer["id"]
                if attempt and order_id not in self.orders:
                    self.recorder.errors.append(("repeat", status, f"a repeat returned another order {order_id}"))
                self.orders[order_id] = {
                    line["item_id"]: line["quantity"] for line in answer["lines"] if not line.get("cancelled")
                }
            else:
                if status is None or status >= 500:
                    self.unanswered_places += 1
                return  # only an answered order is sent again (its answer "lost on a bad network")

    def change(self, order_id):
        body = {"lines": self._lines()}
        status, answer, ms = call(self.port, "PATCH", f"/api/v1/orders/{order_id}", self.token, body)
        if self.recorder.add(
            "PATCH /orders/{id}", status, ms, answer, expected=(200,), refusals=("insufficient_stock", "limit_exceeded")
        ):
            self.orders[order_id] = {line["item_id"]: line["quantity"] for line in answer["lines"] if not line.get("cancelled")}
        elif status is None or status >= 500:
            self.uncertain.add(order_id)

    def cancel(self, order_id):
        status, answer, ms = call(self.port, "POST", f"/api/v1/orders/{order_id}/cancel", self.token)
        if self.recorder.add("POST /orders/{id}/cancel", status, ms, answer, expected=(200,)):
            self.orders[order_id] = None
        elif status is None or status >= 500:
            self.uncertain.add(order_id)

    def list_orders(self):
        status, body, ms = call(self.port, "GET", f"/api/v1/orders?campaign_id={self.campaign_id}", self.token)
        self.recorder.add("GET /orders", status, ms, body)


class Operator(threading.Thread):
    """Watches the live totals every two seconds, as the office does during a campaign."""

    def __init__(self, token, port, campaign_id, deadline, recorder):
        super().__init__(daemon=True)
        self.token, self.port, self.campaign_id, self.deadline, self.recorder = token, port, campaign_id, deadline, recorder

    def run(self):
        while time.monotonic() < self.deadline:
            status, body, ms = call(
                self.port, "GET", f"/api/v1/stats/summary?campaign_id={self.campaign_id}&group_by=product", self.token
            )
            self.recorder.add("GET /stats/summary (operator)", status, ms, body)
            time.sleep(2)


# ------------------------------------------------------------------------------------------------ checks


def fair_split(demand, supplies, policy):
    """The design's fair split, written again here (not imported) so the check is independent.

    ``supplies``: (supply id, quantity, poverty) in supply-id order; returns supply id → quantity.
    """

    def proportional(demand, offers):
        total = sum(q for _s, q, _p in offers)
        if not offers or total == 0:
            return {s: 0 for s, _q, _p in offers}
        shares = {s: demand * q // total for s, q, _p in offers}
        left = demand - sum(shares.values())
        ranked = sorted(offers, key=lambda o: (-(demand * o[1] % total), not o[2], o[0]))
        for s, _q, _p in ranked[:left]:
            shares[s] += 1
        return shares

    if policy == "proportional":
        return proportional(demand, supplies)
    poor = [o for o in supplies if o[2]]
    others = [o for o in supplies if not o[2]]
    poor_total = sum(q for _s, q, _p in poor)
    if demand <= poor_total:
        return proportional(demand, poor) | {s: 0 for s, _q, _p in others}
    return {s: q for s, q, _p in poor} | proportional(demand - poor_total, others)


def verify(engine, campaign_id, items, buyers, sms_log, problems):
    """Everything the rush and the close wrote, against what the buyers were told and the design's rules."""
    import sqlalchemy as sa

    def fail(message):
        problems.append(message)

    acknowledged = {}
    for buyer in buyers:
        for order_id, lines in buyer.orders.items():
            acknowledged[order_id] = (buyer.index, lines)
    with engine.connect() as c:
        q = lambda sql, **kw: c.execute(sa.text(sql), kw).all()  # noqa: E731
        item_rows = {
            r.id: r
            for r in q(
                "SELECT id, title, capacity, ordered, per_buyer_limit, min_total, policy, cancelled_below_minimum "
                "FROM campaign_item WHERE campaign_id = :c",
                c=campaign_id,
            )
        }
        orders = {r.id: r for r in q("SELECT id, user_id, status FROM buyer_order WHERE campaign_id = :c", c=campaign_id)}
        lines = q(
            "SELECT l.order_id, l.item_id, l.quantity, l.price_fen, l.cancelled, l.cancel_reason FROM order_line l "
            "JOIN buyer_order o ON o.id = l.order_id WHERE o.campaign_id = :c",
            c=campaign_id,
        )
        supplies = q(
            "SELECT s.id, s.item_id, s.producer_id, s.quantity, s.allocated, p.poverty_household FROM supply s "
            "JOIN producer p ON p.id = s.producer_id JOIN campaign_item i ON i.id = s.item_id "
            "WHERE i.campaign_id = :c ORDER BY s.id",
            c=campaign_id,
        )
        allocations = q(
            "SELECT a.id, a.item_id, a.producer_id, a.quantity FROM allocation a WHERE a.campaign_id = :c", c=campaign_id
        )
        picks = q(
            "SELECT p.allocation_id, p.unit_id, p.quantity FROM pick_line p JOIN allocation a ON a.id = p.allocation_id "
            "WHERE a.campaign_id = :c",
            c=campaign_id,
        )
        units_of = dict(q("SELECT o.id, o.unit_id FROM buyer_order o WHERE o.campaign_id = :c", c=campaign_id))
        notes = q("SELECT recipient, channel, address, kind, subject, status FROM notification")
        campaign_status = c.execute(sa.text("SELECT status FROM campaign WHERE id = :c"), {"c": campaign_id}).scalar()

    if campaign_status != "allocated":
        fail(f"campaign status is {campaign_status}, not allocated")
    # 1. Orders: exactly the acknowledged ones, each as the buyer was last told (lines of items cancelled below
    #    their minimum at close excepted).
    below = {i for i, r in item_rows.items() if r.cancelled_below_minimum}
    if set(orders) != set(acknowledged):
        fail(
            f"orders in the database {len(orders)} vs acknowledged {len(acknowledged)}: "
            f"extra {sorted(set(orders) - set(acknowledged))[:5]}, missing {sorted(set(acknowledged) - set(orders))[:5]}"
        )
    per_order = defaultdict(dict)
    for line in lines:
        if not line.cancelled or line.cancel_reason == "below_minimum":
            per_order[line.order_id][line.item_id] = line.quantity
        if line.cancel_reason == "below_minimum" and line.item_id not in below:
            fail(f"line of order {line.order_id} cancelled below minimum for an item that reached it")
        if line.item_id in below and not line.cancelled:
            fail(f"line of order {line.order_id} for item {line.item_id} below its minimum is still live")
    for order_id, (_buyer, told) in acknowledged.items():
        row = orders.get(order_id)
        if row is None:
            continue
        if told is None:
            if row.status != "cancelled":
                fail(f"order {order_id} was cancelled for its buyer but is {row.status}")
        elif row.status == "cancelled" and set(told) - below:
            fail(f"order {order_id} was live for its buyer but is cancelled")
        elif told != per_order[order_id]:
            fail(f"order {order_id}: buyer was told {told}, database has {per_order[order_id]}")
    # 2. Totals: each item's counter is its live lines' sum, never above capacity; no buyer above a limit.
    live = defaultdict(int)
    by_buyer = defaultdict(int)
    by_unit = defaultdict(lambda: defaultdict(int))
    revenue = 0
    for line in lines:
        if line.cancelled or orders[line.order_id].status == "cancelled":
            continue
        live[line.item_id] += line.quantity
        by_buyer[(orders[line.order_id].user_id, line.item_id)] += line.quantity
        by_unit[line.item_id][units_of[line.order_id]] += line.quantity
        revenue += line.quantity * line.price_fen
    for item_id, row in item_rows.items():
        if row.ordered != live[item_id]:
            fail(f"item {row.title}: counter {row.ordered} but live lines sum to {live[item_id]}")
        if row.ordered > row.capacity:
            fail(f"item {row.title} oversold: {row.ordered} > {row.capacity}")
    for (user_id, item_id), quantity in by_buyer.items():
        limit = item_rows[item_id].per_buyer_limit
        if limit is not None and quantity > limit:
            fail(f"buyer {user_id} holds {quantity} of item {item_id}, over its limit {limit}")
    # 3. Allocations: the fair split of each item's demand, every supply within its offer.
    allocated = {(a.item_id, a.producer_id): a for a in allocations}
    for item_id, row in item_rows.items():
        offers = [(s.id, s.quantity, s.poverty_household) for s in supplies if s.item_id == item_id]
        expected = fair_split(live[item_id], offers, row.policy) if item_id not in below else {s: 0 for s, _q, _p in offers}
        for s in (s for s in supplies if s.item_id == item_id):
            if s.allocated != expected[s.id]:
                fail(f"supply {s.id} of {row.title}: allocated {s.allocated}, fair split says {expected[s.id]}")
            got = allocated.get((item_id, s.producer_id))
            if (got.quantity if got else 0) != expected[s.id]:
                fail(
                    f"allocation of {row.title} to producer {s.producer_id}: {got.quantity if got else 0}, expected {expected[s.id]}"
                )
    # 4. Pick lists: rows sum to each allocation, columns to each unit's demand, few trips.
    cells = defaultdict(dict)
    for p in picks:
        cells[p.allocation_id][p.unit_id] = p.quantity
    for item_id, row in item_rows.items():
        item_allocations = [a for a in allocations if a.item_id == item_id and a.quantity > 0]
        columns = defaultdict(int)
        nonzero = 0
        for a in item_allocations:
            if sum(cells[a.id].values()) != a.quantity:
                fail(f"pick list of allocation {a.id} sums to {sum(cells[a.id].values())}, not {a.quantity}")
            for unit_id, quantity in cells[a.id].items():
                columns[unit_id] += quantity
                nonzero += quantity > 0
        if {u: q for u, q in columns.items() if q} != {u: q for u, q in by_unit[item_id].items() if q}:
            fail(f"pick lists of {row.title} do not deliver each unit what it ordered")
        if item_allocations and nonzero > len(item_allocations) + len(by_unit[item_id]) - 1:
            fail(f"pick lists of {row.title} need {nonzero} trips, more than producers + units - 1")
    # 5. Notifications: all sent, each (recipient, channel, kind, subject) once; every producer told once per channel;
    #    one SMS line per SMS row (none lost, none doubled).
    keys = Counter((n.recipient, n.channel, n.kind, n.subject) for n in notes)
    if any(count > 1 for count in keys.values()):
        fail("a notification is in the outbox twice")
    statuses = Counter(n.status for n in notes)
    if set(statuses) != {"sent"}:
        fail(f"notifications not all sent: {dict(statuses)}")
    subject = f"campaign:{campaign_id}"
    producers_with = {a.producer_id for a in allocations if a.quantity > 0}
    supplying = {s.producer_id for s in supplies}
    told = defaultdict(set)
    for n in notes:
        if n.subject == subject and n.kind in ("picklist", "no_allocation"):
            told[(n.recipient, n.kind)].add(n.channel)
    for producer_id in supplying:
        kind = "picklist" if producer_id in producers_with else "no_allocation"
        if (
            "inapp" not in told.get((f"producer:{producer_id}", kind), set())
            or "sms" not in told[(f"producer:{producer_id}", kind)]
        ):
            fail(f"producer {producer_id} was not told ({kind}) in-app and by SMS")
    confirmations = {n.subject for n in notes if n.kind == "order_confirmed" and n.channel == "inapp"}
    if confirmations != {f"order:{o}:placed" for o in orders}:
        fail(f"order confirmations: {len(confirmations)} for {len(orders)} orders")
    sms_rows = Counter(n.address for n in notes if n.channel == "sms")
    sms_lines = (
        Counter(line.split("\t")[1] for line in sms_log.read_text(encoding="utf-8").splitlines())
        if sms_log.exists()
        else Counter()
    )
    if sms_rows != sms_lines:
        doubled = {a: sms_lines[a] for a in sms_lines if sms_lines[a] > sms_rows.get(a, 0)}
        lost = {a: sms_rows[a] for a in sms_rows if sms_lines.get(a, 0) < sms_rows[a]}
        fail(f"SMS sent do not match the outbox: doubled {list(doubled.items())[:5]}, lost {list(lost.items())[:5]}")
    return {
        "orders": len(orders),
        "live_orders": sum(1 for o in orders.values() if o.status != "cancelled"),
        "lines": len(lines),
        "revenue_fen": revenue,
        "items_below_minimum": len(below),
        "allocations": len([a for a in allocations if a.quantity > 0]),
        "pick_lines": len(picks),
        "notifications": dict(Counter(n.kind for n in notes)),
        "sms_sent": sum(sms_lines.values()),
    }


# ------------------------------------------------------------------------------------------------ main


def warm_up(port, token, campaign_id, workers):
    """Wait until every gunicorn worker has loaded the app and answers (the port opens before they have)."""
    deadline = time.monotonic() + 120
    quick = 0
    while quick < 4 * workers:
        if time.monotonic() > deadline:
            raise RuntimeError("gunicorn did not start answering within two minutes")
        status, _body, ms = call(port, "GET", f"/api/v1/campaigns/{campaign_id}", token)
        quick = quick + 1 if status == 200 and ms < 200 else 0
        time.sleep(0.05)


def percentile(values, fraction):
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    args = parse_args()
    import sqlalchemy as sa

    from backends import create_scratch_postgres, drop_scratch_postgres, psycopg_url

    instance = Path(tempfile.mkdtemp(prefix="pinbang-soak-"))
    url = create_scratch_postgres(args.pg, f"pinbang_soak_{uuid.uuid4().hex[:8]}")
    engine = sa.create_engine(psycopg_url(url))
    processes = []
    problems = []
    try:
        redis_url = args.redis
        if redis_url is None:
            redis_port = free_port()
            processes.append(
                start(
                    [
                        shutil.which("redis-server"),
                        "--port",
                        str(redis_port),
                        "--bind",
                        "127.0.0.1",
                        "--save",
                        "",
                        "--appendonly",
                        "no",
                        "--dir",
                        str(instance),
                    ],
                    dict(os.environ),
                    instance / "redis.log",
                )
            )
            if not wait_for_port(redis_port, timeout=60):
                raise RuntimeError(f"redis-server did not start on 127.0.0.1:{redis_port}")
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
        print(
            f"Preparing: {args.buyers} buyers in {UNITS} units, {len(ITEMS)} items from {len(PRODUCERS)} producers …", flush=True
        )
        campaign_id, items, tokens, operator_token = prepare(url, instance, args)
        env = dict(os.environ)
        env.update(
            {
                "DATABASE_URL": url,
                "REDIS_URL": redis_url,
                "PINBANG_ENV": "production",
                "SECRET_KEY": "soak-only",
                "INSTANCE_PATH": str(instance),
                "CELERY_QUEUE": f"pinbang-soak-{uuid.uuid4().hex[:8]}",
                "PYTHONPATH": str(ROOT),
            }
        )
        port = free_port()
        bin_dir = Path(sys.executable).parent
        processes.append(
            start(
                [
                    str(bin_dir / "gunicorn"),
                    "-w",
                    str(args.workers),
                    "-b",
                    f"127.0.0.1:{port}",
                    "--backlog",
                    "2048",
                    "--timeout",
                    "60",
                    "--log-level",
                    "warning",
                    "wsgi:app",
                ],
                env,
                instance / "gunicorn.log",
            )
        )
        processes.append(
            start(
                [
                    str(bin_dir / "celery"),
                    "-A",
                    "make_celery",
                    "worker",
                    "--loglevel",
                    "WARNING",
                    "--concurrency",
                    str(args.celery_concurrency),
                    "--without-gossip",
                    "--without-mingle",
                ],
                env,
                instance / "worker.log",
            )
        )
        processes.append(
            start([str(bin_dir / "celery"), "-A", "make_celery", "beat", "--loglevel", "WARNING"], env, instance / "beat.log")
        )
        if not wait_for_port(port, timeout=60):
            raise RuntimeError(f"gunicorn did not start on 127.0.0.1:{port}")
        warm_up(port, tokens[0], campaign_id, args.workers)

        recorder = Recorder()
        deadline = time.monotonic() + args.duration
        buyers = [Buyer(n, tokens[n], port, campaign_id, items, deadline, recorder, args) for n in range(args.buyers)]
        operator = Operator(operator_token, port, campaign_id, deadline, recorder)
        print(
            f"Rush: {args.duration} s, gunicorn -w {args.workers} (sync), PostgreSQL, Redis, Celery worker "
            f"-c {args.celery_concurrency} + beat, think ≤ {args.think} s …",
            flush=True,
        )
        started = time.monotonic()
        for thread in [*buyers, operator]:
            thread.start()
        for thread in [*buyers, operator]:
            thread.join(timeout=max(1, deadline - time.monotonic() + 90))
        rush_seconds = time.monotonic() - started

        # The close: the operator closes now; the worker pools it and the dispatcher sends every message.
        close_started = time.monotonic()
        status, body, ms = call(port, "POST", f"/api/v1/campaigns/{campaign_id}/close", operator_token)
        recorder.add("POST /campaigns/{id}/close (operator)", status, ms, body, expected=(202,))
        allocated_after = sent_after = None
        with engine.connect() as c:
            while time.monotonic() - close_started < 600:
                state = c.execute(sa.text("SELECT status FROM campaign WHERE id = :c"), {"c": campaign_id}).scalar()
                c.rollback()
                if state == "allocated" and allocated_after is None:
                    allocated_after = time.monotonic() - close_started
                if allocated_after is not None:
                    waiting = c.execute(sa.text("SELECT count(*) FROM notification WHERE status <> 'sent'")).scalar()
                    c.rollback()
                    if waiting == 0:
                        sent_after = time.monotonic() - close_started
                        break
                time.sleep(0.5)
        # A late order after the close must be refused.
        status, body, ms = call(
            port,
            "POST",
            f"/api/v1/campaigns/{campaign_id}/orders",
            tokens[0],
            {"lines": [{"item_id": items[2]["id"], "quantity": 1}]},
            {"Idempotency-Key": uuid.uuid4().hex},
        )
        recorder.add("POST /campaigns/{id}/orders (after close)", status, ms, body, expected=(), refusals=("campaign_not_open",))
        # The operator's totals agree with the database.
        status, summary, ms = call(port, "GET", f"/api/v1/stats/summary?campaign_id={campaign_id}", operator_token)
        recorder.add("GET /stats/summary (operator)", status, ms, summary)
        for process in processes[1:]:
            stop(process)  # let the worker finish and the SMS log flush before it is read

        figures = verify(engine, campaign_id, items, buyers, instance / "sms.log", problems)
        if summary and summary.get("totals", {}).get("revenue_fen") != figures["revenue_fen"]:
            problems.append(f"stats summary revenue {summary.get('totals', {}).get('revenue_fen')} != {figures['revenue_fen']}")
        if any(b.uncertain or b.unanswered_places for b in buyers):
            problems.append("some requests got no clear answer (their orders could not be checked)")
        if recorder.errors:
            problems.append(f"{len(recorder.errors)} errors")
        if allocated_after is None or sent_after is None:
            problems.append("the close did not finish within 10 minutes")

        report(args, recorder, rush_seconds, allocated_after, sent_after, figures, problems)
        if args.json:
            args.json.write_text(
                json.dumps(
                    {"args": {k: str(v) for k, v in vars(args).items()}, "figures": figures, "problems": problems},
                    ensure_ascii=False,
                    indent=2,
                )
            )
        return 1 if problems else 0
    finally:
        for process in reversed(processes):
            stop(process)
        engine.dispose()
        drop_scratch_postgres(args.pg, url)
        shutil.rmtree(instance, ignore_errors=True)


def report(args, recorder, rush_seconds, allocated_after, sent_after, figures, problems):
    rush_ops = [op for op in recorder.samples if "after close" not in op and "close" not in op]
    total = sum(len(recorder.samples[op]) for op in rush_ops)
    every = [ms for op in rush_ops for ms in recorder.samples[op]]
    placed = recorder.statuses["POST /campaigns/{id}/orders"][201]
    print()
    print(
        f"Rush: {total} requests in {rush_seconds:.0f} s = {total / rush_seconds:.0f} requests/s; "
        f"{placed} orders placed = {placed / rush_seconds:.1f} orders/s; "
        f"p50 {percentile(every, 0.5):.0f} ms, p99 {percentile(every, 0.99):.0f} ms; errors {len(recorder.errors)}; "
        f"expected refusals {dict(recorder.refusals)}"
    )
    print()
    print("| request | count | p50 ms | p99 ms | max ms | statuses |")
    print("|---|---:|---:|---:|---:|---|")
    for op in sorted(recorder.samples):
        values = recorder.samples[op]
        statuses = ", ".join(f"{s}×{n}" for s, n in sorted(recorder.statuses[op].items(), key=lambda kv: str(kv[0])))
        print(
            f"| {op} | {len(values)} | {percentile(values, 0.5):.0f} | {percentile(values, 0.99):.0f} | {max(values):.0f} | {statuses} |"
        )
    print()
    print(
        f"Close: allocated {allocated_after:.1f} s after the operator's close, every notification sent after {sent_after:.1f} s"
        if allocated_after is not None and sent_after is not None
        else "Close: did not finish"
    )
    print(f"Afterwards: {json.dumps(figures, ensure_ascii=False)}")
    for operation, status, body in recorder.errors[:10]:
        print(f"  error: {operation} → {status} {body}")
    print()
    if problems:
        print("CHECKS FAILED:")
        for problem in problems[:30]:
            print(f"  - {problem}")
    else:
        print(
            "Checks: orders exactly as acknowledged, counters = live lines ≤ capacity, limits kept, fair split and "
            "pick lists exact, every notification sent once (SMS log = outbox): all passed"
        )


if __name__ == "__main__":
    sys.exit(main())
