"""Configuration defaults and refusals; demo data."""

import sqlalchemy as sa


def test_production_refuses_to_start_without_secrets(monkeypatch):
    import pytest

    from config import load_config

    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(RuntimeError, match="SECRET_KEY, DATABASE_URL"):
        load_config("production")


def test_production_sets_secure_cookies(monkeypatch):
    from config import load_config

    monkeypatch.setenv("SECRET_KEY", "x" * 32)
    monkeypatch.setenv("DATABASE_URL", "postgresql://u@h/db")
    config = load_config("production")
    assert config.SESSION_COOKIE_SECURE is True
    assert config.SQLALCHEMY_DATABASE_URI == "postgresql+psycopg://u@h/db"


def test_embedded_defaults(monkeypatch, tmp_path):
    from config import load_config
    from worker import celery_settings

    for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    config = load_config("development")
    assert config.SQLALCHEMY_DATABASE_URI == f"sqlite:///{tmp_path}/pinbang.sqlite3"
    assert (tmp_path / "secret_key").read_text() == config.SECRET_KEY
    assert load_config("development").SECRET_KEY == config.SECRET_KEY  # generated once, then kept
    settings = celery_settings(config)
    assert settings["broker_url"] == "filesystem://"
    options = settings["broker_transport_options"]
    assert options["data_folder_in"] == options["data_folder_out"]


def test_redis_url_selects_redis_broker_and_limiter_storage(monkeypatch, tmp_path):
    from config import load_config
    from worker import celery_settings

    monkeypatch.setenv("INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("REDIS_URL", "redis://127.0.0.1:6379/3")
    config = load_config("development")
    assert celery_settings(config)["broker_url"] == "redis://127.0.0.1:6379/3"
    assert config.RATELIMIT_STORAGE_URI == "redis://127.0.0.1:6379/3"


def test_seed_demo_twice_leaves_one_copy(runner):
    from accounts.models import Unit, User
    from extensions import db
    from producers.models import Listing, Producer

    first = runner.invoke(args=["seed-demo"])
    assert "Demo data loaded" in first.output
    counts = [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Unit, User, Producer, Listing)]
    second = runner.invoke(args=["seed-demo"])
    assert "already present" in second.output
    assert [db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in (Unit, User, Producer, Listing)] == counts
    names = set(db.session.scalars(sa.select(Listing.name)))
    assert {"雪毛鸡", "鸡蛋", "马蹄", "天堂姜", "大米", "蜂蜜", "红薯干"} <= names
    assert {"乐昌市总工会", "乐昌市妇联", "乐昌市农业农村局", "东莞大朗帮扶工作队"} <= set(
        db.session.scalars(sa.select(Unit.name))
    )
    assert set(db.session.scalars(sa.select(User.role))) == {"operator", "producer", "buyer"}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Producer).where(Producer.poverty_household)) >= 3


def test_demo_logins_work(runner, auth):
    runner.invoke(args=["seed-demo"])
    from demo.seed import DEMO_LOGINS, DEMO_PASSWORD

    for _role, phone in DEMO_LOGINS:
        assert auth.login(phone, password=DEMO_PASSWORD).status_code == 302
        auth.logout()
