"""A wrong login costs one password-hash check whether the phone exists or not, so its time does not tell which
phones are registered. Checked by watching which hashes are verified, not with a timer."""

import pytest

from accounts import passwords
from factories import make_user


@pytest.fixture
def checked_hashes(monkeypatch):
    """Every hash a password is verified against, in order; the real check still runs."""
    seen = []
    real = passwords.check_password_hash

    def spy(password_hash, password):
        seen.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(passwords, "check_password_hash", spy)
    return seen


def _method(password_hash):
    """The hash's method and work factors, e.g. ``scrypt:32768:8:1``: what its cost depends on."""
    return password_hash.split("$", 1)[0]


def _attempt(client, via, login):
    if via == "page":
        response = client.post("/accounts/login", data={"login": login, "password": "wrong-guess"})
        assert "手机号/邮箱或密码错误" in response.get_data(as_text=True)
    else:
        response = client.post("/api/v1/auth/token", json={"login": login, "password": "wrong-guess"})
        assert response.status_code == 401
        assert response.get_json()["error"]["message"] == "手机号/邮箱或密码错误。"


@pytest.mark.parametrize("via", ["page", "api"])
def test_a_wrong_login_checks_one_hash_of_the_same_cost_for_known_and_unknown_accounts(client, checked_hashes, via):
    known = make_user(phone="13912340001", email="known@lechang.gov.cn")
    inactive = make_user(phone="13912340002", active=False)
    answers = {}
    for name, login in [
        ("known phone", known.phone),
        ("known email", known.email),
        ("inactive", inactive.phone),
        ("unknown phone", "13912340009"),
        ("unknown email", "nobody@lechang.gov.cn"),
    ]:
        checked_hashes.clear()
        _attempt(client, via, login)
        answers[name] = list(checked_hashes)
    assert answers["known phone"] == answers["known email"] == [known.password_hash]
    assert answers["inactive"] == [inactive.password_hash]
    for unknown in ("unknown phone", "unknown email"):
        [hashed] = answers[unknown]
        assert hashed not in (known.password_hash, inactive.password_hash)
        assert _method(hashed) == _method(known.password_hash)  # a real hash, as costly as a user's


def test_outside_the_test_suite_passwords_are_hashed_with_scrypt(monkeypatch):
    """The suite hashes cheaply (config.TestingConfig); a real server must not."""
    from accounts.passwords import hash_password
    from app import create_app
    from config import ProductionConfig

    monkeypatch.setenv("SECRET_KEY", "only-for-this-test")
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    assert ProductionConfig().PASSWORD_HASH_METHOD == "scrypt"
    app = create_app("development", SQLALCHEMY_DATABASE_URI="sqlite://")
    with app.app_context():
        assert _method(hash_password("a long passphrase")) == "scrypt:32768:8:1"
