"""The texts Pinbang sends: to producers what to prepare, by when and for whom; to buyers what became of their order.

Each function returns (title, body) rendered in the current locale (Chinese unless a request says otherwise;
the worker renders in the default locale), and (title, body, sms) when the message also goes by SMS: the SMS says on
its own what happened, to which goods and what to do, in one segment (70 characters with the signature) where the
content allows, since the phone shows no title. Quantities come from allocations and never count cancelled lines.
"""

from flask import current_app

from measures import yuan
from notifications.rendering import _, delivery_date, one_sms, sms_date, sms_time
from presentation import local_date, local_datetime


def item_quantity(title, quantity, unit) -> str:
    """ "N × item" as every message writes it: 雪毛鸡 × 2只."""
    return f"{title} × {quantity}{unit}"


def item_list(pairs) -> str:
    """Several "item × N" joined with the current language's list separator ("；" in Chinese).

    :param pairs: (title, quantity, unit) tuples, in the order to show them.
    """
    return _("; ").join(item_quantity(title, quantity, unit) for title, quantity, unit in pairs)


# The close


def _goods(lines) -> str:
    """Each of ``lines`` as "N × item, to: unit N (address), …"; lines are dicts with title, unit, quantity and
    units (unit_name, address, quantity).

    Each template is looked up once per call, not once per destination: a producer's notice may name 300 units.
    """
    quantity, goods_to = _("%(quantity)s %(unit)s"), _("%(goods)s, to: %(destinations)s")
    destination, comma = _("%(unit)s %(amount)s (%(address)s)"), _(", ")
    parts = []
    for line in lines:
        goods = item_quantity(line["title"], line["quantity"], line["unit"])
        if line.get("units"):
            destinations = comma.join(
                destination
                % {
                    "unit": u["unit_name"],
                    "amount": quantity % {"quantity": u["quantity"], "unit": line["unit"]},
                    "address": u["address"],
                }
                for u in line["units"]
            )
            goods = goods_to % {"goods": goods, "destinations": destinations}
        parts.append(goods)
    return _("; ").join(parts)


def _items(lines) -> str:
    return item_list((line["title"], line["quantity"], line["unit"]) for line in lines)


def _fit(template, listed, counted, *fuller, **common) -> str:
    """The first of ``fuller`` texts, or ``template`` naming the goods one by one, or only counting them, that fits."""
    return one_sms(*fuller, template % {**common, "goods": listed}, template % {**common, "goods": counted})


def _kinds(n) -> str:
    return _("%(n)d kinds of goods", n=n)


def picklist_link(campaign_id) -> str:
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/fulfilment/picklists/{campaign_id}"


def prepare_goods(producer_name, campaign, lines):
    """To a producer at close: prepare N × item by DATE for these units. Returns (title, body, sms_body)."""
    title = _("Please prepare goods for “%(campaign)s”", campaign=campaign.title)
    body = _(
        "%(producer)s: the campaign “%(campaign)s” has closed. Please have ready by %(date)s: %(goods)s.",
        producer=producer_name,
        campaign=campaign.title,
        date=delivery_date(campaign.delivery_on),
        goods=_goods(lines),
    )
    points = len({u["unit_name"] for line in lines for u in line.get("units", ())})
    common = dict(campaign=campaign.title, date=sms_date(campaign.delivery_on), points=points, link=picklist_link(campaign.id))
    with_link = _(
        "“%(campaign)s” has closed: have %(goods)s ready by %(date)s for %(points)s delivery points. Pick list: %(link)s"
    )
    without_link = _(
        "“%(campaign)s” has closed: have %(goods)s ready by %(date)s for %(points)s delivery points; see the pick list in Pinbang."
    )
    texts = [body] + [
        template % {**common, "goods": goods}
        for template in (with_link, without_link)
        for goods in (_items(lines), _kinds(len(lines)))
    ]
    return title, body, one_sms(*texts)


