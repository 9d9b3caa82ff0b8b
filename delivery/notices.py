"""Telling buyers and the unit's coordinator what a receipt changed: one message per person per receipt.

A buyer is told when what they receive or pay is not simply what they ordered (a shortfall, a weighed price) or
when an earlier figure changed. A colleague without an account hears it by SMS to the order's phone. The unit's
coordinators get one summary of everyone told (a coordinator with their own order gets only the summary); the
person who recorded the receipt is not told what they just entered.
"""

from collections import defaultdict

import sqlalchemy as sa
from flask_babel import force_locale

import after_commit
from accounts.models import Unit, User
from delivery.ledger import line_figures
from extensions import db
from measures import kg
from notifications import delivery_day as messages
from notifications.services import queue_notification

KIND = "delivery_changed"
DEFAULT_LOCALE = "zh_CN"


def _worth_telling(change) -> bool:
    line, after = change.line, change.after
    pledged = after.quantity == line.quantity and after.charge_fen == line.quantity * line.price_fen
    return change.before is not None or not pledged


def _entry(change) -> dict:
    line, after = change.line, change.after
    return {
        "title": line.item.title,
        "unit": line.item.unit,
        "ordered": line.quantity,
        "delivered": after.quantity,
        "weight": kg(after.weight_g) if after.weight_g else None,
        "charged_fen": after.charge_fen,
    }


def tell_changes(campaign, receipt, changes) -> None:
    """Queue the messages for ``changes`` (``delivery.resharing.LineChange``), in the receipt's transaction."""
    by_order = defaultdict(list)
    for change in changes:
        if _worth_telling(change):
            by_order[change.line.order_id].append(change)
    if not by_order:
        return
    subject = f"receipt:{receipt.id}"
    coordinators = db.session.scalars(
        sa.select(User)
        .where(User.unit_id == receipt.unit_id, User.role == "buyer", User.coordinator, User.active)
        .order_by(User.id)
    ).all()
    coordinator_ids = {user.id for user in coordinators}
    people = []
    for order_changes in by_order.values():
        order = order_changes[0].line.order
        entries = [_entry(change) for change in order_changes]
        people.append((order.buyer_name, entries))
        if order.user_id in coordinator_ids or (order.user_id and order.user_id == receipt.recorded_by_id):
            continue
        charged = sum(f.charged_fen for f in line_figures([line.id for line in order.lines]).values())
        corrected = any(change.before is not None for change in order_changes)
        user = order.user if order.user_id else None
        with force_locale((user.locale if user else None) or DEFAULT_LOCALE):
            title, body = messages.delivery_changed(campaign, entries, charged, corrected)
        queue_notification(
            kind=KIND, subject=subject, title=title, body=body, user=user, phone=None if user else order.buyer_phone
        )
    unit = db.session.get(Unit, receipt.unit_id)
    for coordinator in coordinators:
        if coordinator.id == receipt.recorded_by_id:
            continue
        with force_locale(coordinator.locale or DEFAULT_LOCALE):
            title, body = messages.delivery_changed_for_unit(campaign, unit.name, people)
        queue_notification(kind=KIND, subject=subject, title=title, body=body, user=coordinator)
    after_commit.dispatch_notifications()
