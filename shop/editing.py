"""Building campaigns: creating and editing them before they open, their items and supplies, publishing."""

import secrets
from datetime import UTC, datetime

import sqlalchemy as sa
from flask_babel import gettext as _
from sqlalchemy.orm import selectinload

from accounts.models import Unit
from accounts.services import record_audit
from database import local_zone, transaction, utcnow
from delivery.sharing import charge_for_weight
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from orders.locks import lock_campaign_for_change
from producers.certificates import campaign_problem
from producers.models import Listing
from producers.stock import commit_listing_quantity, release_listing_quantity
from shop.catalogue import get_campaign, is_int, valid_id
from shop.covers import discard_cover, store_cover
from shop.lifecycle import accepts_changes, still_editable, transition
from shop.mixed_listings import audit_details, check_pooling
from shop.models import ALLOCATION_POLICIES, Campaign, CampaignItem, CampaignStatus, Supply

SLUG_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i: slugs are read off posters
SLUG_LENGTH = 8
MAX_QUANTITY = 1_000_000
EARLIEST_YEAR, LATEST_YEAR = 2000, 2100
MAX_PRICE_FEN = 100_000_000  # ¥1,000,000 a unit: anything above is a typo
TITLE_MAX, DESCRIPTION_MAX, UNIT_MAX = 120, 5000, 8


