"""Producer pages: a producer's own goods and profile; operators' producer registry and listing review; photos."""

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, send_from_directory, url_for
from flask_babel import gettext as _
from flask_login import current_user
from werkzeug.exceptions import RequestEntityTooLarge

from accounts.access import bearer_user, role_required
from accounts.routes import show_field_errors
from errors import DomainError, NotFound, UploadTooLarge, ValidationFailed
from extensions import db, login_manager
from list_filters import ListFilter, filter_choices
from paging import page_of
from producers import access, certificates, listing_photos, listings, profiles
from producers import photos as photo_files
from producers import review as listing_review
from producers.forms import KIND_LABELS, EditListingForm, ListingForm, PhotoForm, ProducerForm, ProfileForm, RejectForm
from producers.photo_limits import upload_limit
from producers.pricing import allowed_share_pct, listing_price_check
from producers.towns import town_names

bp = Blueprint("producers", __name__, url_prefix="/producers")

# Service field names that the listing form shows under another name (it takes yuan, not fen).
LISTING_FORM_FIELDS = {"price_fen": "price_yuan", "reference_price_fen": "reference_price_yuan"}


def _show_errors(form, error, renamed=None):
    """Field errors from a service (or an oversized photo) beside the form's fields."""
    if isinstance(error, UploadTooLarge):
        error = ValidationFailed(error.message, error.details.get("fields"))
    if isinstance(error, ValidationFailed):
        fields = {(renamed or {}).get(name, name): messages for name, messages in error.fields.items()}
        show_field_errors(form, ValidationFailed(error.message, fields))
    else:
        flash(error.message, "danger")


def _form_errors(form, check, renamed=None):
    """The form could not read some fields (a price that is not an amount …): add the service's own checks of the
    rest, so every wrong field shows at once."""
    try:
        check()
    except ValidationFailed as error:
        for name, messages in error.fields.items():
            field = getattr(form, (renamed or {}).get(name, name), None)
            if field is not None and not field.errors:
                field.errors = list(field.errors) + messages
    flash(_("Please correct the marked fields."), "danger")


def _back(default):
    return redirect(request.referrer if request.referrer and request.referrer.startswith(request.host_url) else default)


@bp.errorhandler(RequestEntityTooLarge)
def upload_too_large(error):
    limit = current_app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
    message = _(
        "Too much at once: one upload may be at most %(mb)d MB. Add fewer photos now and the rest on the listing's page.",
        mb=limit,
    )
    return render_template("errors/error.html", status=413, message=message), 413


# ---------------------------------------------------------------- a producer's own pages


@bp.route("/")
@role_required("producer")
def home():
    """A producer's home: its own listings, their status and what is left of each."""
    own = db.session.scalars(access.listings_query(current_user)).all()
    return render_template("producers/home.html", producer=current_user.producer, listings=own)


@bp.route("/profile", methods=["GET", "POST"])
@role_required("producer")
def profile():
    producer = access.get_producer(current_user, current_user.producer_id)
    form = ProfileForm(obj=producer)
    status = 200
    if form.validate_on_submit():
        try:
            profiles.update_producer(current_user, producer, **form.profile_values())
        except DomainError as error:
            _show_errors(form, error)
            status = 422
        else:
            flash(_("Your details are saved."), "success")
            return redirect(url_for("producers.home"))
    elif form.errors:
        _form_errors(form, lambda: profiles.check_producer_fields(form.profile_values(), producer))
        status = 422
    return render_template("producers/profile.html", form=form, producer=producer), status


# ---------------------------------------------------------------- listings (the producer, or an operator acting for it)


def _listing_home(listing):
    if current_user.role == "operator":
        return url_for("producers.producer_detail", producer_id=listing.producer_id)
    if current_user.role == "cadre":
        return url_for("cadres.index")
    return url_for("producers.home")


