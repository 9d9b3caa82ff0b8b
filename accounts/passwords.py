"""The password rule, hashing, and a login that costs the same whether the phone exists or not.

Every place a password is set (an operator creating or editing a user, a password change, registering, a reset)
asks ``password_problem`` first, so the rule lives here once.
"""

import re
import secrets
from functools import cache
from pathlib import Path

from flask import current_app
from flask_babel import gettext as _
from werkzeug.security import check_password_hash, generate_password_hash

MIN_LENGTH = 8

# Runs that people type instead of choosing: a slice of one of these (or it reversed) is refused.
_RUNS = ("0123456789012345678901234567890", "abcdefghijklmnopqrstuvwxyz", "qwertyuiopasdfghjklzxcvbnm")


@cache
def _common_passwords() -> frozenset[str]:
    text = Path(__file__).with_name("common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def _is_common(password: str) -> bool:
    lowered = password.lower()
    if lowered in _common_passwords() or len(set(lowered)) == 1:
        return True
    return any(lowered in run or lowered[::-1] in run for run in _RUNS)


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def password_problem(password, phone=None) -> str | None:
    """What is wrong with ``password`` as a new password for the user with ``phone``, in the user's language; None
    when it will do."""
    password = password or ""
    if len(password) < MIN_LENGTH:
        return _("At least %(n)d characters.", n=MIN_LENGTH)
    if phone and _digits(phone) and _digits(phone) in _digits(password):
        return _("The password must not contain your phone number.")
    if _is_common(password):
        return _("This password is one of the most common ones and easily guessed; choose another.")
    return None


def hash_password(password: str) -> str:
    """Hashed by PASSWORD_HASH_METHOD (Werkzeug's scrypt; the tests' configuration picks a cheap one, as the hash's
    cost is what a guesser pays, not what a test checks)."""
    return generate_password_hash(password, method=current_app.config["PASSWORD_HASH_METHOD"])


def password_matches(password_hash: str, password: str) -> bool:
    return check_password_hash(password_hash, password)


@cache
def _nobodys_hash(method: str) -> str:
    """A hash made like every user's, of a password nobody knows."""
    return generate_password_hash(secrets.token_urlsafe(24), method=method)


def check_for_nobody(password: str) -> bool:
    """Check ``password`` against a hash no account has, at the cost of a real check: a login for an unknown or
    inactive account then takes as long as one for a real account. Always False."""
    password_matches(_nobodys_hash(current_app.config["PASSWORD_HASH_METHOD"]), password)
    return False
