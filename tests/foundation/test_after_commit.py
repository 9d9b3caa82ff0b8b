"""The after-commit door: a task reaches the broker once its transaction commits, never before, never after a
rollback, and a broker that is down never fails the caller."""

import pytest

import after_commit
from backends import empty_tables
from extensions import db
from factories import make_unit
from ports import free_port


def queued(app) -> int:
    """Messages waiting in this test process's queue on the real broker (Redis, or the embedded filesystem one)."""
    celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:
        return connection.default_channel.queue_declare(celery.conf.task_default_queue, passive=False).message_count


def start_writing():
    """A transaction with a write in it, not yet committed."""
    unit = make_unit()
    unit.name = unit.name + "（新）"
    db.session.flush()
    assert db.session().in_transaction()


@pytest.fixture
def empty_queue(app):
    celery = app.extensions["celery"]
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(celery.conf.task_default_queue)
    after_commit.broker_reachable_again()
    yield
    with celery.connection_for_write() as connection:
        connection.default_channel.queue_purge(celery.conf.task_default_queue)


def test_a_task_is_sent_when_its_transaction_commits(app, empty_queue):
    start_writing()
    before = queued(app)
    after_commit.close_campaign(41)
    assert queued(app) == before
    db.session.commit()
    assert queued(app) == before + 1


def test_a_rolled_back_transaction_sends_nothing(app, empty_queue):
    start_writing()
    before = queued(app)
    after_commit.close_campaign(42)
    db.session.rollback()
    db.session.commit()
    assert queued(app) == before


def test_outside_a_transaction_the_task_goes_at_once_and_the_same_ask_twice_in_one_transaction_is_sent_once(app, empty_queue):
    db.session.remove()
    before = queued(app)
    assert after_commit.send_task(after_commit.CLOSE_CAMPAIGN, 43) is True
    assert queued(app) == before + 1
    start_writing()
    after_commit.close_campaign(44)
    after_commit.close_campaign(44)
    db.session.commit()
    assert queued(app) == before + 2


def test_a_broker_that_is_down_never_fails_the_caller(migrated):
    from app import create_app

    dead_broker = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there: every connection is refused
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=dead_broker)
    with app.app_context():
        after_commit.broker_reachable_again()
        start_writing()
        after_commit.close_campaign(45)
        db.session.commit()  # no exception: the closed campaign stays in the database for beat's sweep
        # Backing off: the next ask answers at once instead of waiting for the dead broker again.
        assert after_commit.send_task(after_commit.CLOSE_CAMPAIGN, 46) is False
        db.session.remove()
        after_commit.broker_reachable_again()
    empty_tables(app)
