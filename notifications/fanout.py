"""Messages to many recipients of a campaign: queued as one row in the close transaction, expanded afterwards.

Two forms. One text for every buyer of a live order ("your order is on its way"): the expansion writes ordinary
outbox rows (in-app, marked sent as it is written; email, pending for the dispatcher) in batches of orders. And a
message rendered for each recipient (RENDERED: the producers' pick-list and nothing-this-time notices, the
below-minimum notices), written in batches of recipients from the state the close stored, through every channel
the recipient has, like any queued notification. Each batch and
the fan-out's cursor commit together, so a worker that dies mid-way loses nothing and the next run resumes after
the last committed batch; the outbox's unique key (recipient, channel, kind, subject) and ON CONFLICT DO NOTHING
make a repeated batch, or a buyer met again in a later batch (a coordinator who ordered for several colleagues),
write nothing twice.
"""

from datetime import UTC

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from accounts.models import User
from database import UTCDateTime, begin_write, utcnow
from extensions import db
from notifications.models import Notification, NotificationFanout

BATCH_ORDERS = 20_000
BATCH_RECIPIENTS = 5_000
# Kinds whose message is rendered per recipient at expansion (see _render).
RENDERED = ("picklist", "no_allocation", "below_minimum")
# Expanded first, in this order, whenever they are pending: producers have goods to prepare, then the buyers of
# cancelled lines; a campaign's "on its way" to every buyer (10 batches at 200,000 buyers) comes last.
FIRST = ("picklist", "no_allocation", "below_minimum")

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
    """Queue a message of ``kind`` (one of RENDERED) for each of its recipients, in the caller's transaction.

    Each recipient's text is rendered at expansion from what the caller's transaction stored. Does not commit.
    """
    if kind not in RENDERED:
        raise ValueError(f"no renderer for {kind!r}")
    _queue(campaign_id=campaign_id, kind=kind, subject=subject, title="", body="", now=now)


def expand_fanouts(batch=BATCH_ORDERS, max_batches=None, batch_recipients=BATCH_RECIPIENTS, kinds=None) -> int:
    """Expand pending fan-outs into outbox rows, one committed batch at a time; safe to run anywhere.

    :param batch: orders per batch of a message to every buyer.
    :param batch_recipients: recipients per batch of a message rendered for each.
    :param max_batches: stop after this many batches (the rest is left for the next run).
    :param kinds: only fan-outs of these kinds (the benchmark times them apart); all by default.
    :returns: how many in-app rows were written.
    """
    written, batches = 0, 0
    while max_batches is None or batches < max_batches:
        step = _expand_one_batch(batch, batch_recipients, kinds)
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
    went in. On PostgreSQL one INSERT … SELECT FROM unnest(one array a column): a VALUES list of 13,000 rows costs
    psycopg more to build than the database to run."""
    if not rows:
        return 0
    connection = db.session.connection()
    if connection.dialect.name != "postgresql":
        statement = sqlite.insert(notification_t).on_conflict_do_nothing().returning(notification_t.c.channel)
        return sum(channel == "inapp" for channel in db.session.scalars(statement, rows))
    columns = list(rows[0])
    arrays = []
    for column in columns:
        values = [row[column] for row in rows]
        if isinstance(notification_t.c[column].type, UTCDateTime):
            values = [v.astimezone(UTC).replace(tzinfo=None) if v is not None else None for v in values]
        arrays.append(values)
    types = [notification_t.c[c].type.compile(dialect=connection.dialect) for c in columns]
    result = connection.exec_driver_sql(
        f"INSERT INTO notification ({', '.join(columns)}) SELECT * FROM unnest({', '.join(f'%s::{t}[]' for t in types)})"
        " ON CONFLICT DO NOTHING RETURNING channel",
        tuple(arrays),
    )
    return sum(channel == "inapp" for channel in result.scalars())


def _render(fanout, batch):
    """The next ``batch`` recipients' messages after the cursor: (message dicts for outbox_rows, last recipient's
    id), or ([], None) when none is left."""
    from fulfilment.closing import below_minimum_notices, no_allocation_notices, picklist_notices

    renderers = {
        "picklist": picklist_notices,
        "no_allocation": no_allocation_notices,
        "below_minimum": below_minimum_notices,
    }
    return renderers[fanout.kind](fanout.campaign_id, after=fanout.cursor, limit=batch)


def _expand_rendered_batch(fanout, batch):
    from notifications import messages
    from notifications.services import outbox_rows

    with messages.rendering_many():
        notices, upto = _render(fanout, batch)
    now = utcnow()
    if upto is None:
        db.session.execute(fanout_t.update().where(fanout_t.c.id == fanout.id).values(status="done", done_at=now))
        db.session.commit()
        return 0
    told = _insert_rows_ignoring_duplicates(outbox_rows(kind=fanout.kind, subject=fanout.subject, messages=notices, now=now))
    db.session.execute(
        fanout_t.update().where(fanout_t.c.id == fanout.id).values(cursor=upto, recipients=fanout_t.c.recipients + told)
    )
    db.session.commit()
    return told


def _expand_one_batch(batch, batch_recipients, kinds=None):
    """One batch of one pending fan-out; None when nothing is pending (or another worker holds what is)."""
    from orders.models import Order

    order_t = Order.__table__
    pending = fanout_t.c.status == "pending"
    if kinds is not None:
        pending = sa.and_(pending, fanout_t.c.kind.in_(kinds))
    # The sweep runs every 15 s: look before taking SQLite's write lock, which would hold up orders meanwhile.
    if db.session.scalar(sa.select(fanout_t.c.id).where(pending).limit(1)) is None:
        db.session.rollback()
        return None
    begin_write(db.session)
    fanout = db.session.execute(
        sa.select(fanout_t)
        .where(pending)
        .order_by(sa.case({kind: n for n, kind in enumerate(FIRST)}, value=fanout_t.c.kind, else_=len(FIRST)), fanout_t.c.id)
        .limit(1)
        .with_for_update(skip_locked=True)
    ).first()
    if fanout is None:
        db.session.rollback()
        return None
    if fanout.kind in RENDERED:
        return _expand_rendered_batch(fanout, batch_recipients)
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
