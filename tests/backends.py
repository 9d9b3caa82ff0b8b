"""Reaching the real PostgreSQL and Redis from tests: skip when absent, fail when absent in CI."""

import contextlib
import os
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

BASE_DATABASE_URL = os.environ.get("DATABASE_URL")
IN_CI = os.environ.get("CI", "").lower() == "true"


def _absent(what, error):
    message = f"{what} is not reachable: {error}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing backend fails the run)", pytrace=False)
    pytest.skip(message)


def psycopg_url(url):
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    return url


def require_postgres(url):
    try:
        engine = sa.create_engine(psycopg_url(url))
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
        engine.dispose()
    except Exception as error:  # noqa: BLE001
        _absent("PostgreSQL", error)


def require_redis(url):
    import redis

    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except Exception as error:  # noqa: BLE001
        _absent("Redis", error)


def with_database(url, name):
    parts = urlsplit(psycopg_url(url))
    return urlunsplit(parts._replace(path="/" + name))


def create_scratch_postgres(base_url, name):
    """A new, empty database beside the one DATABASE_URL names."""
    engine = sa.create_engine(psycopg_url(base_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return with_database(base_url, name)


def drop_scratch_postgres(base_url, url):
    name = urlsplit(url).path.lstrip("/")
    engine = sa.create_engine(psycopg_url(base_url), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def empty_tables(app):
    """Delete every row, keeping the migrated schema for the next test, and start ids at 1 again.

    DELETE, children first, not TRUNCATE: after a test the tables hold a few rows, and PostgreSQL's TRUNCATE gives
    every table and index a new file (≈ 200 ms a test, against ≈ 13 ms)."""
    from extensions import db

    with app.app_context():
        db.session.remove()
        with db.engine.begin() as connection:
            for table in reversed(db.metadata.sorted_tables):
                connection.execute(sa.text(f'DELETE FROM "{table.name}"'))
            if connection.dialect.name == "postgresql":
                connection.execute(
                    sa.text(
                        "SELECT setval(c.oid, 1, false) FROM pg_class c "
                        "WHERE c.relkind = 'S' AND c.relnamespace = 'public'::regnamespace"
                    )
                )


@contextlib.contextmanager
def app_on(url, **config):
    """An app of its own on the migrated database at ``url``, every row deleted afterwards: for tests that race
    threads, each with its own session, on SQLite and PostgreSQL."""
    from app import create_app
    from extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url, **config)
    with app.app_context():
        yield app
        db.session.remove()
    empty_tables(app)
    with app.app_context():
        db.engine.dispose()
