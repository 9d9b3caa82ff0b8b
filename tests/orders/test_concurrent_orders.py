"""Many buyers at once, on SQLite and on PostgreSQL in the same run: never oversold, limits hold, one order per key, no 500s.

Every request goes through the HTTP API: each thread has its own test client (and so its own
app context and database session), all released at the same moment by a barrier.
"""

import sqlite3
import threading
import time
from collections import Counter
from contextlib import contextmanager

import sqlalchemy as sa

from backends import psycopg_url
from extensions import db
from factories import make_campaign, make_item, make_listing, make_unit
from orders.models import Order, OrderLine
from shop.models import CampaignItem

CLIENTS = 60


def make_buyers(unit, n, phone_base=13700000000):
    """Buyers with API tokens, made without hashing 60 passwords."""
    from accounts.models import User
    from accounts.services import issue_token

    users = [User(name=f"职工{i}", phone=str(phone_base + i), role="buyer", unit_id=unit.id, password_hash="-") for i in range(n)]
    db.session.add_all(users)
    db.session.commit()
    return [issue_token(user) for user in users]


def fire(app, requests):
    """Send each (token, path, json, headers[, method]) from its own thread at the same moment (POST unless a method
    is given); returns [(status, body)]."""
    barrier = threading.Barrier(len(requests))
    results = [None] * len(requests)

    def run(index, token, path, body, headers, method="post"):
        client = app.test_client()
        barrier.wait()
        send = getattr(client, method)
        response = send("/api/v1" + path, json=body, headers={"Authorization": f"Bearer {token}", **(headers or {})})
        results[index] = (response.status_code, response.get_json())

    # The main thread must hold no transaction (SQLite would make every writer wait for it).
    db.session.commit()
    threads = [threading.Thread(target=run, args=(i, *request)) for i, request in enumerate(requests)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(not thread.is_alive() for thread in threads)
    return results


def totals(item_id):
    db.session.expire_all()
    ordered = db.session.scalar(sa.select(CampaignItem.ordered).where(CampaignItem.id == item_id))
    lines = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(OrderLine.quantity), 0)).where(
            OrderLine.item_id == item_id, OrderLine.cancelled.is_(False)
        )
    )
    return ordered, lines


def test_a_nearly_sold_out_item_is_never_oversold(backend_app):
    campaign = make_campaign()
    item = make_item(campaign, [(make_listing(quantity=500), 120), (make_listing(quantity=500), 80)], per_buyer_limit=None)
    item.ordered = 170  # 30 left
    db.session.commit()
    tokens = make_buyers(make_unit(), CLIENTS)
    wants = [1 + i % 3 for i in range(CLIENTS)]  # 1, 2, 3, 1, 2, 3 …: 120 asked for, 30 left
    requests = [
        (token, f"/campaigns/{campaign.id}/orders", {"lines": [{"item_id": item.id, "quantity": q}]}, None)
        for token, q in zip(tokens, wants, strict=True)
    ]
    results = fire(backend_app, requests)

    statuses = Counter(status for status, _body in results)
    assert set(statuses) <= {201, 409}, results
    assert all(body["error"]["code"] == "insufficient_stock" for status, body in results if status == 409)
    sold = sum(q for (status, _body), q in zip(results, wants, strict=True) if status == 201)
    # Exact totals: everything granted is in the counter and in the lines, and at most 30 were left.
    assert totals(item.id) == (170 + sold, sold)
    assert 30 - 2 <= sold <= 30  # a loser only loses when less than it asked for is left
    assert statuses[201] == db.session.scalar(sa.select(sa.func.count()).select_from(Order))


def test_an_item_with_exactly_enough_sells_out_to_the_unit(backend_app):
    campaign = make_campaign()
    item = make_item(campaign, [(make_listing(quantity=100), 100)])
    item.ordered = 100 - 25
    db.session.commit()
    tokens = make_buyers(make_unit(), CLIENTS)
    requests = [
        (token, f"/campaigns/{campaign.id}/orders", {"lines": [{"item_id": item.id, "quantity": 1}]}, None) for token in tokens
    ]
    results = fire(backend_app, requests)
    statuses = Counter(status for status, _body in results)
    assert statuses == {201: 25, 409: CLIENTS - 25}
    assert totals(item.id) == (100, 25)