def delivery_reminder(producer_name, campaign, lines):
    """To a producer the day before delivery. Returns (title, body, sms)."""
    title = _("Delivery tomorrow for “%(campaign)s”", campaign=campaign.title)
    body = _(
        "%(producer)s: reminder, delivery for “%(campaign)s” is tomorrow, %(date)s: %(goods)s.",
        producer=producer_name,
        campaign=campaign.title,
        date=delivery_date(campaign.delivery_on),
        goods=_items(lines),
    )
    reminder = _("Delivery tomorrow, %(date)s, for “%(campaign)s”: %(goods)s. See the pick list in Pinbang.")
    sms = _fit(reminder, _items(lines), _kinds(len(lines)), body, date=sms_date(campaign.delivery_on), campaign=campaign.title)
    return title, body, sms


def nothing_this_time(producer_name, campaign, item_titles):
    """To a producer whose supplies got no orders in this campaign. Returns (title, body, sms)."""
    title = _("No orders this time for “%(campaign)s”", campaign=campaign.title)
    body = _(
        "%(producer)s: “%(campaign)s” has closed and this time no orders went to your %(items)s. "
        "Nothing needs preparing; thank you, and see you in the next campaign.",
        producer=producer_name,
        campaign=campaign.title,
        items=_(", ").join(item_titles),
    )
    nothing = _("“%(campaign)s” has closed; no orders went to your %(goods)s this time. Nothing needs preparing.")
    sms = _fit(nothing, _(", ").join(item_titles), _kinds(len(item_titles)), body, campaign=campaign.title)
    return title, body, sms


def cancelled_below_minimum(campaign, entries):
    """To a buyer (or the coordinator who ordered for a colleague): lines cancelled because too few were ordered.

    ``entries``: dicts with title, unit, quantity and buyer_name (None when the recipient is the buyer).
    Returns (title, body, sms).
    """
    parts = []
    for entry in entries:
        text = item_quantity(entry["title"], entry["quantity"], entry["unit"])
        if entry.get("buyer_name"):
            text = _("%(goods)s (for %(name)s)", goods=text, name=entry["buyer_name"])
        parts.append(text)
    title = _("Order cancelled: too few orders in “%(campaign)s”", campaign=campaign.title)
    body = _(
        "Not enough was ordered in “%(campaign)s” to go ahead with: %(goods)s. These lines are cancelled and will not be charged.",
        campaign=campaign.title,
        goods=_("; ").join(parts),
    )
    short = _("“%(campaign)s”: too few orders, so %(goods)s is cancelled and will not be charged.")
    sms = _fit(short, _("; ").join(parts), _("%(n)d of your lines", n=len(parts)), body, campaign=campaign.title)
    return title, body, sms


def order_allocated(campaign):
    """To every buyer whose order went to the producers. Returns (title, body); buyers' fan-outs send no SMS."""
    title = _("Your order in “%(campaign)s” is on its way", campaign=campaign.title)
    body = _(
        "“%(campaign)s” has closed and your order has gone to the producers. It will be delivered to your unit on %(date)s.",
        campaign=campaign.title,
        date=delivery_date(campaign.delivery_on),
    )
    return title, body


# Running campaigns (the rest are in notifications.running_campaigns)


def campaign_cancelled_to_producer(producer_name, campaign):
    """To each producer that supplied the campaign: nothing to prepare, the quantities are theirs again. Returns
    (title, body, sms)."""
    title = _("“%(campaign)s” is cancelled", campaign=campaign.title)
    body = _(
        "%(producer)s: “%(campaign)s” has been cancelled: %(reason)s. Nothing needs preparing; what you offered to it is available for other campaigns again.",
        producer=producer_name,
        campaign=campaign.title,
        reason=campaign.cancel_reason,
    )
    short = _("“%(campaign)s” has been cancelled (%(goods)s). Nothing needs preparing; your goods are free for other campaigns.")
    reason = campaign.cancel_reason
    return title, body, one_sms(body, _fit(short, reason, _("the reason is in Pinbang"), campaign=campaign.title))


# Producers and settlement


def listing_approved(listing):
    """To a producer: its listing may now go into campaigns, with what is left of it. Returns (title, body, sms)."""
    title = _("Your listing “%(name)s” is approved", name=listing.name)
    body = _("Operators can now add it to campaigns: %(quantity)d %(unit)s.", quantity=listing.quantity_left, unit=listing.unit)
    sms = _(
        "Your listing “%(name)s” is approved: operators can now add its %(quantity)d %(unit)s to campaigns.",
        name=listing.name,
        quantity=listing.quantity_left,
        unit=listing.unit,
    )
    return title, body, sms


