"""Accounts: creating units and users, logging in, API tokens, the audit log."""

import hashlib
import re
import secrets
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from accounts.models import ROLES, ApiToken, AuditEntry, Unit, User, new_session_token
from accounts.passwords import check_for_nobody, password_problem
from database import transaction, utcnow
from errors import Forbidden, NotFound, ValidationFailed
from extensions import db
from orders.people import claim_colleague_orders
from producers.models import Producer
from producers.towns import town_names

PHONE_RE = re.compile(r"^1[3-9]\d{9}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def normalize_phone(raw) -> str | None:
    """Mainland mobile number as 11 digits, accepting +86, spaces and dashes; None if it is not one."""
    digits = re.sub(r"[\s\-()]", "", str(raw or ""))
    if digits.startswith("+86"):
        digits = digits[3:]
    elif digits.startswith("0086"):
        digits = digits[4:]
    return digits if PHONE_RE.match(digits) else None


def record_audit(actor, action, obj, on_behalf_of=None, **details):
    """Add an audit row to the current transaction; the caller commits it with the change it describes."""
    db.session.add(
        AuditEntry(
            actor_id=actor.id if actor else None,
            on_behalf_of=on_behalf_of,
            action=action,
            object_type=type(obj).__name__,
            object_id=obj.id,
            details=details,
        )
    )


def find_login(login) -> User | None:
    """The user whose phone or email is ``login`` (active or not), else None."""
    login = (login or "").strip()
    phone = normalize_phone(login)
    if phone:
        return db.session.scalar(sa.select(User).where(User.phone == phone))
    return db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == login.lower()))


def authenticate(login: str, password: str) -> User | None:
    """The active user whose phone or email is ``login`` and whose password matches, else None.

    A password hash is checked whether or not the account exists, so a wrong login takes as long for an unknown
    phone as for a known one and the answer's time does not tell which phones are registered.
    """
    user = find_login(login)
    if user is None:
        return check_for_nobody(password or "") or None
    if not user.check_password(password or "") or not user.active:
        return None
    return user


def login_account(login) -> str | None:
    """Whose account an attempt to log in as ``login`` is, for counting wrong attempts per account: the user's
    phone (also when ``login`` is their email), else ``login`` itself, cleaned, so unknown accounts are counted alike.
    """
    login = (login or "").strip()
    if not login:
        return None
    phone = normalize_phone(login)
    if phone:
        return phone
    user = find_login(login)
    return user.phone if user is not None else login.lower()[:254]


def end_sessions(user, *, api_tokens=True) -> None:
    """End every session and "remember me" cookie of ``user`` at once, on every device, and (unless told
    otherwise) revoke every bearer token. Part of the caller's transaction: the caller commits."""
    user.session_token = new_session_token()
    if api_tokens:
        revoke_all_tokens(user)


def log_out(user) -> None:
    """Logging out in one browser ends the user's sessions in all of them; bearer tokens (the app's) stay."""
    with transaction():
        end_sessions(user, api_tokens=False)


def user_for_session(session_token) -> User | None:
    """The active user a session or "remember me" cookie names, else None (the token changed since it was issued)."""
    if not session_token:
        return None
    return db.session.scalar(sa.select(User).where(User.session_token == str(session_token), User.active.is_(True)))


def get_unit(unit_id) -> Unit:
    unit = db.session.get(Unit, unit_id)
    if unit is None:
        raise NotFound(_("No such unit."))
    return unit


def get_user(user_id) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise NotFound(_("No such user."))
    return user


def list_units():
    return db.session.scalars(sa.select(Unit).order_by(Unit.name)).all()


def list_users(role=None):
    query = sa.select(User).order_by(User.role, User.name)
    if role:
        query = query.where(User.role == role)
    return db.session.scalars(query).all()


