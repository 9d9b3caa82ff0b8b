"""Producers and their listings: registry, review, photos, and the quantity campaigns take from each listing."""

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from accounts.models import AuditEntry
from accounts.services import EMAIL_RE, normalize_phone, record_audit
from database import utcnow
from errors import Conflict, DomainError, Forbidden, InsufficientStock, NotFound, ValidationFailed
from extensions import db
from producers import photos as photo_files
from producers.models import PRODUCER_KINDS, Listing, ListingPhoto, Producer
from producers.towns import town_names

# Limits that make a typing slip (an extra zero or three) an error instead of a listing.
MAX_PRICE_FEN = 10_000_000  # ¥100,000 per unit
MAX_QUANTITY = 10_000_000
MAX_UNIT_WEIGHT_G = 1_000_000  # 1,000 kg
MAX_LINKED_HOUSEHOLDS = 100_000
MAX_PHOTOS = 5
READY_PAST_DAYS = 30
READY_FUTURE_DAYS = 366

NAME_MAX, CATEGORY_MAX, VARIETY_MAX, UNIT_MAX = 80, 40, 80, 8
PRODUCER_NAME_MAX, VILLAGE_MAX, POVERTY_ID_MAX = 120, 80, 40
DESCRIPTION_MAX, REASON_MAX = 2000, 255

# Names are plain text. Jinja escapes everything anyway; refusing markup characters in short
# fields keeps them harmless in SMS, sheets and the mini-program too.
SINGLE_LINE_RE = re.compile(r"[<>\x00-\x1f\x7f]")
CONTROL_RE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
POVERTY_ID_RE = re.compile(r"^[A-Za-z0-9\-]{4,40}$")
YUAN_RE = re.compile(r"^\d{1,12}(\.\d{1,2})?$")

# Fields whose change by the producer sends an approved listing back for review.
REVIEWED_FIELDS = ("name", "category", "variety", "unit", "unit_weight_g", "price_fen", "description")
LISTING_FIELDS = REVIEWED_FIELDS + ("quantity", "ready_on")
PRODUCER_FIELDS = ("name", "kind", "town", "village", "phone", "email", "poverty_household", "poverty_id", "linked_households")
# Vetted facts: the poverty registry and the household links decide who is helped first.
OPERATOR_ONLY_PRODUCER_FIELDS = ("kind", "poverty_household", "poverty_id", "linked_households")


# ---------------------------------------------------------------- units of measure at the edges


def yuan_to_fen(text) -> int:
    """'98', '4.5', '¥4.50' → fen. :raises ValueError: with a translated message."""
    cleaned = re.sub(r"[\s,¥￥]", "", str(text or ""))
    if not YUAN_RE.match(cleaned):
        raise ValueError(_("Enter an amount in yuan, e.g. 98 or 4.50."))
    whole, _sep, cents = cleaned.partition(".")
    return int(whole) * 100 + int((cents + "00")[:2])


def kg_to_grams(value) -> int:
    """A weight in kg (number or text, at most 3 decimals) → whole grams. :raises ValueError: with a translated message."""
    if isinstance(value, bool) or value is None:
        raise ValueError(_("Enter the weight in kg as a number, e.g. 1.5."))
    try:
        kg = Decimal(str(value).strip())
    except InvalidOperation:
        raise ValueError(_("Enter the weight in kg as a number, e.g. 1.5.")) from None
    if not kg.is_finite():
        raise ValueError(_("Enter the weight in kg as a number, e.g. 1.5."))
    if abs(kg) > MAX_UNIT_WEIGHT_G:  # keep absurd exponents from building huge integers
        raise ValueError(_("Enter a weight above 0 and at most %(max)s kg.", max="1,000"))
    grams = kg * 1000
    if grams != grams.to_integral_value():
        raise ValueError(_("Give the weight in kg with at most 3 decimals (whole grams)."))
    return int(grams)


def grams_to_kg(grams):
    return None if grams is None else float(Decimal(grams) / 1000)


