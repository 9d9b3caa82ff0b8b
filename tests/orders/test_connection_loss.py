"""Production pools connections without pinging them first: after the database drops them (a restart), one order
gets a clean 503 with Retry-After and saves nothing, and the next one goes through on a fresh connection."""

import pytest
import sqlalchemy as sa
from flask import g

from backends import BASE_DATABASE_URL, psycopg_url
from config import ProductionConfig
from extensions import db
from factories import make_campaign, make_item, make_listing, make_user
from orders.models import Order

pytestmark = pytest.mark.skipif(not (BASE_DATABASE_URL or "").startswith("postgres"), reason="PostgreSQL only (DATABASE_URL)")


@pytest.fixture
def production_pool(app):
    """The test app's engine rebuilt with production's engine options."""
    from app import create_app

    production = create_app(
        "testing",
        SQLALCHEMY_DATABASE_URI=app.config["SQLALCHEMY_DATABASE_URI"],
        SQLALCHEMY_ENGINE_OPTIONS=ProductionConfig.SQLALCHEMY_ENGINE_OPTIONS,
    )
    assert production.config["SQLALCHEMY_ENGINE_OPTIONS"] == {"pool_pre_ping": False, "pool_recycle": 300}

    @production.before_request
    def fresh_globals():
        """As the ``app`` fixture does: the test holds one app context, production has one per request, so a
        request never sees the previous request's user in ``g``."""
        for key in list(vars(g)):
            delattr(g, key)

    with production.app_context():
        yield production
        db.session.remove()
        db.engine.dispose()


def test_an_order_after_the_database_dropped_the_pooled_connection(app, production_pool):
    with app.app_context():
        buyer = make_user()
        campaign = make_campaign()
        item = make_item(campaign, [(make_listing(quantity=100), 100)])
        ids, phone = (campaign.id, item.id), buyer.phone
    client = production_pool.test_client()
    token = client.post("/api/v1/auth/token", json={"login": phone, "password": "password123"}).get_json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    path, body = f"/api/v1/campaigns/{ids[0]}/orders", {"lines": [{"item_id": ids[1], "quantity": 1}]}
    assert client.post(path, json=body, headers={**headers, "Idempotency-Key": "a"}).status_code == 201
    db.session.remove()

    admin = sa.create_engine(psycopg_url(BASE_DATABASE_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        database = db.engine.url.database
        connection.execute(
            sa.text(
                "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = :db AND pid <> pg_backend_pid()"
            ),
            {"db": database},
        )
    admin.dispose()

    refused = client.post(path, json=body, headers={**headers, "Idempotency-Key": "b"})
    assert refused.status_code == 503 and refused.headers["Retry-After"]
    retried = client.post(path, json=body, headers={**headers, "Idempotency-Key": "b"})
    assert retried.status_code == 201, retried.get_json()
    db.session.remove()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 2
