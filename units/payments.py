"""Who has paid the coordinator: an order marked paid (cash or transfer) with who recorded it, or unmarked again."""

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import User
from accounts.services import record_audit
from database import transaction, utcnow
from errors import Conflict, ValidationFailed
from extensions import db
from orders.models import PAYMENT_METHODS, Order
from units.access import unit_order
from units.unit_orders import order_amount


def record_payment(user, order_id, method) -> Order:
    """Mark an order paid (cash or transfer), recording who recorded it and when. Marking it again with the same
    method changes nothing.

    :raises Forbidden, NotFound: see units.access.unit_order.
    :raises ValidationFailed: an unknown method.
    :raises Conflict: the order is cancelled.
    """
    order = unit_order(user, order_id)
    if method not in PAYMENT_METHODS:
        raise ValidationFailed(_("Choose how it was paid."), {"method": [_("Choose cash or transfer.")]})
    if order.status == "cancelled":
        raise Conflict(_("This order is cancelled; there is nothing to pay."))
    if order.payment_status == "paid" and order.payment_method == method:
        return order
    with transaction():
        order.payment_status, order.payment_method = "paid", method
        order.paid_at, order.payment_recorded_by_id = utcnow(), user.id
        record_audit(user, "order.paid", order, on_behalf_of=order.buyer_name, method=method, amount_fen=order_amount(order))
    return order


def clear_payment(user, order_id) -> Order:
    """Undo a payment recorded by mistake: the order is unpaid again (the audit log keeps both steps).

    :raises Forbidden, NotFound: see units.access.unit_order.
    """
    order = unit_order(user, order_id)
    if order.payment_status != "paid":
        return order
    with transaction():
        order.payment_status, order.payment_method, order.paid_at, order.payment_recorded_by_id = "unpaid", None, None, None
        record_audit(user, "order.unpaid", order, on_behalf_of=order.buyer_name)
    return order


def recorded_by_names(orders) -> dict:
    """{user id: name} of whoever recorded these orders' payments."""
    ids = {order.payment_recorded_by_id for order in orders if order.payment_recorded_by_id}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(sorted(ids)))).all())