def test_one_buyer_firing_many_orders_gets_exactly_the_limit(backend_app):
    campaign = make_campaign()
    item = make_item(campaign, [(make_listing(quantity=1000), 1000)], per_buyer_limit=5)
    token = make_buyers(make_unit(), 1)[0]
    requests = [(token, f"/campaigns/{campaign.id}/orders", {"lines": [{"item_id": item.id, "quantity": 1}]}, None)] * CLIENTS
    results = fire(backend_app, requests)
    statuses = Counter(status for status, _body in results)
    assert statuses == {201: 5, 409: CLIENTS - 5}, results
    assert {body["error"]["code"] for status, body in results if status == 409} == {"limit_exceeded"}
    assert totals(item.id) == (5, 5)


def test_limits_and_stock_together_under_load(backend_app):
    """Half the buyers fire twice; the limit (2) and what is left (40) both hold exactly."""
    campaign = make_campaign()
    item = make_item(campaign, [(make_listing(quantity=100), 100)], per_buyer_limit=2)
    item.ordered = 60
    db.session.commit()
    tokens = make_buyers(make_unit(), 30)
    requests = [
        (token, f"/campaigns/{campaign.id}/orders", {"lines": [{"item_id": item.id, "quantity": 2}]}, None) for token in tokens
    ]
    requests += [
        (token, f"/campaigns/{campaign.id}/orders", {"lines": [{"item_id": item.id, "quantity": 1}]}, None) for token in tokens
    ]
    results = fire(backend_app, requests)
    assert {status for status, _body in results} <= {201, 409}
    assert {body["error"]["code"] for status, body in results if status == 409} <= {"limit_exceeded", "insufficient_stock"}
    ordered, lines = totals(item.id)
    assert ordered == 60 + lines and lines <= 40
    per_buyer = db.session.execute(
        sa.select(Order.buyer_phone, sa.func.sum(OrderLine.quantity)).join(OrderLine).group_by(Order.buyer_phone)
    ).all()
    assert all(quantity <= 2 for _phone, quantity in per_buyer)


def test_a_double_submit_with_one_key_makes_one_order(backend_app):
    campaign = make_campaign()
    item = make_item(campaign, [(make_listing(quantity=100), 100)])
    token = make_buyers(make_unit(), 1)[0]
    body = {"lines": [{"item_id": item.id, "quantity": 3}]}
    results = fire(
        backend_app, [(token, f"/campaigns/{campaign.id}/orders", body, {"Idempotency-Key": "double-click"})] * CLIENTS
    )
    statuses = Counter(status for status, _body in results)
    assert statuses == {201: 1, 200: CLIENTS - 1}, results
    assert len({body["id"] for _status, body in results}) == 1
    assert totals(item.id) == (3, 3)


def test_cancels_and_orders_racing_keep_the_counter_exact(backend_app):
    """Half the buyers cancel while the other half order the capacity the cancels free."""
    from accounts.models import User
    from orders.services import place_order

    campaign = make_campaign()
    item = make_item(campaign, [(make_listing(quantity=100), 40)])
    unit = make_unit()
    tokens = make_buyers(unit, 40)
    users = db.session.scalars(sa.select(User).where(User.unit_id == unit.id).order_by(User.id)).all()
    orders = [place_order(user, campaign.id, [{"item_id": item.id, "quantity": 2}]).order.id for user in users[:20]]
    assert totals(item.id) == (40, 40)
    requests = [(token, f"/orders/{order_id}/cancel", None, None) for token, order_id in zip(tokens[:20], orders, strict=True)]
    requests += [
        (token, f"/campaigns/{campaign.id}/orders", {"lines": [{"item_id": item.id, "quantity": 2}]}, None)
        for token in tokens[20:]
    ]
    results = fire(backend_app, requests)
    assert all(status == 200 for status, _body in results[:20])
    assert {status for status, _body in results[20:]} <= {201, 409}
    placed = sum(1 for status, _body in results[20:] if status == 201)
    assert totals(item.id) == (2 * placed, 2 * placed)
    assert placed <= 20  # never more than the cancels freed (an order that came before a cancel may lose)


