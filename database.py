"""Column types and clocks shared by every area's models: times are stored in UTC."""

import sqlite3
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app, has_app_context, has_request_context, request
from flask_babel import gettext as _
from sqlalchemy.orm import Mapped, mapped_column

from errors import OutcomeUnknown
from extensions import db

SQLITE_BUSY_TIMEOUT_MS = 30_000


def utcnow() -> datetime:
    return datetime.now(UTC)


DEFAULT_ZONE = "Asia/Shanghai"


def local_zone() -> ZoneInfo:
    """The zone times are shown and typed in (BABEL_DEFAULT_TIMEZONE, Asia/Shanghai by default); stored times are UTC."""
    name = current_app.config.get("BABEL_DEFAULT_TIMEZONE", DEFAULT_ZONE) if has_app_context() else DEFAULT_ZONE
    return ZoneInfo(name)


def local_today(now=None):
    """Today's date where Pinbang's users are."""
    return (now or utcnow()).astimezone(local_zone()).date()


class UTCDateTime(sa.types.TypeDecorator):
    """Stores naive UTC and returns aware UTC, the same on SQLite and PostgreSQL."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; Pinbang stores only aware times")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


class Timestamps:
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow, nullable=False)


@sa.event.listens_for(sa.engine.Engine, "connect")
def _sqlite_writers_take_turns(dbapi_connection, _record):
    """SQLite has no row locks, so concurrent writers must take turns instead.

    pysqlite begins a transaction only at the first INSERT/UPDATE/DELETE; that BEGIN is made
    IMMEDIATE, so it takes the database's write lock at once, and a writer that finds the lock
    taken waits (up to SQLITE_BUSY_TIMEOUT_MS, set here rather than in config.py because one config
    may be given a PostgreSQL URL) instead of failing with "database is locked". Reads made before
    that first write are outside any transaction: a service that reads, checks, then writes calls
    begin_write() first. PostgreSQL connections are left alone.
    """
    if isinstance(dbapi_connection, sqlite3.Connection):
        dbapi_connection.isolation_level = "IMMEDIATE"
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")


def begin_write(session) -> None:
    """Take SQLite's write lock now, before the reads a write depends on (a no-op on PostgreSQL).

    Services that read, check and then write (a per-buyer limit, an order's current lines) call
    this first, so on SQLite the check and the write see the same data; PostgreSQL services use
    row and advisory locks instead.
    """
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = connection.connection.dbapi_connection
    if not raw.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


# What a lost or refused connection raises; the pool replaces the connection on the next checkout.
CONNECTION_ERRORS = (sa.exc.OperationalError, sa.exc.InterfaceError)
# SQLSTATE classes the server answers a COMMIT with when it rolled the transaction back instead (a serialization
# failure, a deadlock, a deferred constraint): the outcome is known then.
ROLLED_BACK_CLASSES = ("40", "23")
_UNAVAILABLE = "pinbang.database_unavailable"
_OUTCOME_UNKNOWN = "pinbang.outcome_unknown"


def mark_database_unavailable() -> None:
    """Remember, for the rest of this request, that the database failed: its error answer must not ask it again
    (for the user's language, their name in the menu)."""
    if has_request_context():
        request.environ[_UNAVAILABLE] = True


def database_unavailable() -> bool:
    return has_request_context() and request.environ.get(_UNAVAILABLE, False)


def outcome_unknown_in_request() -> OutcomeUnknown | None:
    """The OutcomeUnknown this request already met: a later failure must not tell the user nothing was saved."""
    return request.environ.get(_OUTCOME_UNKNOWN) if has_request_context() else None


def _commit_outcome_unknown(error) -> bool:
    sqlstate = getattr(getattr(error, "orig", None), "sqlstate", None)
    return isinstance(error, CONNECTION_ERRORS) and not (sqlstate or "").startswith(ROLLED_BACK_CLASSES)


def _outcome_unknown() -> OutcomeUnknown:
    """The page's words; the API answers its own (retry with the same Idempotency-Key)."""
    message = _(
        "The connection to the database broke while this was being saved, so it may have been saved. "
        "Send this same form again: it will not be saved twice."
    )
    unknown = OutcomeUnknown(message)
    if has_request_context():
        request.environ[_OUTCOME_UNKNOWN] = unknown
    mark_database_unavailable()
    return unknown


@contextmanager
def transaction(session=None, *, write=False):
    """Commit what the block did, or roll it all back if it raised; the one commit/rollback of every service.

    Everything is flushed before the COMMIT is sent, so a failure up to there saved nothing; a connection lost
    during the COMMIT itself leaves the outcome unknown, and says so.

    :param write: take SQLite's write lock first (see begin_write), for a block that reads, checks, then writes.
    :raises OutcomeUnknown: the connection broke during the COMMIT: it may or may not have been saved.
    """
    session = session or db.session
    try:
        if write:
            begin_write(session)
        yield session
        session.flush()
    except BaseException:
        session.rollback()
        raise
    try:
        session.commit()
    except BaseException as error:
        _roll_back_quietly(session)
        if _commit_outcome_unknown(error):
            raise _outcome_unknown() from error
        raise


def _roll_back_quietly(session) -> None:
    """Roll back after a failed COMMIT; a dead connection may refuse even that, and the pool replaces it."""
    try:
        session.rollback()
    except CONNECTION_ERRORS:
        current_app.logger.warning("Rollback failed after a failed commit", exc_info=True)
