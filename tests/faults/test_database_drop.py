"""The database connection dies in the middle of placing an order (PostgreSQL terminates the app's backend while
the order's transaction is open): the buyer gets a clean JSON 503, nothing of the order is saved, capacity is
untouched, and a retry with the same Idempotency-Key places it once the pool has a fresh connection. Cut at the
COMMIT, the answer says the order may have been saved (the app cannot tell; test_database_outage.py has a COMMIT
that did save).

The order is cut at each of its statements (an order with a per-buyer-limited item), and while it waits for its
item's row, held by another transaction."""

import threading
import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from backends import psycopg_url
from extensions import db
from factories import make_campaign, make_item, make_listing, make_user
from notifications.models import Notification
from orders.models import Order, OrderLine
from shop.models import CampaignItem

pytestmark = pytest.mark.slow


@contextmanager
def backend_terminated(engine, admin_url, when):
    """Terminate the app connection's PostgreSQL backend just before the first statement containing ``when``
    (or, for ``when="COMMIT"``, just before the commit), as a database restart or a network cut would."""
    admin = sa.create_engine(psycopg_url(admin_url), isolation_level="AUTOCOMMIT")
    killed = []

    def kill(connection):
        if killed:
            return
        pid = connection.connection.dbapi_connection.info.backend_pid
        with admin.connect() as c:
            # With a timeout, pg_terminate_backend waits until the backend has really gone.
            assert c.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": pid}).scalar()
        killed.append(pid)

    def before_statement(connection, _cursor, statement, _params, _context, _many):
        if when != "COMMIT" and when in statement:
            kill(connection)

    def before_commit(connection):
        if when == "COMMIT":
            kill(connection)

    sa.event.listen(engine, "before_cursor_execute", before_statement)
    sa.event.listen(engine, "commit", before_commit)
    try:
        yield killed
    finally:
        sa.event.remove(engine, "before_cursor_execute", before_statement)
        sa.event.remove(engine, "commit", before_commit)
        admin.dispose()


def _count(model):
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def _an_order_to_place(client, limited):
    buyer = make_user()
    campaign = make_campaign()
    eggs = make_item(campaign, [(make_listing(quantity=100), 100)])
    honey = make_item(campaign, [(make_listing(name="蜂蜜", unit="瓶", quantity=20), 20)], per_buyer_limit=5 if limited else None)
    token = client.post("/api/v1/auth/token", json={"login": buyer.phone, "password": "password123"}).get_json()["token"]
    body = {"lines": [{"item_id": eggs.id, "quantity": 30}, {"item_id": honey.id, "quantity": 2}]}
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "drop-1"}
    path = f"/api/v1/campaigns/{campaign.id}/orders"
    db.session.remove()
    return path, body, headers, eggs.id


@pytest.mark.parametrize("when", ["UPDATE campaign_item", "INSERT INTO order_line", "COMMIT"])
def test_a_connection_killed_mid_order_gives_a_clean_error_and_saves_nothing(pg_app, pg_migrated, when):
    client = pg_app.test_client()
    path, body, headers, _eggs_id = _an_order_to_place(client, limited=True)

    with backend_terminated(db.engine, pg_migrated, when) as killed:
        response = client.post(path, json=body, headers=headers)
    assert killed, f"the order never reached {when}"
    # Cut before its COMMIT was sent, the order is not saved; cut at the COMMIT, the app cannot know, and says so.
    error = OUTCOME_UNKNOWN if when == "COMMIT" else NOTHING_SAVED
    _nothing_saved_then_the_retry_places_it_once(client, path, body, headers, response, error)


def test_a_connection_killed_while_an_order_waits_for_its_item(pg_app, pg_migrated):
    client = pg_app.test_client()
    path, body, headers, eggs_id = _an_order_to_place(client, limited=False)
    admin = sa.create_engine(psycopg_url(pg_migrated), isolation_level="AUTOCOMMIT")
    answers = []
    try:
        with admin.connect() as holder, admin.connect() as watcher:
            holder.execute(sa.text("BEGIN"))
            holder.execute(sa.text("SELECT id FROM campaign_item WHERE id = :id FOR UPDATE"), {"id": eggs_id})
            request = threading.Thread(target=lambda: answers.append(_post_in_own_context(pg_app, path, body, headers)))
            request.start()
            waiting = None
            for _ in range(200):
                waiting = watcher.execute(
                    sa.text(
                        "SELECT pid, query FROM pg_stat_activity WHERE datname = current_database()"
                        " AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()"
                    )
                ).first()
                if waiting:
                    break
                time.sleep(0.05)
            assert waiting, "the order never waited for its item's row"
            assert "campaign_item" in waiting.query or "order_line" in waiting.query, waiting.query
            assert watcher.execute(sa.text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": waiting.pid}).scalar()
            holder.execute(sa.text("ROLLBACK"))
            request.join(30)
    finally:
        admin.dispose()
    _nothing_saved_then_the_retry_places_it_once(client, path, body, headers, answers[0])


def _post_in_own_context(app, path, body, headers):
    with app.app_context():
        try:
            return app.test_client().post(path, json=body, headers=headers)
        finally:
            db.session.remove()


NOTHING_SAVED = {"code": "service_unavailable", "message": "服务暂时不可用，未保存任何内容。请稍后重试。", "details": {}}
OUTCOME_UNKNOWN = {
    "code": "outcome_unknown",
    "message": "保存时与数据库的连接中断，可能已经保存。请用同一个 Idempotency-Key 重试：用它重试绝不会重复保存。",
    "details": {},
}


def _nothing_saved_then_the_retry_places_it_once(client, path, body, headers, response, error=NOTHING_SAVED):
    assert response.status_code == 503
    assert response.headers["Retry-After"]
    assert response.get_json() == {"error": error}
    db.session.remove()
    assert _count(Order) == 0 and _count(OrderLine) == 0 and _count(Notification) == 0
    assert [i.ordered for i in db.session.scalars(sa.select(CampaignItem).order_by(CampaignItem.id))] == [0, 0]

    # The buyer retries the same request: the pool replaces the dead connection and the order is placed, once.
    retry = client.post(path, json=body, headers=headers)
    assert retry.status_code == 201, retry.get_json()
    again = client.post(path, json=body, headers=headers)
    assert again.status_code == 200 and again.get_json()["id"] == retry.get_json()["id"]
    db.session.remove()
    assert _count(Order) == 1 and _count(OrderLine) == 2
    assert [i.ordered for i in db.session.scalars(sa.select(CampaignItem).order_by(CampaignItem.id))] == [30, 2]


def test_a_connection_killed_while_a_page_loads_shows_the_error_page(pg_app, pg_migrated):
    buyer = make_user()
    client = pg_app.test_client()
    assert client.post("/accounts/login", data={"login": buyer.phone, "password": "password123"}).status_code == 302
    db.session.remove()
    with backend_terminated(db.engine, pg_migrated, "FROM buyer_order") as killed:
        response = client.get("/orders/")
    assert killed
    assert response.status_code == 503
    page = response.get_data(as_text=True)
    assert "服务暂时不可用" in page and "Traceback" not in page
    assert client.get("/orders/").status_code == 200
