"""Redis (broker and rate-limit storage) stops while buyers order: orders are still accepted, and every confirmation
goes out exactly once when it is back — through a real Celery worker that kept running through the outage."""

from pathlib import Path

import pytest
import sqlalchemy as sa

import after_commit
from backends import empty_tables
from extensions import db
from factories import make_campaign, make_item, make_listing, make_unit, make_user
from notifications.models import Notification
from orders.models import Order
from worker_process import celery_process, wait_for

pytestmark = [pytest.mark.worker, pytest.mark.slow]

BUYERS = 8


def _sms_phones(log: Path):
    return [line.split("\t")[1] for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def _statuses(kind="order_confirmed"):
    db.session.expire_all()
    return sorted(db.session.scalars(sa.select(Notification.status).where(Notification.kind == kind)))


def _place(client, token, item_id, key):
    return client.post(
        f"/api/v1/campaigns/{item_id[0]}/orders",
        json={"lines": [{"item_id": item_id[1], "quantity": 2}]},
        headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key},
    )


def test_orders_are_accepted_while_redis_is_down_and_confirmations_go_out_once_it_is_back(migrated, private_redis, tmp_path):
    from app import create_app

    sms_log, mail_dir = tmp_path / "sms.log", tmp_path / "mail"
    app = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=migrated,
        REDIS_URL=private_redis.url,
        RATELIMIT_STORAGE_URI=private_redis.url,  # as in production: the login limit's counters live in Redis too
        SMS_LOG_FILE=str(sms_log),
        MAIL_FILE_DIR=str(mail_dir),
    )
    try:
        with app.app_context():
            assert app.extensions["celery"].conf.broker_url == private_redis.url
            unit = make_unit()
            campaign = make_campaign()
            item = make_item(campaign, [(make_listing(quantity=1000), 1000)])
            target = (campaign.id, item.id)
            buyers = [make_user(unit=unit, phone=f"1370000{n:04d}", email=f"buyer{n}@example.cn") for n in range(BUYERS)]
            client = app.test_client()

            def login(user):
                response = client.post("/api/v1/auth/token", json={"login": user.phone, "password": "password123"})
                assert response.status_code == 200, response.get_json()
                # The login limit is still counted (in memory while Redis is away).
                assert response.headers.get("X-RateLimit-Limit")
                return response.get_json()["token"]

            worker_env = {"SMS_LOG_FILE": sms_log, "MAIL_FILE_DIR": mail_dir}
            with celery_process("worker", migrated, private_redis.url, **worker_env):
                # Before the outage: an order's nudge reaches the worker, which sends its confirmation.
                first = _place(client, login(buyers[0]), target, "before")
                assert first.status_code == 201
                app.extensions["celery"].send_task(after_commit.DISPATCH_NOTIFICATIONS)
                assert wait_for(lambda: _statuses() == ["sent"] * 3, timeout=60, interval=0.3), _statuses()

                private_redis.stop()

                # Redis is gone: logins (rate-limited, counters in Redis) and orders still work.
                for n, buyer in enumerate(buyers[1:], start=1):
                    response = _place(client, login(buyer), target, f"during-{n}")
                    assert response.status_code == 201, response.get_json()
                    assert response.get_json()["status"] == "placed"
                # A retry of the same request during the outage is still the same order, not a second one.
                again = _place(client, login(buyers[1]), target, "during-1")
                assert again.status_code == 200
                assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == BUYERS
                # Each confirmation waits in the outbox: in-app, SMS and email for each of the seven.
                assert _statuses().count("pending") == 3 * (BUYERS - 1)

                private_redis.start()  # the same port, empty: whatever was queued in Redis before is gone

                # Beat's next sweep (sent here by the web app, which must reconnect by itself) reaches the worker,
                # which reconnected by itself too.
                assert wait_for(lambda: _send_when_back(after_commit.DISPATCH_NOTIFICATIONS), timeout=30, interval=0.5)
                assert wait_for(lambda: _statuses() == ["sent"] * 3 * BUYERS, timeout=90, interval=0.5), _statuses()

            # None lost, none doubled: one SMS and one email per buyer.
            assert sorted(_sms_phones(sms_log)) == sorted(b.phone for b in buyers)
            assert len(list(mail_dir.glob("*.eml"))) == BUYERS
            db.session.expire_all()
            item_row = db.session.get(type(item), item.id)
            assert item_row.ordered == 2 * BUYERS
            db.session.remove()
    finally:
        empty_tables(app)


def _send_when_back(name):
    db.session.commit()  # outside any transaction, the door sends at once
    return after_commit.send_task(name)
