"""Fill a PostgreSQL database with a million order lines (psycopg 3 COPY) for the sales-summary benchmark.

    .venv/bin/python bench/stats/generate.py --url postgresql://postgres@127.0.0.1:5432/pinbang_bench --lines 1000000

The database is dropped and created again, migrated to the current schema, and filled with a deterministic
data set: 17 towns, 600 producers, 200 units, 24 campaigns (pooled, open, closed, draft, cancelled) of 20 items
each, about 330,000 orders from 120,000 phones, 5 % of orders cancelled, 4 % of lines cancelled (half of them
below the minimum total), and allocations for the pooled campaigns that cover their demand exactly.
"""

import argparse
import os
import random
import sys
import tempfile
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

TOWNS = [
    "乐城街道",
    "北乡镇",
    "九峰镇",
    "廊田镇",
    "长来镇",
    "梅花镇",
    "三溪镇",
    "坪石镇",
    "黄圃镇",
    "五山镇",
    "两江镇",
    "沙坪镇",
    "云岩镇",
    "秀水镇",
    "大源镇",
    "庆云镇",
    "白石镇",
]
PRODUCTS = [
    ("雪毛鸡", "只", 1500, 9800),
    ("鸡蛋", "个", 50, 150),
    ("马蹄", "斤", 500, 450),
    ("天堂姜", "斤", 500, 800),
    ("大米", "袋", 5000, 4500),
    ("蜂蜜", "瓶", 500, 6800),
    ("红薯干", "袋", 500, 2000),
    ("腐竹", "袋", None, 1500),
]
STATUSES = (
    ["allocated"] * 10
    + ["delivered"] * 3
    + ["settled"] * 2
    + ["published"] * 4
    + ["closed"] * 2
    + ["draft", "draft", "published"]
)  # two drafts: a campaign cannot be cancelled (issue 13)
ITEMS_PER_CAMPAIGN = 20
POOLED = ("allocated", "delivered", "settled")


def create_database(url):
    base, _sep, name = url.rpartition("/")
    with psycopg.connect(base + "/postgres", autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def migrate(url):
    os.environ.setdefault("INSTANCE_PATH", tempfile.mkdtemp(prefix="pinbang-bench-"))
    from flask_migrate import upgrade

    from app import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url.replace("postgresql://", "postgresql+psycopg://", 1))
    with app.app_context():
        upgrade(revision="heads")


def copy(connection, table, columns, rows):
    with connection.cursor() as cursor, cursor.copy(f'COPY "{table}" ({", ".join(columns)}) FROM STDIN') as stream:
        for row in rows:
            stream.write_row(row)


