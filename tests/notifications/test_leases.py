"""Dispatchers hold each row under a lease, on SQLite and on PostgreSQL in the same run: two at once never send
the same row twice, a dispatcher whose lease ran out cannot undo what the one after it recorded, and a last attempt
whose dispatcher died ends failed, not in a seventh."""

import os
import threading
from datetime import timedelta

import pytest
import sqlalchemy as sa

from backends import app_on
from database import utcnow
from extensions import db
from factories import PASSWORD, make_producer, make_user
from gateways import DeduplicatingGateway
from notifications.models import Notification
from notifications.services import MAX_ATTEMPTS, dispatch_due, queue_notification
from racing import run_at_once

TEXTS = 40


@pytest.fixture
def gateway():
    gateway = DeduplicatingGateway()
    yield gateway
    gateway.close()


@pytest.fixture
def backend_app(backend_url, gateway):
    config = {"REDIS_URL": os.environ.get("REDIS_URL"), "SMS_BACKEND": "http", "SMS_GATEWAY_URL": gateway.url}
    with app_on(backend_url, **config) as app:
        yield app


def _queue_texts(count):
    producers = [make_producer(phone=f"1375555{n:04d}") for n in range(count)]
    for producer in producers:
        queue_notification(kind="picklist", subject="campaign:1", title="备货单", body="请备货：雪毛鸡 × 30只", producer=producer)
    db.session.commit()
    return producers


def _sms_rows():
    db.session.expire_all()
    return db.session.scalars(sa.select(Notification).where(Notification.channel == "sms").order_by(Notification.id)).all()


def _pass_time():
    db.session.execute(
        sa.update(Notification).where(Notification.status == "pending").values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def test_two_dispatchers_at_once_never_send_the_same_row_twice(backend_app, gateway):
    gateway.before_answer = lambda key: threading.Event().wait(0.02)  # a gateway that takes its time answering
    producers = _queue_texts(TEXTS)

    results, errors = run_at_once(backend_app, dispatch_due, times=2)
    assert errors == []
    assert min(results) > 0, results  # both worked through the same due rows at the same time
    assert sum(results) == 2 * TEXTS  # each producer's SMS and in-app message, each sent by one of them
    rows = _sms_rows()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * TEXTS
    # One request per text: the gateway never even saw a repeat.
    assert gateway.keys() == {r.message_id: 1 for r in rows}
    assert sorted(body["to"] for body in gateway.delivered) == sorted(p.phone for p in producers)


def test_a_dispatcher_whose_lease_ran_out_cannot_undo_the_send_of_the_one_after_it(backend_app, gateway):
    """The first dispatcher's gateway delivers, then hangs past the lease and answers 500; meanwhile the lease ends
    and a second dispatcher sends the row (the gateway drops the repeat) and records it sent. The first one's late
    failure must not put the row back to be sent a third time."""
    (producer,) = _queue_texts(1)
    gateway.fail_after_delivering = 1
    holding, release = threading.Event(), threading.Event()

    def hold_the_first(key):
        if not holding.is_set():
            holding.set()
            release.wait(30)

    gateway.before_answer = hold_the_first

    def first_dispatcher():
        with backend_app.app_context():
            dispatch_due()
            db.session.remove()

    first = threading.Thread(target=first_dispatcher)
    first.start()
    try:
        assert holding.wait(30)
        _pass_time()  # the first dispatcher's lease has ended
        assert dispatch_due() == 1
    finally:
        release.set()
        first.join(30)
    (row,) = _sms_rows()
    assert (row.status, row.attempts, row.last_error) == ("sent", 2, None)

    _pass_time()
    dispatch_due()
    assert gateway.keys() == {row.message_id: 2}
    assert len(gateway.delivered_to(producer.phone)) == 1


def test_a_row_whose_last_attempt_lost_its_dispatcher_is_failed_and_listed_not_tried_a_seventh_time(backend_app, gateway):
    producers = _queue_texts(2)
    rows = _sms_rows()
    # As a dispatcher that died holding the last attempt leaves it once its lease has run out; and as the bug of
    # issue 16 left a row (ten attempts, still pending).
    for row, attempts in zip(rows, (MAX_ATTEMPTS, 10), strict=True):
        row.attempts, row.next_attempt_at = attempts, utcnow() - timedelta(seconds=1)
    db.session.commit()

    dispatch_due()
    assert [(r.status, r.attempts) for r in _sms_rows()] == [("failed", MAX_ATTEMPTS), ("failed", 10)]
    assert gateway.requests == []

    client = backend_app.test_client()
    operator = make_user(role="operator")
    client.post("/accounts/login", data={"login": operator.phone, "password": PASSWORD})
    page = client.get("/notifications/failed").get_data(as_text=True)
    assert all(p.phone in page for p in producers) and "最后一次发送中途中断" in page