# ---------------------------------------------------------------- field checks


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _plain(errors, field, value, *, required_message=None, max_length, multiline=False):
    """A cleaned plain-text value, or None when empty; problems go into ``errors``."""
    value = _text(value)
    if not value:
        if required_message:
            errors[field] = [required_message]
        return None
    if len(value) > max_length:
        errors[field] = [_("At most %(n)d characters.", n=max_length)]
    elif multiline and CONTROL_RE.search(value):
        errors[field] = [_("Remove the control characters.")]
    elif not multiline and SINGLE_LINE_RE.search(value):
        errors[field] = [_("Use plain text on one line, without < or >.")]
    return value


def _whole_number(value) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.fullmatch(r"-?\d{1,15}", value.strip()):
        return int(value.strip())
    return None


def _in_range(errors, field, value, low, high, required_message, range_message):
    if value is None or value == "":
        errors[field] = [required_message]
        return None
    number = _whole_number(value)
    if number is None:
        errors[field] = [_("Enter a whole number.")]
        return None
    if not low <= number <= high:
        errors[field] = [range_message]
        return None
    return number


def _raise_if(errors):
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)


# ---------------------------------------------------------------- who may see what


def _is_operator(user) -> bool:
    return user is not None and user.role == "operator"


def _require_operator(user):
    if not _is_operator(user):
        raise Forbidden(_("Only operators may do this."))


def _owns(user, producer_id) -> bool:
    return user is not None and user.role == "producer" and user.producer_id == producer_id


def get_producer(user, producer_id) -> Producer:
    """A producer the user may see: operators any, a producer user only its own.

    :raises NotFound: no such producer, or not the user's own.
    """
    producer = db.session.get(Producer, producer_id) if _whole_number(producer_id) is not None else None
    if producer is None or not (_is_operator(user) or _owns(user, producer.id)):
        raise NotFound(_("No such producer."))
    return producer


def get_listing(user, listing_id, for_update=False) -> Listing:
    """A listing the user may work on: operators any, a producer user only its own.

    :raises NotFound: no such listing, or another producer's.
    """
    listing = None
    if _whole_number(listing_id) is not None:
        listing = db.session.get(Listing, int(listing_id), with_for_update=for_update or None, populate_existing=for_update)
    if listing is None or not (_is_operator(user) or _owns(user, listing.producer_id)):
        raise NotFound(_("No such listing."))
    return listing


def photo_visible_to(user, photo: ListingPhoto) -> bool:
    """Operators and the owner see every photo; any logged-in user sees approved and sold-out listings' photos,
    because campaign pages show them."""
    listing = photo.listing
    return _is_operator(user) or _owns(user, listing.producer_id) or (
        user is not None and listing.status in ("approved", "sold_out")
    )


def get_photo(user, photo_id) -> ListingPhoto:
    """:raises NotFound: no such photo, or one the user may not see."""
    photo = db.session.get(ListingPhoto, photo_id)
    if photo is None or not photo_visible_to(user, photo):
        raise NotFound(_("No such photo."))
    return photo


def producers_query(user, *, town=None, kind=None, poverty=None, status=None, search=None):
    """Producers the user may see, filtered; a producer user sees only its own."""
    query = sa.select(Producer).order_by(Producer.town, Producer.name, Producer.id)
    if not _is_operator(user):
        query = query.where(Producer.id == (user.producer_id if user and user.role == "producer" else -1))
    if town:
        query = query.where(Producer.town == town)
    if kind:
        query = query.where(Producer.kind == kind)
    if poverty is not None:
        query = query.where(Producer.poverty_household.is_(bool(poverty)))
    if status:
        query = query.where(Producer.status == status)
    if search:
        query = query.where(Producer.name.contains(_text(search)[:PRODUCER_NAME_MAX], autoescape=True))
    return query


def listings_query(user, *, status=None, producer_id=None):
    """Listings the user may see, newest first; a producer user sees only its own.

    :raises NotFound: a producer user asked for another producer's listings.
    """
    query = sa.select(Listing).order_by(Listing.id.desc())
    if _is_operator(user):
        if producer_id is not None:
            query = query.where(Listing.producer_id == producer_id)
    else:
        own = user.producer_id if user and user.role == "producer" else None
        if own is None or (producer_id is not None and producer_id != own):
            raise NotFound(_("No such producer."))
        query = query.where(Listing.producer_id == own)
    if status:
        query = query.where(Listing.status == status)
    return query


