"""What is left of each listing: campaigns take quantity from it and give it back, and its status follows what is left."""

import sqlalchemy as sa
from flask_babel import gettext as _

from errors import Conflict, InsufficientStock, NotFound, ValidationFailed
from extensions import db
from producers.models import Listing, Producer

ON_OFFER = ("approved", "sold_out")

_listing = Listing.__table__


def listing_status_after_stock_change(status, left):
    """The listing's status once ``left`` is what is left of it: approved with nothing left is sold out, sold out with
    something left is approved again, any other status stays.

    A SQL expression, so every writer applies the same rule in its own UPDATE: a single listing taken or given back,
    a campaign close giving many listings their unallocated stock back, a producer changing the quantity.
    :param status: the status column (or the status being set, as a bound value).
    :param left: what is left after the change, as an expression over the row's values before it (SQL's SET reads
        the old row): e.g. ``quantity - (quantity_committed - given_back)``.
    """
    return sa.case(
        (sa.and_(status == "approved", left == 0), "sold_out"),
        (sa.and_(status == "sold_out", left > 0), "approved"),
        else_=status,
    )


def settle_stock_status(listing_id) -> None:
    """Apply :func:`listing_status_after_stock_change` to a listing changed through the ORM (its quantity or status).

    Flushes the pending changes first; does not commit.
    """
    db.session.flush()
    db.session.execute(
        sa.update(_listing)
        .where(_listing.c.id == listing_id)
        .values(status=listing_status_after_stock_change(_listing.c.status, _listing.c.quantity - _listing.c.quantity_committed))
    )
    _expire_loaded(listing_id)


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
    committed = _listing.c.quantity_committed + quantity
    approved_producers = sa.select(Producer.id).where(Producer.status == "approved")
    result = db.session.execute(
        sa.update(_listing)
        .where(
            _listing.c.id == listing_id,
            _listing.c.status == "approved",
            _listing.c.quantity - _listing.c.quantity_committed >= quantity,
            _listing.c.producer_id.in_(approved_producers),
        )
        .values(
            quantity_committed=committed,
            status=listing_status_after_stock_change(_listing.c.status, _listing.c.quantity - committed),
        )
    )
    if result.rowcount != 1:
        _refuse_commit(listing_id, quantity)
    _expire_loaded(listing_id)


def _refuse_commit(listing_id, quantity):
    """Say why a listing could not give ``quantity``."""
    row = db.session.execute(
        sa.select(
            _listing.c.name,
            _listing.c.status,
            _listing.c.unit,
            _listing.c.quantity,
            _listing.c.quantity_committed,
            Producer.status,
        )
        .join(Producer, Producer.id == _listing.c.producer_id)
        .where(_listing.c.id == listing_id)
    ).first()
    if row is None:
        raise NotFound(_("No such listing."))
    name, status, unit, total, committed, producer_status = row
    left = total - committed
    details = {"listing_id": listing_id, "left": left}
    if status not in ON_OFFER:
        raise InsufficientStock(_("“%(name)s” is not approved, so it cannot go into a campaign.", name=name), details)
    if producer_status != "approved":
        raise InsufficientStock(_("The producer of “%(name)s” is not approved (suspended or pending).", name=name), details)
    raise InsufficientStock(
        _("Only %(left)d %(unit)s of “%(name)s” left; %(asked)d asked.", left=left, unit=unit, name=name, asked=quantity), details
    )


def release_listing_quantity(listing_id, quantity) -> None:
    """Give back ``quantity`` a campaign had taken (an item or supply removed); a sold-out listing becomes approved
    again. Does not commit.

    :raises ValidationFailed: quantity is not a whole number above 0.
    :raises NotFound: no such listing.
    :raises Conflict: more than was taken.
    """
    quantity = _positive_quantity(quantity)
    committed = _listing.c.quantity_committed - quantity
    result = db.session.execute(
        sa.update(_listing)
        .where(_listing.c.id == listing_id, _listing.c.quantity_committed >= quantity)
        .values(
            quantity_committed=committed,
            status=listing_status_after_stock_change(_listing.c.status, _listing.c.quantity - committed),
        )
    )
    if result.rowcount != 1:
        if db.session.get(Listing, listing_id) is None:
            raise NotFound(_("No such listing."))
        raise Conflict(_("Cannot give back more than campaigns took from this listing."))
    _expire_loaded(listing_id)
