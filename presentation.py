"""Jinja filters: money shown in yuan, times shown in Asia/Shanghai, weights in kg."""

from flask_babel import format_date, format_datetime


def yuan(fen) -> str:
    """Integer fen as ¥ with two decimals, computed without floats."""
    if fen is None:
        return ""
    sign = "-" if fen < 0 else ""
    fen = abs(int(fen))
    return f"{sign}¥{fen // 100:,}.{fen % 100:02d}"


def kg(grams) -> str:
    if grams is None:
        return ""
    whole, rest = divmod(int(grams), 1000)
    return f"{whole:,}.{rest:03d}".rstrip("0").rstrip(".") + " kg"


def local_datetime(value, format="yyyy-MM-dd HH:mm"):
    return format_datetime(value, format) if value else ""


def local_date(value, format="yyyy-MM-dd"):
    return format_date(value, format) if value else ""


TEMPLATE_FILTERS = {"yuan": yuan, "kg": kg, "local_datetime": local_datetime, "local_date": local_date}
