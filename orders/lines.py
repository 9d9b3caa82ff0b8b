"""What an order asks for, checked before anything is locked: its lines, its note, its idempotency key."""

import hashlib
import json

from flask_babel import gettext as _

from errors import ValidationFailed

MAX_LINE_QUANTITY = 10_000
MAX_LINES = 100
MAX_NOTE = 500
MAX_IDEMPOTENCY_KEY = 80
MAX_ID = 2**31 - 1  # ids are 32-bit integer columns: a larger number names no row, and PostgreSQL would refuse it


def is_valid_id(value) -> bool:
    """True for an int that could be a row's id (booleans are not)."""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ID


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def normalize_lines(lines) -> dict[int, int]:
    """``[{item_id, quantity}]`` or ``[(item_id, quantity)]`` as {item_id: quantity}; the same item twice is added up.

    :raises ValidationFailed: no lines, too many, a missing or non-integer id, a quantity below 1 or absurdly large.
    """
    if isinstance(lines, dict):
        lines = list(lines.items())
    if not lines or not isinstance(lines, list | tuple):
        raise ValidationFailed(_("Choose at least one item."), {"lines": [_("Choose at least one item.")]})
    if len(lines) > MAX_LINES:
        raise ValidationFailed(_("Too many lines in one order."), {"lines": [_("At most %(n)d lines.", n=MAX_LINES)]})
    merged: dict[int, int] = {}
    problems = []
    for index, line in enumerate(lines):
        if isinstance(line, dict):
            item_id, quantity = line.get("item_id"), line.get("quantity")
        elif isinstance(line, list | tuple) and len(line) == 2:
            item_id, quantity = line
        else:
            item_id, quantity = None, None
        if not is_valid_id(item_id):
            problems.append(_("Line %(n)d: not a valid item.", n=index + 1))
        elif not _is_int(quantity) or quantity < 1:
            problems.append(_("Line %(n)d: the quantity must be a whole number of at least 1.", n=index + 1))
        elif quantity > MAX_LINE_QUANTITY:
            problems.append(_("Line %(n)d: at most %(max)d at a time.", n=index + 1, max=MAX_LINE_QUANTITY))
        else:
            merged[item_id] = merged.get(item_id, 0) + quantity
    if not problems and any(q > MAX_LINE_QUANTITY for q in merged.values()):
        problems.append(_("At most %(max)d of one item at a time.", max=MAX_LINE_QUANTITY))
    if problems:
        raise ValidationFailed(_("Some order lines are not valid."), {"lines": problems})
    return merged


def fingerprint(campaign_id, lines: dict, **fields) -> str:
    """SHA-256 of a canonical JSON of what was asked for: the same request always has the same fingerprint."""
    body = {"campaign_id": campaign_id, "lines": sorted([item_id, q] for item_id, q in lines.items())}
    body.update({key: value for key, value in fields.items() if value not in (None, "")})
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def clean_idempotency_key(key) -> str | None:
    """The key stripped, or None when none was sent.

    :raises ValidationFailed: longer than MAX_IDEMPOTENCY_KEY or not visible ASCII.
    """
    key = (key or "").strip()
    if len(key) > MAX_IDEMPOTENCY_KEY or any(not 32 < ord(c) < 127 for c in key):
        message = _("An idempotency key is 1 to %(n)d visible ASCII characters.", n=MAX_IDEMPOTENCY_KEY)
        raise ValidationFailed(message, {"Idempotency-Key": [message]})
    return key or None


def clean_note(note) -> str | None:
    """:raises ValidationFailed: longer than MAX_NOTE."""
    note = (note or "").strip() or None
    if note and len(note) > MAX_NOTE:
        raise ValidationFailed(_("The note is too long."), {"note": [_("At most %(n)d characters.", n=MAX_NOTE)]})
    return note
