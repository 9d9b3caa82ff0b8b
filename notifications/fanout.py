"""One message to every buyer of a campaign: queued as one row in the close transaction, expanded afterwards.

The expansion writes ordinary outbox rows (in-app, marked sent as it is written; email, pending for the dispatcher)
in batches of orders. Each batch and the fan-out's cursor commit together, so a worker that dies mid-way loses
nothing and the next run resumes after the last committed batch; the outbox's unique key (recipient, channel,
kind, subject) and ON CONFLICT DO NOTHING make a repeated batch, or a buyer met again in a later batch (a
coordinator who ordered for several colleagues), write nothing twice.
"""

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from accounts.models import User
from database import UTCDateTime, begin_write, utcnow
from extensions import db
from notifications.models import Notification, NotificationFanout

BATCH_ORDERS = 20_000

fanout_t = NotificationFanout.__table__
notification_t = Notification.__table__
user_t = User.__table__

COLUMNS = [
    "recipient",
    "user_id",
    "channel",
    "address",
    "kind",
    "subject",
    "title",
    "body",
    "status",
    "attempts",
    "next_attempt_at",
    "created_at",
    "sent_at",
]


def queue_buyer_fanout(*, campaign_id, kind, subject, title, body, now=None):
    """Queue ``title``/``body`` for the buyer of every live order of the campaign, in the caller's transaction.

    A colleague without an account is told through the coordinator who ordered for them. In-app and email; no
    SMS (texting every buyer of a large campaign costs real money). Does not commit.
    """
    db.session.execute(
        fanout_t.insert().values(
            campaign_id=campaign_id,
            kind=kind,
            subject=subject,
            title=title,
            body=body,
            status="pending",
            cursor=0,
            recipients=0,
            created_at=now or utcnow(),
        )
    )


def expand_fanouts(batch=BATCH_ORDERS, max_batches=None) -> int:
    """Expand pending fan-outs into outbox rows, one committed batch of orders at a time; safe to run anywhere.

    :param max_batches: stop after this many batches (the rest is left for the next run).
    :returns: how many in-app rows were written.
    """
    written, batches = 0, 0
    while max_batches is None or batches < max_batches:
        step = _expand_one_batch(batch)
        if step is None:
            break
        written += step
        batches += 1
    return written


def _insert_ignoring_duplicates(select):
    dialect = db.session.connection().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(notification_t).from_select(COLUMNS, select).on_conflict_do_nothing()
    return db.session.execute(statement.execution_options(preserve_rowcount=True)).rowcount


def _expand_one_batch(batch):
    """One batch of one pending fan-out; None when nothing is pending (or another worker holds what is)."""
    from orders.models import Order

    order_t = Order.__table__
    # The sweep runs every 15 s: look before taking SQLite's write lock, which would hold up orders meanwhile.
    if db.session.scalar(sa.select(fanout_t.c.id).where(fanout_t.c.status == "pending").limit(1)) is None:
        db.session.rollback()
        return None
    begin_write(db.session)
    fanout = db.session.execute(
        sa.select(fanout_t)
        .where(fanout_t.c.status == "pending")
        .order_by(fanout_t.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if fanout is None:
        db.session.rollback()
        return None
    window = (
        sa.select(order_t.c.id)
        .where(order_t.c.campaign_id == fanout.campaign_id, order_t.c.id > fanout.cursor)
        .order_by(order_t.c.id)
        .limit(batch)
        .subquery()
    )
    upto = db.session.scalar(sa.select(sa.func.max(window.c.id)))
    now = utcnow()
    if upto is None:
        db.session.execute(fanout_t.update().where(fanout_t.c.id == fanout.id).values(status="done", done_at=now))
        db.session.commit()
        return 0
    recipients = (
        sa.select(sa.func.coalesce(order_t.c.user_id, order_t.c.placed_by_id))
        .where(
            order_t.c.campaign_id == fanout.campaign_id,
            order_t.c.id > fanout.cursor,
            order_t.c.id <= upto,
            order_t.c.status != "cancelled",
        )
        .distinct()
    )
    told = 0
    for channel, address in (("inapp", sa.null()), ("email", user_t.c.email)):
        select = sa.select(
            sa.literal("user:") + sa.cast(user_t.c.id, sa.String),
            user_t.c.id,
            sa.literal(channel),
            address,
            sa.literal(fanout.kind),
            sa.literal(fanout.subject),
            sa.literal(fanout.title),
            sa.literal(fanout.body),
            # An in-app message is delivered by being written; only the email waits for the dispatcher.
            sa.literal("sent" if channel == "inapp" else "pending"),
            sa.literal(0),
            sa.literal(now, UTCDateTime()),
            sa.literal(now, UTCDateTime()),
            sa.literal(now, UTCDateTime()) if channel == "inapp" else sa.null(),
        ).where(user_t.c.id.in_(recipients))
        if channel == "email":
            select = select.where(user_t.c.email.is_not(None))
        inserted = _insert_ignoring_duplicates(select)
        if channel == "inapp":
            told = inserted
    db.session.execute(
        fanout_t.update().where(fanout_t.c.id == fanout.id).values(cursor=upto, recipients=fanout_t.c.recipients + told)
    )
    db.session.commit()
    return told
