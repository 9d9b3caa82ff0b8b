"""Bearer tokens are remembered briefly per process: a revoked token or a deactivated user is still refused in time."""

from datetime import timedelta

import sqlalchemy as sa

from accounts import services
from accounts.models import ApiToken, User
from database import utcnow
from extensions import db
from factories import make_user


def _clock_at(monkeypatch, seconds):
    monkeypatch.setattr(services, "_clock", lambda: seconds)


def test_logging_out_stops_a_token_at_once_even_just_after_it_was_used(api_as, monkeypatch):
    _clock_at(monkeypatch, 1000.0)
    client = api_as(make_user())
    assert client.get("/me").status_code == 200  # now remembered
    assert client.delete("/auth/token").status_code == 204
    assert client.get("/me").status_code == 401


def test_a_token_revoked_by_another_process_stops_within_the_cache_time(api_as, monkeypatch):
    _clock_at(monkeypatch, 1000.0)
    user = make_user()
    client = api_as(user)
    assert client.get("/me").status_code == 200
    # Another web worker revokes it: this process is not told.
    db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id).values(revoked_at=utcnow()))
    db.session.commit()
    _clock_at(monkeypatch, 1000.0 + services.TOKEN_CACHE_SECONDS - 0.1)
    assert client.get("/me").status_code == 200
    _clock_at(monkeypatch, 1000.0 + services.TOKEN_CACHE_SECONDS)
    assert client.get("/me").status_code == 401


def test_deactivating_a_buyer_stops_their_token_at_once(api_as, monkeypatch):
    _clock_at(monkeypatch, 1000.0)
    operator, buyer = make_user(role="operator"), make_user()
    client = api_as(buyer)
    assert client.get("/me").status_code == 200
    services.update_user(operator, buyer, name=buyer.name, phone=buyer.phone, role="buyer", unit_id=buyer.unit_id, active=False)
    assert client.get("/me").status_code == 401


def test_a_remembered_user_is_the_same_as_a_loaded_one(api_as, monkeypatch):
    _clock_at(monkeypatch, 1000.0)
    user = make_user(coordinator=True, locale="en")
    client = api_as(user)
    first = client.get("/me").get_json()
    db.session.expunge_all()  # a fresh session, as in a new request of a web worker
    again = client.get("/me").get_json()
    assert again == first and again["coordinator"] is True and again["locale"] == "en"
    assert db.session.get(User, user.id) is not None


def test_a_token_about_to_expire_is_not_remembered_past_its_expiry(api_as, monkeypatch):
    _clock_at(monkeypatch, 1000.0)
    user = make_user()
    client = api_as(user)
    now = utcnow()
    db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id).values(expires_at=now + timedelta(seconds=1)))
    db.session.commit()
    services.forget_tokens()
    assert client.get("/me").status_code == 200
    _clock_at(monkeypatch, 1002.0)
    monkeypatch.setattr(services, "utcnow", lambda: now + timedelta(seconds=2))
    assert client.get("/me").status_code == 401
