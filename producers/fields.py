"""Checks shared by producer and listing fields: plain text, whole numbers in a range, every problem at once."""

import re

from flask_babel import gettext as _

from errors import ValidationFailed

# Names are plain text. Jinja escapes everything anyway; refusing markup characters in short
# fields keeps them harmless in SMS, sheets and the mini-program too.
SINGLE_LINE_RE = re.compile(r"[<>\x00-\x1f\x7f]")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def text(value) -> str:
    return "" if value is None else str(value).strip()


def plain(errors, field, value, *, required_message=None, max_length, multiline=False):
    """A cleaned plain-text value, or None when empty; problems go into ``errors``."""
    value = text(value)
    if not value:
        if required_message:
            errors[field] = [required_message]
        return None
    if len(value) > max_length:
        errors[field] = [_("At most %(n)d characters.", n=max_length)]
    elif multiline and CONTROL_RE.search(value):
        errors[field] = [_("Remove the control characters.")]
    elif not multiline and SINGLE_LINE_RE.search(value):
        errors[field] = [_("Use plain text on one line, without < or >.")]
    return value


def whole_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,15}", value.strip()):
        return int(value.strip())
    return None


def in_range(errors, field, value, low, high, required_message, range_message):
    if value is None or value == "":
        errors[field] = [required_message]
        return None
    number = whole_number(value)
    if number is None:
        errors[field] = [_("Enter a whole number.")]
        return None
    if not low <= number <= high:
        errors[field] = [range_message]
        return None
    return number


def raise_if(errors):
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)


def refuse_unknown(values, known, what):
    """A programming error, not a user's: a caller passed a field the service does not know."""
    unknown = set(values) - set(known)
    if unknown:
        raise ValueError(f"unknown {what} fields {sorted(unknown)}")
