"""Pages of earnings: a producer's 我的收入, an operator's view of any producer's, and a campaign's payment terms."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.access import role_required
from dashboard.sales import get_campaign
from earnings import services
from earnings.forms import TermsForm
from errors import DomainError

bp = Blueprint("earnings", __name__, url_prefix="/earnings")


@bp.route("/")
@role_required("producer")
def mine():
    """我的收入: per campaign what the producer was allocated, delivered, refunded, is due, was paid and is owed."""
    return render_template("earnings/index.html", data=services.producer_earnings(current_user, current_user.producer_id))


@bp.route("/producers/<int:producer_id>")
@role_required("operator")
def producer(producer_id):
    try:
        data = services.producer_earnings(current_user, producer_id)
    except DomainError:
        abort(404)
    return render_template("earnings/index.html", data=data)


@bp.route("/campaigns/<int:campaign_id>", methods=["GET", "POST"])
@role_required("operator")
def campaign(campaign_id):
    """Every producer's earnings in a campaign, and its payment terms."""
    found = get_campaign(campaign_id)
    form = TermsForm(days=found.payment_terms_days)
    if request.method == "POST":
        if form.validate_on_submit():
            try:
                services.set_payment_terms(current_user, campaign_id, form.days.data)
            except DomainError as error:
                flash(error.message, "danger")
            else:
                flash(_("Payment terms saved."), "success")
                return redirect(url_for("earnings.campaign", campaign_id=campaign_id))
        else:
            flash(_("Enter whole days from 0 to %(n)d.", n=services.MAX_TERMS_DAYS), "danger")
    return render_template(
        "earnings/campaign.html",
        campaign=found,
        rows=services.campaign_earnings(found),
        terms=services.terms_days(found),
        default=current_app.config["PAYMENT_TERMS_DAYS"],
        form=form,
    )
