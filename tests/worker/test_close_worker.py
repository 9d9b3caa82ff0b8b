"""The close job in real Celery processes: beat closes on time, duplicates and a killed worker do no harm,
and closing early still works while Redis is down. Embedded broker and Redis."""

import os
import signal
import subprocess
import sys
import time
import uuid
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from backends import empty_tables
from dashboard.checks import check_totals
from dashboard.models import KeptCampaign
from extensions import db
from factories import make_pooling_campaign, make_pooling_people, make_user, pooling_state
from fulfilment import closing
from fulfilment.notices import RENDERERS
from notifications.fanout import expand_fanouts
from notifications.models import Notification
from notifications.services import dispatch_due
from shop.models import Campaign
from worker_process import ROOT, beat_resumes_with, celery_process, count_lines, process_env, wait_for

pytestmark = pytest.mark.worker

DEAD_REDIS = "redis://127.0.0.1:1/0"
CLOSE_SWEEP_SENT = "Sending due task close-due-campaigns"
CLOSE_SWEEP_RUN = "Task worker.tasks.close_due_campaigns["


@contextmanager
def app_on(database_url, redis_url=None):
    """An app bound to the given broker, its queue emptied of other tests' messages; tables emptied afterwards."""
    from app import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, REDIS_URL=redis_url)
    try:
        with app.app_context():
            if redis_url != DEAD_REDIS:
                app.extensions["celery"].control.purge()
            yield app
            db.session.remove()
    finally:
        empty_tables(app)


def _status(campaign_id):
    db.session.expire_all()
    return db.session.get(Campaign, campaign_id).status


def _all_sent(campaign_id):
    db.session.expire_all()
    statuses = db.session.scalars(sa.select(Notification.status).where(Notification.subject == f"campaign:{campaign_id}")).all()
    return bool(statuses) and all(status == "sent" for status in statuses)


def _kept(campaign_id):
    db.session.expire_all()
    kept = db.session.get(KeptCampaign, campaign_id)
    return kept is not None and kept.kept_at is not None


def _sms_lines(phone):
    log = Path(os.environ["INSTANCE_PATH"]) / "sms.log"
    return [line for line in log.read_text(encoding="utf-8").splitlines() if f"\t{phone}\t" in line] if log.exists() else []


def test_beat_closes_a_campaign_at_its_closing_time_on_the_embedded_broker(migrated):
    with app_on(migrated) as app:
        assert app.extensions["celery"].conf.broker_url == "filesystem://"
        people = make_pooling_people()
        s = make_pooling_campaign(people, closes_in=timedelta(seconds=3))
        # Beat resumes a schedule whose next closing sweep is due just after the campaign's closing time.
        beat_resumes_with(os.environ["INSTANCE_PATH"], due_in=6)
        with celery_process("worker", migrated), celery_process("beat", migrated):
            assert _status(s.campaign.id) == "published"
            assert wait_for(lambda: _status(s.campaign.id) == "allocated", timeout=90, interval=0.5)
            assert wait_for(lambda: _all_sent(s.campaign.id), timeout=60, interval=0.5)
            # The close task's last step keeps the pooled campaign's figures, which check-totals finds equal to the lines.
            assert wait_for(lambda: _kept(s.campaign.id), timeout=30, interval=0.5)
        assert check_totals(s.campaign.id).mismatches == []
        sms = db.session.scalar(
            sa.select(Notification.body).where(
                Notification.recipient == f"producer:{people.coop.id}", Notification.channel == "sms"
            )
        )
        assert sms.startswith("“春季消费扶贫”已截止，请于")
        assert [line.split("\t")[2] for line in _sms_lines(people.coop.phone)] == ["【拼帮】" + sms]


