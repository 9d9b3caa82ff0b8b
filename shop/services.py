"""Campaign rules: creating and publishing campaigns and their items, who may see which campaign, when it takes orders."""

import io
import secrets
import uuid
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from accounts.models import Unit
from accounts.services import record_audit
from database import utcnow
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from producers.models import Listing, Producer
from producers.stock import commit_listing_quantity, release_listing_quantity
from shop.models import ALLOCATION_POLICIES, Campaign, CampaignItem, Supply, campaign_unit

SHANGHAI = ZoneInfo("Asia/Shanghai")
SLUG_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: slugs are read off posters
SLUG_LENGTH = 8
MAX_QUANTITY = 1_000_000
MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger one names nothing (and SQLite cannot even bind it)
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
MAX_PRICE_FEN = 100_000_000  # ¥1,000,000 a unit: anything above is a typo
COVER_SUBDIR = "campaigns"
COVER_MAX_SIDE = 1600


# ---------------------------------------------------------------- reading


def campaign_phase(campaign, now=None) -> str:
    """The stored status, with "published" split by the clock into scheduled, open and ended (awaiting close)."""
    if campaign.status != "published":
        return campaign.status
    now = now or utcnow()
    if now < campaign.opens_at:
        return "scheduled"
    if now < campaign.closes_at:
        return "open"
    return "ended"


def takes_orders(campaign, now=None) -> bool:
    return campaign_phase(campaign, now) == "open"


def unit_is_eligible(campaign, unit_id) -> bool:
    """No units listed means every unit may order."""
    ids = {unit.id for unit in campaign.units}
    return not ids or unit_id in ids


def visible_campaigns_query(user):
    """Operators see every campaign; a buyer sees published ones open to their unit (no units listed = all)."""
    query = sa.select(Campaign).order_by(Campaign.closes_at.desc(), Campaign.id.desc())
    if user.role != "operator":
        unrestricted = ~sa.exists().where(campaign_unit.c.campaign_id == Campaign.id)
        own_unit = sa.exists().where(campaign_unit.c.campaign_id == Campaign.id, campaign_unit.c.unit_id == user.unit_id)
        query = query.where(Campaign.status != "draft", Campaign.status != "cancelled", unrestricted | own_unit)
    return query


def visible_campaigns(user):
    return db.session.scalars(visible_campaigns_query(user)).all()


def can_see(user, campaign) -> bool:
    """Operators see everything; others see published (or later) campaigns open to their unit."""
    if user.role == "operator":
        return True
    if campaign.status in ("draft", "cancelled"):
        return False
    return unit_is_eligible(campaign, user.unit_id)


def _valid_id(value) -> bool:
    return _is_int(value) and 0 < value <= MAX_ID


def get_campaign(campaign_id) -> Campaign:
    campaign = db.session.get(Campaign, campaign_id) if _valid_id(campaign_id) else None
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def get_visible_campaign(user, campaign_id) -> Campaign:
    """:raises NotFound: no such campaign, or one this user may not see."""
    campaign = db.session.get(Campaign, campaign_id) if _valid_id(campaign_id) else None
    if campaign is None or not can_see(user, campaign):
        raise NotFound(_("No such campaign."))
    return campaign


def get_campaign_by_slug(slug) -> Campaign:
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.slug == (slug or "").lower()))
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def short_url(campaign) -> str:
    """The link to share in chat groups and print on posters."""
    return f"{current_app.config['PUBLIC_URL'].rstrip('/')}/c/{campaign.slug}"


