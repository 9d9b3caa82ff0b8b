"""`PORT=5101 make run`: the banner, the demo campaign's short link and its QR codes all point at port 5101, in the
web process and in the worker and beat, whom honcho gives ports of their own."""

from pathlib import Path

import pytest
import sqlalchemy as sa
from honcho.environ import expand_processes, parse_procfile

from backends import empty_tables
from demo.seed import CAMPAIGNS, seed_demo
from extensions import db
from shop.models import Campaign
from shop.qr import qr_png, qr_svg

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def app_on_5101(migrated, monkeypatch):
    """The app as `PORT=5101 make run` builds it: nothing but PORT set."""
    from app import create_app

    monkeypatch.setenv("PORT", "5101")
    monkeypatch.delenv("PUBLIC_URL", raising=False)
    app = create_app("development", SQLALCHEMY_DATABASE_URI=migrated, WTF_CSRF_ENABLED=False)
    with app.app_context():
        seed_demo()
        yield app
        db.session.remove()
    empty_tables(app)


def test_banner_short_link_and_qr_codes_follow_port(app_on_5101):
    from demo.banner import banner

    slug = db.session.scalar(sa.select(Campaign.slug).where(Campaign.title == CAMPAIGNS[0][0]))
    link = f"http://127.0.0.1:5101/c/{slug}"
    printed = banner(app_on_5101)
    assert "Open http://127.0.0.1:5101/" in printed
    assert link in printed and ":5000" not in printed
    client = app_on_5101.test_client()
    assert client.get(f"/c/{slug}").status_code in (200, 302)  # the link is one this app answers
    operator = client.post("/accounts/login", data={"login": "13900000001", "password": "pinbang2020"})
    assert operator.status_code == 302
    assert client.get(f"/c/{slug}/qr.svg").data == qr_svg(link)
    assert client.get(f"/c/{slug}/qr.png").data == qr_png(link)
    campaign_id = db.session.scalar(sa.select(Campaign.id).where(Campaign.slug == slug))
    assert link in client.get(f"/campaigns/{campaign_id}/manage").get_data(as_text=True)


def test_every_process_honcho_starts_builds_links_on_the_webs_port(app_on_5101, monkeypatch):
    """What honcho does with the Procfile and the environment demo/banner.py hands it: the web listens on 5101, the
    worker and beat get other PORTs, and all three build short links on 5101."""
    from demo.banner import process_environment

    environ = process_environment(app_on_5101, {"PATH": "/usr/bin"})
    procfile = parse_procfile((ROOT / "Procfile").read_text())
    processes = {
        params.name.split(".")[0]: {**environ, **params.env}
        for params in expand_processes(procfile.processes, env={}, port=int(environ["PORT"]))
    }
    assert set(processes) == {"web", "worker", "beat", "ready"}
    assert processes["web"]["PORT"] == "5101" and "--port ${PORT" in procfile.processes["web"]
    assert processes["worker"]["PORT"] != "5101"
    assert {env["PUBLIC_URL"] for env in processes.values()} == {"http://127.0.0.1:5101"}
