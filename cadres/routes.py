"""A village cadre's pages: its town's households, their pick lists and deliveries."""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.access import role_required
from cadres import services
from errors import DomainError

bp = Blueprint("cadres", __name__, url_prefix="/cadres")


@bp.route("/")
@role_required("cadre")
def index():
    return render_template(
        "cadres/index.html", producers=services.town_producers(current_user), work=services.town_work(current_user)
    )


@bp.route("/deliveries", methods=["POST"])
@role_required("cadre")
def confirm_delivery():
    campaign_id = request.form.get("campaign_id", type=int)
    unit_id = request.form.get("unit_id", type=int)
    producer_id = request.form.get("producer_id", type=int)
    if None in (campaign_id, unit_id, producer_id):
        abort(400)
    try:
        added = services.confirm_delivery(current_user, campaign_id, unit_id, producer_id)
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(error.message, "danger")
    else:
        flash(_("Delivery recorded.") if added else _("This was already recorded as delivered."), "success" if added else "info")
    return redirect(url_for("cadres.index"))