@bp.route("/listings/new", methods=["GET", "POST"])
@role_required("producer", "operator", "cadre")
@upload_limit
def new_listing():
    if current_user.role in ("operator", "cadre"):
        producer = access.get_producer(current_user, request.args.get("producer_id", type=int) or 0)
    else:
        producer = access.get_producer(current_user, current_user.producer_id)
    form = ListingForm()
    status = 200
    if form.validate_on_submit():
        try:
            listing = listings.create_listing(current_user, producer.id, photos=form.photos.data or [], **form.listing_values())
        except DomainError as error:
            _show_errors(form, error, LISTING_FORM_FIELDS)
            status = 422
        else:
            flash(_("“%(name)s” is listed and waits for an operator's review.", name=listing.name), "success")
            return redirect(_listing_home(listing))
    elif form.errors:
        _form_errors(
            form, lambda: listings.check_listing_fields(form.listing_values(), photos=form.photos.data or []), LISTING_FORM_FIELDS
        )
        status = 422
    return render_template("producers/listing_form.html", form=form, producer=producer, listing=None), status


@bp.route("/listings/<int:listing_id>/edit", methods=["GET", "POST"])
@role_required("producer", "operator", "cadre")
def edit_listing(listing_id):
    listing = access.get_listing(current_user, listing_id)
    form = EditListingForm(obj=listing)
    status = 200
    if request.method == "GET":
        form.fill_from(listing)
    if form.validate_on_submit():
        try:
            listings.update_listing(current_user, listing, **form.listing_values())
        except DomainError as error:
            _show_errors(form, error, LISTING_FORM_FIELDS)
            status = 422
        else:
            flash(_("Listing saved."), "success")
            return redirect(_listing_home(listing))
    elif form.errors:
        _form_errors(form, lambda: listings.check_listing_fields(form.listing_values(), listing), LISTING_FORM_FIELDS)
        status = 422
    return render_template(
        "producers/listing_form.html", form=form, producer=listing.producer, listing=listing, photo_form=PhotoForm()
    ), status


@bp.route("/listings/<int:listing_id>/withdraw", methods=["POST"])
@role_required("producer", "operator", "cadre")
def withdraw_listing(listing_id):
    listing = access.get_listing(current_user, listing_id)
    try:
        listings.withdraw_listing(current_user, listing)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("“%(name)s” is withdrawn.", name=listing.name), "success")
    return redirect(_listing_home(listing))


@bp.route("/listings/<int:listing_id>/photos", methods=["POST"])
@role_required("producer", "operator", "cadre")
@upload_limit
def add_photo(listing_id):
    listing = access.get_listing(current_user, listing_id)
    form = PhotoForm()
    if form.validate_on_submit():
        try:
            listing_photos.add_photo(current_user, listing, form.photo.data)
        except DomainError as error:
            for messages in (error.details.get("fields") or {"photo": [error.message]}).values():
                for message in messages:
                    flash(message, "danger")
        else:
            flash(_("Photo added."), "success")
    return redirect(url_for("producers.edit_listing", listing_id=listing.id))


@bp.route("/photos/<int:photo_id>/delete", methods=["POST"])
@role_required("producer", "operator", "cadre")
def delete_photo(photo_id):
    photo = listing_photos.get_photo(current_user, photo_id)
    listing_id = photo.listing_id
    listing_photos.delete_photo(current_user, photo)
    flash(_("Photo removed."), "success")
    return redirect(url_for("producers.edit_listing", listing_id=listing_id))


def _viewer():
    if current_user.is_authenticated:
        return current_user
    return bearer_user()


@bp.route("/photos/<token>")
@bp.route("/photos/<token>/thumb", endpoint="photo_thumb")
def photo(token):
    """A listing photo by its random token, for those who may see it (logged in by session or bearer token, or
    anyone for a photo on a public campaign page)."""
    viewer = _viewer()
    try:
        item = listing_photos.get_photo_by_token(viewer, token)
    except NotFound:
        if viewer is None:
            return login_manager.unauthorized()  # perhaps the owner's own photo: log in to see it
        raise
    name = item.thumbnail if request.endpoint == "producers.photo_thumb" else item.filename
    if not (photo_files.photo_dir() / name).is_file():
        abort(404)
    response = send_from_directory(photo_files.photo_dir(), name, mimetype="image/jpeg", max_age=3600, conditional=True)
    response.cache_control.private = True
    response.cache_control.public = False
    return response


# ---------------------------------------------------------------- operators: the producer registry


def _bool_arg(name):
    value = request.args.get(name)
    return {"1": True, "yes": True, "0": False, "no": False}.get(value)


