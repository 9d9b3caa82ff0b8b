"""Buyer pages: the campaigns open to the buyer's unit."""

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user

from accounts.access import role_required
from shop import services

bp = Blueprint("shop", __name__)


@bp.route("/")
def index():
    if not current_user.is_authenticated:
        return redirect(url_for("accounts.login"))
    if current_user.role == "operator":
        return redirect(url_for("accounts.operator_home"))
    if current_user.role == "producer":
        return redirect(url_for("producers.home"))
    return campaigns()


@bp.route("/campaigns")
@role_required("buyer", "operator")
def campaigns():
    return render_template("shop/campaigns.html", campaigns=services.visible_campaigns(current_user))
