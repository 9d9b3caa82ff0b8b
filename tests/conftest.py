"""Fixtures: a real database (SQLite by default, PostgreSQL when DATABASE_URL is set), apps, clients, logins."""

import contextlib
import copy
import os
import shutil
import tempfile
import uuid

import pytest

# One tag per test process: with pytest-xdist every worker (gw0, gw1, …) gets its own database, instance folder
# (SQLite file, embedded broker, mail and SMS logs) and Celery queue. Workers inherit the controller's
# environment, so these are assigned, never defaulted from what the controller already set.
SESSION_TAG = uuid.uuid4().hex[:10] + os.environ.get("PYTEST_XDIST_WORKER", "")
INSTANCE = tempfile.mkdtemp(prefix=f"pinbang-test-{SESSION_TAG}-")
os.environ["INSTANCE_PATH"] = INSTANCE
os.environ["CELERY_QUEUE"] = f"pinbang-test-{SESSION_TAG}"
os.environ.setdefault("PINBANG_ENV", "testing")

from backends import (  # noqa: E402
    BASE_DATABASE_URL,
    app_on,
    create_scratch_postgres,
    drop_scratch_postgres,
    empty_tables,
    require_postgres,
    require_redis,
)

PASSWORD = "password123"

LONGEST_FIRST = ("e2e", "worker", "fuzz", "slow")


def pytest_sessionfinish(session):
    """Leave nothing behind: this process's instance folder, and its Celery queue's keys in Redis (messages a test
    sent with no worker to take them, and kombu's bindings)."""
    shutil.rmtree(INSTANCE, ignore_errors=True)
    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        return
    import redis

    queue = os.environ["CELERY_QUEUE"]
    try:
        connection = redis.Redis.from_url(redis_url)
        connection.delete(queue, f"_kombu.binding.{queue}", f"_kombu.binding_permanent.{queue}")
        connection.close()
    except redis.RedisError:
        pass  # a test that stopped Redis on purpose; nothing of ours is left in it to remove


def pytest_collection_modifyitems(items):
    """Start the long tests (real processes, the browser, fuzzing) first: with pytest-xdist the short ones then fill
    in around them, instead of one worker running the last 40-second test while the other sits idle."""
    items.sort(key=lambda item: not any(item.get_closest_marker(name) for name in LONGEST_FIRST))


@pytest.fixture(scope="session")
def database_url():
    """One scratch database for the whole run: a fresh PostgreSQL database, or an SQLite file."""
    if BASE_DATABASE_URL:
        require_postgres(BASE_DATABASE_URL)
        url = create_scratch_postgres(BASE_DATABASE_URL, f"pinbang_test_{SESSION_TAG}")
        yield url
        drop_scratch_postgres(BASE_DATABASE_URL, url)
    else:
        yield f"sqlite:///{INSTANCE}/test.sqlite3"


@pytest.fixture(scope="session")
def migrated(database_url):
    """Apply the Alembic migrations once, as `flask db upgrade` does."""
    from flask_migrate import upgrade

    from app import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url)
    with app.app_context():
        upgrade(revision="heads")
    return database_url


def _clear_request_globals(app):
    """Tests keep one app context open across requests (for factories); production has one per request.
    Clear what a request caches there, so one request's user or language never leaks into the next."""
    import flask_babel
    from flask import g

    @app.before_request
    def fresh_globals():
        for key in list(vars(g)):
            delattr(g, key)
        flask_babel.refresh()


def _shared_app(database_url, **overrides):
    """One app per test process: building one (blueprints, ~180 URL rules, the OpenAPI spec) costs about half a
    second, more than most tests take. Each test gets it as a fresh worker would have it (:func:`_as_new`)."""
    from app import create_app

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=database_url, **overrides)
    _clear_request_globals(app)
    return app


@contextlib.contextmanager
def _as_new(app):
    """The shared app for one test: its own configuration copy (restored afterwards, whatever the test set), fresh
    rate-limit counters, an empty page cache, the worker's tasks bound to it (another test may have built an app
    since), one app context; afterwards every row is deleted."""
    from extensions import cache, db, limiter
    from worker import celery_init_app

    config = {key: copy.copy(value) for key, value in app.config.items()}
    # Flask-Limiter keeps the first app's key prefix; give every test its own counters in a shared Redis.
    limiter._key_prefix = f"test-{uuid.uuid4().hex}"
    celery_init_app(app)
    try:
        with app.app_context():
            cache.clear()
            yield app
            db.session.remove()
    finally:
        empty_tables(app)
        app.config.clear()
        app.config.update(config)


