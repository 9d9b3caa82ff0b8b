"""The campaign page's shared part, cached for every web worker: the catalogue for minutes, a visitor's page for a second.

When a campaign opens, a county's staff open the same link within minutes; what they see is the same for all of
them. Two entries per campaign live in the shared cache (Redis when configured, this process's memory otherwise):

- its **catalogue** (items, photos, producers, prices: :class:`shop.catalogue.ItemCard` values, never ORM objects),
  kept CATALOGUE_CACHE_SECONDS. What is left and sold is not in it: a page reads those live (one query).
- a **visitor's whole page** (per language), kept PAGE_CACHE_SECONDS with what is left and sold as they were, so a
  sold-out item shows sold out within that. When it is due, one worker draws the next copy while the others keep
  serving the one they have, never older than PAGE_STALE_SECONDS.

Every entry carries the catalogue's **generation**, a random token that any committed change of a campaign, item,
supply, listing, photo, producer or unit replaces (a session event, so no service can forget it): an operator's
change shows on the next page. A cache that fails (Redis down) is skipped for a while, and the pages are drawn
from the database meanwhile; the first generation written afterwards is a new one.

Each worker also keeps its own copy of what it last read, so a rush does not fetch and unpickle the same 48 KB for
every request: a visitor's page for LOCAL_SECONDS at most (and only while the page is younger than
PAGE_CACHE_SECONDS: the lag rule stays the one above), a catalogue while its generation is current. A change
committed in a worker drops that worker's copies at once. With the catalogue each worker keeps the cards as a page
draws them, by what is left and sold: a buyer's page of 50 order forms redraws only the cards whose counts changed,
and carries its own CSRF field in each form (:data:`CSRF_SLOT`).
"""

import secrets
import time
from dataclasses import dataclass, field, replace

import sqlalchemy as sa
from flask import current_app
from flask_babel import get_locale
from markupsafe import Markup

from extensions import cache
from shop.catalogue import campaign_visible_to, item_cards

GENERATION = "generation"
# A generation that expires is only a new one (every entry drawn again); nothing is left in a shared Redis for ever.
GENERATION_SECONDS = 24 * 3600
# A worker drawing the next copy of a page holds this long at most; then another may.
DRAW_LOCK_SECONDS = 2
# After a cache failure, this process leaves the cache alone this long: a dead Redis must not slow every page.
CACHE_BACKOFF_SECONDS = 15.0
# A worker serves its own copy of a visitor's page this long before it reads the shared one again (an operator's
# change committed in another worker shows after this, at most; in this worker, at once).
LOCAL_SECONDS = 0.25
# Where a card's order form carries the viewer's CSRF field: cards are drawn once for every buyer, the field is each
# buyer's own. An HTML comment: no text a user typed can make one (the templates escape it).
CSRF_SLOT = "<!--csrf-field-->"

_CHANGED = "pinbang.catalogue_changed"
# Classes whose rows a catalogue or a campaign page shows; a change of any of them makes a new generation.
_SHOWN = ("Campaign", "CampaignItem", "Supply", "Listing", "ListingPhoto", "Producer", "Unit")

_cache_down_until = 0.0
_generation_owed = False
# This worker's copies: page key → (read at, drawn at, body); catalogue key → (generation, read at, Catalogue).
_pages: dict = {}
_catalogues: dict = {}


def _usable() -> bool:
    return time.monotonic() >= _cache_down_until


def _failed(what) -> None:
    global _cache_down_until
    _cache_down_until = time.monotonic() + CACHE_BACKOFF_SECONDS
    current_app.logger.warning("Page cache unavailable (%s); pages are drawn from the database for a while", what, exc_info=True)


