"""Fixtures for fault injection."""

import shutil
import uuid

import pytest
from faults.helpers import PrivateRedis

from backends import BASE_DATABASE_URL, IN_CI, app_on, create_scratch_postgres, drop_scratch_postgres
from extensions import db


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        if IN_CI:
            pytest.fail("redis-server is not installed (CI=true: a missing backend fails the run)", pytrace=False)
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def pg_migrated(postgres_base_url, request):
    """The suite's database when it runs on PostgreSQL, else a scratch PostgreSQL database of this module's own."""
    from flask_migrate import upgrade

    from app import create_app

    if BASE_DATABASE_URL:
        yield request.getfixturevalue("migrated")
        return
    url = create_scratch_postgres(postgres_base_url, f"pinbang_faults_{uuid.uuid4().hex[:8]}")
    app = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()
    yield url
    drop_scratch_postgres(postgres_base_url, url)


@pytest.fixture
def pg_app(pg_migrated):
    with app_on(pg_migrated) as app:
        yield app
