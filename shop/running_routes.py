"""The operator's actions on a campaign past its first draft: removing a draft's item, publishing it, then its texts
and dates, its items' supplies (shop.running), and its cancellation (shop.cancellation)."""

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from accounts.access import role_required
from accounts.routes import show_field_errors
from database import local_zone
from errors import DomainError, MixedListings, ValidationFailed
from shop import cancellation, catalogue, editing, lifecycle, running
from shop.forms import ActionForm, CancelCampaignForm, RunningCampaignForm, SupplyForm
from shop.routes import bp


@bp.route("/campaigns/<int:campaign_id>/change", methods=["GET", "POST"])
@role_required("operator")
def change_campaign(campaign_id):
    campaign = catalogue.get_campaign(campaign_id)
    form = RunningCampaignForm(obj=campaign)
    shown_close = campaign.closes_at.astimezone(local_zone()).replace(tzinfo=None, second=0, microsecond=0)
    if request.method == "GET":
        form.closes_at.data = shown_close
    if form.validate_on_submit():
        try:
            running.change_campaign(
                current_user,
                campaign.id,
                title=form.title.data,
                description=form.description.data or "",
                # The form shows the time to the minute: left as shown, it is not a change.
                closes_at=None if form.closes_at.data == shown_close else form.closes_at.data,
                delivery_on=form.delivery_on.data,
                reason=form.reason.data,
            )
        except ValidationFailed as error:
            show_field_errors(form, error)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("Campaign changed. Buyers who ordered are told of new dates."), "success")
            return redirect(url_for("shop.manage", campaign_id=campaign.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "shop/running_form.html", form=form, campaign=campaign, phase=lifecycle.campaign_phase(campaign)
    ), status


@bp.route("/campaigns/<int:campaign_id>/items/<int:item_id>/supply", methods=["POST"])
@role_required("operator")
def set_supply(campaign_id, item_id):
    form = SupplyForm()
    if form.validate_on_submit():
        try:
            running.set_supply(
                current_user,
                item_id,
                form.listing_id.data,
                form.quantity.data,
                reason=form.reason.data,
                confirm_mixed=bool(form.confirm_mixed.data),
            )
        except MixedListings as error:
            # Nothing changed: the page shows how the listings differ and asks again, with the confirmation.
            campaign = catalogue.get_campaign(campaign_id)
            return render_template(
                "shop/mixed_confirm.html",
                form=form,
                campaign=campaign,
                item_id=item_id,
                mixed=error.details,
                message=error.message,
            ), 409
        except DomainError as error:
            for messages in (error.details.get("fields") or {"": [error.message]}).values():
                for message in messages:
                    flash(message, "danger")
        else:
            flash(_("Supply set to %(n)d.", n=form.quantity.data), "success")
    else:
        for messages in form.errors.values():
            for message in messages:
                flash(message, "danger")
    return redirect(url_for("shop.manage", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/cancel", methods=["GET", "POST"])
@role_required("operator")
def cancel_campaign(campaign_id):
    """Cancelling cannot be undone, so the page says what it does and asks why before its button cancels."""
    campaign = catalogue.get_campaign(campaign_id)
    form = CancelCampaignForm()
    if form.validate_on_submit():
        try:
            cancellation.cancel_campaign(current_user, campaign.id, form.reason.data)
        except ValidationFailed as error:
            show_field_errors(form, error)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(
                _(
                    "The campaign is cancelled: every order is cancelled, the stock is back with the producers, and everyone is told."
                ),
                "success",
            )
            return redirect(url_for("shop.manage", campaign_id=campaign.id))
    status = 422 if request.method == "POST" else 200
    return render_template(
        "shop/cancel_confirm.html", form=form, campaign=campaign, cancellable=lifecycle.cancellable(campaign.status)
    ), status


@bp.route("/campaigns/<int:campaign_id>/items/<int:item_id>/remove", methods=["POST"])
@role_required("operator")
def remove_item(campaign_id, item_id):
    if ActionForm().validate_on_submit():
        try:
            editing.remove_item(current_user, item_id)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("Item removed; its quantities are back with the producers."), "info")
    return redirect(url_for("shop.manage", campaign_id=campaign_id))


@bp.route("/campaigns/<int:campaign_id>/publish", methods=["POST"])
@role_required("operator")
def publish(campaign_id):
    if ActionForm().validate_on_submit():
        try:
            editing.publish_campaign(current_user, campaign_id)
        except DomainError as error:
            flash(error.message, "danger")
        else:
            flash(_("Published: buyers can see the campaign now."), "success")
    return redirect(url_for("shop.manage", campaign_id=campaign_id))
