"""Pages after close: allocations and confirmations for operators, pick lists (page, print, xlsx) for producers."""

import sqlalchemy as sa
from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.access import role_required
from errors import DomainError
from extensions import db
from fulfilment import closing
from fulfilment import picklists as pick_lists  # the module; picklists() is a view here
from shop.lifecycle import visible_to_buyers
from shop.models import Campaign

bp = Blueprint("fulfilment", __name__, url_prefix="/fulfilment")


@bp.route("/")
@role_required("operator", "producer")
def index():
    """Operators: every campaign past draft, with close and allocation links. Producers: their pick lists."""
    if current_user.role == "producer":
        return redirect(url_for("fulfilment.picklists"))
    campaigns = db.session.scalars(
        sa.select(Campaign).where(visible_to_buyers(Campaign.status)).order_by(Campaign.closes_at.desc())
    ).all()
    return render_template("fulfilment/index.html", campaigns=campaigns)


@bp.route("/campaigns/<int:campaign_id>")
@role_required("operator")
def campaign(campaign_id):
    """Who supplies how much to whom, and which producers have confirmed ready."""
    try:
        overview = pick_lists.allocation_overview(campaign_id)
    except DomainError:
        abort(404)
    return render_template(
        "fulfilment/campaign.html",
        overview=overview,
        confirmations=pick_lists.confirmations(campaign_id),
        campaign=db.session.get(Campaign, campaign_id),
    )


@bp.route("/campaigns/<int:campaign_id>/close", methods=["GET", "POST"])
@role_required("operator")
def close(campaign_id):
    """Closing early cannot be undone, so it asks first: the page says what stops, and only its button closes."""
    campaign = db.session.get(Campaign, campaign_id)
    if campaign is None or not visible_to_buyers(campaign.status):
        abort(404)
    if request.method == "GET" or request.form.get("confirm") != "yes":
        return render_template("fulfilment/close_confirm.html", campaign=campaign)
    try:
        closing.request_close(current_user, campaign_id)
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(error.message, "danger")
    else:
        flash(_("The campaign is closed: no more orders. Pooling runs in the background; refresh in a moment."), "success")
    return redirect(url_for("fulfilment.campaign", campaign_id=campaign_id))


@bp.route("/picklists")
@role_required("producer")
def picklists():
    return render_template("fulfilment/picklists.html", entries=pick_lists.producer_campaigns(current_user.producer_id))


def _picklist_for(campaign_id):
    """The pick list this user may see: a producer its own; an operator any producer's via ?producer=, a cadre its
    town's."""
    producer_id = current_user.producer_id
    if current_user.role in ("operator", "cadre"):
        producer_id = request.args.get("producer", type=int)
        if producer_id is None:
            abort(404)
    try:
        return pick_lists.picklist(current_user, producer_id, campaign_id)
    except DomainError as error:
        abort(error.status if error.status in (403, 404) else 404)


@bp.route("/picklists/<int:campaign_id>")
@role_required("producer", "operator", "cadre")
def picklist(campaign_id):
    return render_template("fulfilment/picklist.html", data=_picklist_for(campaign_id), query=_producer_query())


@bp.route("/picklists/<int:campaign_id>/print")
@role_required("producer", "operator", "cadre")
def picklist_print(campaign_id):
    return render_template("fulfilment/picklist_print.html", data=_picklist_for(campaign_id), query=_producer_query())


@bp.route("/picklists/<int:campaign_id>.xlsx")
@role_required("producer", "operator", "cadre")
def picklist_xlsx(campaign_id):
    data = _picklist_for(campaign_id)
    filename = f"picklist-{campaign_id}-{data['producer_id']}.xlsx"
    return Response(
        pick_lists.picklist_xlsx(data),
        mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _producer_query():
    return {"producer": request.args.get("producer", type=int)} if current_user.role in ("operator", "cadre") else {}


@bp.route("/picklists/<int:campaign_id>/ack", methods=["POST"])
@role_required("producer")
def ack(campaign_id):
    try:
        pick_lists.ack_picklist(current_user, current_user.producer_id, campaign_id)
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(error.message, "danger")
    else:
        flash(_("Thank you: you have confirmed the goods will be ready."), "success")
    return redirect(url_for("fulfilment.picklist", campaign_id=campaign_id))


@bp.route("/picklists/<int:campaign_id>/ack-by-phone/<int:producer_id>", methods=["POST"])
@role_required("operator", "cadre")
def ack_by_phone(campaign_id, producer_id):
    """An operator or the town's cadre confirms for a producer without a smartphone, after calling it."""
    try:
        pick_lists.ack_picklist(current_user, producer_id, campaign_id, by_phone=True)
    except DomainError as error:
        if error.status == 404:
            abort(404)
        flash(error.message, "danger")
    else:
        flash(_("Confirmed by phone for the producer."), "success")
    target = request.form.get("next")
    if target == "cadre":
        return redirect(url_for("cadres.index"))
    return redirect(url_for("fulfilment.campaign", campaign_id=campaign_id))
