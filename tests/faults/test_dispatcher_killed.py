"""A real worker killed between the gateway taking a text and the outbox recording it as sent: the row's lease runs
out, the next dispatcher sends it again under the same message id, and the deduplicating gateway delivers it once."""

import os

import pytest
import sqlalchemy as sa

import after_commit
from database import utcnow
from extensions import db
from factories import make_producer
from gateways import DeduplicatingGateway
from notifications.models import Notification
from notifications.services import queue_notification
from worker_process import celery_process, kill_process_tree, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]


def _sms():
    db.session.expire_all()
    return db.session.scalar(sa.select(Notification).where(Notification.channel == "sms"))


def test_a_worker_killed_between_send_and_mark_leaves_one_delivery_at_a_deduplicating_gateway(app, migrated):
    gateway = DeduplicatingGateway()
    app.config.update(SMS_BACKEND="http", SMS_GATEWAY_URL=gateway.url)
    redis_url = os.environ.get("REDIS_URL")
    try:
        producer = make_producer()
        queue_notification(kind="picklist", subject="campaign:1", title="备货单", body="请备货：雪毛鸡 × 30只", producer=producer)
        db.session.commit()

        with celery_process("worker", migrated, redis_url, SMS_GATEWAY_URL=gateway.url) as worker:
            # The gateway has delivered the text; before it answers, the worker dies.
            gateway.before_answer = lambda key: kill_process_tree(worker.pid)
            app.extensions["celery"].send_task(after_commit.DISPATCH_NOTIFICATIONS)
            assert wait_for(lambda: worker.poll() is not None, timeout=60), "the worker was not killed"
        gateway.before_answer = None
        row = _sms()
        assert (row.status, row.attempts) == ("pending", 1)  # delivered, but the outbox never heard
        assert len(gateway.delivered_to(producer.phone)) == 1
        assert row.next_attempt_at > utcnow()  # still under the dead worker's lease: no one sends it meanwhile

        # The lease runs out; the next sweep, in a new worker, picks the row up again.
        db.session.execute(sa.update(Notification).where(Notification.id == row.id).values(next_attempt_at=utcnow()))
        db.session.commit()
        with celery_process("worker", migrated, redis_url, SMS_GATEWAY_URL=gateway.url):
            app.extensions["celery"].send_task(after_commit.DISPATCH_NOTIFICATIONS)
            assert wait_for(lambda: _sms().status == "sent", timeout=60), _sms().last_error
        row = _sms()
        assert row.attempts == 2
        assert gateway.keys() == {row.message_id: 2}
        assert len(gateway.delivered_to(producer.phone)) == 1
    finally:
        gateway.close()