def review_queue():
    """Listings waiting for an operator, oldest first."""
    return db.session.scalars(
        sa.select(Listing).where(Listing.status == "pending").order_by(Listing.created_at, Listing.id)
    ).all()


def audit_trail(producer, limit=50):
    """Recent audit entries about a producer and its listings, newest first."""
    listing_ids = sa.select(Listing.id).where(Listing.producer_id == producer.id)
    return db.session.scalars(
        sa.select(AuditEntry)
        .where(
            sa.or_(
                sa.and_(AuditEntry.object_type == "Producer", AuditEntry.object_id == producer.id),
                sa.and_(AuditEntry.object_type == "Listing", AuditEntry.object_id.in_(listing_ids)),
                sa.and_(AuditEntry.object_type == "ListingPhoto", AuditEntry.details["listing_id"].as_integer().in_(listing_ids)),
            )
        )
        .order_by(AuditEntry.id.desc())
        .limit(limit)
    ).all()


# ---------------------------------------------------------------- producers


def _clean_producer(values, producer=None):
    errors = {}
    clean = {}
    clean["name"] = _plain(errors, "name", values.get("name"), required_message=_("Enter the producer's name."), max_length=PRODUCER_NAME_MAX)
    kind = values.get("kind")
    if kind not in PRODUCER_KINDS:
        errors["kind"] = [_("Choose cooperative, enterprise or household.")]
    clean["kind"] = kind
    town = _text(values.get("town"))
    if town not in town_names() and (producer is None or town != producer.town):
        errors["town"] = [_("Choose one of the towns in the list.")]
    clean["town"] = town
    clean["village"] = _plain(errors, "village", values.get("village"), required_message=_("Enter the village."), max_length=VILLAGE_MAX)
    clean["phone"] = normalize_phone(values.get("phone"))
    if clean["phone"] is None:
        errors["phone"] = [_("Enter an 11-digit mobile number.")]
    email = _text(values.get("email")).lower() or None
    if email and (len(email) > 254 or not EMAIL_RE.match(email)):
        errors["email"] = [_("Enter a valid email address.")]
    clean["email"] = email
    poverty = values.get("poverty_household")
    if not isinstance(poverty, bool):
        errors["poverty_household"] = [_("Say yes or no.")]
    poverty = poverty is True
    clean["poverty_household"] = poverty
    poverty_id = _text(values.get("poverty_id")) or None
    if poverty:
        if kind in PRODUCER_KINDS and kind != "household":
            errors["poverty_household"] = [
                _("Only a household can be a registered poor household; for a cooperative or enterprise give the number of linked poor households.")
            ]
        if poverty_id is None:
            errors["poverty_id"] = [_("Enter the household's poverty registry number.")]
        elif not POVERTY_ID_RE.match(poverty_id):
            errors["poverty_id"] = [_("Use 4 to 40 letters, digits or dashes.")]
        else:
            clash = db.session.scalar(sa.select(Producer).where(Producer.poverty_id == poverty_id))
            if clash is not None and clash is not producer:
                errors["poverty_id"] = [_("Another producer already has this registry number.")]
    elif poverty_id is not None:
        errors["poverty_id"] = [_("Only a registered poor household has a registry number.")]
    clean["poverty_id"] = poverty_id if poverty else None
    linked = values.get("linked_households")
    if linked in (None, ""):
        linked = 0
    number = _whole_number(linked)
    if number is None:
        errors["linked_households"] = [_("Enter a whole number.")]
    elif not 0 <= number <= MAX_LINKED_HOUSEHOLDS:
        errors["linked_households"] = [_("Enter a whole number between 0 and %(max)s.", max="100,000")]
    elif number and kind == "household":
        errors["linked_households"] = [_("Only cooperatives and enterprises have linked households.")]
    clean["linked_households"] = number or 0
    _raise_if(errors)
    return clean


