"""Campaign pages: buyers browse, fill a cart and check out; operators build, preview and publish campaigns."""

import secrets

from flask import (
    Blueprint,
    abort,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_login import current_user
from wtforms import SelectChoice

from accounts.access import role_required
from accounts.routes import show_field_errors
from accounts.services import list_units
from database import local_zone
from errors import DomainError, IdempotencyConflict, MixedListings, ValidationFailed
from extensions import limiter
from measures import parse_yuan
from orders import services as order_services
from orders.forms import CheckoutForm, quantities_from_form
from orders.lines import MAX_LINE_QUANTITY
from producers.certificates import campaign_problem
from producers.photo_limits import upload_limit
from shop import catalogue, editing, lifecycle, page_cache, sharing
from shop.forms import ActionForm, CampaignForm, CartAddForm, ItemForm, SupplyForm

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
    listed = catalogue.visible_campaigns(current_user)
    phases = {campaign.id: lifecycle.campaign_phase(campaign) for campaign in listed}
    if current_user.role != "operator":
        # Open ones first (closing soonest first), then the ones still to come, then the past (newest first).
        rank = {"open": 0, "scheduled": 1}
        coming = sorted((c for c in listed if phases[c.id] in rank), key=lambda c: (rank[phases[c.id]], c.closes_at))
        listed = coming + [c for c in listed if phases[c.id] not in rank]
    return render_template("shop/campaigns.html", campaigns=listed, phases=phases)


# ---------------------------------------------------------------- the buyer's campaign page, cart and checkout


def _cart(campaign_id) -> dict[int, int]:
    return {int(k): v for k, v in session.get("cart", {}).get(str(campaign_id), {}).items()}


def _save_cart(campaign_id, lines: dict[int, int]):
    carts = dict(session.get("cart", {}))
    if lines:
        carts[str(campaign_id)] = {str(k): v for k, v in lines.items()}
    else:
        carts.pop(str(campaign_id), None)
    session["cart"] = carts


def _viewer():
    """The logged-in user, or None for a visitor (who reads the public catalogue and is asked to log in to order)."""
    return current_user if current_user.is_authenticated else None


def _ask_to_log_in(slug):
    """Ordering needs an account: the login page (which offers registering) brings the visitor back to the cart."""
    flash(_("Log in or register to order; you come back to the cart afterwards."), "info")
    return redirect(url_for("accounts.login", next=url_for("shop.cart", slug=slug)))


def _buyer_campaign(slug):
    """The campaign behind a short link, for a logged-in buyer about to order: refused (403) when their unit may not."""
    campaign = catalogue.get_public_campaign_by_slug(current_user, slug)
    if current_user.role == "buyer" and not lifecycle.open_to_unit(campaign, current_user.unit_id):
        return campaign, render_template("shop/not_eligible.html", campaign=campaign), 403
    return campaign, None, None


def _campaign_page(campaign, *, preview=False, add_form=None, status=200, visitor_copy=False):
    """The catalogue; a visitor's page holds nothing personal and writes nothing to the session (it is the same for
    every visitor: no form, no cart, no name; ``visitor_copy``: the copy the page cache shares among them)."""
    viewer = None if visitor_copy else _viewer()
    buyer = not preview and viewer is not None and viewer.role == "buyer"
    eligible = buyer and lifecycle.open_to_unit(campaign, viewer.unit_id)
    cart = _cart(campaign.id) if eligible else {}
    phase = lifecycle.campaign_phase(campaign)
    if eligible:
        add_form = add_form or CartAddForm(formdata=None)
    orderable = eligible and phase == "open"
    cards = page_cache.page_cards(
        page_cache.catalogue_cards(campaign, public=viewer is None),
        catalogue.item_counts(campaign.id),
        add_action=url_for("shop.add_to_cart", slug=campaign.slug) if orderable else None,
        csrf_field=add_form.csrf_token() if orderable and hasattr(add_form, "csrf_token") else "",
    )
    return (
        render_template(
            "shop/campaign.html",
            campaign=campaign,
            cards=cards,
            phase=phase,
            preview=preview,
            visitor=viewer is None,
            may_order=eligible,
            not_eligible=buyer and not eligible,
            cart_count=sum(cart.values()),
            short_url=catalogue.short_url(campaign),
            share=sharing.share_card(campaign),
            public_page=visitor_copy,
        ),
        status,
    )


def _visitor_copy(slug) -> str:
    """:raises NotFound: no such campaign, or a draft."""
    campaign = catalogue.get_public_campaign_by_slug(None, slug)
    return _campaign_page(campaign, visitor_copy=True)[0]


@bp.route("/c/<slug>")
@limiter.exempt
def campaign_page(slug):
    """What anyone opens from the link or QR code in a chat group: public for a published campaign. Visitors (not
    logged in, nothing flashed for them) share one cached copy of the page per language. No rate limit applies
    (:func:`_the_campaign_page_is_never_rate_limited`)."""
    viewer = _viewer()
    if viewer is None and not session.get("_flashes"):
        return page_cache.visitor_page(slug, str(get_locale()), lambda: _visitor_copy(slug))
    campaign = catalogue.get_public_campaign_by_slug(viewer, slug)
    return _campaign_page(campaign, preview=viewer is not None and viewer.role == "operator")


@limiter.request_filter
def _the_campaign_page_is_never_rate_limited():
    """The limiter answers before it looks any limit up: a launch rush opens this page thousands of times a minute."""
    return request.endpoint == "shop.campaign_page"


@bp.route("/c/<slug>/cart/add", methods=["POST"])
def add_to_cart(slug):
    if not current_user.is_authenticated:
        return _ask_to_log_in(slug)
    if current_user.role != "buyer":
        abort(403)
    campaign, refusal, status = _buyer_campaign(slug)
    if refusal:
        return refusal, status
    form = CartAddForm()
    if not lifecycle.takes_orders(campaign):
        flash(_("This campaign is not taking orders now."), "warning")
        return redirect(url_for("shop.campaign_page", slug=slug))
    item_ids = {item.id for item in campaign.items}
    if not form.validate_on_submit() or not form.item_id.data.isdigit() or int(form.item_id.data) not in item_ids:
        for message in form.quantity.errors or [_("Choose an item of this campaign.")]:
            flash(message, "danger")
        return _campaign_page(campaign, add_form=form, status=422)
    item_id = int(form.item_id.data)
    lines = _cart(campaign.id)
    lines[item_id] = min(lines.get(item_id, 0) + form.quantity.data, MAX_LINE_QUANTITY)
    _save_cart(campaign.id, lines)
    title = next(item.title for item in campaign.items if item.id == item_id)
    flash(_("Added %(n)d × %(title)s to your cart.", n=form.quantity.data, title=title), "success")
    return redirect(url_for("shop.campaign_page", slug=slug, _anchor=f"item-{item_id}"))


def _cart_page(campaign, lines, form=None, status=200):
    views = {view.id: view for view in catalogue.item_views(campaign)}
    rows = [(views[item_id], quantity) for item_id, quantity in lines.items() if item_id in views]
    form = form or CheckoutForm(formdata=None)
    if not form.token.data:
        form.token.data = secrets.token_urlsafe(24)
    return (
        render_template(
            "shop/cart.html",
            campaign=campaign,
            rows=rows,
            total_fen=sum(view.price_fen * quantity for view, quantity in rows),
            phase=lifecycle.campaign_phase(campaign),
            form=form,
        ),
        status,
    )


@bp.route("/c/<slug>/cart", methods=["GET", "POST"])
def cart(slug):
    """The cart is also the checkout: change quantities, or place the pre-order. The form's one-time token makes a double click one order."""
    if not current_user.is_authenticated:
        return _ask_to_log_in(slug)
    if current_user.role != "buyer":
        abort(403)
    campaign, refusal, status = _buyer_campaign(slug)
    if refusal:
        return refusal, status
    if request.method == "GET":
        return _cart_page(campaign, _cart(campaign.id))
    form = CheckoutForm()
    if not form.validate_on_submit():
        for messages in form.errors.values():
            for message in messages:
                flash(message, "danger")
        return _cart_page(campaign, _cart(campaign.id), form, 422)
    lines, problems = quantities_from_form(request.form, {item.id for item in campaign.items})
    if problems:
        for message in problems:
            flash(message, "danger")
        return _cart_page(campaign, _cart(campaign.id), form, 422)
    lines = {item_id: quantity for item_id, quantity in lines.items() if quantity > 0}
    if form.update.data or not lines:
        _save_cart(campaign.id, lines)
        flash(_("Cart updated."), "info")
        return redirect(url_for("shop.cart", slug=slug))
    try:
        placed = order_services.place_order(
            current_user,
            campaign.id,
            [{"item_id": k, "quantity": v} for k, v in lines.items()],
            idempotency_key=form.token.data,
            note=form.note.data,
        )
    except IdempotencyConflict:
        flash(_("This form was already used for another order. Check your cart and place the order again."), "warning")
        form.token.data = secrets.token_urlsafe(24)
        return _cart_page(campaign, lines, form, 409)
    except DomainError as error:
        if isinstance(error, ValidationFailed):
            show_field_errors(form, error)
        else:
            flash(error.message, "danger")
        return _cart_page(campaign, lines, form, error.status)
    _save_cart(campaign.id, {})
    return redirect(url_for("orders.confirmation", order_id=placed.order.id))


# ---------------------------------------------------------------- short link material (shop/sharing.py)

bp.add_url_rule("/c/<slug>/qr.svg", view_func=sharing.qr_svg)
bp.add_url_rule("/c/<slug>/qr.png", view_func=sharing.qr_png)
bp.add_url_rule("/c/<slug>/poster.png", view_func=sharing.poster_png)
bp.add_url_rule("/campaigns/covers/<token>", view_func=sharing.cover)


# ---------------------------------------------------------------- operators: build, preview, publish


def _fill_campaign_form(form, campaign=None):
    form.unit_ids.choices = [SelectChoice(unit.id, unit.name) for unit in list_units()]
    if campaign is not None and request.method == "GET":
        form.opens_at.data = campaign.opens_at.astimezone(local_zone()).replace(tzinfo=None)
        form.closes_at.data = campaign.closes_at.astimezone(local_zone()).replace(tzinfo=None)
        form.unit_ids.data = [unit.id for unit in campaign.units]


@bp.route("/campaigns/new", methods=["GET", "POST"])
@bp.route("/campaigns/<int:campaign_id>/edit", methods=["GET", "POST"])
@role_required("operator")
@upload_limit
def edit_campaign(campaign_id=None):
    campaign = catalogue.get_campaign(campaign_id) if campaign_id else None
    form = CampaignForm(obj=campaign)
    _fill_campaign_form(form, campaign)
    if form.validate_on_submit():
        fields = dict(
            title=form.title.data,
            description=form.description.data,
            opens_at=form.opens_at.data,
            closes_at=form.closes_at.data,
            delivery_on=form.delivery_on.data,
            unit_ids=form.unit_ids.data or [],
            cover=form.cover.data or None,
        )
        try:
            if campaign is None:
                campaign = editing.create_campaign(current_user, **fields)
            else:
                editing.update_campaign(current_user, campaign.id, **fields)
        except DomainError as error:
            if isinstance(error, ValidationFailed):
                show_field_errors(form, error)
            else:
                for messages in (error.details.get("fields") or {"cover": [error.message]}).values():
                    form.cover.errors = list(form.cover.errors) + list(messages)
                flash(error.message, "danger")
        else:
            flash(_("Campaign saved."), "success")
            return redirect(url_for("shop.manage", campaign_id=campaign.id))
    status = 422 if request.method == "POST" else 200
    return render_template("shop/campaign_form.html", form=form, campaign=campaign), status


@bp.route("/campaigns/<int:campaign_id>/manage")
@role_required("operator")
def manage(campaign_id):
    campaign = catalogue.get_campaign(campaign_id)
    return render_template(
        "shop/manage.html",
        campaign=campaign,
        items=catalogue.item_views(campaign),
        phase=lifecycle.campaign_phase(campaign),
        editable=lifecycle.still_editable(campaign),
        running=lifecycle.accepts_changes(campaign),
        short_url=catalogue.short_url(campaign),
        action_form=ActionForm(),
        supply_form=SupplyForm(),
        listings=catalogue.available_listings(),
    )


@bp.route("/campaigns/<int:campaign_id>/items/new", methods=["GET", "POST"])
@role_required("operator")
def new_item(campaign_id):
    campaign = catalogue.get_campaign(campaign_id)
    form = ItemForm()
    supplies, problems, mixed = {}, [], None
    if form.validate_on_submit():
        supplies, problems = quantities_from_form(request.form, None, prefix="supply-")
        try:
            if problems:
                raise ValidationFailed(_("Please correct the marked fields."), {"supplies": problems})
            editing.add_item(
                current_user,
                campaign.id,
                supplies=[(listing_id, quantity) for listing_id, quantity in supplies.items() if quantity > 0],
                title=form.title.data or None,
                price_fen=parse_yuan(form.price_yuan.data) if form.price_yuan.data else None,
                unit=form.unit.data or None,
                per_buyer_limit=form.per_buyer_limit.data,
                min_total=form.min_total.data,
                policy=form.policy.data,
                description=form.description.data,
                price_per_kg_fen=parse_yuan(form.price_per_kg_yuan.data) if form.price_per_kg_yuan.data else None,
                confirm_mixed=bool(form.confirm_mixed.data),
            )
        except DomainError as error:
            if isinstance(error, MixedListings):
                mixed = error.details
                flash(error.message, "warning")
            elif isinstance(error, ValidationFailed):
                problems = error.fields.pop("supplies", [])
                if "price_fen" in error.fields:
                    error.fields["price_yuan"] = error.fields.pop("price_fen")
                if "price_per_kg_fen" in error.fields:
                    error.fields["price_per_kg_yuan"] = error.fields.pop("price_per_kg_fen")
                show_field_errors(form, error)
            else:
                flash(error.message, "danger")
        else:
            flash(_("Item added."), "success")
            return redirect(url_for("shop.manage", campaign_id=campaign.id))
    status = 422 if request.method == "POST" else 200
    return (
        render_template(
            "shop/item_form.html",
            campaign=campaign,
            form=form,
            listings=catalogue.available_listings(),
            campaign_problem=campaign_problem,
            supplies=supplies,
            supply_errors=problems,
            mixed=mixed,
        ),
        409 if mixed else status,
    )


@bp.route("/campaigns/<int:campaign_id>/preview")
@role_required("operator")
def preview(campaign_id):
    """The page exactly as buyers will see it, without the ordering buttons."""
    return _campaign_page(catalogue.get_campaign(campaign_id), preview=True)
