"""Jinja filters: money shown in yuan, times shown in Asia/Shanghai, weights in kg; and the one word for each status.

Every page, export and API message names a status with :func:`status_label`, so a campaign reads "taking orders"
everywhere, never "published" on one page and "taking orders" on another.
"""

from flask_babel import format_date, format_datetime
from flask_babel import lazy_gettext as _l

from measures import kg, yuan


def local_datetime(value, format="yyyy-MM-dd HH:mm"):
    return format_datetime(value, format) if value else ""


def local_date(value, format="yyyy-MM-dd"):
    return format_date(value, format) if value else ""


# A campaign is named by its phase (shop.lifecycle.campaign_phase): "published" is split by the clock.
STATUS_WORDS = {
    "order": {
        "placed": _l("placed"),
        "allocated": _l("being prepared"),
        "delivered": _l("delivered"),
        "cancelled": _l("cancelled"),
    },
    "payment": {"unpaid": _l("unpaid"), "paid": _l("paid"), "partly_paid": _l("partly paid")},
    "campaign": {
        "draft": _l("draft"),
        "scheduled": _l("opens soon"),
        "open": _l("taking orders"),
        "ended": _l("orders closed"),
        "closed": _l("orders closed"),
        "allocated": _l("being prepared"),
        "delivered": _l("delivered"),
        "settled": _l("settled"),
        "cancelled": _l("cancelled"),
    },
    "listing": {
        "pending": _l("pending"),
        "approved": _l("approved"),
        "rejected": _l("rejected"),
        "withdrawn": _l("withdrawn"),
        "sold_out": _l("sold out"),
    },
    "producer": {"pending": _l("pending"), "approved": _l("approved"), "suspended": _l("suspended")},
    "notification": {"pending": _l("waiting to be sent"), "sent": _l("sent"), "failed": _l("failed")},
}


def status_label(status, kind=None) -> str:
    """The word for a status of ``kind`` (order, payment, campaign phase, listing, producer, notification); without a
    kind, the first kind that knows the status."""
    kinds = [kind] if kind else list(STATUS_WORDS)
    for name in kinds:
        if status in STATUS_WORDS.get(name, {}):
            return str(STATUS_WORDS[name][status])
    return str(status)


AUDIT_ACTIONS = {
    "producer.create": _l("registered the producer"),
    "producer.update": _l("changed the producer"),
    "producer.approve": _l("approved the producer"),
    "producer.suspend": _l("suspended the producer"),
    "listing.create": _l("listed goods"),
    "listing.update": _l("changed a listing"),
    "listing.approve": _l("approved a listing"),
    "listing.reject": _l("rejected a listing"),
    "listing.withdraw": _l("withdrew a listing"),
    "listing.photo_add": _l("added a photo"),
    "listing.photo_delete": _l("deleted a photo"),
    "picklist.ack": _l("confirmed the pick list"),
    "delivery.mark": _l("marked goods delivered"),
}


def audit_label(action) -> str:
    """What an audit entry's action code means, in words; a code without words shows as itself."""
    return str(AUDIT_ACTIONS.get(action, action))


TEMPLATE_FILTERS = {"yuan": yuan, "kg": kg, "local_datetime": local_datetime, "local_date": local_date}
TEMPLATE_GLOBALS = {"status_word": status_label, "audit_label": audit_label}