def create_producer(actor, **values) -> Producer:
    """Register a producer (operators); it starts pending until an operator approves it.

    :param values: name, kind, town, village, phone, email?, poverty_household, poverty_id?, linked_households?
    :raises Forbidden: the actor is not an operator.
    :raises ValidationFailed: every wrong field at once.
    """
    _require_operator(actor)
    unknown = set(values) - set(PRODUCER_FIELDS)
    if unknown:
        raise ValueError(f"unknown producer fields {sorted(unknown)}")
    values.setdefault("poverty_household", False)
    producer = Producer(**_clean_producer(values), status="pending")
    db.session.add(producer)
    db.session.flush()
    record_audit(actor, "producer.create", producer, name=producer.name, kind=producer.kind)
    db.session.commit()
    return producer


def _same_value(given, current):
    if isinstance(current, str) or current is None:
        return (_text(given) or None) == current
    return given == current


def update_producer(actor, producer, **changes) -> Producer:
    """Change a producer's profile: operators every field, the producer's own users only name, town, village and contacts.

    :param changes: only the fields to change.
    :raises NotFound: a producer user editing another producer.
    :raises ValidationFailed: a wrong field, or a producer user changing a vetted field.
    """
    if not _is_operator(actor):
        if not _owns(actor, producer.id):
            raise NotFound(_("No such producer."))
        denied = {
            field: [_("Only an operator can change this.")]
            for field in OPERATOR_ONLY_PRODUCER_FIELDS
            if field in changes and not _same_value(changes[field], getattr(producer, field))
        }
        _raise_if(denied)
    unknown = set(changes) - set(PRODUCER_FIELDS)
    if unknown:
        raise ValueError(f"unknown producer fields {sorted(unknown)}")
    values = {field: getattr(producer, field) for field in PRODUCER_FIELDS}
    values.update(changes)
    clean = _clean_producer(values, producer)
    changed = sorted(field for field in PRODUCER_FIELDS if clean[field] != getattr(producer, field))
    for field in changed:
        setattr(producer, field, clean[field])
    if changed:
        record_audit(actor, "producer.update", producer, fields=changed)
        db.session.commit()
    return producer


def _set_producer_status(actor, producer, status, action):
    _require_operator(actor)
    if producer.status != status:
        producer.status = status
        record_audit(actor, action, producer, name=producer.name)
        db.session.commit()
    return producer


def approve_producer(actor, producer) -> Producer:
    """Approve (or reinstate) a producer; only an approved producer's listings can be approved or go into campaigns.

    :raises Forbidden: the actor is not an operator.
    """
    return _set_producer_status(actor, producer, "approved", "producer.approve")


def suspend_producer(actor, producer) -> Producer:
    """Suspend a producer: its listings can no longer be approved, changed by it, or added to campaigns.

    :raises Forbidden: the actor is not an operator.
    """
    return _set_producer_status(actor, producer, "suspended", "producer.suspend")


# ---------------------------------------------------------------- listings


