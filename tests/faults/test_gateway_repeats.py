"""An SMS gateway that delivers a text and then answers 500: the retry carries the same message id, so a gateway
that deduplicates by it (as real ones do) delivers every text once, however often it is asked."""

from datetime import timedelta

import pytest
import sqlalchemy as sa

from database import utcnow
from extensions import db
from factories import make_producer, make_user
from gateways import DeduplicatingGateway
from notifications.models import Notification
from notifications.services import dispatch_due, queue_notification

TEXTS = 20


@pytest.fixture
def gateway(app):
    gateway = DeduplicatingGateway()
    app.config.update(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url, SMS_API_KEY="k-123")
    yield gateway
    gateway.close()


def _sms_rows():
    db.session.expire_all()
    return db.session.scalars(sa.select(Notification).where(Notification.channel == "sms").order_by(Notification.id)).all()


def _pass_time():
    db.session.execute(
        sa.update(Notification).where(Notification.status == "pending").values(next_attempt_at=utcnow() - timedelta(seconds=1))
    )
    db.session.commit()


def _queue_texts(count):
    producers = [make_producer(phone=f"1371234{n:04d}") for n in range(count)]
    for producer in producers:
        queue_notification(kind="picklist", subject="campaign:1", title="备货单", body="请备货：雪毛鸡 × 30只", producer=producer)
    db.session.commit()
    return producers


def test_a_gateway_that_delivers_then_answers_500_sends_each_text_once(app, gateway):
    gateway.fail_after_delivering = 1
    producers = _queue_texts(TEXTS)

    dispatch_due()
    rows = _sms_rows()
    assert [(r.status, r.attempts) for r in rows] == [("pending", 1)] * TEXTS
    assert all("500" in r.last_error for r in rows)

    _pass_time()
    dispatch_due()
    rows = _sms_rows()
    assert [(r.status, r.attempts) for r in rows] == [("sent", 2)] * TEXTS
    # Asked twice for every text, each time under the row's own message id, in the header and in the body alike.
    assert gateway.keys() == {r.message_id: 2 for r in rows}
    assert all(key == body["message_id"] for key, body in gateway.requests)
    # Each phone got its text once.
    assert sorted(body["to"] for body in gateway.delivered) == sorted(p.phone for p in producers)

    for _ in range(2):
        _pass_time()
        dispatch_due()
    assert len(gateway.requests) == 2 * TEXTS


def test_every_text_has_a_message_id_of_its_own_that_a_resend_keeps(app, gateway, auth, client):
    gateway.fail_after_delivering = 99  # delivers, then answers 500 to every try
    (producer,) = _queue_texts(1)
    for _ in range(8):
        dispatch_due()
        _pass_time()
    (row,) = _sms_rows()
    assert (row.status, row.attempts) == ("failed", 6)
    first_id = row.message_id
    assert len(first_id) == 32 and gateway.keys() == {first_id: 6}
    assert len(gateway.delivered_to(producer.phone)) == 1

    # An operator resends it: the same message id, so the gateway that had it does not send it again.
    gateway.fail_after_delivering = 0
    auth.login(make_user(role="operator").phone)
    assert client.post(f"/notifications/{row.id}/resend").status_code == 302
    dispatch_due()
    (row,) = _sms_rows()
    assert (row.status, row.message_id) == ("sent", first_id)
    assert gateway.keys() == {first_id: 7}
    assert len(gateway.delivered_to(producer.phone)) == 1
