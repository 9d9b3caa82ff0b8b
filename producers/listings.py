"""Listings: the unsold goods a producer offers, their fields and photos at creation, changes and withdrawal."""

from datetime import date, timedelta

from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from accounts.services import record_audit
from database import local_today, transaction
from errors import Conflict, DomainError, ValidationFailed
from extensions import db
from measures import MAX_UNIT_WEIGHT_G
from producers import photos as photo_files
from producers.access import acting_for, check_may_change, get_listing, get_producer, is_operator
from producers.fields import in_range, plain, raise_if, refuse_unknown, whole_number
from producers.models import Listing, ListingPhoto, Producer
from producers.stock import ON_OFFER, settle_stock_status

# Limits that make a typing slip (an extra zero or three) an error instead of a listing.
MAX_PRICE_FEN = 10_000_000  # ¥100,000 per unit
MAX_QUANTITY = 10_000_000
MAX_PHOTOS = 5
READY_PAST_DAYS = 30
READY_FUTURE_DAYS = 366
NAME_MAX, CATEGORY_MAX, VARIETY_MAX, UNIT_MAX, DESCRIPTION_MAX = 80, 40, 80, 8, 2000
REFERENCE_NOTE_MAX = 120

# Fields whose change by the producer sends an approved listing back for review.
# The reference price too: a producer raising it could hide a price above the market from review.
REVIEWED_FIELDS = (
    "name",
    "category",
    "variety",
    "unit",
    "unit_weight_g",
    "price_fen",
    "description",
    "reference_price_fen",
    "reference_price_note",
)
LISTING_FIELDS = REVIEWED_FIELDS + ("quantity", "ready_on")


def _clean_listing(values, listing=None):
    errors = {}
    clean = {}
    clean["name"] = plain(
        errors, "name", values.get("name"), required_message=_("Enter the product's name."), max_length=NAME_MAX
    )
    clean["category"] = plain(
        errors,
        "category",
        values.get("category"),
        required_message=_("Enter a category, e.g. eggs or poultry."),
        max_length=CATEGORY_MAX,
    )
    clean["variety"] = plain(errors, "variety", values.get("variety"), max_length=VARIETY_MAX)
    clean["unit"] = plain(
        errors, "unit", values.get("unit"), required_message=_("Enter the sale unit, e.g. 只, 个, 斤 or 袋."), max_length=UNIT_MAX
    )
    clean["unit_weight_g"] = _clean_unit_weight(errors, values.get("unit_weight_g"))
    clean["price_fen"] = in_range(
        errors,
        "price_fen",
        values.get("price_fen"),
        1,
        MAX_PRICE_FEN,
        _("Enter the price per unit."),
        _("Enter a price from ¥0.01 to ¥%(max)s per unit.", max="100,000"),
    )
    clean["reference_price_fen"] = _clean_reference_price(errors, values.get("reference_price_fen"))
    clean["reference_price_note"] = plain(
        errors, "reference_price_note", values.get("reference_price_note"), max_length=REFERENCE_NOTE_MAX
    )
    clean["quantity"] = _clean_quantity(errors, values.get("quantity"), listing)
    clean["ready_on"] = _clean_ready_on(errors, values.get("ready_on"), listing)
    clean["description"] = plain(errors, "description", values.get("description"), max_length=DESCRIPTION_MAX, multiline=True)
    if listing is not None and listing.quantity_committed > 0:
        for field, key in (("unit", "unit"), ("unit_weight_g", "unit_weight_kg")):
            if key not in errors and clean[field] != getattr(listing, field):
                errors[key] = [_("Campaigns already took some of this listing; the unit and its weight can no longer change.")]
    raise_if(errors)
    return clean


def _clean_reference_price(errors, fen):
    """Optional: what the same goods sell for at market, per sale unit."""
    if fen in (None, ""):
        return None
    return in_range(
        errors,
        "reference_price_fen",
        fen,
        1,
        MAX_PRICE_FEN,
        _("Enter the market price per unit."),
        _("Enter a price from ¥0.01 to ¥%(max)s per unit.", max="100,000"),
    )