def _clean_listing(values, listing=None):
    errors = {}
    clean = {}
    clean["name"] = _plain(errors, "name", values.get("name"), required_message=_("Enter the product's name."), max_length=NAME_MAX)
    clean["category"] = _plain(
        errors, "category", values.get("category"), required_message=_("Enter a category, e.g. eggs or poultry."), max_length=CATEGORY_MAX
    )
    clean["variety"] = _plain(errors, "variety", values.get("variety"), max_length=VARIETY_MAX)
    clean["unit"] = _plain(
        errors, "unit", values.get("unit"), required_message=_("Enter the sale unit, e.g. 只, 个, 斤 or 袋."), max_length=UNIT_MAX
    )
    grams = values.get("unit_weight_g")
    if grams in (None, ""):
        clean["unit_weight_g"] = None
    else:
        number = _whole_number(grams)
        if number is None or not 0 < number <= MAX_UNIT_WEIGHT_G:
            errors["unit_weight_kg"] = [_("Enter a weight above 0 and at most %(max)s kg.", max="1,000")]
        clean["unit_weight_g"] = number
    clean["price_fen"] = _in_range(
        errors,
        "price_fen",
        values.get("price_fen"),
        1,
        MAX_PRICE_FEN,
        _("Enter the price per unit."),
        _("Enter a price from ¥0.01 to ¥%(max)s per unit.", max="100,000"),
    )
    committed = listing.quantity_committed if listing is not None else 0
    clean["quantity"] = _in_range(
        errors,
        "quantity",
        values.get("quantity"),
        1,
        MAX_QUANTITY,
        _("Enter the quantity you can supply."),
        _("Enter a whole number from 1 to %(max)s.", max="10,000,000"),
    )
    if clean["quantity"] is not None and clean["quantity"] < committed:
        errors["quantity"] = [_("At least %(n)d: campaigns have already taken that many.", n=committed)]
    ready_on = values.get("ready_on")
    if ready_on in (None, ""):
        errors["ready_on"] = [_("Enter the date the goods are ready.")]
    elif not isinstance(ready_on, date):
        errors["ready_on"] = [_("Enter a date as YYYY-MM-DD.")]
    elif listing is None or ready_on != listing.ready_on:
        today = utcnow().date()
        start, end = today - timedelta(days=READY_PAST_DAYS), today + timedelta(days=READY_FUTURE_DAYS)
        if not start <= ready_on <= end:
            errors["ready_on"] = [_("Choose a date from %(start)s to %(end)s.", start=start.isoformat(), end=end.isoformat())]
    clean["ready_on"] = ready_on
    clean["description"] = _plain(errors, "description", values.get("description"), max_length=DESCRIPTION_MAX, multiline=True)
    if listing is not None and committed > 0:
        for field, key in (("unit", "unit"), ("unit_weight_g", "unit_weight_kg")):
            if key not in errors and clean[field] != getattr(listing, field):
                errors[key] = [_("Campaigns already took some of this listing; the unit and its weight can no longer change.")]
    _raise_if(errors)
    return clean


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
    _raise_if(errors)


def _photo_problems(photos):
    """What is wrong with a set of uploads (nothing is stored); an empty list if nothing is."""
    photos = [p for p in photos if p]
    problems = [_("At most %(n)d photos.", n=MAX_PHOTOS)] if len(photos) > MAX_PHOTOS else []
    for upload in photos:
        try:
            photo_files.decode_photo(photo_files.read_upload(upload, "photos"), "photos")
        except DomainError as error:
            if error.message not in problems:
                problems.append(error.message)
    return problems


def check_producer_fields(values, producer=None) -> None:
    """Check producer fields without saving anything.

    :raises ValidationFailed: as create_producer and update_producer would.
    """
    merged = {field: getattr(producer, field) for field in PRODUCER_FIELDS} if producer is not None else {"poverty_household": False}
    merged.update(values)
    _clean_producer(merged, producer)


def _acting_for(actor, producer):
    """The name to record as 'on behalf of' when an operator (or a village cadre with an operator account) acts for a producer."""
    return producer.name if _is_operator(actor) else None


def _check_may_change(actor, producer):
    if not _is_operator(actor) and producer.status == "suspended":
        raise Forbidden(_("Your registration is suspended; contact the platform's operators."))


def create_listing(actor, producer_id=None, photos=(), **values) -> Listing:
    """List unsold goods: by the producer itself, or by an operator acting for it (audited as such). Starts pending.

    :param producer_id: required for operators; a producer user may omit it (its own).
    :param photos: up to MAX_PHOTOS uploads, all checked before anything is saved.
    :param values: name, category, variety?, unit, unit_weight_g?, price_fen, quantity, ready_on, description?
    :raises NotFound: a producer user naming another producer.
    :raises ValidationFailed: every wrong field at once, including a bad photo; nothing is saved.
    :raises UploadTooLarge: a photo over the size limit; nothing is saved.
    """
    unknown = set(values) - set(LISTING_FIELDS)
    if unknown:
        raise ValueError(f"unknown listing fields {sorted(unknown)}")
    if _is_operator(actor):
        if producer_id is None:
            raise ValidationFailed(_("Please correct the marked fields."), {"producer_id": [_("Choose the producer.")]})
        producer = db.session.get(Producer, producer_id) if _whole_number(producer_id) is not None else None
        if producer is None:
            raise ValidationFailed(_("Please correct the marked fields."), {"producer_id": [_("No such producer.")]})
    else:
        if producer_id is None and actor is not None and actor.role == "producer":
            producer_id = actor.producer_id
        producer = get_producer(actor, producer_id)
    _check_may_change(actor, producer)
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
        listing = Listing(producer_id=producer.id, status="pending", created_by_id=actor.id if actor else None, **clean)
        db.session.add(listing)
        db.session.flush()
        for position, (name, thumb) in enumerate(stored):
            db.session.add(ListingPhoto(listing_id=listing.id, filename=name, thumbnail=thumb, position=position))
        record_audit(
            actor, "listing.create", listing, on_behalf_of=_acting_for(actor, producer), listing_id=listing.id, name=listing.name, photos=len(stored)
        )
        db.session.commit()
    except Exception:
        db.session.rollback()
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


