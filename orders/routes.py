"""Buyer order pages: my orders, an order with change and cancel until closing, the confirmation after checkout."""

import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.access import role_required
from errors import DomainError
from extensions import db
from orders import reading, services
from orders.forms import CancelOrderForm, ChangeOrderForm, quantities_from_form
from orders.models import Order
from shop import catalogue as shop_catalogue
from shop import lifecycle as shop_lifecycle

bp = Blueprint("orders", __name__, url_prefix="/orders")


@bp.route("/")
@role_required("buyer", "operator")
def mine():
    """A buyer's own orders, newest first (operators: the latest orders of everyone); ``?number=C12-0042`` opens one."""
    number = request.args.get("number", "").strip()
    if number:
        found = reading.find_order_by_number(current_user, number)
        if found is not None:
            return redirect(url_for("orders.detail", order_id=found.id))
        flash(_("There is no order %(number)s that you may see.", number=number[:40]), "warning")
    orders = db.session.scalars(reading.my_orders_query(current_user).limit(200)).all()
    return render_template("orders/mine.html", orders=orders, phases=_phases(orders))


def _phases(orders):
    return {order.id: shop_lifecycle.campaign_phase(order.campaign) for order in orders}


def _may_change(order):
    return current_user.role == "buyer" and order.status == "placed" and shop_lifecycle.takes_orders(order.campaign)


def _detail(order, change_form=None, status=200):
    views = shop_catalogue.item_views(order.campaign)
    current = {line.item_id: line.quantity for line in reading.active_lines(order)}
    return (
        render_template(
            "orders/detail.html",
            order=order,
            campaign=order.campaign,
            titles={view.id: view for view in views},
            items=views,
            current=current,
            phase=shop_lifecycle.campaign_phase(order.campaign),
            may_change=_may_change(order),
            may_cancel=order.status == "placed" and shop_lifecycle.takes_orders(order.campaign),
            change_form=change_form or ChangeOrderForm(formdata=None),
        ),
        status,
    )


@bp.route("/<int:order_id>")
@role_required("buyer", "operator")
def detail(order_id):
    return _detail(reading.get_order(current_user, order_id))


@bp.route("/<int:order_id>/confirmation")
@role_required("buyer")
def confirmation(order_id):
    order = reading.get_order(current_user, order_id)
    return render_template(
        "orders/confirmation.html",
        order=order,
        campaign=order.campaign,
        titles={view.id: view for view in shop_catalogue.item_views(order.campaign)},
    )


@bp.route("/<int:order_id>/change", methods=["POST"])
@role_required("buyer")
def change(order_id):
    order = reading.get_order(current_user, order_id, for_change=True)
    form = ChangeOrderForm()
    if not form.validate_on_submit():
        return _detail(order, form, 422)
    lines, problems = quantities_from_form(request.form, {item.id for item in order.campaign.items})
    lines = {item_id: quantity for item_id, quantity in lines.items() if quantity > 0}
    if problems or not lines:
        for message in problems or [_("To remove everything, cancel the order instead.")]:
            flash(message, "danger")
        return _detail(order, form, 422)
    try:
        services.change_order(current_user, order.id, [{"item_id": k, "quantity": v} for k, v in lines.items()])
    except DomainError as error:
        flash(error.message, "danger")
        for messages in error.details.get("fields", {}).values():
            for message in messages:
                flash(message, "danger")
        return _detail(reading.get_order(current_user, order_id), form, error.status)
    flash(_("Your order has been changed."), "success")
    return redirect(url_for("orders.detail", order_id=order.id))


@bp.route("/<int:order_id>/cancel", methods=["GET", "POST"])
@role_required("buyer", "operator")
def cancel(order_id):
    """GET asks to confirm (a tap on a phone is easily a mistake); POST cancels."""
    order = reading.get_order(current_user, order_id)
    form = CancelOrderForm()
    if form.validate_on_submit():
        try:
            services.cancel_order(current_user, order.id)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("Your order has been cancelled."), "info")
        return redirect(url_for("orders.detail", order_id=order.id))
    return render_template("orders/cancel.html", order=order, campaign=order.campaign, form=form)


@bp.app_template_global()
def order_count_for(campaign_id):
    """How many live orders the logged-in buyer has in a campaign (shown on the campaign page)."""
    if not current_user.is_authenticated or current_user.role != "buyer":
        return 0
    return db.session.scalar(
        sa.select(sa.func.count())
        .select_from(Order)
        .where(Order.campaign_id == campaign_id, Order.user_id == current_user.id, Order.status != "cancelled")
    )
