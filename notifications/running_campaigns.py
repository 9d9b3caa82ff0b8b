"""The texts of a running campaign's life, before its close: new dates, sold out, cancelled, and the reminders.

Like notifications.messages: (title, body) in the current locale, or (title, body, sms) when it also goes by SMS.
"""

from notifications.rendering import _, delivery_date, one_sms, sms_time
from presentation import local_datetime


def campaign_rescheduled(campaign):
    """To everyone with a live order: the campaign's closing time or delivery date moved. Returns (title, body)."""
    title = _("“%(campaign)s”: new dates", campaign=campaign.title)
    body = _(
        "“%(campaign)s” now takes orders until %(closes)s, delivery on %(date)s. Your order stands; you may change it until then.",
        campaign=campaign.title,
        closes=local_datetime(campaign.closes_at),
        date=delivery_date(campaign.delivery_on),
    )
    return title, body


def campaign_sold_out(campaign):
    """To operators: a campaign sold out and closed by itself. Returns (title, body, sms)."""
    title = _("“%(campaign)s” sold out and closed", campaign=campaign.title)
    body = _(
        "Every item of “%(campaign)s” is sold out, so it closed early at %(time)s; pooling is under way and the producers will be told what to prepare.",
        campaign=campaign.title,
        time=local_datetime(campaign.closes_at),
    )
    sms = _("“%(campaign)s” sold out and closed at %(time)s; pooling is under way.")
    return title, body, one_sms(body, sms % {"campaign": campaign.title, "time": sms_time(campaign.closes_at)})


def campaign_cancelled_to_buyer(campaign):
    """To everyone whose order the cancellation took. Returns (title, body, sms)."""
    title = _("“%(campaign)s” is cancelled", campaign=campaign.title)
    body = _(
        "“%(campaign)s” has been cancelled: %(reason)s. Your pre-order is cancelled and nothing will be charged.",
        campaign=campaign.title,
        reason=campaign.cancel_reason,
    )
    short = _("“%(campaign)s” has been cancelled; your pre-order is cancelled and nothing will be charged.")
    return title, body, one_sms(body, short % {"campaign": campaign.title})


# Reminders before a campaign closes (in-app only; each ends with the link that turns them off)


def below_minimum_reminder(campaign, items, settings_url):
    """To a buyer of items short of their minimum; ``items``: (title, ordered, min_total, unit). Returns (title, body)."""
    each = _("%(title)s (ordered %(ordered)d / %(minimum)d %(unit)s)")
    goods = _("; ").join(each % {"title": t, "ordered": o, "minimum": m, "unit": u} for t, o, m, u in items)
    title = _("“%(campaign)s”: not enough ordered yet", campaign=campaign.title)
    body = _(
        "Your pre-order of %(goods)s in “%(campaign)s” goes ahead only if the minimum is ordered by %(closes)s; "
        "otherwise it is cancelled and nothing is charged. You may share the link with colleagues who want it. "
        "Stop these reminders: %(url)s",
        goods=goods,
        campaign=campaign.title,
        closes=local_datetime(campaign.closes_at),
        url=settings_url,
    )
    return title, body


def not_ordered_reminder(campaign, item_titles, campaign_url, settings_url):
    """Once per campaign, to someone eligible who has not ordered. Returns (title, body)."""
    title = _("“%(campaign)s” closes at %(closes)s", campaign=campaign.title, closes=local_datetime(campaign.closes_at))
    body = _(
        "“%(campaign)s” takes pre-orders until %(closes)s: %(items)s. Buying is voluntary; to order, open %(link)s. "
        "This is the only reminder for this campaign. Stop these reminders: %(url)s",
        campaign=campaign.title,
        closes=local_datetime(campaign.closes_at),
        items=_(", ").join(item_titles),
        link=campaign_url,
        url=settings_url,
    )
    return title, body