def _settle_stock_status(listing):
    """Approved and sold out follow what is left."""
    if listing.status == "approved" and listing.quantity_left == 0:
        listing.status = "sold_out"
    elif listing.status == "sold_out" and listing.quantity_left > 0:
        listing.status = "approved"


def update_listing(actor, listing, **changes) -> Listing:
    """Change a listing. The producer's change to what buyers see (name, price, unit …) of an approved listing sends
    it back for review, as does any change to a rejected one; quantity and ready date alone keep it approved.

    :param changes: only the fields to change.
    :raises NotFound: another producer's listing.
    :raises Conflict: the listing was withdrawn.
    :raises ValidationFailed: a wrong field; the quantity below what campaigns already took.
    """
    unknown = set(changes) - set(LISTING_FIELDS)
    if unknown:
        raise ValueError(f"unknown listing fields {sorted(unknown)}")
    listing = get_listing(actor, listing.id, for_update=True)
    _check_may_change(actor, listing.producer)
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
    if not _is_operator(actor) and (listing.status == "rejected" or (
        listing.status in ("approved", "sold_out") and set(changed) & set(REVIEWED_FIELDS)
    )):
        listing.status = "pending"
        listing.reject_reason = None
    _settle_stock_status(listing)
    record_audit(
        actor, "listing.update", listing, on_behalf_of=_acting_for(actor, listing.producer), listing_id=listing.id, fields=changed, status=listing.status
    )
    try:
        db.session.commit()
    except IntegrityError:
        # A campaign took more in the meantime (SQLite has no row lock to wait on): the check constraint refused.
        db.session.rollback()
        raise ValidationFailed(
            _("Please correct the marked fields."), {"quantity": [_("Campaigns have just taken more of this listing; reload and try again.")]}
        ) from None
    return listing


def withdraw_listing(actor, listing) -> Listing:
    """Take a listing off the platform for good (producer or operator).

    :raises NotFound: another producer's listing.
    :raises Conflict: campaigns already took some of it, or it is already withdrawn.
    """
    listing = get_listing(actor, listing.id, for_update=True)
    _check_may_change(actor, listing.producer)
    if listing.status == "withdrawn":
        raise Conflict(_("This listing was already withdrawn."))
    if listing.quantity_committed > 0:
        raise Conflict(_("Campaigns already took some of this listing; ask an operator to take it out of them first."))
    listing.status = "withdrawn"
    record_audit(actor, "listing.withdraw", listing, on_behalf_of=_acting_for(actor, listing.producer), listing_id=listing.id)
    db.session.commit()
    return listing


def _review_subject(listing):
    reviews = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.object_type == "Listing", AuditEntry.object_id == listing.id, AuditEntry.action.in_(("listing.approve", "listing.reject")))
    )
    return f"listing:{listing.id}:{reviews}"


def _notify_review(listing, approved):
    from notifications.services import queue_notification

    # Producers read these by SMS; write them in the platform's default language, whoever reviewed.
    with force_locale("zh_CN"):
        if approved:
            title = _("Your listing “%(name)s” is approved", name=listing.name)
            body = _("Operators can now add it to campaigns: %(quantity)d %(unit)s.", quantity=listing.quantity_left, unit=listing.unit)
        else:
            title = _("Your listing “%(name)s” was not approved", name=listing.name)
            body = _("Reason: %(reason)s. Change the listing and it will be reviewed again.", reason=listing.reject_reason)
    queue_notification(
        kind="listing_reviewed", subject=_review_subject(listing), title=str(title)[:200], body=str(body), producer=listing.producer
    )