def price_per_kg_fen(price_fen, unit_weight_g):
    """Price of a kilogram in whole fen (rounded half up), or None when the unit's weight is unknown."""
    if not unit_weight_g:
        return None
    return (price_fen * 1000 + unit_weight_g // 2) // unit_weight_g


@dataclass
class ItemView:
    """What a buyer sees of an item: its own fields plus its producers, ready date and a photo."""

    item: CampaignItem
    producers: list
    ready_on: date | None
    photo: object | None
    price_per_kg_fen: int | None

    def __getattr__(self, name):
        return getattr(self.item, name)


def item_views(campaign) -> list[ItemView]:
    """Every item of a campaign with its producers (in supply order, each once), ready date and first photo."""
    items = db.session.scalars(
        sa.select(CampaignItem)
        .where(CampaignItem.campaign_id == campaign.id)
        .order_by(CampaignItem.position, CampaignItem.id)
        .options(
            selectinload(CampaignItem.supplies).selectinload(Supply.producer),
            selectinload(CampaignItem.supplies).selectinload(Supply.listing).selectinload(Listing.photos),
        )
        .execution_options(populate_existing=True)
    ).all()
    views = []
    for item in items:
        producers, seen, photo, ready = [], set(), None, None
        for supply in item.supplies:
            if supply.producer_id not in seen:
                seen.add(supply.producer_id)
                producers.append(supply.producer)
            if photo is None and supply.listing.photos:
                photo = supply.listing.photos[0]
            ready = max(ready, supply.listing.ready_on) if ready else supply.listing.ready_on
        views.append(ItemView(item, producers, ready, photo, price_per_kg_fen(item.price_fen, item.unit_weight_g)))
    return views


def available_listings():
    """Approved listings with something left to offer, for building items."""
    return db.session.scalars(
        sa.select(Listing)
        .join(Producer)
        .where(Listing.status == "approved", Listing.quantity > Listing.quantity_committed, Producer.status == "approved")
        .order_by(Listing.name, Listing.id)
        .options(selectinload(Listing.producer))
    ).all()


# ---------------------------------------------------------------- writing


def local_to_utc(value: datetime) -> datetime:
    """A time as typed on a form (Asia/Shanghai, no zone) or with a zone, as aware UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=SHANGHAI)
    return value.astimezone(ZoneInfo("UTC"))


def _new_slug() -> str:
    while True:
        slug = "".join(secrets.choice(SLUG_ALPHABET) for _n in range(SLUG_LENGTH))
        if db.session.scalar(sa.select(Campaign.id).where(Campaign.slug == slug)) is None:
            return slug


def _clean_campaign_fields(title, description, opens_at, closes_at, delivery_on, unit_ids):
    errors = {}
    title = (title or "").strip()
    description = (description or "").strip() or None
    if not title:
        errors["title"] = [_("Enter a title.")]
    elif len(title) > 120:
        errors["title"] = [_("At most %(n)d characters.", n=120)]
    if description and len(description) > 5000:
        errors["description"] = [_("At most %(n)d characters.", n=5000)]
    if opens_at is None:
        errors["opens_at"] = [_("Enter when orders open.")]
    if closes_at is None:
        errors["closes_at"] = [_("Enter when orders close.")]
    for name, value in (("opens_at", opens_at), ("closes_at", closes_at)):
        if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            errors[name] = [_("Enter a time between the years %(a)d and %(b)d.", a=EARLIEST_YEAR, b=LATEST_YEAR)]
    if delivery_on is not None and not EARLIEST_YEAR <= delivery_on.year <= LATEST_YEAR:
        errors["delivery_on"] = [_("Enter a time between the years %(a)d and %(b)d.", a=EARLIEST_YEAR, b=LATEST_YEAR)]
    if opens_at is not None and closes_at is not None and not errors:
        opens_at, closes_at = local_to_utc(opens_at), local_to_utc(closes_at)
        if closes_at <= opens_at:
            errors["closes_at"] = [_("Orders must close after they open.")]
    if delivery_on is None:
        errors["delivery_on"] = [_("Enter the delivery date.")]
    elif closes_at is not None and not errors and delivery_on < closes_at.astimezone(SHANGHAI).date():
        errors["delivery_on"] = [_("Delivery cannot be before orders close.")]
    units = []
    unit_ids = sorted(set(unit_ids or []))
    if any(not _valid_id(unit_id) for unit_id in unit_ids):
        errors["unit_ids"] = [_("No such unit: %(ids)s.", ids=", ".join(str(u) for u in unit_ids if not _valid_id(u)))]
    elif unit_ids:
        units = db.session.scalars(sa.select(Unit).where(Unit.id.in_(unit_ids))).all()
        missing = sorted(set(unit_ids) - {unit.id for unit in units})
        if missing:
            errors["unit_ids"] = [_("No such unit: %(ids)s.", ids=", ".join(map(str, missing)))]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    return dict(title=title, description=description, opens_at=opens_at, closes_at=closes_at, delivery_on=delivery_on), units


def _cover_dir() -> Path:
    folder = Path(current_app.config["UPLOAD_DIR"]) / COVER_SUBDIR
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cover_path(campaign) -> Path | None:
    return _cover_dir() / campaign.cover_photo if campaign.cover_photo else None


def store_cover(upload) -> str:
    """Check and re-encode an uploaded cover photo (as JPEG, metadata dropped); returns its file name.

    :raises UploadTooLarge: over MAX_PHOTO_BYTES.
    :raises ValidationFailed: not a JPEG, PNG or WebP image.
    """
    from PIL import Image, ImageOps

    from producers.photos import decode_photo, read_upload

    image = decode_photo(read_upload(upload, "cover"), "cover")
    image = ImageOps.exif_transpose(image)
    if image.mode != "RGB":
        rgba = image.convert("RGBA")
        image = Image.new("RGB", rgba.size, (255, 255, 255))
        image.paste(rgba, mask=rgba.getchannel("A"))
    image.thumbnail((COVER_MAX_SIDE, COVER_MAX_SIDE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, optimize=True, progressive=True)
    name = f"{uuid.uuid4().hex}.jpg"
    (_cover_dir() / name).write_bytes(out.getvalue())
    return name


def _discard_cover(name):
    if name:
        (_cover_dir() / name).unlink(missing_ok=True)


def create_campaign(actor, *, title, opens_at, closes_at, delivery_on, description=None, unit_ids=(), cover=None) -> Campaign:
    """Create a draft campaign. Times may be naive (taken as Asia/Shanghai, as typed on a form) or aware.

    :param cover: an uploaded photo (FileStorage or bytes), optional.
    :raises ValidationFailed: every wrong field at once (cover problems under ``cover``).
    :raises UploadTooLarge: the cover photo is too big.
    """
    fields, units = _clean_campaign_fields(title, description, opens_at, closes_at, delivery_on, unit_ids)
    cover_name = store_cover(cover) if cover else None
    try:
        campaign = Campaign(
            slug=_new_slug(), status="draft", created_by_id=actor.id if actor else None, cover_photo=cover_name, **fields
        )
        campaign.units = list(units)
        db.session.add(campaign)
        db.session.flush()
        record_audit(actor, "campaign.create", campaign, title=campaign.title)
        db.session.commit()
    except Exception:
        db.session.rollback()
        _discard_cover(cover_name)
        raise
    return campaign


def update_campaign(
    actor, campaign_id, *, title, opens_at, closes_at, delivery_on, description=None, unit_ids=(), cover=None
) -> Campaign:
    """Edit a campaign before it opens (draft, or published but not yet open).

    :raises Conflict: it has opened already.
    :raises ValidationFailed: as for create_campaign.
    """
    campaign = get_campaign(campaign_id)
    if campaign_phase(campaign) not in ("draft", "scheduled"):
        raise Conflict(_("This campaign has opened already; it can no longer be edited."))
    fields, units = _clean_campaign_fields(title, description, opens_at, closes_at, delivery_on, unit_ids)
    old_cover = campaign.cover_photo
    cover_name = store_cover(cover) if cover else None
    try:
        for key, value in fields.items():
            setattr(campaign, key, value)
        campaign.units = list(units)
        if cover_name:
            campaign.cover_photo = cover_name
        record_audit(actor, "campaign.update", campaign, title=campaign.title)
        db.session.commit()
    except Exception:
        db.session.rollback()
        _discard_cover(cover_name)
        raise
    if cover_name and old_cover:
        _discard_cover(old_cover)
    return campaign


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def add_item(
    actor,
    campaign_id,
    *,
    supplies,
    title=None,
    price_fen=None,
    unit=None,
    per_buyer_limit=None,
    min_total=None,
    policy="proportional",
    description=None,
) -> CampaignItem:
    """Add an item to a campaign that has not opened yet, pooling one or more approved listings of the same product.

    Capacity is the sum of the supplies; each supply's quantity is taken from its listing at once,
    so two campaigns can never promise the same eggs.
    :param supplies: a list of (listing_id, quantity).
    :param title, unit, price_fen: default to the first listing's name, sale unit and price.
    :raises NotFound: no such campaign.
    :raises Conflict: the campaign has opened already.
    :raises ValidationFailed: a bad field, a listing that is not approved, of another sale unit, or with too little left.
    """
    campaign = get_campaign(campaign_id)
    if campaign_phase(campaign) not in ("draft", "scheduled"):
        raise Conflict(_("This campaign has opened already; items can no longer be added."))
    errors = {}
    pairs = []
    for index, pair in enumerate(supplies or []):
        listing_id, quantity = pair
        if not _valid_id(listing_id) or not _is_int(quantity) or not 0 < quantity <= MAX_QUANTITY:
            errors.setdefault("supplies", []).append(_("Line %(n)d: give a listing and a quantity of at least 1.", n=index + 1))
        else:
            pairs.append((listing_id, quantity))
    if not pairs and "supplies" not in errors:
        errors["supplies"] = [_("Choose at least one listing to supply this item.")]
    if len({listing_id for listing_id, _q in pairs}) != len(pairs):
        errors.setdefault("supplies", []).append(_("Each listing may supply an item only once."))
    listings = {}
    if pairs:
        found = db.session.scalars(
            sa.select(Listing).where(Listing.id.in_([p[0] for p in pairs])).options(selectinload(Listing.producer))
        ).all()
        listings = {listing.id: listing for listing in found}
    for listing_id, quantity in pairs:
        listing = listings.get(listing_id)
        if listing is None:
            errors.setdefault("supplies", []).append(_("No such listing: %(id)d.", id=listing_id))
        elif listing.status != "approved" or listing.producer.status != "approved":
            errors.setdefault("supplies", []).append(
                _("%(name)s (listing %(id)d) is not approved.", name=listing.name, id=listing_id)
            )
        elif listing.quantity_left < quantity:
            errors.setdefault("supplies", []).append(
                _(
                    "%(name)s from %(producer)s has only %(n)d %(unit)s left.",
                    name=listing.name,
                    producer=listing.producer.name,
                    n=listing.quantity_left,
                    unit=listing.unit,
                )
            )
    first = listings.get(pairs[0][0]) if pairs else None
    title = (title or (first.name if first else "")).strip()
    unit = (unit or (first.unit if first else "")).strip()
    if price_fen is None and first is not None:
        price_fen = first.price_fen
    if not title:
        errors["title"] = [_("Enter a title.")]
    elif len(title) > 120:
        errors["title"] = [_("At most %(n)d characters.", n=120)]
    if not unit or len(unit) > 8:
        errors["unit"] = [_("Enter the sale unit (at most 8 characters), e.g. 只, 斤, 袋.")]
    elif any(listing.unit != unit for listing in listings.values()):
        errors["unit"] = [_("All supplies of an item must be sold by the same unit (%(unit)s).", unit=unit)]
    if not _is_int(price_fen) or not 0 <= price_fen <= MAX_PRICE_FEN:
        errors["price_fen"] = [_("Enter a price of at least 0.")]
    if per_buyer_limit is not None and (not _is_int(per_buyer_limit) or not 0 < per_buyer_limit <= MAX_QUANTITY):
        errors["per_buyer_limit"] = [_("Leave empty for no limit, or enter at least 1.")]
    if min_total is not None and (not _is_int(min_total) or not 0 < min_total <= MAX_QUANTITY):
        errors["min_total"] = [_("Leave empty for no minimum, or enter at least 1.")]
    if policy not in ALLOCATION_POLICIES:
        errors["policy"] = [_("Choose proportional or poor households first.")]
    capacity = sum(q for _l, q in pairs)
    if min_total is not None and _is_int(min_total) and "supplies" not in errors and min_total > capacity:
        errors["min_total"] = [_("The minimum cannot exceed what the supplies offer (%(n)d).", n=capacity)]
    description = (description or "").strip() or None
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    weights = [listing.unit_weight_g for listing in listings.values() if listing.unit_weight_g]
    position = db.session.scalar(sa.select(sa.func.count()).where(CampaignItem.campaign_id == campaign.id))
    item = CampaignItem(
        campaign_id=campaign.id,
        title=title,
        category=first.category,
        description=description or first.description,
        unit=unit,
        unit_weight_g=listings[pairs[0][0]].unit_weight_g or (weights[0] if weights else None),
        price_fen=price_fen,
        per_buyer_limit=per_buyer_limit,
        min_total=min_total,
        policy=policy,
        capacity=capacity,
        ordered=0,
        position=position,
    )
    db.session.add(item)
    db.session.flush()
    try:
        # Ascending listing ids: two operators building items from the same listings never deadlock.
        for listing_id, quantity in sorted(pairs):
            commit_listing_quantity(listing_id, quantity)
            listing = listings[listing_id]
            db.session.add(Supply(item_id=item.id, listing_id=listing_id, producer_id=listing.producer_id, quantity=quantity))
        record_audit(actor, "campaign.item.add", item, campaign_id=campaign.id, supplies=[list(p) for p in pairs])
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return item


def remove_item(actor, item_id) -> None:
    """Remove an item from a draft campaign and give its quantities back to the listings.

    :raises Conflict: the campaign is no longer a draft.
    """
    item = db.session.get(CampaignItem, item_id) if _valid_id(item_id) else None
    if item is None:
        raise NotFound(_("No such item."))
    if item.campaign.status != "draft":
        raise Conflict(_("Items can be removed only while the campaign is a draft."))
    try:
        for supply in sorted(item.supplies, key=lambda s: s.listing_id):
            release_listing_quantity(supply.listing_id, supply.quantity)
            db.session.delete(supply)
        record_audit(actor, "campaign.item.remove", item, campaign_id=item.campaign_id, title=item.title)
        db.session.delete(item)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise


def publish_campaign(actor, campaign_id) -> Campaign:
    """Publish a draft: buyers of its units see it, and may order between its opening and closing times.

    Publishing an already published campaign changes nothing.
    :raises Conflict: it has no items, it has closed already, or its closing time has passed.
    """
    campaign = get_campaign(campaign_id)
    if campaign.status == "published":
        return campaign
    if campaign.status != "draft":
        raise Conflict(_("Only a draft campaign can be published."))
    if not campaign.items:
        raise Conflict(_("Add at least one item before publishing."))
    if campaign.closes_at <= utcnow():
        raise Conflict(_("The closing time has passed; change it before publishing."))
    campaign.status = "published"
    record_audit(actor, "campaign.publish", campaign)
    db.session.commit()
    return campaign