def _check_unit_fields(name, address, unit=None):
    errors = {}
    name = (name or "").strip()
    address = (address or "").strip()
    if not name:
        errors["name"] = [_("Enter the unit's name.")]
    elif len(name) > 120:
        errors["name"] = [_("At most %(n)d characters.", n=120)]
    else:
        clash = db.session.scalar(sa.select(Unit).where(Unit.name == name))
        if clash is not None and clash is not unit:
            errors["name"] = [_("A unit with this name already exists.")]
    if not address:
        errors["address"] = [_("Enter the delivery address or pickup point.")]
    elif len(address) > 255:
        errors["address"] = [_("At most %(n)d characters.", n=255)]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    return name, address


def create_unit(actor, name, address, contact_phone=None) -> Unit:
    """Create a work unit.

    :raises ValidationFailed: a missing or duplicate name, a missing address.
    """
    name, address = _check_unit_fields(name, address)
    with transaction():
        unit = Unit(name=name, address=address, contact_phone=contact_phone or None)
        db.session.add(unit)
        db.session.flush()
        record_audit(actor, "unit.create", unit, name=name)
    return unit


def update_unit(actor, unit, name, address, contact_phone=None) -> Unit:
    name, address = _check_unit_fields(name, address, unit)
    with transaction():
        unit.name, unit.address, unit.contact_phone = name, address, contact_phone or None
        record_audit(actor, "unit.update", unit, name=name)
    return unit


def _check_user_fields(user, *, name, phone, email, role, unit_id, coordinator, producer_id, password=None, town=None):
    """Return the cleaned fields or raise ValidationFailed naming every wrong field at once."""
    errors = {}
    name = (name or "").strip()
    if not name:
        errors["name"] = [_("Enter a name.")]
    elif len(name) > 80:
        errors["name"] = [_("At most %(n)d characters.", n=80)]
    clean_phone = normalize_phone(phone)
    if clean_phone is None:
        errors["phone"] = [_("Enter an 11-digit mobile number.")]
    else:
        clash = db.session.scalar(sa.select(User).where(User.phone == clean_phone))
        if clash is not None and clash is not user:
            errors["phone"] = [_("This phone number is already registered.")]
    email = (email or "").strip().lower() or None
    if email:
        if not EMAIL_RE.match(email) or len(email) > 254:
            errors["email"] = [_("Enter a valid email address.")]
        else:
            clash = db.session.scalar(sa.select(User).where(sa.func.lower(User.email) == email))
            if clash is not None and clash is not user:
                errors["email"] = [_("This email address is already registered.")]
    if role not in ROLES:
        errors["role"] = [_("Choose operator, producer, buyer or village cadre.")]
    if role == "buyer":
        if unit_id is None:
            errors["unit_id"] = [_("A buyer belongs to a work unit.")]
        elif db.session.get(Unit, unit_id) is None:
            errors["unit_id"] = [_("No such unit.")]
    elif unit_id is not None and role in ROLES:
        errors["unit_id"] = [_("Only buyers belong to a unit.")]
    if coordinator and role != "buyer":
        errors["coordinator"] = [_("Only a buyer can be a unit's coordinator.")]
    if role == "producer":
        if producer_id is None:
            errors["producer_id"] = [_("A producer account belongs to a producer.")]
        elif db.session.get(Producer, producer_id) is None:
            errors["producer_id"] = [_("No such producer.")]
    elif producer_id is not None and role in ROLES:
        errors["producer_id"] = [_("Only producer accounts belong to a producer.")]
    town = (town or "").strip() or None
    if role == "cadre" and town not in town_names():
        errors["town"] = [_("A village cadre acts for one town: choose it.")]
    elif town is not None and role in ROLES and role != "cadre":
        errors["town"] = [_("Only a village cadre has a town.")]
    if password is not None and (problem := password_problem(password, clean_phone or phone)):
        errors["password"] = [problem]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    return dict(
        name=name,
        phone=clean_phone,
        email=email,
        role=role,
        unit_id=unit_id if role == "buyer" else None,
        coordinator=bool(coordinator) and role == "buyer",
        producer_id=producer_id if role == "producer" else None,
        town=town if role == "cadre" else None,
    )