def _read(*keys):
    """The values of ``keys`` and the current generation, in one round trip; (None, …) when the cache fails.

    :returns: (generation, values)
    """
    global _generation_owed
    if not _usable():
        return None, [None] * len(keys)
    try:
        if _generation_owed:
            cache.set(GENERATION, secrets.token_hex(8), timeout=GENERATION_SECONDS)
            _generation_owed = False
        generation, *values = cache.get_many(GENERATION, *keys)
        if generation is None:
            cache.add(GENERATION, secrets.token_hex(8), timeout=GENERATION_SECONDS)
            generation = cache.get(GENERATION)
        return generation, values
    except Exception:  # noqa: BLE001 - any cache failure: the page is drawn from the database instead
        _failed("read")
        return None, [None] * len(keys)


def _write(key, value, timeout) -> None:
    if not _usable():
        return
    try:
        cache.set(key, value, timeout=timeout)
    except Exception:  # noqa: BLE001
        _failed("write")


def _claim(key) -> bool:
    """Whether this worker is the one to draw the next copy of ``key`` (the others keep serving theirs meanwhile)."""
    if not _usable():
        return True
    try:
        return bool(cache.add(f"drawing:{key}", 1, timeout=DRAW_LOCK_SECONDS))
    except Exception:  # noqa: BLE001
        _failed("claim")
        return True


def _release(key) -> None:
    """The next copy of ``key`` is written: the next one after it may be drawn by any worker."""
    if not _usable():
        return
    try:
        cache.delete(f"drawing:{key}")
    except Exception:  # noqa: BLE001
        _failed("release")


@dataclass
class Catalogue:
    """A campaign's cards (:func:`shop.catalogue.item_cards`, their parts drawn), and, kept with them in this worker,
    each card as the page draws it for what is left and sold: the same counts draw the same card (:func:`page_cards`)."""

    cards: list
    drawn: dict = field(default_factory=dict)


def catalogue_cards(campaign, public=False) -> Catalogue:
    """The campaign's :func:`shop.catalogue.item_cards` with their parts drawn in the page's language, from this
    worker's copy while its generation is current, else from the cache, else built (then kept) when missing or of an
    older generation; ``public``: as visitors see them. A draft is never cached: only operators see it, while they
    edit it. What is left and sold is not in the cards (:func:`page_cards`)."""
    if not campaign_visible_to(None, campaign):
        return Catalogue(drawn_cards(item_cards(campaign.id, public)))
    key = f"catalogue:{campaign.id}:{'public' if public else 'named'}:{get_locale()}"
    now = time.time()
    mine = _catalogues.get(key)
    if mine is not None and now - mine[1] < current_app.config["CATALOGUE_CACHE_SECONDS"]:
        generation, _nothing = _read()
        if generation is not None and generation == mine[0]:
            return mine[2]
    generation, (entry,) = _read(key)
    if entry is not None and generation is not None and entry[0] == generation:
        return _keep(_catalogues, key, (generation, now, _renewed(mine, entry[1])))[2]
    cards = drawn_cards(item_cards(campaign.id, public))
    if generation is None:
        return Catalogue(cards)
    _write(key, (generation, cards), current_app.config["CATALOGUE_CACHE_SECONDS"])
    return _keep(_catalogues, key, (generation, now, _renewed(mine, cards)))[2]


def _renewed(mine, cards) -> Catalogue:
    """``cards`` as this worker's copy, with the cards it drew from its last copy when they are the same."""
    if mine is not None and mine[2].cards == cards:
        return Catalogue(cards, mine[2].drawn)
    return Catalogue(cards)


def _keep(copies, key, value):
    if len(copies) > 1000:  # campaigns × languages: a worker never holds many, but never grows for ever either
        copies.clear()
    copies[key] = value
    return value


def drawn_cards(cards) -> list:
    """The cards with their parts drawn (templates/shop/_item_card.html) in the current language."""
    parts = current_app.jinja_env.get_template("shop/_item_card.html").module
    return [
        replace(card, parts={name: getattr(parts, name)(card) for name in ("photo", "head", "ready", "terms")}) for card in cards
    ]


