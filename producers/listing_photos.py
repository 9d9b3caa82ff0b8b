"""A listing's photos after it is created: who may see them (found by random tokens, never by id), adding one (at most
MAX_PHOTOS), removing one."""

import re

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.services import record_audit
from database import transaction, utcnow
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from producers import photos as photo_files
from producers.access import acting_for, acts_for, check_may_change, get_listing, owns
from producers.listings import MAX_PHOTOS
from producers.models import Listing, ListingPhoto
from shop import catalogue

PHOTO_TOKEN = re.compile(r"[0-9a-f]{32}")


def photo_visible_to(user, photo: ListingPhoto) -> bool:
    """Its producer and operators see every photo; anyone else, visitors included (``user`` None), only the photos
    of a listing supplying a campaign whose page they may see (shop.catalogue.listing_visible_to), whatever the
    listing's status: campaign pages show them."""
    listing = photo.listing
    if owns(user, listing.producer_id) or acts_for(user, listing.producer):
        return True
    return catalogue.listing_visible_to(user, listing.id)


def get_photo(user, photo_id) -> ListingPhoto:
    """:raises NotFound: no such photo, or one the user may not see."""
    photo = db.session.get(ListingPhoto, photo_id)
    if photo is None or not photo_visible_to(user, photo):
        raise NotFound(_("No such photo."))
    return photo


def get_photo_by_token(user, token) -> ListingPhoto:
    """The photo a URL names by its random token.

    :raises NotFound: no such photo, or one the user may not see (the same answer, so nothing can be probed).
    """
    photo = None
    if isinstance(token, str) and PHOTO_TOKEN.fullmatch(token):
        photo = db.session.scalar(sa.select(ListingPhoto).where(ListingPhoto.filename == f"{token}.jpg"))
    if photo is None or not photo_visible_to(user, photo):
        raise NotFound(_("No such photo."))
    return photo


def add_photo(actor, listing, upload) -> ListingPhoto:
    """Add a photo to a listing (at most MAX_PHOTOS).

    :raises NotFound: another producer's listing.
    :raises Conflict: the listing is withdrawn.
    :raises ValidationFailed: not an image, or already MAX_PHOTOS photos.
    :raises UploadTooLarge: over MAX_PHOTO_BYTES.
    """
    listing = get_listing(actor, listing.id)
    check_may_change(actor, listing.producer)
    if listing.status == "withdrawn":
        raise Conflict(_("This listing was withdrawn and can no longer be changed."))
    name, thumb = photo_files.store_photo(upload, field="photo")
    try:
        with transaction():
            # Touch the listing row first: it serialises concurrent uploads (a row lock on PostgreSQL, the write lock
            # on SQLite), so the count below cannot be stale and a sixth photo cannot slip in.
            db.session.execute(
                sa.update(Listing.__table__).where(Listing.__table__.c.id == listing.id).values(updated_at=utcnow())
            )
            count, last = db.session.execute(
                sa.select(sa.func.count(ListingPhoto.id), sa.func.max(ListingPhoto.position)).where(
                    ListingPhoto.listing_id == listing.id
                )
            ).one()
            if count >= MAX_PHOTOS:
                message = _("At most %(n)d photos.", n=MAX_PHOTOS)
                raise ValidationFailed(message, {"photo": [message]})
            photo = ListingPhoto(listing_id=listing.id, filename=name, thumbnail=thumb, position=(last or 0) + 1 if count else 0)
            db.session.add(photo)
            db.session.flush()
            record_audit(
                actor, "listing.photo_add", photo, on_behalf_of=acting_for(actor, listing.producer), listing_id=listing.id
            )
    except Exception:
        photo_files.discard_files(name, thumb)
        raise
    return photo


def delete_photo(actor, photo) -> None:
    """Remove a photo and its files.

    :raises NotFound: another producer's photo.
    """
    listing = get_listing(actor, photo.listing_id)
    check_may_change(actor, listing.producer)
    names = (photo.filename, photo.thumbnail)
    with transaction():
        record_audit(
            actor, "listing.photo_delete", photo, on_behalf_of=acting_for(actor, listing.producer), listing_id=listing.id
        )
        db.session.delete(photo)
    photo_files.discard_files(*names)
