"""What `make run` does once the demo data is in: print where Pinbang is, the demo campaign's short link and QR code
and the demo logins, then start web, worker and beat with honcho.

honcho gives every process a PORT of its own (the web the one asked for, the worker 100 more, beat 200 more), so
the base of short links and QR codes is fixed here, from the web's port, for all three: a link in a message the
worker sends points where the web serves.
"""

import os
import sys
from pathlib import Path

import sqlalchemy as sa

from app import create_app
from demo.seed import CAMPAIGNS, DEMO_LOGINS, DEMO_PASSWORD
from extensions import db
from shop.catalogue import short_url
from shop.models import Campaign


def banner(app) -> str:
    with app.app_context():
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.title == CAMPAIGNS[0][0]))
        link = short_url(campaign) if campaign is not None else None
    lines = [
        "",
        "  Pinbang (拼帮) is starting: web, Celery worker and beat on embedded defaults.",
        f"  Open http://127.0.0.1:{app.config['PORT']}/   (Ctrl-C stops everything)",
    ]
    if link:
        lines.append(f"  Demo campaign to share: {link}   (QR code: {link}/qr.png)")
    lines.append(f"  Demo logins, password {DEMO_PASSWORD}:")
    lines += [f"    {role:<24} {phone}" for role, phone in DEMO_LOGINS]
    return "\n".join(lines + [""])


def process_environment(app, environ) -> dict:
    """The environment honcho passes on: the web's PORT, and PUBLIC_URL as this app resolved it."""
    return {**environ, "PORT": str(app.config["PORT"]), "PUBLIC_URL": app.config["PUBLIC_URL"]}


def main():
    app = create_app()
    print(banner(app), flush=True)
    honcho = str(Path(sys.executable).with_name("honcho"))
    os.execve(honcho, [honcho, "start", "-f", "Procfile"], process_environment(app, os.environ))


if __name__ == "__main__":
    main()
