"""The messages an order sends, queued in the outbox in the order's own transaction: to its buyer, and to the person
a coordinator ordered for (with an account or not), saying what was ordered for them and by whom."""

from flask_babel import force_locale

from notifications import messages
from notifications.services import queue_notification

DEFAULT_LOCALE = "zh_CN"
ORDERED_FOR = "group_order_placed"

_TEXTS = {
    "order_confirmed": messages.order_confirmed,
    "order_changed": messages.order_changed,
    "order_cancelled": messages.order_cancelled,
}


def notify_buyer(order, kind, subject, user=None, new_subject=False) -> None:
    """Queue the buyer's message (only buyers with an account get one), in their language."""
    user = user or (order.user if order.user_id else None)
    if user is None:
        return
    with force_locale(user.locale or DEFAULT_LOCALE):
        title, body, sms = _TEXTS[kind](order)
    queue_notification(kind=kind, subject=subject, title=title, body=body, sms_body=sms, user=user, new_subject=new_subject)


def tell_ordered_for(coordinator, order, person=None) -> None:
    """Tell the person of a new order ``coordinator`` placed for them what it holds and who placed it.

    A colleague with an account (``person``) hears it in the app, by SMS and by email, in their language; anyone else
    by SMS to the order's phone. The coordinator ordering for themselves is told nothing here.
    """
    if order.buyer_phone == coordinator.phone:
        return
    campaign = order.campaign
    lines = [(line.item.title, line.quantity, line.item.unit) for line in order.lines if not line.cancelled]
    unit_name = coordinator.unit.name if coordinator.unit else ""
    with force_locale((person.locale if person else None) or DEFAULT_LOCALE):
        title, body = messages.ordered_for_you(coordinator.name, campaign, lines, order.total_fen)
        sms = messages.ordered_for_you_sms(
            coordinator.name, unit_name, campaign, lines, order.total_fen, registered=person is not None
        )
    queue_notification(
        kind=ORDERED_FOR,
        subject=f"order:{order.id}:placed",
        title=title,
        body=body,
        sms_body=sms,
        user=person,
        phone=None if person else order.buyer_phone,
        new_subject=True,
    )
