"""How fast logins may be tried, for the login page and the token endpoint alike.

Wrong passwords and codes are counted per account (``LOGIN_FAILURE_LIMIT``): an account under attack is slowed,
its colleagues are not. Every attempt is also counted per client address (``LOGIN_RATE_LIMIT``), generously,
because a whole work unit logs in from one office address at a campaign's launch. The address is the socket's,
or, with ``TRUSTED_PROXIES`` set, the one those proxies put in X-Forwarded-For.
"""

from flask import current_app, g, request

from accounts.services import login_account
from extensions import limiter


def _address_limit():
    return current_app.config["LOGIN_RATE_LIMIT"]


def _failure_limit():
    return current_app.config["LOGIN_FAILURE_LIMIT"]


def _attempted_account():
    """The account a login attempt names (field ``login``, or ``phone`` for a login by SMS code), from a form or JSON."""
    body = request.get_json(silent=True) if request.is_json else request.form
    login = (body.get("login") or body.get("phone")) if hasattr(body, "get") else None
    return (login_account(login) if isinstance(login, str) else None) or "-"


def note_wrong_login() -> None:
    """Count this request as a wrong password or code against the account it named."""
    g.wrong_login = True


def _was_wrong(_response) -> bool:
    return g.get("wrong_login", False)


per_address = limiter.shared_limit(_address_limit, scope="login-address", methods=["POST"])
per_account = limiter.shared_limit(
    _failure_limit,
    scope="login-account",
    key_func=_attempted_account,
    methods=["POST"],
    deduct_when=_was_wrong,
)


def login_limited(view):
    """Decorator for a view that checks a password or code: both limits, shared by every such view."""
    return per_address(per_account(view))
