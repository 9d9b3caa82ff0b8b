"""A bearer token works until it is revoked, expires or its user is deactivated, and from that moment on is refused
by every web worker: nothing about a token is remembered between requests."""

from datetime import timedelta

import sqlalchemy as sa

from accounts import services
from accounts.models import ApiToken, User
from database import utcnow
from extensions import db
from factories import make_user


def test_a_valid_token_works_on_every_request(api_as):
    user = make_user(coordinator=True, locale="en")
    client = api_as(user)
    first = client.get("/me")
    assert first.status_code == 200
    db.session.expunge_all()  # a fresh session, as in a new request of a web worker
    again = client.get("/me").get_json()
    assert again == first.get_json() and again["coordinator"] is True and again["locale"] == "en"
    assert db.session.get(User, user.id) is not None


def test_logging_out_stops_a_token_at_once_even_just_after_it_was_used(api_as):
    client = api_as(make_user())
    assert client.get("/me").status_code == 200
    assert client.delete("/auth/token").status_code == 204
    assert client.get("/me").status_code == 401


def test_a_token_revoked_by_another_process_stops_at_once(api_as):
    user = make_user()
    client = api_as(user)
    assert client.get("/me").status_code == 200
    # Another web worker (or an operator's script) revokes it: this process is not told, and needs not be.
    db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id).values(revoked_at=utcnow()))
    db.session.commit()
    assert client.get("/me").status_code == 401


def test_deactivating_a_buyer_stops_their_token_at_once(api_as):
    operator, buyer = make_user(role="operator"), make_user()
    client = api_as(buyer)
    assert client.get("/me").status_code == 200
    services.update_user(operator, buyer, name=buyer.name, phone=buyer.phone, role="buyer", unit_id=buyer.unit_id, active=False)
    assert client.get("/me").status_code == 401


def test_a_token_is_refused_from_the_moment_it_expires(api_as, monkeypatch):
    user = make_user()
    client = api_as(user)
    now = utcnow()
    db.session.execute(sa.update(ApiToken).where(ApiToken.user_id == user.id).values(expires_at=now + timedelta(seconds=1)))
    db.session.commit()
    assert client.get("/me").status_code == 200
    monkeypatch.setattr(services, "utcnow", lambda: now + timedelta(seconds=2))
    assert client.get("/me").status_code == 401


def test_a_new_password_stops_the_old_tokens(api_as):
    user = make_user()
    client = api_as(user)
    assert client.get("/me").status_code == 200
    services.change_password(user, "password123", "a new password")
    assert client.get("/me").status_code == 401