def _nudge_worker():
    from worker import send_task_safely
    from worker.tasks import dispatch_notifications

    send_task_safely(dispatch_notifications)


def approve_listing(actor, listing) -> Listing:
    """Approve a pending (or earlier rejected) listing; it becomes sold out at once if nothing is left.

    :raises Forbidden: the actor is not an operator.
    :raises Conflict: the producer is not approved, or the listing is not waiting for review.
    """
    _require_operator(actor)
    listing = get_listing(actor, listing.id, for_update=True)
    if listing.status not in ("pending", "rejected"):
        raise Conflict(_("Only a pending or rejected listing can be approved."))
    if listing.producer.status != "approved":
        raise Conflict(_("Approve the producer “%(name)s” first: only an approved producer's listings can be approved.", name=listing.producer.name))
    listing.status = "approved"
    listing.reject_reason = None
    _settle_stock_status(listing)
    _notify_review(listing, approved=True)
    record_audit(actor, "listing.approve", listing, listing_id=listing.id)
    db.session.commit()
    _nudge_worker()
    return listing


def reject_listing(actor, listing, reason) -> Listing:
    """Reject a listing with a reason the producer sees.

    :raises Forbidden: the actor is not an operator.
    :raises ValidationFailed: no reason, or too long.
    :raises Conflict: campaigns already took some of it, or it is withdrawn / already rejected.
    """
    _require_operator(actor)
    errors = {}
    reason = _plain(errors, "reason", reason, required_message=_("Say why, so the producer can fix it."), max_length=REASON_MAX)
    _raise_if(errors)
    listing = get_listing(actor, listing.id, for_update=True)
    if listing.status not in ("pending", "approved"):
        raise Conflict(_("Only a pending or approved listing can be rejected."))
    if listing.quantity_committed > 0:
        raise Conflict(_("Campaigns already took some of this listing; it cannot be rejected now."))
    listing.status = "rejected"
    listing.reject_reason = reason
    _notify_review(listing, approved=False)
    record_audit(actor, "listing.reject", listing, listing_id=listing.id, reason=reason)
    db.session.commit()
    _nudge_worker()
    return listing


# ---------------------------------------------------------------- photos


def add_photo(actor, listing, upload) -> ListingPhoto:
    """Add a photo to a listing (at most MAX_PHOTOS).

    :raises NotFound: another producer's listing.
    :raises Conflict: the listing is withdrawn.
    :raises ValidationFailed: not an image, or already MAX_PHOTOS photos.
    :raises UploadTooLarge: over MAX_PHOTO_BYTES.
    """
    listing = get_listing(actor, listing.id)
    _check_may_change(actor, listing.producer)
    if listing.status == "withdrawn":
        raise Conflict(_("This listing was withdrawn and can no longer be changed."))
    name, thumb = photo_files.store_photo(upload, field="photo")
    try:
        # Touch the listing row first: it serialises concurrent uploads (a row lock on PostgreSQL, the write lock
        # on SQLite), so the count below cannot be stale and a sixth photo cannot slip in.
        db.session.execute(sa.update(Listing.__table__).where(Listing.__table__.c.id == listing.id).values(updated_at=utcnow()))
        count, last = db.session.execute(
            sa.select(sa.func.count(ListingPhoto.id), sa.func.max(ListingPhoto.position)).where(ListingPhoto.listing_id == listing.id)
        ).one()
        if count >= MAX_PHOTOS:
            message = _("At most %(n)d photos.", n=MAX_PHOTOS)
            raise ValidationFailed(message, {"photo": [message]})
        photo = ListingPhoto(listing_id=listing.id, filename=name, thumbnail=thumb, position=(last or 0) + 1 if count else 0)
        db.session.add(photo)
        db.session.flush()
        record_audit(actor, "listing.photo_add", photo, on_behalf_of=_acting_for(actor, listing.producer), listing_id=listing.id)
        db.session.commit()
    except Exception:
        db.session.rollback()
        photo_files.discard_files(name, thumb)
        raise
    return photo