def test_duplicate_close_messages_and_a_second_beat_do_no_harm_on_redis(migrated, redis_url, tmp_path):
    with app_on(migrated, redis_url) as app:
        from worker.tasks import close_campaign_task, close_due_campaigns

        assert app.extensions["celery"].conf.broker_url == redis_url
        people = make_pooling_people()
        s = make_pooling_campaign(people)
        logs = {name: tmp_path / f"{name}.log" for name in ("worker", "beat", "second beat")}
        # Both beats resume schedules whose next sweeps are due in seconds, not after a whole first interval.
        beat_resumes_with(os.environ["INSTANCE_PATH"], due_in=10)
        beat_resumes_with(tmp_path, due_in=10)
        with (
            celery_process("worker", migrated, redis_url, log_path=logs["worker"], loglevel="DEBUG"),
            celery_process("beat", migrated, redis_url, log_path=logs["beat"], loglevel="DEBUG"),
            celery_process("beat", migrated, redis_url, log_path=logs["second beat"], loglevel="DEBUG", INSTANCE_PATH=tmp_path),
        ):
            # What a redelivered message, an impatient operator and a second beat amount to: the same job many times.
            for _ in range(3):
                close_campaign_task.apply_async(args=[s.campaign.id])
            close_due_campaigns.apply_async()
            assert wait_for(lambda: _status(s.campaign.id) == "allocated", timeout=60, interval=0.5)
            assert wait_for(lambda: _all_sent(s.campaign.id), timeout=60, interval=0.5)
            # Both beats' sweeps run at least once more after the close, and the worker runs every sweep sent.
            sent = {beat: count_lines(logs[beat], CLOSE_SWEEP_SENT) for beat in ("beat", "second beat")}
            assert wait_for(lambda: all(count_lines(logs[b], CLOSE_SWEEP_SENT) > n for b, n in sent.items()), timeout=45)
            sweeps = 1 + sum(count_lines(logs[b], CLOSE_SWEEP_SENT) for b in sent)
            assert wait_for(lambda: count_lines(logs["worker"], CLOSE_SWEEP_RUN, "succeeded") >= sweeps, timeout=30)
        notices = db.session.scalars(sa.select(Notification).where(Notification.recipient == f"producer:{people.coop.id}")).all()
        assert sorted((n.kind, n.channel, n.status) for n in notices) == [
            ("picklist", "email", "sent"),
            ("picklist", "inapp", "sent"),
            ("picklist", "sms", "sent"),
        ]
        assert len(_sms_lines(people.coop.phone)) == 1
        assert len(_sms_lines(people.eggs.phone)) == 1


