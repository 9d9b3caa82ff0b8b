"""A task sent through the broker is executed by a real worker process: embedded broker and Redis."""

import threading

import pytest
import sqlalchemy as sa

from backends import empty_tables
from extensions import db
from factories import make_user
from notifications.models import Notification
from notifications.services import queue_notification
from worker_process import celery_process, wait_for

pytestmark = pytest.mark.worker


def _queue_and_dispatch(user):
    from worker.tasks import dispatch_notifications

    queue_notification(kind="welcome", subject=f"user:{user.id}", title="欢迎", body="欢迎使用拼帮", user=user)
    db.session.commit()
    dispatch_notifications.apply_async(retry=False)


def _all_sent():
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(Notification.status)).all()
    return statuses and all(status == "sent" for status in statuses)


def test_embedded_broker_runs_a_real_worker(migrated):
    from app import create_app

    embedded_app = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=None)
    with embedded_app.app_context():
        assert embedded_app.extensions["celery"].conf.broker_url == "filesystem://"
        user = make_user(email="zhang@example.cn")
        with celery_process("worker", migrated):
            _queue_and_dispatch(user)
            assert wait_for(_all_sent, timeout=40)
        channels = set(db.session.scalars(sa.select(Notification.channel)))
        assert channels == {"inapp", "sms", "email"}
        db.session.remove()
    empty_tables(embedded_app)


def test_a_task_sent_from_a_request_thread_reaches_the_worker(migrated):
    """`make run`'s development server answers each request in a thread of its own; what it sends must arrive."""
    from app import create_app

    embedded_app = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=None)
    with embedded_app.app_context():
        user = make_user()
        with celery_process("worker", migrated):

            def request_thread():
                with embedded_app.app_context():
                    _queue_and_dispatch(user)
                    db.session.remove()

            thread = threading.Thread(target=request_thread)
            thread.start()
            thread.join()
            assert wait_for(_all_sent, timeout=40)
        db.session.remove()
    empty_tables(embedded_app)


def test_redis_broker_runs_a_real_worker(migrated, redis_url):
    from app import create_app

    redis_app = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=redis_url)
    with redis_app.app_context():
        assert redis_app.extensions["celery"].conf.broker_url == redis_url
        user = make_user()
        with celery_process("worker", migrated, redis_url):
            _queue_and_dispatch(user)
            assert wait_for(_all_sent, timeout=40)
        db.session.remove()
    empty_tables(redis_app)


def test_the_worker_log_shows_work_done_not_routine(migrated, tmp_path):
    """`make run`'s terminal: a dispatch that sent messages says so in one line; empty sweeps and the "received" and
    "succeeded" lines of every task stay out at INFO."""
    from app import create_app
    from worker.tasks import dispatch_notifications

    embedded_app = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=None)
    log_path = tmp_path / "worker.log"
    with embedded_app.app_context():
        user = make_user(email="li@example.cn")
        with celery_process("worker", migrated, log_path=log_path):
            dispatch_notifications.apply_async(retry=False)
            _queue_and_dispatch(user)
            assert wait_for(_all_sent, timeout=40)
            assert wait_for(lambda: "dispatch_notifications: 3" in log_path.read_text(), timeout=10)
        db.session.remove()
    log = log_path.read_text()
    assert "received" not in log and "succeeded in" not in log
    assert log.count("dispatch_notifications:") == 1
    empty_tables(embedded_app)