def delete_photo(actor, photo) -> None:
    """Remove a photo and its files.

    :raises NotFound: another producer's photo.
    """
    listing = get_listing(actor, photo.listing_id)
    _check_may_change(actor, listing.producer)
    names = (photo.filename, photo.thumbnail)
    record_audit(actor, "listing.photo_delete", photo, on_behalf_of=_acting_for(actor, listing.producer), listing_id=listing.id)
    db.session.delete(photo)
    db.session.commit()
    photo_files.discard_files(*names)


# ---------------------------------------------------------------- stock taken by campaigns


def _positive_quantity(quantity):
    number = quantity if isinstance(quantity, int) and not isinstance(quantity, bool) else None
    if number is None or number <= 0:
        raise ValidationFailed(_("Please correct the marked fields."), {"quantity": [_("Enter a whole number above 0.")]})
    return number


def _expire_loaded(listing_id):
    loaded = db.session.identity_map.get(db.session.identity_key(Listing, listing_id))
    if loaded is not None:
        db.session.expire(loaded)


def commit_listing_quantity(listing_id, quantity) -> None:
    """Take ``quantity`` of an approved listing for a campaign; marks it sold out when nothing is left.

    One guarded UPDATE, so concurrent callers can never take more than is left, on SQLite and PostgreSQL alike.
    Does not commit: the caller's transaction (the campaign item and its supply) holds it.
    :raises ValidationFailed: quantity is not a whole number above 0.
    :raises NotFound: no such listing.
    :raises InsufficientStock: the listing or its producer is not approved, or less than ``quantity`` is left.
    """
    quantity = _positive_quantity(quantity)
    listing = Listing.__table__
    approved_producers = sa.select(Producer.id).where(Producer.status == "approved")
    result = db.session.execute(
        sa.update(listing)
        .where(
            listing.c.id == listing_id,
            listing.c.status == "approved",
            listing.c.quantity - listing.c.quantity_committed >= quantity,
            listing.c.producer_id.in_(approved_producers),
        )
        .values(quantity_committed=listing.c.quantity_committed + quantity)
    )
    if result.rowcount != 1:
        row = db.session.execute(
            sa.select(listing.c.name, listing.c.status, listing.c.unit, listing.c.quantity, listing.c.quantity_committed, Producer.status)
            .join(Producer, Producer.id == listing.c.producer_id)
            .where(listing.c.id == listing_id)
        ).first()
        if row is None:
            raise NotFound(_("No such listing."))
        name, status, unit, total, committed, producer_status = row
        left = total - committed
        details = {"listing_id": listing_id, "left": left}
        if status not in ("approved", "sold_out"):
            raise InsufficientStock(_("“%(name)s” is not approved, so it cannot go into a campaign.", name=name), details)
        if producer_status != "approved":
            raise InsufficientStock(_("The producer of “%(name)s” is not approved (suspended or pending).", name=name), details)
        raise InsufficientStock(
            _("Only %(left)d %(unit)s of “%(name)s” left; %(asked)d asked.", left=left, unit=unit, name=name, asked=quantity), details
        )
    db.session.execute(
        sa.update(listing)
        .where(listing.c.id == listing_id, listing.c.status == "approved", listing.c.quantity == listing.c.quantity_committed)
        .values(status="sold_out")
    )
    _expire_loaded(listing_id)


def release_listing_quantity(listing_id, quantity) -> None:
    """Give back ``quantity`` a campaign had taken (an item or supply removed, a campaign cancelled); a sold-out
    listing becomes approved again. Does not commit.

    :raises ValidationFailed: quantity is not a whole number above 0.
    :raises NotFound: no such listing.
    :raises Conflict: more than was taken.
    """
    quantity = _positive_quantity(quantity)
    listing = Listing.__table__
    result = db.session.execute(
        sa.update(listing)
        .where(listing.c.id == listing_id, listing.c.quantity_committed >= quantity)
        .values(
            quantity_committed=listing.c.quantity_committed - quantity,
            status=sa.case((listing.c.status == "sold_out", "approved"), else_=listing.c.status),
        )
    )
    if result.rowcount != 1:
        if db.session.get(Listing, listing_id) is None:
            raise NotFound(_("No such listing."))
        raise Conflict(_("Cannot give back more than campaigns took from this listing."))
    _expire_loaded(listing_id)

