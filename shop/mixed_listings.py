"""One item, one product: pooling listings of different names or prices into an item needs the operator's explicit
confirmation, and shows the difference (a "天堂姜" item must not take 马蹄 at ¥4.50 beside 天堂姜 at ¥8.00 silently)."""

from flask_babel import gettext as _

from errors import MixedListings
from measures import yuan


def listing_facts(listings) -> list[dict]:
    """Each listing as the confirmation shows it, by listing id."""
    return [
        {
            "listing_id": listing.id,
            "name": listing.name,
            "variety": listing.variety,
            "producer": listing.producer.name,
            "price_fen": listing.price_fen,
            "unit": listing.unit,
        }
        for listing in sorted(listings, key=lambda listing: listing.id)
    ]


def mixture(listings) -> dict | None:
    """What differs among listings pooled into one item, or None when they share one name and one price.

    :returns: ``{listings: [...], names: [...], price_min_fen, price_max_fen, price_difference_fen}``.
    """
    listings = list(listings)
    names = sorted({listing.name for listing in listings})
    prices = sorted({listing.price_fen for listing in listings})
    if len(names) <= 1 and len(prices) <= 1:
        return None
    return {
        "listings": listing_facts(listings),
        "names": names,
        "price_min_fen": prices[0],
        "price_max_fen": prices[-1],
        "price_difference_fen": prices[-1] - prices[0],
    }


def check_pooling(listings, *, confirm) -> dict | None:
    """The rule, for a new item and for a listing joining an item: mixed listings pass only when confirmed.

    :param confirm: the operator confirmed pooling these listings as they are.
    :returns: what differs (for the audit log), or None when nothing does.
    :raises MixedListings: they differ and it was not confirmed; ``details`` says how.
    """
    mixed = mixture(listings)
    if mixed is not None and not confirm:
        raise MixedListings(
            _(
                "These listings differ in name or price: %(listings)s. Confirm that they are one product to pool them into one item.",
                listings=_("; ").join(
                    _(
                        "%(name)s (%(producer)s) at %(price)s per %(unit)s",
                        name=fact["name"],
                        producer=fact["producer"],
                        price=yuan(fact["price_fen"]),
                        unit=fact["unit"],
                    )
                    for fact in mixed["listings"]
                ),
            ),
            mixed,
        )
    return mixed


def audit_details(mixed) -> dict:
    """What the audit entry of a confirmed mixed pooling adds: who confirmed is its actor, this is what differed."""
    return {"mixed_listings": mixed, "mixed_confirmed": True} if mixed else {}