def create_user(actor, *, name, phone, password, role, email=None, unit_id=None, coordinator=False, producer_id=None, town=None):
    """Create an account; a buyer becomes the owner of the orders their unit's coordinator placed under their phone.

    :param actor: the operator creating it (None from the command line).
    :raises ValidationFailed: every wrong field at once.
    """
    fields = _check_user_fields(
        None,
        name=name,
        phone=phone,
        email=email,
        role=role,
        unit_id=unit_id,
        coordinator=coordinator,
        producer_id=producer_id,
        password=password or "",
        town=town,
    )
    with transaction():
        user = User(**fields)
        user.set_password(password)
        db.session.add(user)
        db.session.flush()
        claimed = claim_colleague_orders(user)
        record_audit(actor, "user.create", user, role=role, **({"claimed_order_ids": claimed} if claimed else {}))
    return user


def update_user(
    actor,
    user,
    *,
    name,
    phone,
    role,
    email=None,
    unit_id=None,
    coordinator=False,
    producer_id=None,
    active=True,
    password=None,
    town=None,
):
    """Edit an account; a new password is set only when one is given."""
    if user is actor and (role != user.role or not active):
        raise Forbidden(_("You cannot change your own role or deactivate yourself."))
    fields = _check_user_fields(
        user,
        name=name,
        phone=phone,
        email=email,
        role=role,
        unit_id=unit_id,
        coordinator=coordinator,
        producer_id=producer_id,
        password=password or None,
        town=town,
    )
    with transaction():
        for key, value in fields.items():
            setattr(user, key, value)
        deactivated = user.active and not active
        user.active = bool(active)
        if password:
            user.set_password(password)
        if password or deactivated:
            end_sessions(user)
        record_audit(actor, "user.update", user, role=role, active=user.active)
    return user


def change_password(user, current_password, new_password):
    """Set a new password; every other session, remember cookie and bearer token of the user ends.

    :raises ValidationFailed: the current password is wrong or the new one breaks the password rule.
    """
    errors = {}
    if not user.check_password(current_password or ""):
        errors["current_password"] = [_("The current password is not correct.")]
    if problem := password_problem(new_password, user.phone):
        errors["new_password"] = [problem]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    with transaction():
        user.set_password(new_password)
        end_sessions(user)
        record_audit(user, "user.password", user)


def set_locale(user, locale):
    if locale in current_app.config["LANGUAGES"]:
        with transaction():
            user.locale = locale


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(user) -> str:
    """A new bearer token for ``user``; only its hash is stored."""
    token = secrets.token_urlsafe(32)
    days = current_app.config["API_TOKEN_DAYS"]
    with transaction():
        db.session.add(ApiToken(user_id=user.id, token_hash=_hash_token(token), expires_at=utcnow() + timedelta(days=days)))
    return token


# Built once, with the hash and the time as parameters: SQLAlchemy then reuses its cache key and compiled form, where
# a statement built anew for every request has them derived again (costing more than running it).
_LIVE_TOKEN_USER = (
    sa.select(User)
    .join(ApiToken, ApiToken.user_id == User.id)
    .where(
        ApiToken.token_hash == sa.bindparam("token_hash"),
        ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > sa.bindparam("now"),
        User.active.is_(True),
    )
)


def user_for_token(token: str) -> User | None:
    """The active user a live token belongs to, else None: one query on the token's unique hash, every request.

    Nothing is remembered between requests, so a token revoked or expired, or a user deactivated, is refused by
    every web worker from the next request on.
    """
    if not token:
        return None
    return db.session.scalar(_LIVE_TOKEN_USER, {"token_hash": _hash_token(token), "now": utcnow()})


def revoke_token(token: str) -> None:
    row = db.session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == _hash_token(token)))
    if row is not None and row.revoked_at is None:
        with transaction():
            row.revoked_at = utcnow()


def revoke_all_tokens(user) -> None:
    db.session.execute(
        sa.update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)).values(revoked_at=utcnow())
    )
