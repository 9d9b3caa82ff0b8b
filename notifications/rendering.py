"""Rendering many messages at once: each text's template and each date looked up once for a whole job.

notifications.messages renders every text through these; closing a campaign renders thousands of notices, and
asking for the locale alone costs more than formatting a text.
"""

from contextlib import contextmanager
from contextvars import ContextVar

from flask import g
from flask_babel import format_date, get_locale, gettext

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
