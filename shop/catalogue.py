"""What buyers see: the campaigns open to them, a campaign's items with their producers, and its short link.

A published campaign's catalogue is public (anyone with the link, logged in or not, sees its items, prices, producers'
towns and what is left); ordering stays for buyers of its units. :func:`campaign_visible_to` is that one rule, for the
pages, the API and the photos they show.
"""

from dataclasses import dataclass
from datetime import date
from urllib.parse import urljoin

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _
from PIL import Image, UnidentifiedImageError
from sqlalchemy.orm import selectinload

from errors import NotFound
from extensions import db
from producers.models import Listing, ListingPhoto, Producer
from producers.photos import photo_dir
from shop.lifecycle import open_to_unit, open_to_unit_clause, visible_to_buyers
from shop.models import Campaign, CampaignItem, Supply, minimum_percent, minimum_shortfall

MAX_ID = 2**31 - 1  # ids are 32-bit integers; a larger one names nothing (and SQLite cannot even bind it)


def is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def valid_id(value) -> bool:
    return is_int(value) and 0 < value <= MAX_ID


def visible_campaigns_query(user):
    """Operators see every campaign; a buyer sees published ones open to their unit (no units listed = all)."""
    query = sa.select(Campaign).order_by(Campaign.closes_at.desc(), Campaign.id.desc())
    if user.role != "operator":
        query = query.where(visible_to_buyers(Campaign.status), open_to_unit_clause(user.unit_id))
    return query


def visible_campaigns(user):
    return db.session.scalars(visible_campaigns_query(user)).all()


def can_see(user, campaign) -> bool:
    """Operators see everything; others see published (or later) campaigns open to their unit."""
    if user.role == "operator":
        return True
    return visible_to_buyers(campaign.status) and open_to_unit(campaign, user.unit_id)


def _signed_in(user) -> bool:
    return user is not None and getattr(user, "is_authenticated", True)


def campaign_visible_to(user, campaign) -> bool:
    """Who may read a campaign's catalogue: operators every campaign; anyone else, anonymous visitors included
    (``user`` None or not authenticated), a published (or later) one, whatever its units: the catalogue holds
    nothing personal, and only eligible units may order."""
    if _signed_in(user) and user.role == "operator":
        return True
    return visible_to_buyers(campaign.status)


def listing_visible_to(user, listing_id) -> bool:
    """A listing is shown (its photos served) wherever a campaign it supplies is visible to ``user``."""
    if _signed_in(user) and user.role == "operator":
        return True
    return bool(
        db.session.scalar(
            sa.select(
                sa.exists()
                .where(Supply.listing_id == listing_id, Supply.item_id == CampaignItem.id)
                .where(CampaignItem.campaign_id == Campaign.id, visible_to_buyers(Campaign.status))
            )
        )
    )


def get_public_campaign(user, campaign_id) -> Campaign:
    """:raises NotFound: no such campaign, or a draft (for anyone but operators)."""
    campaign = db.session.get(Campaign, campaign_id) if valid_id(campaign_id) else None
    if campaign is None or not campaign_visible_to(user, campaign):
        raise NotFound(_("No such campaign."))
    return campaign


def get_public_campaign_by_slug(user, slug) -> Campaign:
    """:raises NotFound: no such campaign, or a draft (for anyone but operators)."""
    campaign = get_campaign_by_slug(slug)
    if not campaign_visible_to(user, campaign):
        raise NotFound(_("No such campaign."))
    return campaign


def get_campaign(campaign_id) -> Campaign:
    """:raises NotFound: no such campaign."""
    campaign = db.session.get(Campaign, campaign_id) if valid_id(campaign_id) else None
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def get_visible_campaign(user, campaign_id) -> Campaign:
    """:raises NotFound: no such campaign, or one this user may not see."""
    campaign = db.session.get(Campaign, campaign_id) if valid_id(campaign_id) else None
    if campaign is None or not can_see(user, campaign):
        raise NotFound(_("No such campaign."))
    return campaign