@contextmanager
def worker_pausing_after(step, database_url, redis_url, marker):
    """A real worker whose first close job hangs after ``step`` (see close_pause_hook)."""
    args = [
        str(Path(sys.executable).parent / "celery"),
        "-A",
        "make_celery",
        "worker",
        "--loglevel",
        "INFO",
        "--concurrency",
        "1",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
        "-I",
        "tests.worker.close_pause_hook",
    ]
    env = process_env(database_url, redis_url, PINBANG_TEST_PAUSE_STEP=step, PINBANG_TEST_PAUSE_MARKER=marker)
    with open(Path(os.environ["INSTANCE_PATH"]) / f"pausing-worker-{time.time_ns()}.log", "w") as log:
        process = subprocess.Popen(args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()


@pytest.mark.parametrize("broker", ["embedded", "redis"])
def test_a_worker_killed_in_the_middle_of_the_close_job_ends_like_a_clean_run(migrated, broker, request, tmp_path):
    redis_url = request.getfixturevalue("redis_url") if broker == "redis" else None
    with app_on(migrated, redis_url):
        from worker.tasks import close_campaign_task, close_due_campaigns

        people = make_pooling_people()
        clean = make_pooling_campaign(people)
        killed = make_pooling_campaign(people)
        closing.close_campaign(clean.campaign.id)
        expand_fanouts(RENDERERS)
        before = pooling_state(killed.campaign.id)
        marker = tmp_path / f"paused-{uuid.uuid4().hex}"

        with worker_pausing_after("allocated", migrated, redis_url, marker) as worker:
            close_campaign_task.apply_async(args=[killed.campaign.id])
            assert wait_for(marker.exists, timeout=60, interval=0.2)
            pool_pid = int(wait_for(lambda: marker.read_text(), timeout=5))
            # The whole worker dies mid-job, as when its machine goes down: the main process first, so nothing
            # is left to requeue the message, then the pool process holding the job's open transaction.
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait()
            os.kill(pool_pid, signal.SIGKILL)
            assert wait_for(lambda: not Path(f"/proc/{pool_pid}").exists(), timeout=10)
        half = pooling_state(killed.campaign.id)
        assert half["campaign"] == ("closed", True, False)
        assert {k: v for k, v in half.items() if k != "campaign"} == {k: v for k, v in before.items() if k != "campaign"}
        with celery_process("worker", migrated, redis_url):
            # Beat's next sweep finds the campaign closed but not pooled, and sends the job again.
            close_due_campaigns.apply_async()
            assert wait_for(lambda: _status(killed.campaign.id) == "allocated", timeout=60, interval=0.5)
        dispatch_due()
        assert wait_for(lambda: _all_sent(killed.campaign.id) and _all_sent(clean.campaign.id), timeout=10)
        assert pooling_state(killed.campaign.id) == pooling_state(clean.campaign.id)


def test_closing_early_works_while_redis_is_down_and_pools_once_it_is_back(migrated, redis_url):
    from app import create_app
    from worker.tasks import close_due_campaigns

    down = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=DEAD_REDIS)
    try:
        with down.app_context():
            people = make_pooling_people()
            s = make_pooling_campaign(people, closes_in=timedelta(days=1))
            campaign_id, coop_phone = s.campaign.id, people.coop.phone
            operator = make_user(role="operator")
            client = down.test_client()
            token = client.post("/api/v1/auth/token", json={"login": operator.phone, "password": "password123"}).get_json()[
                "token"
            ]
            response = client.post(f"/api/v1/campaigns/{campaign_id}/close", headers={"Authorization": f"Bearer {token}"})
            # The broker is unreachable, yet the operator's close stands: no more orders from now on.
            assert response.status_code == 202
            assert _status(campaign_id) == "closed"
            db.session.remove()

        # Redis is back: beat's next sweep pools the campaign, and everything queued goes out once.
        back = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=redis_url)
        with back.app_context():
            back.extensions["celery"].control.purge()
            with celery_process("worker", migrated, redis_url):
                close_due_campaigns.apply_async()
                assert wait_for(lambda: _status(campaign_id) == "allocated", timeout=60, interval=0.5)
                assert wait_for(lambda: _all_sent(campaign_id), timeout=60, interval=0.5)
            assert len(_sms_lines(coop_phone)) == 1
            db.session.remove()
    finally:
        empty_tables(down)


def test_the_dispatcher_sweep_finishes_a_buyers_fan_out_no_worker_expanded(migrated):
    with app_on(migrated):
        from worker.tasks import dispatch_notifications

        people = make_pooling_people()
        s = make_pooling_campaign(people)
        # Pooled, but the worker that should have expanded the buyers' notices died right after the close.
        assert closing.close_campaign(s.campaign.id) == "allocated"
        with celery_process("worker", migrated):
            dispatch_notifications.apply_async()
            assert wait_for(lambda: _all_sent(s.campaign.id) and _buyers_told(s.campaign.id) == 3, timeout=60, interval=0.5)
            dispatch_notifications.apply_async()
            time.sleep(2)
        assert _buyers_told(s.campaign.id) == 3


def _buyers_told(campaign_id):
    db.session.expire_all()
    return db.session.scalar(
        sa.select(sa.func.count()).where(
            Notification.subject == f"campaign:{campaign_id}",
            Notification.kind == "order_allocated",
            Notification.channel == "inapp",
        )
    )
