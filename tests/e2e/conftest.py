"""A live Pinbang for browser tests: gunicorn + a real Celery worker on a scratch database, and headless Chromium.

The server runs with the development settings (CSRF on, the real login form, the security headers), its own
INSTANCE_PATH (embedded broker, mail files, uploads) and a scratch database: an SQLite file, or a fresh
PostgreSQL database when DATABASE_URL is set (Redis as the broker when REDIS_URL is set).
"""

import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

from backends import BASE_DATABASE_URL, IN_CI, create_scratch_postgres, drop_scratch_postgres, require_postgres, require_redis
from ports import free_port
from worker_process import ROOT, celery_process

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
ARTIFACTS = ROOT / "test-artifacts" / "e2e"
BIN = Path(sys.executable).parent


def _missing(reason):
    if IN_CI:
        pytest.fail(f"{reason} (CI=true: the browser tests must run; `make browser` installs it)", pytrace=False)
    pytest.skip(f"{reason}; run `make browser` (or apt-get install chromium chromium-driver fonts-wqy-microhei)")


@pytest.fixture(scope="module")
def chromium():
    """Headless Debian Chromium driven by Playwright (never Playwright's own browser download)."""
    if not os.access(CHROMIUM, os.X_OK):
        _missing(f"{CHROMIUM} is not installed")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield browser
        browser.close()


def _wait_http(url, process, log_path, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the web server exited ({process.returncode}):\n{Path(log_path).read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.2)
    raise RuntimeError(f"the web server did not answer within {timeout}s:\n{Path(log_path).read_text()[-3000:]}")


class LiveServer:
    def __init__(self, url, instance, database_url, redis_url, env):
        self.url = url
        self.instance = instance
        self.database_url = database_url
        self.redis_url = redis_url
        self.env = env


@pytest.fixture(scope="module")
def live_server():
    """gunicorn (2 workers) and a Celery worker on a migrated, demo-seeded scratch database; yields a LiveServer."""
    tag = uuid.uuid4().hex[:8]
    instance = Path(tempfile.mkdtemp(prefix=f"pinbang-e2e-{tag}-"))
    redis_url = os.environ.get("REDIS_URL")
    if redis_url:
        require_redis(redis_url)
    if BASE_DATABASE_URL:
        require_postgres(BASE_DATABASE_URL)
        database_url = create_scratch_postgres(BASE_DATABASE_URL, f"pinbang_e2e_{tag}")
    else:
        database_url = f"sqlite:///{instance / 'e2e.sqlite3'}"
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    env.pop("REDIS_URL", None)
    env.update(
        {
            "PINBANG_ENV": "development",  # CSRF on, as in production; plain-HTTP cookies for 127.0.0.1
            "INSTANCE_PATH": str(instance),
            "DATABASE_URL": database_url,
            "CELERY_QUEUE": f"pinbang-e2e-{tag}",
            "FLASK_APP": "app",
        }
    )
    if redis_url:
        env["REDIS_URL"] = redis_url
    port = free_port()
    env["PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    for args in (["db", "upgrade", "heads"], ["seed-demo"]):
        done = subprocess.run([str(BIN / "flask"), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"flask {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
    web_log = instance / "gunicorn.log"
    with open(web_log, "w") as log:
        web = subprocess.Popen(
            [str(BIN / "gunicorn"), "-w", "2", "-b", f"127.0.0.1:{port}", "--timeout", "60", "wsgi:app"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_http(f"http://127.0.0.1:{port}/accounts/login", web, web_log)
        worker_env = {k: env[k] for k in ("INSTANCE_PATH", "CELERY_QUEUE", "PUBLIC_URL")}
        with celery_process("worker", database_url, redis_url, log_path=instance / "worker.log", **worker_env):
            yield LiveServer(f"http://127.0.0.1:{port}", instance, database_url, redis_url, env)
    finally:
        web.terminate()
        try:
            web.wait(timeout=15)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait()
        if BASE_DATABASE_URL:
            drop_scratch_postgres(BASE_DATABASE_URL, database_url)
        shutil.rmtree(instance, ignore_errors=True)


@pytest.fixture(scope="module")
def artifacts():
    """test-artifacts/e2e/, emptied of the previous run's screenshots."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for old in ARTIFACTS.glob("*.png"):
        old.unlink()
    return ARTIFACTS