def get_campaign_by_slug(slug) -> Campaign:
    """:raises NotFound: no such campaign."""
    campaign = db.session.scalar(sa.select(Campaign).where(Campaign.slug == (slug or "").lower()))
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def absolute_url(path) -> str:
    """``path`` on the public site (PUBLIC_URL, never the request's Host header, which anyone can forge)."""
    return urljoin(current_app.config["PUBLIC_URL"].rstrip("/") + "/", path.lstrip("/"))


def short_url(campaign) -> str:
    """The link to share in chat groups and print on posters."""
    return absolute_url(f"/c/{campaign.slug}")


def price_per_kg_fen(price_fen, unit_weight_g):
    """Price of a kilogram in whole fen (rounded half up), or None when the unit's weight is unknown."""
    if not unit_weight_g:
        return None
    return (price_fen * 1000 + unit_weight_g // 2) // unit_weight_g


@dataclass(frozen=True)
class PublicProducer:
    """A producer as anonymous visitors see it: a household is a person, so it is named by its kind and town only."""

    id: int
    name: str
    town: str
    kind: str
    poverty_household: bool

    @classmethod
    def of(cls, producer):
        name = _("Household") if producer.kind == "household" else producer.name
        return cls(producer.id, name, producer.town, producer.kind, producer.poverty_household)


@dataclass
class ItemView:
    """What a buyer sees of an item: its own fields plus its producers, ready date and a photo."""

    item: CampaignItem
    producers: list
    ready_on: date | None
    photo: object | None
    # The item's own price per kg when it is charged by weight, else its price per piece over the piece's weight.
    price_per_kg_fen: int | None

    @property
    def by_weight(self) -> bool:
        """Ordered by the piece, charged by the weighed kilogram: the price per piece is an estimate."""
        return self.item.price_per_kg_fen is not None

    def __getattr__(self, name):
        return getattr(self.item, name)


def item_views(campaign, public=False) -> list[ItemView]:
    """Every item of a campaign with its producers (in supply order, each once), ready date and first photo;
    ``public``: for a visitor who is not logged in, households unnamed (:class:`PublicProducer`)."""
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
                producers.append(PublicProducer.of(supply.producer) if public else supply.producer)
            if photo is None and supply.listing.photos:
                photo = supply.listing.photos[0]
            ready = max(ready, supply.listing.ready_on) if ready else supply.listing.ready_on
        per_kg = item.price_per_kg_fen or price_per_kg_fen(item.price_fen, item.unit_weight_g)
        views.append(ItemView(item, producers, ready, photo, per_kg))
    return views


@dataclass(frozen=True)
class CardProducer:
    """A producer on an item's card: plain values (the cache keeps them), a household unnamed on a public page."""

    id: int
    own_name: str | None
    town: str
    kind: str
    poverty_household: bool

    @property
    def name(self) -> str:
        return self.own_name if self.own_name is not None else _("Household")


@dataclass(frozen=True)
class CardPhoto:
    """An item's first photo, as its thumbnail: the token in its URL and the thumbnail's size in pixels."""

    token: str
    width: int | None
    height: int | None


@dataclass(frozen=True)
class ItemCard:
    """What the campaign page shows of an item: plain values, so a card can be cached and shared by every worker.
    ``capacity`` and ``ordered`` are filled in from :func:`item_counts` when the page is drawn
    (:func:`shop.page_cache.page_cards`)."""

    id: int
    title: str
    description: str | None
    unit: str
    unit_weight_g: int | None
    price_fen: int
    price_per_kg_fen: int | None
    per_buyer_limit: int | None
    min_total: int | None
    producers: tuple
    ready_on: date | None
    photo: CardPhoto | None
    capacity: int = 0
    ordered: int = 0
    # The card's parts that are the same for every viewer, drawn once per language (shop.page_cache.drawn_cards).
    parts: dict | None = None

    @property
    def remaining(self) -> int:
        return self.capacity - self.ordered

    @property
    def short_of_minimum(self) -> int | None:
        return minimum_shortfall(self.ordered, self.min_total)

    @property
    def minimum_pct(self) -> int | None:
        return minimum_percent(self.ordered, self.min_total)


def item_cards(campaign_id, public=False) -> list[ItemCard]:
    """A campaign's items as :class:`ItemCard`, in page order, in three queries (items; supplies with their producers
    and listings; first photos): producers in supply order, each once; the latest ready date; the first supply's
    first photo. ``public``: for visitors, households unnamed (as :class:`PublicProducer`)."""
    items = db.session.execute(
        sa.select(CampaignItem).where(CampaignItem.campaign_id == campaign_id).order_by(CampaignItem.position, CampaignItem.id)
    ).scalars()
    supplies = db.session.execute(
        sa.select(
            Supply.item_id,
            Supply.listing_id,
            Producer.id,
            Producer.name,
            Producer.town,
            Producer.kind,
            Producer.poverty_household,
            Listing.ready_on,
        )
        .join(Producer, Producer.id == Supply.producer_id)
        .join(Listing, Listing.id == Supply.listing_id)
        .join(CampaignItem, CampaignItem.id == Supply.item_id)
        .where(CampaignItem.campaign_id == campaign_id)
        .order_by(Supply.id)
    ).all()
    photos = {}
    listing_ids = {row.listing_id for row in supplies}
    if listing_ids:
        for listing_id, filename, thumbnail in db.session.execute(
            sa.select(ListingPhoto.listing_id, ListingPhoto.filename, ListingPhoto.thumbnail)
            .where(ListingPhoto.listing_id.in_(listing_ids))
            .order_by(ListingPhoto.position, ListingPhoto.id)
        ):
            photos.setdefault(listing_id, (filename, thumbnail))
    by_item = {}
    for row in supplies:
        by_item.setdefault(row.item_id, []).append(row)
    cards = []
    for item in items:
        producers, seen, photo, ready = [], set(), None, None
        for row in by_item.get(item.id, ()):
            if row.id not in seen:
                seen.add(row.id)
                hidden = public and row.kind == "household"
                producers.append(CardProducer(row.id, None if hidden else row.name, row.town, row.kind, row.poverty_household))
            if photo is None and row.listing_id in photos:
                filename, thumbnail = photos[row.listing_id]
                photo = CardPhoto(filename.removesuffix(".jpg"), *thumbnail_size(thumbnail))
            if row.ready_on is not None:
                ready = max(ready, row.ready_on) if ready else row.ready_on
        cards.append(
            ItemCard(
                item.id,
                item.title,
                item.description,
                item.unit,
                item.unit_weight_g,
                item.price_fen,
                price_per_kg_fen(item.price_fen, item.unit_weight_g),
                item.per_buyer_limit,
                item.min_total,
                tuple(producers),
                ready,
                photo,
            )
        )
    return cards


def item_counts(campaign_id) -> dict[int, tuple[int, int]]:
    """What each item of a campaign can take and has taken: id → (capacity, ordered), read live (one query)."""
    rows = db.session.execute(
        sa.select(CampaignItem.id, CampaignItem.capacity, CampaignItem.ordered).where(CampaignItem.campaign_id == campaign_id)
    )
    return {item_id: (capacity, ordered) for item_id, capacity, ordered in rows}


_sizes: dict[str, tuple[int, int]] = {}


def thumbnail_size(name) -> tuple[int | None, int | None]:
    """A stored thumbnail's width and height, read from its header once per process (a random file name is never
    reused for other content); (None, None) while the file is missing."""
    path = str(photo_dir() / name)
    if path not in _sizes:
        try:
            with Image.open(path) as image:
                size = image.size
        except (OSError, UnidentifiedImageError):
            return None, None
        if len(_sizes) > 10_000:
            _sizes.clear()
        _sizes[path] = size
    return _sizes[path]


def available_listings():
    """Approved listings with something left to offer, for building items."""
    return db.session.scalars(
        sa.select(Listing)
        .join(Producer)
        .where(Listing.status == "approved", Listing.quantity > Listing.quantity_committed, Producer.status == "approved")
        .order_by(Listing.name, Listing.id)
        .options(selectinload(Listing.producer))
    ).all()
