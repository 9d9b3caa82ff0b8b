"""Messages to many recipients of a campaign: queued as one row in the close transaction, expanded afterwards.

Two forms. One text for every buyer of a live order ("your order is on its way"): the expansion writes ordinary
outbox rows (in-app, marked sent as it is written; email, pending for the dispatcher) in batches of orders. And a
message rendered for each recipient (a fan-out queued without a text of its own), written in batches of recipients
by the renderer its caller hands over for its kind (the worker hands the close's: fulfilment.notices.RENDERERS),
from the state the transaction that queued it stored, through every channel the recipient has, like any queued
notification. This module knows no area: a rendered fan-out whose renderer nobody hands over waits. Each batch and
the fan-out's cursor commit together, so a worker that dies mid-way loses nothing and the next run resumes after
the last committed batch; the outbox's unique key (recipient, channel, kind, subject) and ON CONFLICT DO NOTHING
make a repeated batch, or a buyer met again in a later batch (a coordinator who ordered for several colleagues),
write nothing twice.
"""

from collections.abc import Callable, Mapping

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from accounts.models import User
from database import UTCDateTime, transaction, utcnow
from extensions import db
from notifications import rendering
from notifications.models import Notification, NotificationFanout
from notifications.services import outbox_rows
from orders.models import Order

BATCH_ORDERS = 20_000
BATCH_RECIPIENTS = 5_000

# (campaign_id, after=recipient id, limit=recipients) → (message dicts for outbox_rows, the last recipient's id),
# or ([], None) when no recipient is left.
Renderer = Callable[..., tuple[list[dict], int | None]]

fanout_t = NotificationFanout.__table__
notification_t = Notification.__table__
user_t = User.__table__
order_t = Order.__table__

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
    _queue(campaign_id=campaign_id, kind=kind, subject=subject, title=title, body=body, now=now)


def _queue(*, campaign_id, kind, subject, title, body, now):
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


def queue_rendered_fanout(*, campaign_id, kind, subject, now=None):
    """Queue a message of ``kind`` for each of its recipients, in the caller's transaction.

    Each recipient's text is rendered at expansion, by the renderer handed over for ``kind``, from what the
    caller's transaction stored. Does not commit.
    """
    _queue(campaign_id=campaign_id, kind=kind, subject=subject, title="", body="", now=now)


def expand_fanouts(
    renderers: Mapping[str, Renderer], batch=BATCH_ORDERS, max_batches=None, batch_recipients=BATCH_RECIPIENTS, kinds=None
) -> int:
    """Expand pending fan-outs into outbox rows, one committed batch at a time; safe to run anywhere.

    :param renderers: kind → the function that renders that kind's messages per recipient (see Renderer); rendered
        fan-outs are expanded first, in the order of this mapping, then those with one text for every buyer.
    :param batch: orders per batch of a message to every buyer.
    :param batch_recipients: recipients per batch of a message rendered for each.
    :param max_batches: stop after this many batches (the rest is left for the next run).
    :param kinds: only fan-outs of these kinds (the benchmark times them apart); all by default.
    :returns: how many in-app rows were written.
    """
    written, batches = 0, 0
    while max_batches is None or batches < max_batches:
        step = _expand_one_batch(renderers, batch, batch_recipients, kinds)
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


def _insert_rows_ignoring_duplicates(rows) -> int:
    """Insert outbox rows (dicts of the same columns) skipping those already queued; returns how many in-app rows
    went in. On PostgreSQL one INSERT … SELECT FROM unnest(one array a column): a VALUES list of thousands of rows
    costs psycopg more to build than the database to run."""
    if not rows:
        return 0
    if db.session.connection().dialect.name != "postgresql":
        statement = sqlite.insert(notification_t).on_conflict_do_nothing().returning(notification_t.c.channel)
        return sum(channel == "inapp" for channel in db.session.scalars(statement, rows))
    columns = list(rows[0])
    arrays = [
        sa.bindparam(None, [row[column] for row in rows], type_=postgresql.ARRAY(notification_t.c[column].type))
        for column in columns
    ]
    given = sa.func.unnest(*arrays).table_valued(*columns).render_derived(name="given")
    statement = (
        postgresql.insert(notification_t)
        .from_select(columns, sa.select(*(given.c[column] for column in columns)))
        .on_conflict_do_nothing()
        .returning(notification_t.c.channel)
    )
    return sum(channel == "inapp" for channel in db.session.scalars(statement))


def _expand_one_batch(renderers, batch, batch_recipients, kinds=None):
    """One batch of one pending fan-out; None when nothing is pending (or another worker holds what is)."""
    # A fan-out without a text of its own waits for a caller that hands over its renderer.
    pending = sa.and_(fanout_t.c.status == "pending", sa.or_(fanout_t.c.title != "", fanout_t.c.kind.in_(list(renderers))))
    if kinds is not None:
        pending = sa.and_(pending, fanout_t.c.kind.in_(kinds))
    # The sweep runs every 15 s: look before taking SQLite's write lock, which would hold up orders meanwhile.
    if db.session.scalar(sa.select(fanout_t.c.id).where(pending).limit(1)) is None:
        db.session.rollback()
        return None
    # Rendered fan-outs first, in the renderers' order; each batch commits with the cursor past it.
    order = [fanout_t.c.id]
    if renderers:
        order.insert(0, sa.case({kind: n for n, kind in enumerate(renderers)}, value=fanout_t.c.kind, else_=len(renderers)))
    with transaction(write=True):
        fanout = db.session.execute(
            sa.select(fanout_t).where(pending).order_by(*order).limit(1).with_for_update(skip_locked=True)
        ).first()
        if fanout is None:
            return None
        if fanout.kind in renderers:
            return _expand_rendered_batch(fanout, renderers[fanout.kind], batch_recipients)
        return _expand_buyers_batch(fanout, batch)


def _expand_rendered_batch(fanout, render, batch):
    """The next ``batch`` recipients after the cursor, each with the message ``render`` writes for them."""
    with rendering.rendering_many():
        notices, upto = render(fanout.campaign_id, after=fanout.cursor, limit=batch)
    now = utcnow()
    if upto is None:
        return _done(fanout, now)
    told = _insert_rows_ignoring_duplicates(outbox_rows(kind=fanout.kind, subject=fanout.subject, messages=notices, now=now))
    return _advance(fanout, upto, told)


def _expand_buyers_batch(fanout, batch):
    """The fan-out's one text to the buyers of the next ``batch`` orders after the cursor: in-app, and email to
    those who have an address."""
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
        return _done(fanout, now)
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
    return _advance(fanout, upto, told)


def _advance(fanout, upto, told) -> int:
    db.session.execute(
        fanout_t.update().where(fanout_t.c.id == fanout.id).values(cursor=upto, recipients=fanout_t.c.recipients + told)
    )
    return told


def _done(fanout, now) -> int:
    db.session.execute(fanout_t.update().where(fanout_t.c.id == fanout.id).values(status="done", done_at=now))
    return 0