def listing_rejected(listing):
    """To a producer: its listing was not approved, and why. Returns (title, body, sms)."""
    title = _("Your listing “%(name)s” was not approved", name=listing.name)
    body = _("Reason: %(reason)s. Change the listing and it will be reviewed again.", reason=listing.reject_reason)
    rejected = _("Your listing “%(name)s” was not approved: %(goods)s. Change it and it will be reviewed again.")
    sms = _fit(rejected, listing.reject_reason, _("the reason is in Pinbang"), name=listing.name)
    return title, body, sms


def payout_made(campaign, amount_fen, method):
    """To a producer: money paid for a campaign, and how. Returns (title, body, sms); the SMS names a long campaign
    title short, so it stays one segment."""
    how = _("by bank transfer") if method == "transfer" else _("in cash")
    title = _("Payment for %(campaign)s", campaign=campaign.title)
    body = _("%(amount)s has been paid to you for %(campaign)s.", amount=yuan(amount_fen), campaign=campaign.title)
    sms = _("%(amount)s for %(campaign)s has been paid to you %(how)s. See My income.")
    fields = {"amount": yuan(amount_fen), "how": how}
    short_title = campaign.title if len(campaign.title) <= 16 else campaign.title[:15] + "…"
    return title, body, one_sms(sms % {**fields, "campaign": campaign.title}, sms % {**fields, "campaign": short_title})


# Work units


def ordered_for_you(coordinator_name, campaign, lines, total_fen):
    """To a colleague with an account: their unit's coordinator pre-ordered for them. Returns (title, body).

    :param lines: (title, quantity, unit) of the order's live lines.
    """
    title = _("%(coordinator)s pre-ordered for you", coordinator=coordinator_name)
    body = _(
        "%(campaign)s: %(lines)s. Total %(total)s, paid to your unit's coordinator. Delivery on %(date)s.",
        campaign=campaign.title,
        lines=item_list(lines),
        total=yuan(total_fen),
        date=local_date(campaign.delivery_on),
    )
    return title, body


def ordered_for_you_sms(coordinator_name, unit_name, campaign, lines, total_fen, *, registered):
    """The SMS to a person their unit's coordinator ordered for, account or not: what, by whom, what it costs, when it
    arrives, and where to see it. Too long for one SMS, it counts the items instead of listing them.

    :param lines: (title, quantity, unit) of the order's live lines.
    :param registered: the person has an account (else they are told that registering with this phone shows it).
    """
    common = dict(
        coordinator=coordinator_name,
        unit=unit_name,
        campaign=campaign.title,
        total=yuan(total_fen),
        date=local_date(campaign.delivery_on),
        then=_("See it under My orders.") if registered else _("Register with this phone to see it under My orders."),
    )
    text = _(
        "%(coordinator)s (%(unit)s) pre-ordered for you in “%(campaign)s”: %(lines)s. Total %(total)s, paid to your unit's coordinator. Delivery on %(date)s. %(then)s",
        lines=item_list(lines),
        **common,
    )
    counted = _(
        "%(coordinator)s (%(unit)s) pre-ordered %(n)d items for you in “%(campaign)s”. Total %(total)s, paid to your unit's coordinator. Delivery on %(date)s. %(then)s",
        n=len(lines),
        **common,
    )
    common.update(date=sms_date(campaign.delivery_on))
    short = _("%(coordinator)s pre-ordered %(lines)s for you in “%(campaign)s”, %(total)s, delivery %(date)s. %(then)s")
    return one_sms(
        text,
        counted,
        short % {**common, "lines": item_list(lines)},
        short % {**common, "lines": _("%(n)d items", n=len(lines))},
    )


# Orders


def _order_lines(order) -> str:
    return item_list((line.item.title, line.quantity, line.item.unit) for line in order.lines if not line.cancelled)