def _clean_unit_weight(errors, grams):
    if grams in (None, ""):
        return None
    number = whole_number(grams)
    if number is None or not 0 < number <= MAX_UNIT_WEIGHT_G:
        errors["unit_weight_kg"] = [_("Enter a weight above 0 and at most %(max)s kg.", max="1,000")]
    return number


def _clean_quantity(errors, value, listing):
    """Never below what campaigns already took."""
    quantity = in_range(
        errors,
        "quantity",
        value,
        1,
        MAX_QUANTITY,
        _("Enter the quantity you can supply."),
        _("Enter a whole number from 1 to %(max)s.", max="10,000,000"),
    )
    committed = listing.quantity_committed if listing is not None else 0
    if quantity is not None and quantity < committed:
        errors["quantity"] = [_("At least %(n)d: campaigns have already taken that many.", n=committed)]
    return quantity


def _clean_ready_on(errors, ready_on, listing):
    """A date near today; a listing's date that is not changed stays valid however old it gets."""
    if ready_on in (None, ""):
        errors["ready_on"] = [_("Enter the date the goods are ready.")]
    elif not isinstance(ready_on, date):
        errors["ready_on"] = [_("Enter a date as YYYY-MM-DD.")]
    elif listing is None or ready_on != listing.ready_on:
        today = local_today()
        start, end = today - timedelta(days=READY_PAST_DAYS), today + timedelta(days=READY_FUTURE_DAYS)
        if not start <= ready_on <= end:
            errors["ready_on"] = [_("Choose a date from %(start)s to %(end)s.", start=start.isoformat(), end=end.isoformat())]
    return ready_on


def check_listing_fields(values, listing=None, photos=()) -> None:
    """Check listing fields (and photos) without saving anything, so a form can show every problem at once.

    :raises ValidationFailed: as create_listing and update_listing would.
    """
    merged = {field: getattr(listing, field) for field in LISTING_FIELDS} if listing is not None else {}
    merged.update(values)
    errors = {}
    try:
        _clean_listing(merged, listing)
    except ValidationFailed as error:
        errors.update(error.fields)
    problems = _photo_problems(photos)
    if problems:
        errors["photos"] = problems
    raise_if(errors)


def _photo_problems(photos):
    """What is wrong with a set of uploads (nothing is stored, no pixel decoded); an empty list if nothing is."""
    photos = [p for p in photos if p]
    problems = [_("At most %(n)d photos.", n=MAX_PHOTOS)] if len(photos) > MAX_PHOTOS else []
    for upload in photos:
        try:
            data = photo_files.read_upload(upload, "photos")
            if hasattr(upload, "seek"):
                upload.seek(0)
            photo_files.inspect_photo(data, "photos")
        except DomainError as error:
            if error.message not in problems:
                problems.append(error.message)
    return problems


def _listing_producer(actor, producer_id):
    """The producer a new listing is for: any one an operator names, one of its town a cadre names, a producer user's own."""
    if is_operator(actor):
        if producer_id is None:
            raise ValidationFailed(_("Please correct the marked fields."), {"producer_id": [_("Choose the producer.")]})
        producer = db.session.get(Producer, producer_id) if whole_number(producer_id) is not None else None
        if producer is None:
            raise ValidationFailed(_("Please correct the marked fields."), {"producer_id": [_("No such producer.")]})
        return producer
    if producer_id is None and actor is not None and actor.role == "producer":
        producer_id = actor.producer_id
    if producer_id is None:
        raise ValidationFailed(_("Please correct the marked fields."), {"producer_id": [_("Choose the producer.")]})
    return get_producer(actor, producer_id)


