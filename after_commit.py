"""The one door side effects leave by: tasks are sent by name once the transaction that makes them necessary commits.

Services never import the worker. They call :func:`send_task` (or :func:`dispatch_notifications`) inside or after
their transaction; the message goes to the broker when the session's outermost transaction commits (at once when no
transaction is open), and is dropped if it rolls back. A broker that is down never fails the caller: the work is still in the database (the outbox, a
closed campaign) and beat's periodic sweep picks it up.
"""

import time

import sqlalchemy as sa
from flask import current_app

from extensions import db

DISPATCH_NOTIFICATIONS = "worker.tasks.dispatch_notifications"
CLOSE_CAMPAIGN = "worker.tasks.close_campaign"
RUN_EXPORT = "worker.tasks.run_export"

# Beat sends notifications within seconds anyway: a nudge only shortens the wait, so one per process per interval is
# enough, not one broker message per order under load.
DISPATCH_INTERVAL_SECONDS = 2.0
# Reaching a dead broker takes seconds; after a failure this process stops trying for a while, so requests stay fast.
BROKER_BACKOFF_SECONDS = 15.0

_PENDING = "pinbang.after_commit"
_last_sent: dict[str, float] = {}
_broker_down_until = 0.0


def send_task(name, *args, at_most_every: float = 0.0) -> bool:
    """Send the task ``name`` with ``args`` once the current transaction commits (now, when none is open).

    :param at_most_every: seconds; the same task asked for again within them is sent once.
    :returns: whether the broker took the message now (False: it waits for the commit, or the broker is down).
    """
    session = db.session()
    if session.in_transaction():
        pending = session.info.setdefault(_PENDING, [])
        if (name, args) not in [(n, a) for n, a, _every in pending]:
            pending.append((name, args, at_most_every))
        return False
    return _send(name, args, at_most_every)


def dispatch_notifications() -> None:
    """Ask the worker to send what the outbox holds, once the current transaction commits."""
    send_task(DISPATCH_NOTIFICATIONS, at_most_every=DISPATCH_INTERVAL_SECONDS)


def close_campaign(campaign_id) -> None:
    """Ask the worker to pool a closed campaign, once the transaction that closed it commits."""
    send_task(CLOSE_CAMPAIGN, campaign_id)


def run_export(job_id) -> None:
    """Ask the worker to build a queued export, once the transaction that queued it commits."""
    send_task(RUN_EXPORT, job_id)


def broker_reachable_again() -> None:
    """Forget a broker failure (a new broker setting, or a test that brought the broker back)."""
    global _broker_down_until
    _broker_down_until = 0.0
    _last_sent.clear()


def _send(name, args, at_most_every) -> bool:
    global _broker_down_until
    now = time.monotonic()
    if now < _broker_down_until:
        return False
    if at_most_every and now - _last_sent.get(name, -at_most_every) < at_most_every:
        return False
    try:
        current_app.extensions["celery"].send_task(name, args=list(args), retry=False)
    except Exception:  # noqa: BLE001 - any broker failure must not fail the request that made the work
        _broker_down_until = time.monotonic() + BROKER_BACKOFF_SECONDS
        current_app.logger.warning("Broker unavailable; %s will run on the next periodic sweep", name, exc_info=True)
        return False
    _last_sent[name] = now
    return True


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _send_when_committed(session):
    for name, args, at_most_every in session.info.pop(_PENDING, ()):
        _send(name, args, at_most_every)


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _drop_when_rolled_back(session):
    """A rolled-back transaction takes its side effects with it (a savepoint's rollback leaves the outer ones)."""
    if session.get_nested_transaction() is None:
        session.info.pop(_PENDING, None)


@sa.event.listens_for(sa.orm.Session, "after_transaction_end")
def _send_when_closed(session, transaction):
    """A transaction closed without commit or rollback (the session removed at the end of a request or task, after a
    read began a new one) still sends: every task is idempotent and checks the database, so sending is never wrong,
    and dropping would leave the work to the next sweep."""
    if transaction.parent is None:
        for name, args, at_most_every in session.info.pop(_PENDING, ()):
            _send(name, args, at_most_every)