def local_to_utc(value: datetime) -> datetime:
    """A time as typed on a form (local time, no zone) or with a zone, as aware UTC."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=local_zone())
    return value.astimezone(UTC)


def _new_slug() -> str:
    while True:
        slug = "".join(secrets.choice(SLUG_ALPHABET) for _n in range(SLUG_LENGTH))
        if db.session.scalar(sa.select(Campaign.id).where(Campaign.slug == slug)) is None:
            return slug


def clean_title(errors, title, field="title"):
    title = (title or "").strip()
    if not title:
        errors[field] = [_("Enter a title.")]
    elif len(title) > TITLE_MAX:
        errors[field] = [_("At most %(n)d characters.", n=TITLE_MAX)]
    return title


def clean_description(errors, description):
    description = (description or "").strip() or None
    if description and len(description) > DESCRIPTION_MAX:
        errors["description"] = [_("At most %(n)d characters.", n=DESCRIPTION_MAX)]
    return description


def _clean_times(errors, opens_at, closes_at, delivery_on):
    """Opening before closing, delivery not before the (local) closing day; naive times are local."""
    if opens_at is None:
        errors["opens_at"] = [_("Enter when orders open.")]
    if closes_at is None:
        errors["closes_at"] = [_("Enter when orders close.")]
    for name, value in (("opens_at", opens_at), ("closes_at", closes_at), ("delivery_on", delivery_on)):
        if value is not None and not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
            errors[name] = [_("Enter a time between the years %(a)d and %(b)d.", a=EARLIEST_YEAR, b=LATEST_YEAR)]
    if opens_at is not None and closes_at is not None and not errors:
        opens_at, closes_at = local_to_utc(opens_at), local_to_utc(closes_at)
        if closes_at <= opens_at:
            errors["closes_at"] = [_("Orders must close after they open.")]
    if delivery_on is None:
        errors["delivery_on"] = [_("Enter the delivery date.")]
    elif closes_at is not None and not errors and delivery_on < closes_at.astimezone(local_zone()).date():
        errors["delivery_on"] = [_("Delivery cannot be before orders close.")]
    return opens_at, closes_at


def _clean_units(errors, unit_ids):
    unit_ids = sorted(set(unit_ids or []))
    if any(not valid_id(unit_id) for unit_id in unit_ids):
        errors["unit_ids"] = [_("No such unit: %(ids)s.", ids=", ".join(str(u) for u in unit_ids if not valid_id(u)))]
        return []
    if not unit_ids:
        return []
    units = db.session.scalars(sa.select(Unit).where(Unit.id.in_(unit_ids))).all()
    missing = sorted(set(unit_ids) - {unit.id for unit in units})
    if missing:
        errors["unit_ids"] = [_("No such unit: %(ids)s.", ids=", ".join(map(str, missing)))]
    return units


def _clean_campaign_fields(title, description, opens_at, closes_at, delivery_on, unit_ids):
    errors = {}
    title = clean_title(errors, title)
    description = clean_description(errors, description)
    opens_at, closes_at = _clean_times(errors, opens_at, closes_at, delivery_on)
    units = _clean_units(errors, unit_ids)
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    return dict(title=title, description=description, opens_at=opens_at, closes_at=closes_at, delivery_on=delivery_on), units


def create_campaign(actor, *, title, opens_at, closes_at, delivery_on, description=None, unit_ids=(), cover=None) -> Campaign:
    """Create a draft campaign. Times may be naive (local time, as typed on a form) or aware.

    :param cover: an uploaded photo (FileStorage or bytes), optional.
    :raises ValidationFailed: every wrong field at once (cover problems under ``cover``).
    :raises UploadTooLarge: the cover photo is too big.
    """
    fields, units = _clean_campaign_fields(title, description, opens_at, closes_at, delivery_on, unit_ids)
    cover_name = store_cover(cover) if cover else None
    try:
        with transaction():
            campaign = Campaign(
                slug=_new_slug(),
                status=CampaignStatus.DRAFT.value,
                created_by_id=actor.id if actor else None,
                cover_photo=cover_name,
                **fields,
            )
            campaign.units = list(units)
            db.session.add(campaign)
            db.session.flush()
            record_audit(actor, "campaign.create", campaign, title=campaign.title)
    except Exception:
        discard_cover(cover_name)
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
    if not still_editable(campaign):
        raise Conflict(_("This campaign has opened already; it can no longer be edited."))
    fields, units = _clean_campaign_fields(title, description, opens_at, closes_at, delivery_on, unit_ids)
    old_cover = campaign.cover_photo
    cover_name = store_cover(cover) if cover else None
    try:
        with transaction():
            for key, value in fields.items():
                setattr(campaign, key, value)
            campaign.units = list(units)
            if cover_name:
                campaign.cover_photo = cover_name
            record_audit(actor, "campaign.update", campaign, title=campaign.title)
    except Exception:
        discard_cover(cover_name)
        raise
    if cover_name and old_cover:
        discard_cover(old_cover)
    return campaign


def _clean_supply_pairs(errors, supplies):
    """(listing_id, quantity) pairs as given, each listing once."""
    pairs = []
    for index, pair in enumerate(supplies or []):
        listing_id, quantity = pair
        if not valid_id(listing_id) or not is_int(quantity) or not 0 < quantity <= MAX_QUANTITY:
            errors.setdefault("supplies", []).append(_("Line %(n)d: give a listing and a quantity of at least 1.", n=index + 1))
        else:
            pairs.append((listing_id, quantity))
    if not pairs and "supplies" not in errors:
        errors["supplies"] = [_("Choose at least one listing to supply this item.")]
    if len({listing_id for listing_id, _q in pairs}) != len(pairs):
        errors.setdefault("supplies", []).append(_("Each listing may supply an item only once."))
    return pairs


def _supplying_listings(errors, pairs):
    """The listings behind the pairs, each checked: approved, of an approved producer, with enough left."""
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
        elif campaign_problem(listing):
            errors.setdefault("supplies", []).append(campaign_problem(listing))
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
    return listings


def _check_item_terms(errors, listings, *, title, unit, price_fen, per_buyer_limit, min_total, policy, capacity):
    """The item's terms; the title was checked as it was cleaned."""
    if not unit or len(unit) > UNIT_MAX:
        errors["unit"] = [_("Enter the sale unit (at most 8 characters), e.g. 只, 斤, 袋.")]
    elif any(listing.unit != unit for listing in listings.values()):
        errors["unit"] = [_("All supplies of an item must be sold by the same unit (%(unit)s).", unit=unit)]
    if not is_int(price_fen) or not 0 <= price_fen <= MAX_PRICE_FEN:
        errors["price_fen"] = [_("Enter a price of at least 0.")]
    if per_buyer_limit is not None and (not is_int(per_buyer_limit) or not 0 < per_buyer_limit <= MAX_QUANTITY):
        errors["per_buyer_limit"] = [_("Leave empty for no limit, or enter at least 1.")]
    if min_total is not None and (not is_int(min_total) or not 0 < min_total <= MAX_QUANTITY):
        errors["min_total"] = [_("Leave empty for no minimum, or enter at least 1.")]
    if policy not in ALLOCATION_POLICIES:
        errors["policy"] = [_("Choose proportional or poor households first.")]
    if min_total is not None and is_int(min_total) and "supplies" not in errors and min_total > capacity:
        errors["min_total"] = [_("The minimum cannot exceed what the supplies offer (%(n)d).", n=capacity)]


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
    price_per_kg_fen=None,
    confirm_mixed=False,
) -> CampaignItem:
    """Add an item to a campaign until its orders end, pooling one or more approved listings of the same product.

    Capacity is the sum of the supplies; each supply's quantity is taken from its listing at once,
    so two campaigns can never promise the same eggs.
    :param supplies: a list of (listing_id, quantity).
    :param title, unit, price_fen: default to the first listing's name, sale unit and price.
    :param price_per_kg_fen: ordered by the piece, charged by the weighed kilogram at this price; the price per
        piece (what orders pledge) is then the estimate for the expected weight, and needs a weight per piece.
    :param confirm_mixed: the operator confirmed pooling listings of different names or prices (shop.mixed_listings).
    :raises NotFound: no such campaign.
    :raises Conflict: the campaign's orders have ended.
    :raises MixedListings: listings of different names or prices, not confirmed; nothing is saved.
    :raises ValidationFailed: a bad field, a listing that is not approved, of another sale unit, with too little left,
        or with an expired certificate.
    """
    campaign = get_campaign(campaign_id)
    if not accepts_changes(campaign):
        raise Conflict(_("Orders for this campaign have ended; items can no longer be added."))
    errors = {}
    pairs = _clean_supply_pairs(errors, supplies)
    listings = _supplying_listings(errors, pairs)
    first = listings.get(pairs[0][0]) if pairs else None
    if price_per_kg_fen is not None:
        price_fen = _price_by_weight(errors, listings, first, price_per_kg_fen, price_fen)
    terms = dict(
        title=clean_title(errors, title or (first.name if first else "")),
        unit=(unit or (first.unit if first else "")).strip(),
        price_fen=first.price_fen if price_fen is None and first is not None else price_fen,
        per_buyer_limit=per_buyer_limit,
        min_total=min_total,
        policy=policy,
        capacity=sum(q for _l, q in pairs),
    )
    _check_item_terms(errors, listings, **terms)
    terms["price_per_kg_fen"] = price_per_kg_fen
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    mixed = check_pooling(listings.values(), confirm=confirm_mixed)
    with transaction():
        campaign = lock_campaign_for_change(campaign.id)
        if not accepts_changes(campaign):
            raise Conflict(_("Orders for this campaign have ended; items can no longer be added."))
        item = _new_item(campaign, first, listings, description=description, **terms)
        db.session.add(item)
        db.session.flush()
        # Ascending listing ids: two operators building items from the same listings never deadlock.
        for listing_id, quantity in sorted(pairs):
            commit_listing_quantity(listing_id, quantity)
            db.session.add(
                Supply(item_id=item.id, listing_id=listing_id, producer_id=listings[listing_id].producer_id, quantity=quantity)
            )
        record_audit(
            actor, "campaign.item.add", item, campaign_id=campaign.id, supplies=[list(p) for p in pairs], **audit_details(mixed)
        )
    return item