def page_cards(catalogue, counts, add_action=None, csrf_field="") -> Markup:
    """The page's cards with what is left and sold (``counts``: :func:`shop.catalogue.item_counts`; an item gone since
    the catalogue was made is left out), each with an order form posting to ``add_action`` when the viewer may order
    now (its CSRF field ``csrf_field``). A card is drawn again only when its counts change."""
    module = None
    drawn = catalogue.drawn
    if len(drawn) > 8 * len(catalogue.cards) + 8:
        drawn.clear()
    out = []
    for card in catalogue.cards:
        count = counts.get(card.id)
        if count is None:
            continue
        key = (card.id, count, add_action)
        html = drawn.get(key)
        if html is None:
            module = module or current_app.jinja_env.get_template("shop/_item_card.html").module
            html = drawn[key] = str(
                module.card(replace(card, capacity=count[0], ordered=count[1]), add_action, Markup(CSRF_SLOT))
            )
        out.append(html)
    return Markup("".join(out).replace(CSRF_SLOT, str(csrf_field)) if add_action else "".join(out))


def visitor_page(slug, language, draw) -> bytes:
    """A visitor's page (the same for every visitor in ``language``), from this worker's copy, the cache, or
    ``draw()``: HTML drawn from what the database holds when it starts, kept as UTF-8. A copy older than
    PAGE_CACHE_SECONDS is drawn again by one worker while the others serve it, up to PAGE_STALE_SECONDS; a copy of
    an older generation is never served, nor this worker's own copy for longer than LOCAL_SECONDS."""
    config = current_app.config
    key = f"page:{slug}:{language}"
    now = time.time()
    mine = _pages.get(key)
    if mine is not None and now - mine[0] < LOCAL_SECONDS and now - mine[1] < config["PAGE_CACHE_SECONDS"]:
        return mine[2]
    generation, (entry,) = _read(key)
    if entry is not None and generation is not None and entry[0] == generation:
        age = now - entry[1]
        if age < config["PAGE_CACHE_SECONDS"]:
            return _keep(_pages, key, (now, entry[1], entry[2]))[2]
        if age < config["PAGE_STALE_SECONDS"] and not _claim(key):
            return entry[2]
    body = draw().encode()
    if generation is not None:
        _write(key, (generation, now, body), max(int(config["PAGE_STALE_SECONDS"]) + 1, 2))
        _release(key)
        _keep(_pages, key, (now, now, body))
    return body


def forget_catalogues() -> None:
    """A new generation: every cached catalogue and page is drawn again from the database on its next request (this
    worker's own copies dropped now)."""
    global _generation_owed
    _pages.clear()
    _catalogues.clear()
    if not _usable():
        _generation_owed = True
        return
    try:
        cache.set(GENERATION, secrets.token_hex(8), timeout=GENERATION_SECONDS)
    except Exception:  # noqa: BLE001
        _generation_owed = True
        _failed("forget")


def _shown(instance) -> bool:
    return type(instance).__name__ in _SHOWN


@sa.event.listens_for(sa.orm.Session, "before_flush")
def _note_changes(session, flush_context, instances):
    if any(_shown(obj) for obj in session.new) or any(_shown(obj) for obj in session.deleted):
        session.info[_CHANGED] = True
    elif any(_shown(obj) and session.is_modified(obj) for obj in session.dirty):
        session.info[_CHANGED] = True


@sa.event.listens_for(sa.orm.Session, "after_commit")
def _forget_when_committed(session):
    if session.info.pop(_CHANGED, False):
        try:
            forget_catalogues()
        except RuntimeError:
            pass  # no app context (a script's own session): no app's cache to tell


@sa.event.listens_for(sa.orm.Session, "after_rollback")
def _keep_when_rolled_back(session):
    if session.get_nested_transaction() is None:
        session.info.pop(_CHANGED, None)