@bp.route("/registry")
@role_required("operator")
def registry():
    filters = {
        "town": request.args.get("town") or None,
        "kind": request.args.get("kind") if request.args.get("kind") in KIND_LABELS else None,
        "poverty": _bool_arg("poverty"),
        "status": request.args.get("status") or None,
        "search": (request.args.get("q") or "").strip() or None,
    }
    producers = db.session.scalars(profiles.producers_query(current_user, **filters)).all()
    return render_template(
        "producers/registry.html",
        producers=producers,
        filters=filters,
        towns=town_names(),
        kinds=KIND_LABELS,
        q=filters["search"] or "",
    )


@bp.route("/registry/new", methods=["GET", "POST"])
@bp.route("/registry/<int:producer_id>/edit", methods=["GET", "POST"])
@role_required("operator")
def edit_producer(producer_id=None):
    producer = access.get_producer(current_user, producer_id) if producer_id else None
    form = ProducerForm(obj=producer)
    status = 200
    if form.validate_on_submit():
        try:
            if producer is None:
                producer = profiles.create_producer(current_user, **form.producer_values())
            else:
                profiles.update_producer(current_user, producer, **form.producer_values())
        except DomainError as error:
            _show_errors(form, error)
            status = 422
        else:
            flash(_("Producer saved."), "success")
            return redirect(url_for("producers.producer_detail", producer_id=producer.id))
    elif form.errors:
        _form_errors(form, lambda: profiles.check_producer_fields(form.producer_values(), producer))
        status = 422
    return render_template("producers/producer_form.html", form=form, producer=producer), status


@bp.route("/registry/<int:producer_id>")
@role_required("operator")
def producer_detail(producer_id):
    producer = access.get_producer(current_user, producer_id)
    offered = db.session.scalars(access.listings_query(current_user, producer_id=producer.id)).all()
    return render_template(
        "producers/producer_detail.html",
        producer=producer,
        listings=offered,
        trail=profiles.audit_trail(producer),
        kinds=KIND_LABELS,
    )


@bp.route("/registry/<int:producer_id>/approve", methods=["POST"])
@role_required("operator")
def approve_producer(producer_id):
    producer = access.get_producer(current_user, producer_id)
    profiles.approve_producer(current_user, producer)
    flash(_("%(name)s is approved.", name=producer.name), "success")
    return _back(url_for("producers.producer_detail", producer_id=producer.id))


@bp.route("/registry/<int:producer_id>/suspend", methods=["POST"])
@role_required("operator")
def suspend_producer(producer_id):
    producer = access.get_producer(current_user, producer_id)
    profiles.suspend_producer(current_user, producer)
    flash(_("%(name)s is suspended.", name=producer.name), "warning")
    return _back(url_for("producers.producer_detail", producer_id=producer.id))


# ---------------------------------------------------------------- operators: the review queue


@bp.route("/review")
@role_required("operator")
def review():
    filters = ListFilter.from_args(request.args)
    listings = page_of(listing_review.review_queue_query(filters.producer_id, filters.town))
    return render_template(
        "producers/review.html",
        listings=listings,
        filters=filters,
        choices=filter_choices(),
        held_back=certificates.held_back_listings(),
        price_check=listing_price_check,
        campaign_problem=certificates.campaign_problem,
        allowed_pct=allowed_share_pct(),
    )


@bp.route("/listings/<int:listing_id>/approve", methods=["POST"])
@role_required("operator")
def approve_listing(listing_id):
    listing = access.get_listing(current_user, listing_id)
    try:
        listing_review.approve_listing(current_user, listing)
    except DomainError as error:
        flash(error.message, "danger")
    else:
        flash(_("“%(name)s” of %(producer)s is approved.", name=listing.name, producer=listing.producer.name), "success")
    return _back(url_for("producers.review"))


@bp.route("/listings/<int:listing_id>/reject", methods=["POST"])
@role_required("operator")
def reject_listing(listing_id):
    listing = access.get_listing(current_user, listing_id)
    form = RejectForm()
    try:
        listing_review.reject_listing(current_user, listing, form.reason.data)
    except DomainError as error:
        flash(
            _(
                "Not rejected: %(why)s",
                why=" ".join(m for ms in error.details.get("fields", {}).values() for m in ms) or error.message,
            ),
            "danger",
        )
    else:
        flash(_("“%(name)s” of %(producer)s is rejected.", name=listing.name, producer=listing.producer.name), "info")
    return _back(url_for("producers.review"))
