"""Jinja filters: money shown in yuan, times shown in Asia/Shanghai, weights in kg."""

from flask_babel import format_date, format_datetime

from measures import kg, yuan


def local_datetime(value, format="yyyy-MM-dd HH:mm"):
    return format_datetime(value, format) if value else ""


def local_date(value, format="yyyy-MM-dd"):
    return format_date(value, format) if value else ""


TEMPLATE_FILTERS = {"yuan": yuan, "kg": kg, "local_datetime": local_datetime, "local_date": local_date}
