"""The texts of delivery day: what arrived of a buyer's order and what they pay, and the unit coordinator's summary.

Kept beside ``notifications.messages`` (which would pass the house limit on module length), with the same
conventions: each function returns (title, body) in the current locale.
"""

from measures import yuan
from notifications.rendering import _


def _received(entry) -> str:
    """ "雪毛鸡 2/3只 ¥96.00" — received of ordered, with the weight when weighed, and what it costs."""
    text = _(
        "%(item)s: %(received)d of %(ordered)d%(unit)s",
        item=entry["title"],
        received=entry["delivered"],
        ordered=entry["ordered"],
        unit=entry["unit"],
    )
    if entry.get("weight"):
        text += f" ({entry['weight']})"
    return f"{text} {yuan(entry['charged_fen'])}"


def delivery_changed(campaign, entries, charged_fen, corrected):
    """To a buyer: what arrived of their order (a shortfall shared fairly, a weighed price, a correction) and what
    they pay now. ``entries``: dicts with title, unit, ordered, delivered, weight (text or None), charged_fen.
    Returns (title, body)."""
    if corrected:
        title = _("Corrected: what arrived of your order in “%(campaign)s”", campaign=campaign.title)
    else:
        title = _("What arrived of your order in “%(campaign)s”", campaign=campaign.title)
    body = _(
        "%(lines)s. You pay %(total)s. A shortfall is shared among the unit's buyers by what each ordered.",
        lines=_("; ").join(_received(entry) for entry in entries),
        total=yuan(charged_fen),
    )
    return title, body


def delivery_changed_for_unit(campaign, unit_name, people):
    """To a unit's coordinator: whose share changed at this receipt. ``people``: (name, entries) as in
    :func:`delivery_changed`. Returns (title, body)."""
    title = _("%(unit)s: what arrived in “%(campaign)s” changed", unit=unit_name, campaign=campaign.title)
    shown = people[:10]
    body = _(
        "Hand out by the delivery sheet: %(people)s.",
        people=_("; ").join(f"{name}: " + _(", ").join(_received(entry) for entry in entries) for name, entries in shown),
    )
    if len(people) > len(shown):
        body += " " + _("And %(n)d more people.", n=len(people) - len(shown))
    return title, body