def generate(url, lines_wanted, seed):
    rng = random.Random(seed)
    now = datetime(2026, 6, 1, tzinfo=UTC).replace(tzinfo=None)
    with psycopg.connect(url) as connection:
        units = [(i, f"单位{i}", f"地址{i}", None, now, now) for i in range(1, 201)]
        copy(connection, "unit", ["id", "name", "address", "contact_phone", "created_at", "updated_at"], units)
        users = [(i, f"联络员{i}", f"1390000{i:04d}", "x", f"bench-{i}", "buyer", i, True, True, now, now) for i in range(1, 201)]
        columns = ["id", "name", "phone", "password_hash", "session_token", "role", "unit_id", "coordinator", "active"]
        copy(connection, "user", [*columns, "created_at", "updated_at"], users)
        producers = []
        for i in range(1, 601):
            kind = rng.choices(["household", "cooperative", "enterprise"], [80, 15, 5])[0]
            poor = kind == "household" and rng.random() < 0.6
            linked = rng.randint(5, 60) if kind != "household" else 0
            producers.append(
                (
                    i,
                    f"生产者{i}",
                    kind,
                    rng.choice(TOWNS),
                    f"村{i % 90}",
                    f"1380000{i:04d}",
                    poor,
                    f"GD-{i:06d}" if poor else None,
                    linked,
                    "approved",
                    now,
                    now,
                )
            )
        copy(
            connection,
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
            producers,
        )

        campaigns, items, listings, supplies = [], [], [], []
        item_supplies = defaultdict(list)
        for cid, status in enumerate(STATUSES, start=1):
            opens = now - timedelta(days=400 - cid * 15)
            campaigns.append(
                (
                    cid,
                    f"bench{cid}",
                    f"消费扶贫第{cid}期",
                    opens,
                    opens + timedelta(days=10),
                    (opens + timedelta(days=14)).date(),
                    status,
                    now,
                    now,
                )
            )
            for position in range(ITEMS_PER_CAMPAIGN):
                item_id = len(items) + 1
                title, unit, grams, price = PRODUCTS[position % len(PRODUCTS)]
                items.append(
                    [
                        item_id,
                        cid,
                        f"{title}{'' if position < len(PRODUCTS) else position // len(PRODUCTS)}",
                        unit,
                        grams,
                        price,
                        "proportional",
                        0,
                        0,
                        position,
                        False,
                        now,
                        now,
                    ]
                )
                for _n in range(rng.randint(1, 4)):
                    listing_id = len(listings) + 1
                    producer_id = rng.randint(1, 600)
                    if any(p == producer_id for _s, p, _q in item_supplies[item_id]):
                        continue
                    quantity = 10_000_000
                    listings.append(
                        (
                            listing_id,
                            producer_id,
                            title,
                            "农副",
                            unit,
                            grams,
                            price,
                            quantity,
                            quantity,
                            date(2026, 1, 1),
                            "approved",
                            now,
                            now,
                        )
                    )
                    supply_id = len(supplies) + 1
                    supplies.append([supply_id, item_id, listing_id, producer_id, quantity, None])
                    item_supplies[item_id].append((supply_id, producer_id, quantity))
                    items[-1][7] += quantity
        status_of = {c[0]: c[6] for c in campaigns}

        orders, lines = [], []
        demand = defaultdict(int)
        live = defaultdict(int)
        phones = [f"13{rng.randint(100000000, 999999999)}" for _ in range(120_000)]
        while len(lines) < lines_wanted:
            order_id = len(orders) + 1
            cid = rng.randint(1, len(campaigns))
            unit_id = rng.randint(1, 200)
            order_status = "cancelled" if rng.random() < 0.05 else ("allocated" if status_of[cid] in POOLED else "placed")
            created = campaigns[cid - 1][3] + timedelta(seconds=rng.randint(0, 10 * 86400))
            total = 0
            chosen = rng.sample(range(ITEMS_PER_CAMPAIGN), rng.randint(1, 5))
            for position in chosen:
                item = items[(cid - 1) * ITEMS_PER_CAMPAIGN + position]
                quantity = rng.randint(1, 30)
                roll = rng.random()
                reason = None if roll > 0.04 else ("buyer" if roll > 0.02 else "below_minimum")
                lines.append((len(lines) + 1, order_id, item[0], quantity, item[5], reason is not None, reason))
                if reason is None and order_status != "cancelled":
                    total += quantity * item[5]
                    live[item[0]] += quantity
                    if status_of[cid] != "draft":
                        demand[item[0]] += quantity
            paid = rng.random() < 0.5
            orders.append(
                (
                    order_id,
                    cid,
                    unit_id,
                    f"买家{order_id % 9973}",
                    rng.choice(phones),
                    unit_id,
                    "sheet",
                    order_status,
                    total,
                    "paid" if paid else "unpaid",
                    "transfer" if paid else None,
                    created,
                    created,
                )
            )
        for item in items:
            item[8] = live[item[0]]
        copy(
            connection,
            "campaign",
            ["id", "slug", "title", "opens_at", "closes_at", "delivery_on", "status", "created_at", "updated_at"],
            campaigns,
        )
        copy(
            connection,
            "campaign_item",
            [
                "id",
                "campaign_id",
                "title",
                "unit",
                "unit_weight_g",
                "price_fen",
                "policy",
                "capacity",
                "ordered",
                "position",
                "cancelled_below_minimum",
                "created_at",
                "updated_at",
            ],
            items,
        )
        copy(
            connection,
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
            listings,
        )

        allocations = []
        for item in items:
            if status_of[item[1]] not in POOLED or not demand[item[0]]:
                continue
            wanted, offers = demand[item[0]], item_supplies[item[0]]
            capacity = sum(q for _s, _p, q in offers)
            shares = [wanted * q // capacity for _s, _p, q in offers]
            shares[0] += wanted - sum(shares)
            for (supply_id, producer_id, _q), share in zip(offers, shares, strict=True):
                supplies[supply_id - 1][5] = share
                allocations.append((len(allocations) + 1, item[1], item[0], producer_id, share))
        copy(connection, "supply", ["id", "item_id", "listing_id", "producer_id", "quantity", "allocated"], supplies)
        copy(connection, "allocation", ["id", "campaign_id", "item_id", "producer_id", "quantity"], allocations)
        picks = [(allocation[0], rng.randint(1, 200), allocation[4]) for allocation in allocations if allocation[4]]
        copy(connection, "pick_line", ["allocation_id", "unit_id", "quantity"], picks)
        copy(
            connection,
            "buyer_order",
            [
                "id",
                "campaign_id",
                "unit_id",
                "buyer_name",
                "buyer_phone",
                "placed_by_id",
                "source",
                "status",
                "total_fen",
                "payment_status",
                "payment_method",
                "created_at",
                "updated_at",
            ],
            orders,
        )
        copy(
            connection, "order_line", ["id", "order_id", "item_id", "quantity", "price_fen", "cancelled", "cancel_reason"], lines
        )
        for table in (
            "unit",
            "user",
            "producer",
            "listing",
            "campaign",
            "campaign_item",
            "supply",
            "allocation",
            "buyer_order",
            "order_line",
        ):
            connection.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), (SELECT MAX(id) FROM \"{table}\"))")
        connection.commit()
    with psycopg.connect(url, autocommit=True) as connection:
        connection.execute("VACUUM ANALYZE")
    return len(orders), len(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/pinbang_bench")
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=2020)
    args = parser.parse_args()
    create_database(args.url)
    migrate(args.url)
    orders, lines = generate(args.url, args.lines, args.seed)
    print(f"{orders} orders, {lines} order lines in {args.url}")
    keep_figures(args.url)