def test_orders_for_the_same_items_listed_in_any_order_never_deadlock(backend_app):
    """Every order takes the same three items, listed in different orders: rows are locked in id order, so all
    go through (a deadlock would surface as a 503)."""
    campaign = make_campaign()
    items = [make_item(campaign, [(make_listing(quantity=1000), 1000)]) for _ in range(3)]
    tokens = make_buyers(make_unit(), CLIENTS)
    requests = []
    for i, token in enumerate(tokens):
        listed = items[i % 3 :] + items[: i % 3]
        if i % 2:
            listed.reverse()
        lines = [{"item_id": item.id, "quantity": 1} for item in listed]
        requests.append((token, f"/campaigns/{campaign.id}/orders", {"lines": lines}, None))
    results = fire(backend_app, requests)
    assert Counter(status for status, _body in results) == {201: CLIENTS}, results
    assert [totals(item.id) for item in items] == [(CLIENTS, CLIENTS)] * 3


def test_an_order_refused_for_one_item_reserves_nothing_of_the_others(backend_app):
    """Plenty of eggs, 10 chickens left: of 60 orders for one of each, exactly 10 go through, and the eggs' counter
    counts only theirs."""
    campaign = make_campaign()
    eggs = make_item(campaign, [(make_listing(quantity=1000), 1000)])
    chickens = make_item(campaign, [(make_listing(name="雪毛鸡", unit="只", quantity=100), 100)])
    chickens.ordered = 90
    db.session.commit()
    tokens = make_buyers(make_unit(), CLIENTS)
    lines = [{"item_id": eggs.id, "quantity": 1}, {"item_id": chickens.id, "quantity": 1}]
    results = fire(backend_app, [(token, f"/campaigns/{campaign.id}/orders", {"lines": lines}, None) for token in tokens])
    assert Counter(status for status, _body in results) == {201: 10, 409: CLIENTS - 10}, results
    assert {body["error"]["code"] for status, body in results if status == 409} == {"insufficient_stock"}
    assert totals(eggs.id) == (10, 10) and totals(chickens.id) == (100, 10)


def test_changes_adding_items_and_new_orders_for_them_all_go_through(backend_app):
    """Half the buyers change their order to add two items while the other half order those two items: every
    change and every order goes through (a deadlock would surface as a 503) and the counters are exact."""
    from accounts.models import User
    from orders.services import place_order

    campaign = make_campaign()
    honey = make_item(campaign, [(make_listing(quantity=1000), 1000)])
    pair = [make_item(campaign, [(make_listing(quantity=1000), 1000)]) for _ in range(2)]
    unit = make_unit()
    tokens = make_buyers(unit, CLIENTS)
    users = db.session.scalars(sa.select(User).where(User.unit_id == unit.id).order_by(User.id)).all()
    half = CLIENTS // 2
    orders = [place_order(user, campaign.id, [{"item_id": honey.id, "quantity": 1}]).order.id for user in users[:half]]
    both = [{"item_id": item.id, "quantity": 1} for item in pair]
    lines = [{"item_id": honey.id, "quantity": 1}, *both]
    requests = [
        (token, f"/orders/{order_id}", {"lines": lines}, None, "patch")
        for token, order_id in zip(tokens[:half], orders, strict=True)
    ]
    requests += [(token, f"/campaigns/{campaign.id}/orders", {"lines": both}, None) for token in tokens[half:]]
    results = fire(backend_app, requests)
    assert Counter(status for status, _body in results) == {200: half, 201: CLIENTS - half}, results
    assert [totals(item.id) for item in pair] == [(CLIENTS, CLIENTS)] * 2


