"""The front door: joining through a unit's invitation, logging in by SMS code, resetting a forgotten password.

Pages and API call these; every one checks the SMS code (accounts.codes) before it writes, and a wrong code, an
expired one or a bad field changes nothing but the code's count of tries.
"""

import secrets

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.codes import clean_phone, use_code
from accounts.models import User
from accounts.passwords import password_problem
from accounts.services import end_sessions, normalize_phone, record_audit
from database import transaction
from errors import AlreadyRegistered, ValidationFailed
from extensions import db
from orders.people import claim_colleague_orders
from units.invitations import unit_for_invitation

MAX_PASSWORD_LENGTH = 200
MAX_NAME_LENGTH = 80


def password_problems(password, phone=None) -> list[str]:
    """What is wrong with a new password (empty: nothing): the one rule (accounts.passwords), and a length cap."""
    if len(password or "") > MAX_PASSWORD_LENGTH:
        return [_("At most %(n)d characters.", n=MAX_PASSWORD_LENGTH)]
    problem = password_problem(password, phone)
    return [problem] if problem else []


def on_registered(user) -> None:
    """What follows a new account, inside the transaction that creates it: the orders a coordinator placed under
    this phone before the colleague had an account become theirs."""
    claim_colleague_orders(user)


def end_every_login(user) -> None:
    """End every way the user is logged in, after their password was reset: sessions, remember cookies, API tokens."""
    end_sessions(user)


def _refuse(errors):
    raise ValidationFailed(_("Please correct the marked fields."), errors)


def register(*, invite, phone, sms_code, name, password=None, locale=None) -> User:
    """Make a buyer of the invitation's unit, once the SMS code sent to ``phone`` is right.

    :param password: optional: without one, the new buyer logs in by SMS code.
    :raises ValidationFailed: an unknown or replaced invitation, a bad name, phone or password, a wrong or expired
        code (every field at once; the code is checked last, so a typo elsewhere costs no try).
    :raises AlreadyRegistered: the phone already has an account (said only to whoever holds the code).
    """
    errors = {}
    try:
        unit = unit_for_invitation(invite)
    except ValidationFailed as error:
        errors.update(error.fields)
    name = " ".join(str(name or "").split())
    if not name:
        errors["name"] = [_("Enter a name.")]
    elif len(name) > MAX_NAME_LENGTH:
        errors["name"] = [_("At most %(n)d characters.", n=MAX_NAME_LENGTH)]
    clean = normalize_phone(phone)
    if clean is None:
        errors["phone"] = [_("Enter an 11-digit mobile number.")]
    if password and password_problems(password, clean):
        errors["password"] = password_problems(password, clean)
    if not str(sms_code or "").strip():
        errors["sms_code"] = [_("Enter the code sent to your phone.")]
    if errors:
        _refuse(errors)
    try:
        with transaction(write=True):
            use_code(clean, "register", sms_code)
            if db.session.scalar(sa.select(User.id).where(User.phone == clean)) is not None:
                raise AlreadyRegistered(_("This phone number already has an account; log in instead."))
            user = User(name=name, phone=clean, role="buyer", unit_id=unit.id, locale=locale)
            user.set_password(password or secrets.token_urlsafe(32))
            db.session.add(user)
            db.session.flush()
            record_audit(user, "user.register", user, unit_id=unit.id)
            on_registered(user)
    except sa.exc.IntegrityError:
        # The same phone registered a moment ago in another request.
        raise AlreadyRegistered(_("This phone number already has an account; log in instead.")) from None
    return user


def login_with_code(*, phone, sms_code) -> User:
    """The active user of ``phone``, once the login code sent to it is right.

    :raises ValidationFailed: not a mobile number, a wrong or expired code, or no active account (the same words).
    """
    phone = clean_phone(phone)
    if not str(sms_code or "").strip():
        _refuse({"sms_code": [_("Enter the code sent to your phone.")]})
    with transaction():
        use_code(phone, "login", sms_code)
        user = db.session.scalar(sa.select(User).where(User.phone == phone, User.active.is_(True)))
        if user is None:
            _refuse({"sms_code": [_("This code is wrong or has expired; ask for a new one.")]})
    return user


def reset_password(*, phone, sms_code, new_password) -> User:
    """Set a new password once the reset code sent to ``phone`` is right; every login of the user ends.

    :raises ValidationFailed: a bad phone or password, a wrong or expired code, or no active account (the same words).
    """
    errors = {}
    clean = normalize_phone(phone)
    if clean is None:
        errors["phone"] = [_("Enter an 11-digit mobile number.")]
    if password_problems(new_password, clean):
        errors["new_password"] = password_problems(new_password, clean)
    if not str(sms_code or "").strip():
        errors["sms_code"] = [_("Enter the code sent to your phone.")]
    if errors:
        _refuse(errors)
    with transaction(write=True):
        use_code(clean, "reset", sms_code)
        user = db.session.scalar(sa.select(User).where(User.phone == clean, User.active.is_(True)))
        if user is None:
            _refuse({"sms_code": [_("This code is wrong or has expired; ask for a new one.")]})
        user.set_password(new_password)
        end_every_login(user)
        record_audit(user, "user.password_reset", user)
    return user
