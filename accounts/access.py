"""Who may see a page or call an endpoint: one place for role checks."""

from functools import wraps

from flask import abort, g, request
from flask_babel import gettext as _
from flask_login import current_user, login_required

from accounts.services import user_for_token
from errors import Forbidden, NotLoggedIn


def role_required(*roles):
    """Page decorator: log in first, then 403 unless the user has one of ``roles``."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapped(*args, **kwargs):
            if roles and current_user.role not in roles:
                abort(403)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def coordinator_required(view):
    @wraps(view)
    @login_required
    def wrapped(*args, **kwargs):
        if not current_user.is_coordinator:
            abort(403)
        return view(*args, **kwargs)

    return wrapped


def bearer_user():
    """The user behind the request's bearer token, or None. The API never trusts the session cookie."""
    header = request.headers.get("Authorization", "")
    scheme, _sep, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return user_for_token(token.strip())


def api_auth(*roles, coordinator=False, anonymous=False):
    """API decorator: 401 without a valid token, 403 for the wrong role; the user is ``g.api_user``.

    ``anonymous``: a request that sends no token at all runs with ``g.api_user = None`` (public reading); a token
    that is sent and not valid is still 401, so a client learns its token has expired."""

    def decorator(view):
        @wraps(view)
        def wrapped(*args, **kwargs):
            if anonymous and "Authorization" not in request.headers:
                g.api_user = None
                return view(*args, **kwargs)
            user = bearer_user()
            if user is None:
                raise NotLoggedIn(_("Log in first: send a valid bearer token."))
            g.api_user = user
            if roles and user.role not in roles:
                raise Forbidden(_("Your role may not do this."))
            if coordinator and not user.is_coordinator:
                raise Forbidden(_("Only a unit's coordinator may do this."))
            return view(*args, **kwargs)

        return wrapped

    return decorator