@pytest.fixture(scope="session")
def shared_app(migrated):
    return _shared_app(migrated, REDIS_URL=os.environ.get("REDIS_URL"))


@pytest.fixture
def app(shared_app):
    with _as_new(shared_app) as app:
        yield app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def shared_csrf_app(migrated):
    return _shared_app(migrated, WTF_CSRF_ENABLED=True)


@pytest.fixture
def csrf_app(shared_csrf_app):
    """An app with CSRF protection on, as in production."""
    with _as_new(shared_csrf_app) as app:
        yield app


@pytest.fixture
def fresh_app(migrated):
    """An app of the test's own, for a test that adds routes or hooks (which an app refuses once it has served)."""
    from app import create_app
    from extensions import db

    app = create_app("testing", SQLALCHEMY_DATABASE_URI=migrated, REDIS_URL=os.environ.get("REDIS_URL"))
    _clear_request_globals(app)
    with _as_new(app):
        yield app
    with app.app_context():
        db.engine.dispose()


class Auth:
    """Log in and out through the real login form."""

    def __init__(self, client):
        self.client = client

    def login(self, login, password=PASSWORD, follow=False):
        return self.client.post("/accounts/login", data={"login": login, "password": password}, follow_redirects=follow)

    def logout(self):
        return self.client.post("/accounts/logout")


@pytest.fixture
def auth(client):
    return Auth(client)


class ApiClient:
    """Calls /api/v1 with a bearer token."""

    def __init__(self, client):
        self.client = client
        self.token = None

    def login(self, login, password=PASSWORD):
        response = self.client.post("/api/v1/auth/token", json={"login": login, "password": password})
        assert response.status_code == 200, response.get_json()
        self.token = response.get_json()["token"]
        return self

    def _headers(self, headers):
        merged = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        merged.update(headers or {})
        return merged

    def get(self, path, **kw):
        return self.client.get("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path, **kw):
        return self.client.post("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path, **kw):
        return self.client.put("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path, **kw):
        return self.client.patch("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path, **kw):
        return self.client.delete("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)


@pytest.fixture
def api(client):
    """An unauthenticated API client; call ``.login(phone)``. For several users at once use ``api_as``."""
    return ApiClient(client)


@pytest.fixture
def api_as(app):
    """``api_as(user)`` → an ApiClient logged in as that user, each with its own test client."""

    def make(user, password=PASSWORD):
        return ApiClient(app.test_client()).login(user.phone, password)

    return make


@pytest.fixture(scope="session")
def redis_url():
    """The real Redis: REDIS_URL, else the machine's default; skipped when absent, except in CI."""
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0"
    require_redis(url)
    return url


@pytest.fixture(scope="session")
def postgres_base_url():
    """The machine's PostgreSQL, for tests that must run on it even when the suite runs on SQLite."""
    url = BASE_DATABASE_URL or os.environ.get("PG_TEST_URL") or "postgresql://postgres@127.0.0.1:5432/test"
    require_postgres(url)
    return url


@pytest.fixture
def backend_app(backend_url):
    """An app of its own on each of backend_url's databases (see backends.app_on)."""
    with app_on(backend_url, REDIS_URL=os.environ.get("REDIS_URL")) as app:
        yield app


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend_url(request, tmp_path_factory):
    """A migrated database of each kind, whatever DATABASE_URL says: a module's tests run on SQLite and on
    PostgreSQL in the same run (races, locks and leases, which the two backends handle differently)."""
    from flask_migrate import upgrade

    from app import create_app
    from extensions import db

    if request.param == "sqlite":
        url, base = f"sqlite:///{tmp_path_factory.mktemp('both')}/both.sqlite3", None
    else:
        base = request.getfixturevalue("postgres_base_url")
        url = create_scratch_postgres(base, f"pinbang_both_{uuid.uuid4().hex[:8]}")
    setup = create_app("testing", SQLALCHEMY_DATABASE_URI=url)
    with setup.app_context():
        upgrade(revision="heads")
        db.engine.dispose()
    yield url
    if base:
        drop_scratch_postgres(base, url)
