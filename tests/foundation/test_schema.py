"""The migrations build the same schema the models describe, on SQLite and on PostgreSQL."""

import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from backends import create_scratch_postgres, drop_scratch_postgres


def _upgrade_and_compare(url, tmp_path):
    from flask_migrate import upgrade

    from app import create_app
    from extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="heads")
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            diff = compare_metadata(context, db.metadata)
            tables = set(sa.inspect(connection).get_table_names())
        db.engine.dispose()
    return diff, tables


def test_migrations_match_models_on_sqlite(tmp_path):
    diff, tables = _upgrade_and_compare(f"sqlite:///{tmp_path}/empty.sqlite3", tmp_path)
    assert diff == []
    assert {
        "unit",
        "user",
        "producer",
        "listing",
        "campaign",
        "campaign_item",
        "supply",
        "buyer_order",
        "order_line",
        "allocation",
        "pick_line",
        "notification",
        "audit_entry",
    } <= tables


def test_migrations_match_models_on_postgresql(postgres_base_url, tmp_path):
    url = create_scratch_postgres(postgres_base_url, f"pinbang_schema_{uuid.uuid4().hex[:8]}")
    try:
        diff, tables = _upgrade_and_compare(url, tmp_path)
    finally:
        drop_scratch_postgres(postgres_base_url, url)
    assert diff == []
    assert "buyer_order" in tables


def test_database_refuses_overselling_an_item(app):
    """The CHECK constraint is the last line of defence behind the services."""
    from extensions import db
    from factories import make_campaign, make_item, make_listing

    item = make_item(make_campaign(), [(make_listing(quantity=10), 10)])
    item.ordered = 11
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_database_refuses_negative_prices(app):
    from extensions import db
    from factories import make_listing

    listing = make_listing()
    listing.price_fen = -1
    with pytest.raises(sa.exc.IntegrityError):
        db.session.commit()
    db.session.rollback()