def create_listing(actor, producer_id=None, photos=(), **values) -> Listing:
    """List unsold goods: by the producer itself, or by an operator acting for it (audited as such). Starts pending.

    :param producer_id: required for operators; a producer user may omit it (its own).
    :param photos: up to MAX_PHOTOS uploads, all checked before anything is saved.
    :param values: name, category, variety?, unit, unit_weight_g?, price_fen, quantity, ready_on, description?,
        reference_price_fen?, reference_price_note?
    :raises NotFound: a producer user naming another producer.
    :raises ValidationFailed: every wrong field at once, including a bad photo; nothing is saved.
    :raises UploadTooLarge: a photo over the size limit; nothing is saved.
    """
    refuse_unknown(values, LISTING_FIELDS, "listing")
    producer = _listing_producer(actor, producer_id)
    check_may_change(actor, producer)
    photos = [p for p in photos if p]
    try:
        clean = _clean_listing(values)
    except ValidationFailed as error:
        # Say what is wrong with the photos too, so one more try is enough.
        problems = _photo_problems(photos)
        if problems:
            error.fields["photos"] = problems
        raise
    if len(photos) > MAX_PHOTOS:
        raise ValidationFailed(_("Please correct the marked fields."), {"photos": [_("At most %(n)d photos.", n=MAX_PHOTOS)]})
    stored = _store_all(photos, field="photos")
    try:
        with transaction():
            listing = Listing(producer_id=producer.id, status="pending", created_by_id=actor.id if actor else None, **clean)
            db.session.add(listing)
            db.session.flush()
            for position, (name, thumb) in enumerate(stored):
                db.session.add(ListingPhoto(listing_id=listing.id, filename=name, thumbnail=thumb, position=position))
            record_audit(
                actor,
                "listing.create",
                listing,
                on_behalf_of=acting_for(actor, producer),
                listing_id=listing.id,
                name=listing.name,
                photos=len(stored),
            )
    except Exception:
        photo_files.discard_files(*(n for pair in stored for n in pair))
        raise
    return listing


def _store_all(uploads, field):
    """Store every upload or none: a bad one removes those already written."""
    stored = []
    try:
        for upload in uploads:
            stored.append(photo_files.store_photo(upload, field=field))
    except DomainError:
        photo_files.discard_files(*(n for pair in stored for n in pair))
        raise
    return stored


def update_listing(actor, listing, **changes) -> Listing:
    """Change a listing. The producer's change to what buyers see (name, price, unit …) of an approved listing sends
    it back for review, as does any change to a rejected one; quantity and ready date alone keep it approved.

    :param changes: only the fields to change.
    :raises NotFound: another producer's listing.
    :raises Conflict: the listing was withdrawn.
    :raises ValidationFailed: a wrong field; the quantity below what campaigns already took.
    """
    refuse_unknown(changes, LISTING_FIELDS, "listing")
    try:
        with transaction():
            listing = get_listing(actor, listing.id, for_update=True)
            check_may_change(actor, listing.producer)
            if listing.status == "withdrawn":
                raise Conflict(_("This listing was withdrawn and can no longer be changed."))
            values = {field: getattr(listing, field) for field in LISTING_FIELDS}
            values.update(changes)
            clean = _clean_listing(values, listing)
            changed = sorted(field for field in LISTING_FIELDS if clean[field] != getattr(listing, field))
            if not changed:
                return listing
            for field in changed:
                setattr(listing, field, clean[field])
            if not is_operator(actor) and (
                listing.status == "rejected" or (listing.status in ON_OFFER and set(changed) & set(REVIEWED_FIELDS))
            ):
                listing.status = "pending"
                listing.reject_reason = None
            settle_stock_status(listing.id)
            record_audit(
                actor,
                "listing.update",
                listing,
                on_behalf_of=acting_for(actor, listing.producer),
                listing_id=listing.id,
                fields=changed,
                status=listing.status,
            )
    except IntegrityError:
        # A campaign took more in the meantime (SQLite has no row lock to wait on): the check constraint refused.
        raise ValidationFailed(
            _("Please correct the marked fields."),
            {"quantity": [_("Campaigns have just taken more of this listing; reload and try again.")]},
        ) from None
    return listing


def withdraw_listing(actor, listing) -> Listing:
    """Take a listing off the platform for good (producer or operator).

    :raises NotFound: another producer's listing.
    :raises Conflict: campaigns already took some of it, or it is already withdrawn.
    """
    with transaction():
        listing = get_listing(actor, listing.id, for_update=True)
        check_may_change(actor, listing.producer)
        if listing.status == "withdrawn":
            raise Conflict(_("This listing was already withdrawn."))
        if listing.quantity_committed > 0:
            raise Conflict(_("Campaigns already took some of this listing; ask an operator to take it out of them first."))
        listing.status = "withdrawn"
        record_audit(actor, "listing.withdraw", listing, on_behalf_of=acting_for(actor, listing.producer), listing_id=listing.id)
    return listing