def test_a_close_racing_orders_never_lets_one_land_after_it(backend_app):
    """Orders and the close released at the same moment: an order either went in before the close, and the close
    pooled it (the item's allocations count it), or was refused campaign_not_open; none lands after the close."""
    from datetime import timedelta

    from database import utcnow
    from fulfilment.closing import close_campaign
    from fulfilment.models import Allocation

    campaign = make_campaign(closes_in=timedelta(minutes=5))
    item = make_item(campaign, [(make_listing(quantity=1000), 300), (make_listing(quantity=1000), 200)], per_buyer_limit=None)
    tokens = make_buyers(make_unit(), 40, phone_base=13800000000)
    path, body = f"/campaigns/{campaign.id}/orders", {"lines": [{"item_id": item.id, "quantity": 2}]}
    campaign_id = campaign.id
    db.session.commit()
    barrier = threading.Barrier(len(tokens) + 1)
    results, closed, answered = [], [], threading.Event()

    def order(token):
        client = backend_app.test_client()
        barrier.wait()
        response = client.post("/api/v1" + path, json=body, headers={"Authorization": f"Bearer {token}"})
        results.append((response.status_code, response.get_json()))
        answered.set()

    def close():
        with backend_app.app_context():
            barrier.wait()
            answered.wait(timeout=30)  # the close starts while the other orders are on their way
            closed.append(close_campaign(campaign_id, now=utcnow() + timedelta(minutes=10)))
            db.session.remove()

    threads = [threading.Thread(target=order, args=(token,)) for token in tokens] + [threading.Thread(target=close)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert all(not thread.is_alive() for thread in threads) and closed[0] in ("allocated", "busy")
    if closed[0] == "busy":  # an order being refused held the campaign row: the worker's sweep pools it next
        assert close_campaign(campaign_id, now=utcnow() + timedelta(minutes=10)) == "allocated"

    statuses = Counter(status for status, _body in results)
    assert set(statuses) <= {201, 409}, results
    assert all(body["error"]["code"] == "campaign_not_open" for status, body in results if status == 409)
    db.session.expire_all()
    orders = db.session.scalar(sa.select(sa.func.count()).select_from(Order).where(Order.campaign_id == campaign_id))
    allocated = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Allocation.quantity), 0)).where(Allocation.item_id == item.id)
    )
    assert orders == statuses[201]
    assert totals(item.id) == (2 * orders, 2 * orders) and allocated == 2 * orders


def test_an_order_waiting_behind_a_cancellation_of_a_sold_out_item_gets_it_or_a_clean_refusal(backend_app, backend_url):
    """The item is sold out; another transaction holds its row (SQLite: the write lock) while one buyer cancels and
    another orders what the cancellation frees. Once it lets go, the cancellation goes through and the order gets
    the item or 409 insufficient_stock: never a 500 or a 400, and the counter stays exact."""
    from accounts.models import User
    from orders.services import place_order

    campaign = make_campaign()
    item = make_item(campaign, [(make_listing(quantity=100), 2)])
    unit = make_unit()
    tokens = make_buyers(unit, 2)
    first = db.session.scalars(sa.select(User).where(User.unit_id == unit.id).order_by(User.id)).first()
    order_id = place_order(first, campaign.id, [{"item_id": item.id, "quantity": 2}]).order.id
    assert totals(item.id) == (2, 2)
    db.session.commit()
    requests = [
        (tokens[0], f"/orders/{order_id}/cancel", None),
        (tokens[1], f"/campaigns/{campaign.id}/orders", {"lines": [{"item_id": item.id, "quantity": 2}]}),
    ]
    results = [None, None]

    def run(index, token, path, body):
        response = backend_app.test_client().post("/api/v1" + path, json=body, headers={"Authorization": f"Bearer {token}"})
        results[index] = (response.status_code, response.get_json())

    with _item_row_held(backend_url, item.id) as queued:
        threads = [threading.Thread(target=run, args=(i, *request)) for i, request in enumerate(requests)]
        for thread in threads:
            thread.start()
        queued(len(threads))
    for thread in threads:
        thread.join(timeout=60)
    assert all(not thread.is_alive() for thread in threads)
    assert results[0][0] == 200 and results[0][1]["status"] == "cancelled", results
    assert results[1][0] in (201, 409), results
    if results[1][0] == 409:
        assert results[1][1]["error"]["code"] == "insufficient_stock"
    placed = 2 if results[1][0] == 201 else 0
    assert totals(item.id) == (placed, placed)


