"""What `make run` does once the demo data is in: print where Pinbang is, the demo campaign's short link and QR code
and the demo logins, then start web, worker, beat and this module's own `--when-ready` process with honcho, which
prints the same again once the web server answers, so the URL and logins are the last thing on the screen.

honcho gives every process a PORT of its own (the web the one asked for, the worker 100 more, beat 200 more), so
the base of short links and QR codes is fixed here, from the web's port, for all of them: a link in a message the
worker sends points where the web serves. The web's port also travels as PINBANG_PORT.
"""

import os
import signal
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import sqlalchemy as sa

from app import create_app
from demo.seed import CAMPAIGNS, DEMO_LOGINS, DEMO_PASSWORD
from extensions import db
from shop.catalogue import short_url
from shop.models import Campaign

STARTUP_WAIT_SECONDS = 120


def banner(app, heading="Pinbang (拼帮) is starting: web, Celery worker and beat on embedded defaults.") -> str:
    with app.app_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.title == CAMPAIGNS[0][0]))
        link = short_url(campaign) if campaign is not None else None
    lines = ["", f"  {heading}", f"  Open http://127.0.0.1:{app.config['PORT']}/   (Ctrl-C stops everything)"]
    if link:
        lines.append(f"  Demo campaign to share: {link}   (QR code: {link}/qr.png)")
    lines.append(f"  Demo logins, password {DEMO_PASSWORD}:")
    lines += [f"    {role:<24} {phone}" for role, phone in DEMO_LOGINS]
    return "\n".join(lines + [""])


def process_environment(app, environ) -> dict:
    """The environment honcho passes on: the web's PORT (also as PINBANG_PORT), and PUBLIC_URL as this app resolved it."""
    port = str(app.config["PORT"])
    return {**environ, "PORT": port, "PINBANG_PORT": port, "PUBLIC_URL": app.config["PUBLIC_URL"]}


def web_answers(port) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def wait_then_announce(app) -> None:
    """Honcho stops every process when one ends, so after announcing this one waits for the signal to stop."""
    port = os.environ.get("PINBANG_PORT") or app.config["PORT"]
    deadline = time.monotonic() + STARTUP_WAIT_SECONDS
    while not web_answers(port):
        if time.monotonic() > deadline:
            print(f"  The web server did not answer on port {port} within {STARTUP_WAIT_SECONDS} s: see web.1 above.")
            break
        time.sleep(0.5)
    else:
        app.config["PORT"] = port
        print(banner(app, "Pinbang (拼帮) is ready."), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    while True:
        signal.pause()


def main():
    app = create_app()
    if "--when-ready" in sys.argv:
        wait_then_announce(app)
        return
    print(banner(app), flush=True)
    honcho = str(Path(sys.executable).with_name("honcho"))
    os.execve(honcho, [honcho, "start", "-f", "Procfile"], process_environment(app, os.environ))


if __name__ == "__main__":
    main()
