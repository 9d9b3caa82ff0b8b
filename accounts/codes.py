"""One-time SMS codes for registering, logging in without a password and resetting a password.

Codes are short, expire within minutes and allow few wrong tries; asking for them is limited per phone and per
client address. Only an HMAC of the code (keyed with SECRET_KEY) is stored. Every request writes a row and gets the
same answer whether or not the phone has an account: a phone without one gets no code, only a note saying so.
The code leaves through the SMS channel at once, not through the outbox, whose back-off outlasts a code.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

from accounts.models import SMS_CODE_PURPOSES, SmsCode, User
from accounts.services import normalize_phone
from database import transaction, utcnow
from errors import RateLimited, SmsNotSent, ValidationFailed
from extensions import db
from notifications import messages
from notifications.channels import DeliveryError, send_sms
from orders.locks import lock_sms_codes


@dataclass(frozen=True)
class CodeRules:
    """How codes behave; an app may set ``SMS_CODE_RULES`` to other values."""

    digits: int = 6
    minutes: int = 10
    max_tries: int = 5
    resend_seconds: int = 60
    per_phone_per_hour: int = 6
    # A unit's staff often share one office address: enough for a whole unit registering on the same morning.
    per_address_per_hour: int = 300


RULES = CodeRules()


def code_rules() -> CodeRules:
    return current_app.config.get("SMS_CODE_RULES") or RULES


def _hash(phone, purpose, code) -> str:
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, f"{phone}:{purpose}:{code}".encode(), hashlib.sha256).hexdigest()


def _invalid(field, message):
    return ValidationFailed(_("Please correct the marked fields."), {field: [message]})


def clean_phone(raw, field="phone") -> str:
    """:raises ValidationFailed: not a mainland mobile number."""
    phone = normalize_phone(raw)
    if phone is None:
        raise _invalid(field, _("Enter an 11-digit mobile number."))
    return phone


def _check_limits(phone, address, rules, now) -> None:
    hour_ago = now - timedelta(hours=1)
    last = db.session.scalar(sa.select(sa.func.max(SmsCode.created_at)).where(SmsCode.phone == phone))
    if last is not None and now - last < timedelta(seconds=rules.resend_seconds):
        wait = rules.resend_seconds - int((now - last).total_seconds())
        raise RateLimited(_("A code was just sent; ask again in %(n)d seconds.", n=max(wait, 1)), {"retry_after": max(wait, 1)})
    sent_to_phone = db.session.scalar(
        sa.select(sa.func.count()).select_from(SmsCode).where(SmsCode.phone == phone, SmsCode.created_at > hour_ago)
    )
    if sent_to_phone >= rules.per_phone_per_hour:
        raise RateLimited(_("Too many codes for this number; try again in an hour."), {"retry_after": 3600})
    if address:
        from_address = db.session.scalar(
            sa.select(sa.func.count())
            .select_from(SmsCode)
            .where(SmsCode.requested_from == address, SmsCode.created_at > hour_ago)
        )
        if from_address >= rules.per_address_per_hour:
            raise RateLimited(_("Too many codes asked for from your network; try again in an hour."), {"retry_after": 3600})


def request_code(phone, purpose, address=None) -> None:
    """Send a code for ``purpose`` to ``phone`` now; the same outcome whether or not the phone has an account.

    :param address: the client's address, for the per-address limit.
    :raises ValidationFailed: not a mobile number, or an unknown purpose.
    :raises RateLimited: asked again too soon, or too often this hour (for the phone or the address).
    :raises SmsNotSent: the SMS channel failed; nothing is kept, so asking again at once is allowed.
    """
    if purpose not in SMS_CODE_PURPOSES:
        raise _invalid("purpose", _("Choose register, login or reset."))
    phone = clean_phone(phone)
    address = (address or "")[:64] or None
    rules = code_rules()
    code = f"{secrets.randbelow(10**rules.digits):0{rules.digits}d}"
    with transaction():
        lock_sms_codes(phone, address)
        now = utcnow()
        _check_limits(phone, address, rules, now)
        has_account = db.session.scalar(sa.select(User.id).where(User.phone == phone, User.active.is_(True))) is not None
        row = SmsCode(
            phone=phone,
            purpose=purpose,
            code_hash=_hash(phone, purpose, code),
            requested_from=address,
            created_at=now,
            expires_at=now + timedelta(minutes=rules.minutes),
        )
        db.session.add(row)
        db.session.flush()
        row_id = row.id
    if purpose == "register" or has_account:
        text = messages.sms_code(purpose, code, rules.minutes)
    else:
        text = messages.no_account_for_phone()
    try:
        send_sms(phone, text, f"sms_code:{row_id}")
    except DeliveryError:
        current_app.logger.warning("SMS code %s could not be sent", row_id, exc_info=True)
        with transaction():
            db.session.execute(sa.delete(SmsCode).where(SmsCode.id == row_id))
        raise SmsNotSent(_("The SMS could not be sent just now; please try again in a moment.")) from None


def use_code(phone, purpose, code, field="sms_code") -> None:
    """Spend the phone's latest code for ``purpose``, in the caller's transaction (a rollback gives it back).

    Call it before the caller writes anything: a wrong code counts a try in a commit of its own, then raises.
    :raises ValidationFailed: wrong, expired, already used, too many wrong tries, or no code asked for.
    """
    rules = code_rules()
    code = "".join(str(code or "").split())
    now = utcnow()
    row = db.session.scalar(
        sa.select(SmsCode)
        .where(SmsCode.phone == phone, SmsCode.purpose == purpose)
        .order_by(SmsCode.id.desc())
        .limit(1)
        .execution_options(populate_existing=True)
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise _invalid(field, _("This code is wrong or has expired; ask for a new one."))
    if row.attempts >= rules.max_tries:
        raise _invalid(field, _("Too many wrong codes; ask for a new one."))
    if not hmac.compare_digest(row.code_hash, _hash(phone, purpose, code)):
        # A guarded increment: concurrent guesses cannot share one try.
        db.session.execute(
            sa.update(SmsCode)
            .where(SmsCode.id == row.id, SmsCode.attempts < rules.max_tries)
            .values(attempts=SmsCode.attempts + 1)
        )
        db.session.commit()
        raise _invalid(field, _("This code is wrong or has expired; ask for a new one."))
    spent = db.session.execute(
        sa.update(SmsCode)
        .where(SmsCode.id == row.id, SmsCode.used_at.is_(None), SmsCode.attempts < rules.max_tries)
        .values(used_at=now)
    )
    if spent.rowcount != 1:
        raise _invalid(field, _("This code is wrong or has expired; ask for a new one."))