def order_confirmed(order):
    """To a buyer (or the colleague ordered for): what was pre-ordered, the total, when it arrives, until when it may
    change. Returns (title, body, sms)."""
    campaign = order.campaign
    title = _("Pre-order %(number)s confirmed", number=order.number)
    body = _(
        "%(campaign)s: %(lines)s. Total %(total)s, paid on delivery. Delivery on %(date)s. You may change or cancel until %(closes)s.",
        campaign=campaign.title,
        lines=_order_lines(order),
        total=yuan(order.total_fen),
        date=local_date(campaign.delivery_on),
        closes=local_datetime(campaign.closes_at),
    )
    short = _("Pre-order %(number)s confirmed: %(goods)s, %(total)s, delivery %(date)s. Change until %(closes)s.")
    dates = dict(date=sms_date(campaign.delivery_on), closes=sms_time(campaign.closes_at))
    sms = _fit(short, _order_lines(order), _order_count(order), number=order.number, total=yuan(order.total_fen), **dates)
    return title, body, sms


def _order_count(order) -> str:
    return _("%(n)d items", n=sum(1 for line in order.lines if not line.cancelled))


def order_changed(order):
    """To a buyer whose order was changed (by them or their coordinator): what it holds now. Returns (title, body,
    sms)."""
    title = _("Pre-order %(number)s changed", number=order.number)
    body = _(
        "%(campaign)s: now %(lines)s. Total %(total)s.",
        campaign=order.campaign.title,
        lines=_order_lines(order),
        total=yuan(order.total_fen),
    )
    short = _("Pre-order %(number)s in “%(campaign)s” changed: now %(goods)s, %(total)s.")
    common = dict(number=order.number, campaign=order.campaign.title, total=yuan(order.total_fen))
    sms = _fit(short, _order_lines(order), _order_count(order), **common)
    return title, body, sms


def order_cancelled(order):
    """To a buyer whose order was cancelled. Returns (title, body, sms)."""
    title = _("Pre-order %(number)s cancelled", number=order.number)
    body = _("%(campaign)s: your pre-order has been cancelled.", campaign=order.campaign.title)
    sms = _(
        "Your pre-order %(number)s in “%(campaign)s” has been cancelled; nothing will be charged.",
        number=order.number,
        campaign=order.campaign.title,
    )
    return title, body, sms


def abandoned_last_attempt() -> str:
    """The failure recorded for a message whose dispatcher died during its last attempt (shown to operators)."""
    return _(
        "Sending stopped during the last attempt: the message may have arrived. A resend is not delivered twice by a gateway that has it."
    )


# The front door


def sms_code(purpose, code, minutes) -> str:
    """The text of a one-time code: registering, logging in without a password, or resetting the password."""
    texts = {
        "register": _("Your Pinbang registration code is %(code)s, valid for %(minutes)d minutes. Never tell it to anyone."),
        "login": _("Your Pinbang login code is %(code)s, valid for %(minutes)d minutes. Never tell it to anyone."),
    }
    reset = _("Your Pinbang code to reset your password is %(code)s, valid for %(minutes)d minutes. Never tell it to anyone.")
    return texts.get(purpose, reset) % {"code": code, "minutes": minutes}


def no_account_for_phone() -> str:
    """To a phone with no account that asked for a login or reset code: no code, and how to join instead."""
    return _(
        "A Pinbang code was asked for this number, which has no account yet. To join, open your work unit's "
        "invitation link. If it was not you, ignore this message."
    )


def unit_invitation(unit_name, url):
    """To a colleague on a unit's roster without an account: the unit's invitation link. Returns (title, body); the
    body is the SMS."""
    title = _("%(unit)s invites you to Pinbang", unit=unit_name)
    body = _(
        "%(unit)s pre-orders produce of poor farming households together on Pinbang. Register with your phone: %(url)s",
        unit=unit_name,
        url=url,
    )
    return title, body


def certificate_expiring(certificate_name, number, valid_until, days_left, goods):
    """To a producer: a certificate expires soon (or has expired) and keeps its goods out of new campaigns then."""
    when = _("expires on %(date)s, in %(n)d days", date=valid_until.isoformat(), n=days_left)
    if days_left < 0:
        when = _("expired on %(date)s", date=valid_until.isoformat())
    title = _("Your %(certificate)s %(when)s", certificate=certificate_name, when=when)
    body = _(
        "%(certificate)s no. %(number)s %(when)s. Once expired, %(goods)s can no longer go into new campaigns: record the renewed certificate in Pinbang.",
        certificate=certificate_name,
        number=number,
        when=when,
        goods=goods,
    )
    return title, body
