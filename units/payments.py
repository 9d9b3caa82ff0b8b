"""Who has paid the coordinator: an order marked paid (cash or transfer) with who recorded it, or unmarked again.

The order's flag is the current state; every change is also a PaymentEntry (who, when, why, the amount), never
edited, so what a unit had collected on any day can be told again later (``collected_fen``)."""

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import User
from accounts.services import record_audit
from dashboard.kept_figures import keep_campaign_outcomes
from database import transaction, utcnow
from errors import Conflict, ValidationFailed
from extensions import db
from orders.models import PAYMENT_METHODS, Order
from units.access import unit_order
from units.models import PaymentEntry
from units.unit_orders import order_amount


def _clean_reason(reason):
    """:raises ValidationFailed: a reason over 255 characters."""
    reason = (reason or "").strip() or None
    if reason is not None and len(reason) > 255:
        raise ValidationFailed(_("Please correct the marked fields."), {"reason": [_("At most %(n)d characters.", n=255)]})
    return reason


def _locked(order):
    """The order again, its row locked until the commit: two marks at once make one entry, never two."""
    return db.session.scalar(
        sa.select(Order).where(Order.id == order.id).with_for_update().execution_options(populate_existing=True)
    )


def record_payment(user, order_id, method, reason=None) -> Order:
    """Mark an order paid (cash or transfer), recording who recorded it and when, and an entry with the amount.
    Marking it again with the same method changes nothing.

    :raises Forbidden, NotFound: see units.access.unit_order.
    :raises ValidationFailed: an unknown method, a reason too long.
    :raises Conflict: the order is cancelled.
    """
    order = unit_order(user, order_id)
    if method not in PAYMENT_METHODS:
        raise ValidationFailed(_("Choose how it was paid."), {"method": [_("Choose cash or transfer.")]})
    reason = _clean_reason(reason)
    with transaction(write=True):
        order = _locked(order)
        if order.status == "cancelled":
            raise Conflict(_("This order is cancelled; there is nothing to pay."))
        if order.payment_status == "paid" and order.payment_method == method:
            return order
        amount = order_amount(order)
        if order.payment_status == "paid":
            # Another method than recorded: the old entry is taken back and the new one written, both kept.
            db.session.add(_entry(user, order, "unpaid", -amount, reason, method=order.payment_method))
        order.payment_status, order.payment_method = "paid", method
        order.paid_at, order.payment_recorded_by_id = utcnow(), user.id
        db.session.add(_entry(user, order, "paid", amount, reason, method=method))
        record_audit(user, "order.paid", order, on_behalf_of=order.buyer_name, method=method, amount_fen=amount, reason=reason)
        keep_campaign_outcomes(order.campaign_id)
    return order


def clear_payment(user, order_id, reason=None) -> Order:
    """Undo a payment recorded by mistake: the order is unpaid again, and an entry takes the amount back (with why).

    :raises Forbidden, NotFound: see units.access.unit_order.
    :raises ValidationFailed: a reason too long.
    """
    order = unit_order(user, order_id)
    reason = _clean_reason(reason)
    with transaction(write=True):
        order = _locked(order)
        if order.payment_status != "paid":
            return order
        taken_back = _paid_amount(order.id)
        db.session.add(_entry(user, order, "unpaid", -taken_back, reason, method=order.payment_method))
        order.payment_status, order.payment_method, order.paid_at, order.payment_recorded_by_id = "unpaid", None, None, None
        record_audit(user, "order.unpaid", order, on_behalf_of=order.buyer_name, amount_fen=taken_back, reason=reason)
        keep_campaign_outcomes(order.campaign_id)
    return order


def _entry(user, order, status, amount_fen, reason, method=None):
    return PaymentEntry(
        order_id=order.id, actor_id=user.id if user else None, status=status, method=method, amount_fen=amount_fen, reason=reason
    )


def _paid_amount(order_id) -> int:
    """What the entries say is collected for the order now; an order marked paid before entries existed counts its
    amount as it stands."""
    total = db.session.scalar(sa.select(sa.func.sum(PaymentEntry.amount_fen)).where(PaymentEntry.order_id == order_id))
    if total is None:
        return order_amount(db.session.get(Order, order_id))
    return int(total)


def payment_history(user, order_id) -> list[PaymentEntry]:
    """Every change to an order's payment, oldest first (the unit's coordinator, operators).

    :raises Forbidden, NotFound: see units.access.unit_order.
    """
    order = unit_order(user, order_id)
    return db.session.scalars(
        sa.select(PaymentEntry).where(PaymentEntry.order_id == order.id).order_by(PaymentEntry.at, PaymentEntry.id)
    ).all()


def collected_fen(order_ids, until=None) -> int:
    """What the entries say was collected for these orders, as it stood at ``until`` (now when None)."""
    query = sa.select(sa.func.sum(PaymentEntry.amount_fen)).where(PaymentEntry.order_id.in_(list(order_ids)))
    if until is not None:
        query = query.where(PaymentEntry.at <= until)
    return int(db.session.scalar(query) or 0)


def recorded_by_names(orders) -> dict:
    """{user id: name} of whoever recorded these orders' payments."""
    ids = {order.payment_recorded_by_id for order in orders if order.payment_recorded_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(sorted(ids)))).all())
