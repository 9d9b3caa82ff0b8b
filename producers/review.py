"""Operators' review of listings: the queue, approval and rejection, and the producer told of the result."""

import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext as _

import after_commit
from accounts.models import AuditEntry
from accounts.services import record_audit
from database import transaction
from errors import Conflict
from extensions import db
from notifications import messages
from notifications.services import queue_notification
from producers.access import get_listing, require_operator
from producers.fields import plain, raise_if
from producers.models import Listing, Producer
from producers.stock import settle_stock_status

REASON_MAX = 255
# Producers read review results by SMS: they are written in the platform's default language, whoever reviewed.
PRODUCERS_LOCALE = "zh_CN"


def review_queue_query(producer_id=None, town=None):
    """Listings waiting for an operator, oldest first (one producer's, or one town's, when given)."""
    query = sa.select(Listing).where(Listing.status == "pending").order_by(Listing.created_at, Listing.id)
    if producer_id is not None:
        query = query.where(Listing.producer_id == producer_id)
    if town is not None:
        query = query.where(Listing.producer_id.in_(sa.select(Producer.id).where(Producer.town == town)))
    return query


def review_queue():
    """Listings waiting for an operator, oldest first."""
    return db.session.scalars(review_queue_query()).all()


def pending_review_count() -> int:
    """How many listings wait for an operator's review."""
    return db.session.scalar(sa.select(sa.func.count()).select_from(Listing).where(Listing.status == "pending"))


def _review_subject(listing):
    """Each review is its own message: a listing rejected, changed and approved tells its producer twice."""
    reviews = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEntry)
        .where(
            AuditEntry.object_type == "Listing",
            AuditEntry.object_id == listing.id,
            AuditEntry.action.in_(("listing.approve", "listing.reject")),
        )
    )
    return f"listing:{listing.id}:{reviews}"


def _tell_producer(listing, approved):
    with force_locale(PRODUCERS_LOCALE):
        title, body, sms = messages.listing_approved(listing) if approved else messages.listing_rejected(listing)
    queue_notification(
        kind="listing_reviewed",
        subject=_review_subject(listing),
        title=str(title)[:200],
        body=str(body),
        sms_body=str(sms),
        producer=listing.producer,
    )
    after_commit.dispatch_notifications()


def approve_listing(actor, listing) -> Listing:
    """Approve a pending (or earlier rejected) listing; it becomes sold out at once if nothing is left.

    :raises Forbidden: the actor is not an operator.
    :raises Conflict: the producer is not approved, or the listing is not waiting for review.
    """
    require_operator(actor)
    with transaction():
        listing = get_listing(actor, listing.id, for_update=True)
        if listing.status not in ("pending", "rejected"):
            raise Conflict(_("Only a pending or rejected listing can be approved."))
        if listing.producer.status != "approved":
            raise Conflict(
                _(
                    "Approve the producer “%(name)s” first: only an approved producer's listings can be approved.",
                    name=listing.producer.name,
                )
            )
        listing.status = "approved"
        listing.reject_reason = None
        settle_stock_status(listing.id)
        _tell_producer(listing, approved=True)
        record_audit(actor, "listing.approve", listing, listing_id=listing.id)
    return listing


def reject_listing(actor, listing, reason) -> Listing:
    """Reject a listing with a reason the producer sees.

    :raises Forbidden: the actor is not an operator.
    :raises ValidationFailed: no reason, or too long.
    :raises Conflict: campaigns already took some of it, or it is withdrawn / already rejected.
    """
    require_operator(actor)
    errors = {}
    reason = plain(errors, "reason", reason, required_message=_("Say why, so the producer can fix it."), max_length=REASON_MAX)
    raise_if(errors)
    with transaction():
        listing = get_listing(actor, listing.id, for_update=True)
        if listing.status not in ("pending", "approved"):
            raise Conflict(_("Only a pending or approved listing can be rejected."))
        if listing.quantity_committed > 0:
            raise Conflict(_("Campaigns already took some of this listing; it cannot be rejected now."))
        listing.status = "rejected"
        listing.reject_reason = reason
        _tell_producer(listing, approved=False)
        record_audit(actor, "listing.reject", listing, listing_id=listing.id, reason=reason)
    return listing
