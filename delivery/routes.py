"""Pages of delivery day: a unit's receiving page, where its coordinator (or an operator) records what arrived."""

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user, login_required

from delivery import receipts, receiving
from delivery.forms import ReceiptForm
from errors import DomainError, ValidationFailed, WeightUnconfirmed

bp = Blueprint("delivery", __name__, url_prefix="/delivery")


def _lines(form_data, producer):
    """The receipt's lines as typed: one per item of the producer's card that has a quantity."""
    lines = []
    for entry in producer["items"]:
        item = entry["item"]
        typed = form_data.get(f"quantity-{item.id}", "").strip()
        if not typed:
            continue
        line = {"item_id": item.id, "quantity": int(typed) if typed.isdigit() else typed}
        if entry["by_weight"]:
            line["weight_kg"] = form_data.get(f"weight-{item.id}", "").strip() or None
            prefix = f"bag-{item.id}-"
            bags = [
                {"order_line_id": int(key[len(prefix) :]), "weight_kg": value.strip()}
                for key, value in form_data.items()
                if key.startswith(prefix) and key[len(prefix) :].isdigit() and value.strip()
            ]
            if bags:
                line["bags"] = bags
        lines.append(line)
    return lines


def _messages(error):
    """The error and each field's message, for a flash."""
    if isinstance(error, ValidationFailed) and error.fields:
        return [message for messages in error.fields.values() for message in messages]
    return [error.message]


@bp.route("/campaigns/<int:campaign_id>/units/<int:unit_id>", methods=["GET", "POST"])
@login_required
def receive(campaign_id, unit_id):
    sheet = receiving.receiving_sheet(current_user, campaign_id, unit_id)
    form = ReceiptForm()
    confirm = False
    if form.validate_on_submit():
        producer = next((p for p in sheet["producers"] if p["producer"].id == form.producer_id.data), None)
        try:
            if producer is None:
                raise ValidationFailed(
                    _("Please correct the marked fields."), {"producer_id": [_("Choose a producer of this unit.")]}
                )
            receipts.record_receipt(
                current_user,
                campaign_id,
                unit_id,
                producer["producer"].id,
                _lines(request.form, producer),
                reason=form.reason.data,
                confirm_weight=form.confirm_weight.data,
            )
        except WeightUnconfirmed as error:
            flash(error.message, "warning")
            confirm = True
        except DomainError as error:
            for message in _messages(error):
                flash(message, "danger")
            return redirect(url_for("delivery.receive", campaign_id=campaign_id, unit_id=unit_id))
        else:
            flash(_("Recorded what arrived from %(producer)s.", producer=producer["producer"].name), "success")
            return redirect(url_for("delivery.receive", campaign_id=campaign_id, unit_id=unit_id))
    elif request.method == "POST":
        flash(_("The form was not valid; please try again."), "danger")
        return redirect(url_for("delivery.receive", campaign_id=campaign_id, unit_id=unit_id))
    # A weight to confirm shows the page again with what was typed and a confirmation box.
    return render_template(
        "delivery/receive.html", sheet=sheet, form=form, confirm=confirm, typed=request.form if confirm else {}
    ), (409 if confirm else 200)
