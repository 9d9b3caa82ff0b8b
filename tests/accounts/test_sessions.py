"""Logging out, a new password and deactivation end every session and "remember me" cookie of the user at once:
cookies copied before (as a thief would) are refused when replayed afterwards."""

import pytest
from sms_inbox import last_code

from accounts import services
from factories import PASSWORD, make_user

SESSION = "session"
REMEMBER = "remember_token"
HOME = "/campaigns"  # a buyer's page; anyone not logged in is sent to the login page


def _log_in(app, user, password=PASSWORD):
    client = app.test_client()
    response = client.post("/accounts/login", data={"login": user.phone, "password": password, "remember": "y"})
    assert response.status_code == 302
    return client


def _copy(client):
    """The cookies a thief would copy: the session cookie and the "remember me" cookie."""
    cookies = {name: client.get_cookie(name) for name in (SESSION, REMEMBER)}
    assert all(cookies.values()), cookies
    return {name: cookie.value for name, cookie in cookies.items()}


def _replay(app, cookies, *names):
    """A fresh browser holding only the named copied cookies; the status of a logged-in page."""
    thief = app.test_client()
    for name in names:
        thief.set_cookie(name, cookies[name])
    return thief.get(HOME).status_code


def _both_cookies_work(app, cookies):
    assert _replay(app, cookies, SESSION) == 200
    assert _replay(app, cookies, REMEMBER) == 200  # a browser restarted: the session is gone, the remember cookie not


def _both_cookies_refused(app, cookies):
    assert _replay(app, cookies, SESSION) == 302
    assert _replay(app, cookies, REMEMBER) == 302
    assert _replay(app, cookies, SESSION, REMEMBER) == 302


def test_logout_ends_the_copied_session_and_remember_cookies(app):
    user = make_user()
    client = _log_in(app, user)
    cookies = _copy(client)
    _both_cookies_work(app, cookies)
    assert client.post("/accounts/logout").status_code == 302
    _both_cookies_refused(app, cookies)
    # Logging in again works, with new cookies.
    _both_cookies_work(app, _copy(_log_in(app, user)))


def test_logout_in_one_browser_ends_the_others(app):
    user = make_user()
    phone, laptop = _log_in(app, user), _log_in(app, user)
    assert phone.get(HOME).status_code == 200
    laptop.post("/accounts/logout")
    assert phone.get(HOME).status_code == 302


def test_a_password_change_ends_every_other_session_and_token_but_keeps_the_changing_browser(app, api_as):
    user = make_user()
    api = api_as(user)
    other = _log_in(app, user)
    cookies = _copy(other)
    client = _log_in(app, user)
    changed = client.post("/accounts/password", data={"current_password": PASSWORD, "new_password": "tea-garden-2026"})
    assert changed.status_code == 302
    _both_cookies_refused(app, cookies)
    assert other.get(HOME).status_code == 302
    assert api.get("/me").status_code == 401
    assert client.get(HOME).status_code == 200  # the browser that changed it stays logged in
    remembered = app.test_client()
    remembered.set_cookie(REMEMBER, client.get_cookie(REMEMBER).value)
    assert remembered.get(HOME).status_code == 200  # and keeps being remembered, with a new cookie


@pytest.mark.parametrize("change", ["password", "deactivate"])
def test_an_operator_setting_a_password_or_deactivating_ends_the_users_sessions_and_tokens(app, api_as, change):
    operator = make_user(role="operator")
    user = make_user()
    api = api_as(user)
    cookies = _copy(_log_in(app, user))
    _both_cookies_work(app, cookies)
    admin = _log_in(app, operator)
    form = {
        "name": user.name,
        "phone": user.phone,
        "role": "buyer",
        "unit_id": str(user.unit_id),
        "active": "" if change == "deactivate" else "y",
        "password": "tea-garden-2026" if change == "password" else "",
    }
    assert admin.post(f"/accounts/users/{user.id}/edit", data=form).status_code == 302
    _both_cookies_refused(app, cookies)
    assert api.get("/me").status_code == 401
    if change == "password":
        assert _log_in(app, user, "tea-garden-2026").get(HOME).status_code == 200


def test_end_sessions_is_one_call_for_every_way_a_password_is_reset(app, api_as):
    """What a reset by SMS code calls: every session, remember cookie and token of the user ends."""
    from extensions import db

    user = make_user()
    api = api_as(user)
    cookies = _copy(_log_in(app, user))
    services.end_sessions(user)
    db.session.commit()
    _both_cookies_refused(app, cookies)
    assert api.get("/me").status_code == 401


def test_a_password_reset_by_sms_code_ends_the_copied_cookies_too(app):
    user = make_user(phone="13800138077")
    cookies = _copy(_log_in(app, user))
    _both_cookies_work(app, cookies)
    stranger = app.test_client()
    assert stranger.post("/api/v1/auth/sms-code", json={"phone": user.phone, "purpose": "reset"}).status_code == 202
    reset = stranger.post(
        "/api/v1/auth/password-reset",
        json={"phone": user.phone, "sms_code": last_code(app, user.phone), "new_password": "tea-garden-2026"},
    )
    assert reset.status_code == 200, reset.get_json()
    _both_cookies_refused(app, cookies)