@contextmanager
def _item_row_held(url, item_id):
    """Hold the item's row (PostgreSQL: SELECT … FOR UPDATE; SQLite: the write lock) from a connection of its own;
    yields ``queued(n)``, which returns once n transactions wait for it. Let go on leaving the block."""
    if url.startswith("sqlite"):
        holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield lambda _n: time.sleep(1.0)  # SQLite cannot say who waits: give the requests time to queue
        finally:
            holder.execute("COMMIT")
            holder.close()
        return
    admin = sa.create_engine(psycopg_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as holder, admin.connect() as watcher:
            holder.execute(sa.text("BEGIN"))
            holder.execute(sa.select(CampaignItem.id).where(CampaignItem.id == item_id).with_for_update())

            def queued(n):
                waiting = sa.text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
                )
                for _ in range(400):
                    if watcher.execute(waiting).scalar() >= n:
                        return
                    time.sleep(0.05)
                raise AssertionError(f"fewer than {n} transactions queued behind the item's row")

            try:
                yield queued
            finally:
                holder.execute(sa.text("COMMIT"))
    finally:
        admin.dispose()


def test_a_supply_lowered_while_buyers_order_never_oversells(backend_app):
    """An operator takes 10 of 20 back from a running item while 30 buyers order one each: whichever comes first,
    nothing is sold beyond what the item offers and the listing gives exactly what the item holds."""
    from accounts.models import User
    from accounts.services import issue_token
    from producers.models import Listing

    campaign = make_campaign()
    listing = make_listing(quantity=100)
    item = make_item(campaign, [(listing, 20)])
    unit = make_unit()
    tokens = make_buyers(unit, 30)
    operator = User(name="运营", phone="13600000001", role="operator", password_hash="-")
    db.session.add(operator)
    db.session.commit()
    order = {"lines": [{"item_id": item.id, "quantity": 1}]}
    requests = [(token, f"/campaigns/{campaign.id}/orders", order, None) for token in tokens]
    lowering = (issue_token(operator), f"/items/{item.id}/supplies/{listing.id}", {"quantity": 10, "reason": "破损"}, None, "put")
    requests.insert(15, lowering)
    results = fire(backend_app, requests)

    lowered_status = results[15][0]
    orders = [status for index, (status, _body) in enumerate(results) if index != 15]
    assert lowered_status in (200, 409) and set(orders) <= {201, 409}, results
    db.session.expire_all()
    capacity = db.session.scalar(sa.select(CampaignItem.capacity).where(CampaignItem.id == item.id))
    assert capacity == (10 if lowered_status == 200 else 20)
    assert totals(item.id) == (orders.count(201), orders.count(201)) and orders.count(201) <= capacity
    assert db.session.scalar(sa.select(Listing.quantity_committed).where(Listing.id == listing.id)) == capacity


def test_a_campaign_cancelled_while_buyers_order_keeps_no_live_order(backend_app):
    """An operator cancels while 30 buyers order: each order is either refused or cancelled with the campaign, the
    counters are back to 0 and the listing holds nothing for it."""
    from accounts.models import User
    from accounts.services import issue_token
    from producers.models import Listing

    campaign = make_campaign()
    listing = make_listing(quantity=100)
    item = make_item(campaign, [(listing, 40)])
    tokens = make_buyers(make_unit(), 30)
    operator = User(name="运营", phone="13600000002", role="operator", password_hash="-")
    db.session.add(operator)
    db.session.commit()
    order = {"lines": [{"item_id": item.id, "quantity": 1}]}
    requests = [(token, f"/campaigns/{campaign.id}/orders", order, None) for token in tokens]
    requests.insert(15, (issue_token(operator), f"/campaigns/{campaign.id}/cancel", {"reason": "暴雨"}, None))
    results = fire(backend_app, requests)

    assert results[15][0] == 200, results[15]
    assert {status for index, (status, _body) in enumerate(results) if index != 15} <= {201, 409}, results
    assert totals(item.id) == (0, 0)
    live = db.session.scalar(sa.select(sa.func.count()).select_from(Order).where(Order.stored_status != "cancelled"))
    assert live == 0
    assert db.session.scalar(sa.select(Listing.quantity_committed).where(Listing.id == listing.id)) == 0
