"""Rendering many messages at once: each text's template and each date looked up once for a whole job.

notifications.messages renders every text through these; closing a campaign renders thousands of notices, and
asking for the locale alone costs more than formatting a text.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from flask import current_app, g
from flask_babel import format_date, format_datetime, get_locale, gettext

_pinned = ContextVar("pinned_message_texts", default=None)


@contextmanager
def rendering_many():
    """Render many messages in the current locale, each template and date looked up once for the whole block.

    For jobs such as closing a campaign (thousands of notices); asking for the locale alone costs more than
    formatting a text. Do not switch locale (force_locale) inside the block.
    """
    token = _pinned.set({})
    try:
        yield
    finally:
        _pinned.reset(token)


def _(msgid, **variables):
    """gettext, with each template looked up once per app context: closing a campaign renders thousands of messages."""
    pinned = _pinned.get()
    if pinned is not None:
        template = pinned.get(msgid)
        if template is None:
            template = pinned[msgid] = gettext(msgid)
        return template % variables if variables else template
    cache = g.setdefault("_message_templates", {})
    key = (str(get_locale()), msgid)
    template = cache.get(key)
    if template is None:
        template = cache[key] = gettext(msgid)
    return template % variables if variables else template


def delivery_date(day) -> str:
    pinned = _pinned.get()
    if pinned is None:
        return format_date(day, "long")
    key = ("delivery_date", day)
    if key not in pinned:
        pinned[key] = format_date(day, "long")
    return pinned[key]


# One SMS: 70 characters when any is Chinese (UCS-2), 160 in plain ASCII (GSM-7); the signature counts.
SMS_SEGMENT, SMS_SEGMENT_ASCII = 70, 160


def signed_sms(body) -> str:
    """The text a phone receives: the sender's signature, as the channel adds it, then the body."""
    return f"【{current_app.config['SMS_SENDER']}】{body}"


def fits_one_sms(body) -> bool:
    text = signed_sms(body)
    return len(text) <= (SMS_SEGMENT_ASCII if text.isascii() else SMS_SEGMENT)


def one_sms(*texts) -> str:
    """The first of ``texts`` (fullest first) that fits one SMS; the last, shortest one when none does."""
    for text in texts:
        if fits_one_sms(text):
            return text
    return texts[-1]


def sms_date(day) -> str:
    """A date as short as an SMS needs: 12月5日, Dec 5."""
    # The pattern is the translator's: "M月d日" in Chinese.
    return format_date(day, _("MMM d")) if day else ""


def sms_time(moment) -> str:
    """A time as short as an SMS needs, in the user's time zone: 12月5日 18:00."""
    return format_datetime(moment, _("MMM d HH:mm")) if moment else ""
