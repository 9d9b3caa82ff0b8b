"""Pages of claims: filing one from the buyer's order, the coordinator's unit claims, the operators' queue and
decision, and claim photos."""

from flask import Blueprint, abort, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from accounts.access import role_required
from accounts.routes import show_field_errors
from claims import reading, services
from claims.forms import ClaimForm, DecisionForm
from errors import DomainError, NotFound, ValidationFailed
from extensions import db
from notifications.after_delivery import claim_reason
from orders.models import Order
from producers import photos as photo_files
from producers.photo_limits import upload_limit

bp = Blueprint("claims", __name__, url_prefix="/claims")


@bp.app_template_global("order_claims")
def order_claims_global(order):
    """For the order page: the order's claims and the lines that can still be claimed on, for the viewer."""
    if not current_user.is_authenticated:
        return {"claims": [], "claimable": []}
    try:
        claims = reading.order_claims(current_user, order.id)
    except DomainError:
        return {"claims": [], "claimable": []}
    return {"claims": claims, "claimable": reading.claimable_lines(current_user, order)}


@bp.app_template_filter("claim_reason")
def claim_reason_filter(reason):
    return claim_reason(reason)


@bp.route("/orders/<int:order_id>/new", methods=["GET", "POST"])
@role_required("buyer")
@upload_limit
def new(order_id):
    order = db.session.get(Order, order_id)
    if order is None or not services.may_file_for(current_user, order):
        abort(404)
    lines = reading.claimable_lines(current_user, order)
    form = ClaimForm()
    form.item_id.choices = [
        SelectChoice(row["line"].item_id, _("%(item)s (up to %(n)d)", item=row["line"].item.title, n=row["left"]))
        for row in lines
    ]
    producers = {p.id: p for row in lines for p in row["producers"]}
    form.producer_id.choices = [SelectChoice("", _("Not sure"))] + [SelectChoice(p.id, p.name) for p in producers.values()]
    if request.method == "GET" and request.args.get("item_id", type=int):
        form.item_id.data = request.args.get("item_id", type=int)
    status = 200
    if form.validate_on_submit():
        try:
            services.file_claim(
                current_user,
                order.id,
                item_id=form.item_id.data,
                quantity=form.quantity.data,
                reason=form.reason.data,
                note=form.note.data,
                producer_id=form.producer_id.data,
                photos=form.photos.data or [],
            )
        except ValidationFailed as error:
            show_field_errors(form, error)
            status = 422
        except DomainError as error:
            flash(error.message, "danger")
            status = error.status if error.status in (409, 413, 503) else 422
        else:
            flash(_("Your claim is filed; an operator will decide and you will be told."), "success")
            return redirect(url_for("orders.detail", order_id=order.id))
    elif form.errors:
        status = 422
    return render_template("claims/new.html", order=order, form=form, lines=lines), status


@bp.route("/")
@role_required("operator")
def queue():
    status = request.args.get("status", "open")
    claims = reading.claims_queue(current_user, None if status == "all" else status)
    return render_template("claims/queue.html", claims=claims, status=status)


@bp.route("/units/<int:unit_id>")
@role_required("buyer", "operator")
def unit(unit_id):
    try:
        claims = reading.unit_claims(current_user, unit_id)
    except DomainError:
        abort(403)
    return render_template("claims/unit.html", claims=claims)


@bp.route("/<int:claim_id>", methods=["GET", "POST"])
@role_required("buyer", "operator")
def detail(claim_id):
    try:
        claim = reading.get_claim(current_user, claim_id)
    except NotFound:
        abort(404)
    form = DecisionForm() if current_user.role == "operator" else None
    status = 200
    if form is not None and form.validate_on_submit():
        try:
            services.decide_claim(current_user, claim.id, form.decision.data, quantity=form.quantity.data, note=form.note.data)
        except ValidationFailed as error:
            show_field_errors(form, error)
            status = 422
        except DomainError as error:
            flash(error.message, "danger")
            return redirect(url_for("claims.detail", claim_id=claim.id))
        else:
            flash(_("The claim is decided; the buyer is told."), "success")
            return redirect(url_for("claims.queue"))
    return render_template("claims/detail.html", claim=claim, form=form), status


@bp.route("/photos/<token>")
@bp.route("/photos/<token>/thumb", endpoint="photo_thumb")
@role_required("buyer", "operator")
def photo(token):
    try:
        item = reading.get_photo_by_token(current_user, token)
    except NotFound:
        abort(404)
    name = item.thumbnail if request.endpoint == "claims.photo_thumb" else item.filename
    if not (photo_files.photo_dir() / name).is_file():
        abort(404)
    response = send_from_directory(photo_files.photo_dir(), name, mimetype="image/jpeg", max_age=3600, conditional=True)
    response.cache_control.private = True
    return response