def keep_figures(url):
    """What `flask rebuild-figures` does, after the COPY: keep every pooled campaign's figures and build the open
    figures of those not yet pooled (what their orders would have kept); prints each one's time."""
    import time

    from app import create_app
    from dashboard.kept_figures import keep_campaign_figures, keep_campaign_outcomes
    from database import transaction
    from extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url.replace("postgresql://", "postgresql+psycopg://", 1))
    with app.app_context():
        pooled = db.session.scalars(
            db.text("SELECT id FROM campaign WHERE status IN ('allocated', 'delivered', 'settled') ORDER BY id")
        ).all()
        for campaign_id in db.session.scalars(
            db.text("SELECT id FROM campaign WHERE id NOT IN :pooled ORDER BY id").bindparams(
                db.bindparam("pooled", expanding=True)
            ),
            {"pooled": list(pooled)},
        ).all():
            start = time.perf_counter()
            with transaction():
                keep_campaign_figures(campaign_id)
            print(f"campaign {campaign_id}: open figures built in {time.perf_counter() - start:.2f} s")
        for campaign_id in pooled:
            lines = db.session.scalar(
                db.text("SELECT COUNT(*) FROM order_line l JOIN buyer_order o ON o.id = l.order_id WHERE o.campaign_id = :c"),
                {"c": campaign_id},
            )
            start = time.perf_counter()
            with transaction():
                keep_campaign_figures(campaign_id)
            kept = time.perf_counter() - start
            start = time.perf_counter()
            with transaction():
                keep_campaign_outcomes(campaign_id)
            print(
                f"campaign {campaign_id}: {lines} lines, figures kept in {kept:.2f} s, "
                f"outcomes-only refresh {time.perf_counter() - start:.3f} s"
            )


if __name__ == "__main__":
    main()
