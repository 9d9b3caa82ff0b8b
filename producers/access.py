"""Who may see and change which producer and listing: operators everything, a producer user only its own, a village
cadre the producers of its town (listing goods, pick lists and deliveries for them; nothing else)."""

import sqlalchemy as sa
from flask_babel import gettext as _

from errors import Forbidden, NotFound
from extensions import db
from producers.fields import whole_number
from producers.models import Listing, Producer


def is_operator(user) -> bool:
    return user is not None and user.role == "operator"


def require_operator(user):
    """:raises Forbidden: the user is not an operator."""
    if not is_operator(user):
        raise Forbidden(_("Only operators may do this."))


def owns(user, producer_id) -> bool:
    return user is not None and user.role == "producer" and user.producer_id == producer_id


def cadre_of(user, producer) -> bool:
    """The user is the village cadre of the producer's town."""
    return user is not None and user.role == "cadre" and user.town is not None and producer.town == user.town


def acts_for(user, producer) -> bool:
    """The user may act for the producer without being it: an operator, or the cadre of its town."""
    return is_operator(user) or cadre_of(user, producer)


def acting_for(actor, producer):
    """The name to record as 'on behalf of' when an operator or a village cadre acts for a producer."""
    return producer.name if acts_for(actor, producer) else None


def check_may_change(actor, producer):
    """:raises Forbidden: a suspended producer's own user (operators may still act for it)."""
    if not is_operator(actor) and producer.status == "suspended":
        raise Forbidden(_("Your registration is suspended; contact the platform's operators."))


def get_producer(user, producer_id) -> Producer:
    """A producer the user may see: operators any, a producer user only its own, a cadre those of its town.

    :raises NotFound: no such producer, or not the user's own (or town's).
    """
    producer = db.session.get(Producer, producer_id) if whole_number(producer_id) is not None else None
    if producer is None or not (owns(user, producer.id) or acts_for(user, producer)):
        raise NotFound(_("No such producer."))
    return producer


def get_listing(user, listing_id, for_update=False) -> Listing:
    """A listing the user may work on: operators any, a producer user only its own, a cadre its town's.

    :raises NotFound: no such listing, or another producer's.
    """
    listing = None
    if whole_number(listing_id) is not None:
        listing = db.session.get(Listing, int(listing_id), with_for_update=for_update or None, populate_existing=for_update)
    if listing is None or not (owns(user, listing.producer_id) or acts_for(user, listing.producer)):
        raise NotFound(_("No such listing."))
    return listing


def listings_query(user, *, status=None, producer_id=None):
    """Listings the user may see, newest first; a producer user sees only its own, a cadre its town's.

    :raises NotFound: a producer user asked for another producer's listings.
    """
    query = sa.select(Listing).order_by(Listing.id.desc())
    if is_operator(user):
        if producer_id is not None:
            query = query.where(Listing.producer_id == producer_id)
    elif user is not None and user.role == "cadre":
        town_producers = sa.select(Producer.id).where(Producer.town == user.town)
        query = query.where(Listing.producer_id.in_(town_producers))
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
