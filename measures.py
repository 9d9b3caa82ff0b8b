"""Money and weight, parsed and shown in one place: money is integer fen, weight integer grams, never floats."""

import re
from decimal import Decimal, InvalidOperation

from flask_babel import gettext as _

MAX_UNIT_WEIGHT_G = 1_000_000  # 1,000 kg
_YUAN = re.compile(r"^\d{1,12}(\.\d{1,2})?$")


def parse_yuan(text) -> int:
    """'98', '4.5', '¥4.50', '1,200' → fen.

    :raises ValueError: with a translated message.
    """
    cleaned = re.sub(r"[\s,¥￥]", "", str(text or ""))
    if not _YUAN.match(cleaned):
        raise ValueError(_("Enter an amount in yuan, e.g. 98 or 4.50."))
    whole, _sep, cents = cleaned.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def yuan(fen) -> str:
    """Integer fen as ¥ with two decimals and thousands separators, computed without floats."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def yuan_amount(fen) -> str:
    """Fen as a plain amount a form field shows and parse_yuan reads back: 1250 → '12.50'."""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}{fen // 100}.{fen % 100:02d}"


def yuan_decimal(fen) -> Decimal:
    """Fen as an exact yuan amount (a spreadsheet cell, a JSON number), never a float."""
    return (Decimal(int(fen or 0)) / 100).quantize(Decimal("0.01"))


def parse_kg(value) -> int:
    """A weight in kg (number or text, at most 3 decimals) → whole grams.

    :raises ValueError: with a translated message.
    """
    if isinstance(value, bool) or value is None:
        raise ValueError(_("Enter the weight in kg as a number, e.g. 1.5."))
    try:
        kilograms = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(_("Enter the weight in kg as a number, e.g. 1.5.")) from None
    if not kilograms.is_finite():
        raise ValueError(_("Enter the weight in kg as a number, e.g. 1.5."))
    if abs(kilograms) > MAX_UNIT_WEIGHT_G:  # keep absurd exponents from building huge integers
        raise ValueError(_("Enter a weight above 0 and at most %(max)s kg.", max="1,000"))
    grams = kilograms * 1000
    if grams != grams.to_integral_value():
        raise ValueError(_("Give the weight in kg with at most 3 decimals (whole grams)."))
    return int(grams)


def kg(grams) -> str:
    """Grams as a kg text: 1500 → '1.5 kg'."""
    if grams is None:
        return ""
    whole, rest = divmod(int(grams), 1000)
    return f"{whole:,}.{rest:03d}".rstrip("0").rstrip(".") + " kg"


def kg_decimal(grams) -> Decimal:
    """Exact kilograms from integer grams."""
    return Decimal(int(grams or 0)) / 1000