def _price_by_weight(errors, listings, first, price_per_kg_fen, price_fen):
    """The estimated price per piece of an item charged by weight: the expected weight at the price per kg."""
    weights = [listing.unit_weight_g for listing in listings.values() if listing.unit_weight_g]
    expected = (first.unit_weight_g if first else None) or (weights[0] if weights else None)
    if not is_int(price_per_kg_fen) or not 0 < price_per_kg_fen <= MAX_PRICE_FEN:
        errors["price_per_kg_fen"] = [_("Enter a price per kg above 0.")]
        return price_fen
    if price_fen is not None:
        errors["price_fen"] = [_("An item charged by weight takes its price per piece from the expected weight.")]
        return price_fen
    if not expected:
        if listings:
            errors["price_per_kg_fen"] = [_("Charging by weight needs the expected weight per piece on the listing.")]
        return 0
    return charge_for_weight(expected, price_per_kg_fen)


def _new_item(campaign, first, listings, *, description, **terms):
    """The item as buyers will see it: the first listing's category, description and unit weight unless given."""
    weights = [listing.unit_weight_g for listing in listings.values() if listing.unit_weight_g]
    position = db.session.scalar(sa.select(sa.func.count()).where(CampaignItem.campaign_id == campaign.id))
    return CampaignItem(
        campaign_id=campaign.id,
        category=first.category,
        description=(description or "").strip() or first.description,
        unit_weight_g=first.unit_weight_g or (weights[0] if weights else None),
        ordered=0,
        position=position,
        **terms,
    )


def remove_item(actor, item_id) -> None:
    """Remove an item from a draft campaign and give its quantities back to the listings.

    :raises NotFound: no such item.
    :raises Conflict: the campaign is no longer a draft.
    """
    item = db.session.get(CampaignItem, item_id) if valid_id(item_id) else None
    if item is None:
        raise NotFound(_("No such item."))
    if item.campaign.status != CampaignStatus.DRAFT:
        raise Conflict(_("Items can be removed only while the campaign is a draft."))
    with transaction():
        for supply in sorted(item.supplies, key=lambda s: s.listing_id):
            release_listing_quantity(supply.listing_id, supply.quantity)
            db.session.delete(supply)
        record_audit(actor, "campaign.item.remove", item, campaign_id=item.campaign_id, title=item.title)
        db.session.delete(item)


def publish_campaign(actor, campaign_id) -> Campaign:
    """Publish a draft: buyers of its units see it, and may order between its opening and closing times.

    Publishing an already published campaign changes nothing.
    :raises Conflict: it has no items, it has closed already, or its closing time has passed.
    """
    campaign = get_campaign(campaign_id)
    if campaign.status == CampaignStatus.PUBLISHED:
        return campaign
    if campaign.status != CampaignStatus.DRAFT:
        raise Conflict(_("Only a draft campaign can be published."))
    if not campaign.items:
        raise Conflict(_("Add at least one item before publishing."))
    if campaign.closes_at <= utcnow():
        raise Conflict(_("The closing time has passed; change it before publishing."))
    with transaction():
        transition(campaign, CampaignStatus.PUBLISHED)
        record_audit(actor, "campaign.publish", campaign)
    return campaign
