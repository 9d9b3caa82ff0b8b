"""Running a published campaign: its texts and closing time changed, supplies topped up while it is open, and the
buyers who ordered told of a new closing time.

Each change locks the campaign row for update, so it waits for the orders in flight (they hold it shared) and a
close that comes first makes it refuse; every change is audited with who and why.
"""

from datetime import date, datetime

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.services import record_audit
from database import local_zone, transaction, utcnow
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from notifications import running_campaigns
from notifications.fanout import queue_buyer_fanout
from orders.locks import lock_campaign_for_change
from producers.certificates import check_listing_fit
from producers.models import Listing
from producers.stock import commit_listing_quantity, release_listing_quantity
from shop.catalogue import is_int, valid_id
from shop.editing import MAX_QUANTITY, clean_description, clean_title, local_to_utc
from shop.lifecycle import accepts_changes
from shop.mixed_listings import audit_details, check_pooling
from shop.models import Campaign, CampaignItem, CampaignStatus, Supply

REASON_MAX = 200


def locked_campaign(campaign_id) -> Campaign:
    """The campaign, locked for a change (orders.locks.lock_campaign_for_change).

    :raises NotFound: no such campaign.
    """
    campaign = lock_campaign_for_change(campaign_id)
    if campaign is None:
        raise NotFound(_("No such campaign."))
    return campaign


def clean_reason(errors, reason, *, required) -> str | None:
    reason = (reason or "").strip() or None
    if reason is None and required:
        errors["reason"] = [_("Say why, for the audit log and the buyers.")]
    elif reason and len(reason) > REASON_MAX:
        errors["reason"] = [_("At most %(n)d characters.", n=REASON_MAX)]
    return reason


def _clean_changes(campaign, errors, *, title, description, closes_at, delivery_on) -> dict:
    """The fields that change, cleaned; a published campaign's closing time may only move later."""
    changes = {}
    if title is not None:
        changes["title"] = clean_title(errors, title)
    if description is not None:
        changes["description"] = clean_description(errors, description)
    if closes_at is not None:
        closes_at = local_to_utc(closes_at) if isinstance(closes_at, datetime) else None
        if closes_at is None:
            errors["closes_at"] = [_("Enter when orders close.")]
        elif campaign.status == CampaignStatus.PUBLISHED and closes_at <= campaign.closes_at:
            errors["closes_at"] = [_("A published campaign's closing time can only move later.")]
        elif closes_at <= max(campaign.opens_at, utcnow()):
            errors["closes_at"] = [_("Orders must close after they open, and in the future.")]
        changes["closes_at"] = closes_at
    if delivery_on is not None and not isinstance(delivery_on, date):
        errors["delivery_on"] = [_("Enter the delivery date.")]
    final_close = changes.get("closes_at") or campaign.closes_at
    final_delivery = delivery_on if isinstance(delivery_on, date) else campaign.delivery_on
    if "closes_at" not in errors and final_delivery < final_close.astimezone(local_zone()).date():
        errors["delivery_on"] = [_("Delivery cannot be before orders close.")]
    if delivery_on is not None:
        changes["delivery_on"] = delivery_on
    return {name: value for name, value in changes.items() if getattr(campaign, name) != value}


def change_campaign(actor, campaign_id, *, reason=None, title=None, description=None, closes_at=None, delivery_on=None):
    """Change a draft's or a running campaign's texts, closing time or delivery date; None leaves a field as it is.

    A published campaign may be changed until its orders end, its closing time only moved later; everyone with a
    live order is told the new closing time and delivery date (in-app and email, as the close's notices).
    :raises NotFound: no such campaign.
    :raises Conflict: its orders have ended (closed, or past its closing time).
    :raises ValidationFailed: a bad field, or nothing given to change.
    """
    if title is None and description is None and closes_at is None and delivery_on is None:
        raise ValidationFailed(_("Nothing to change: give a title, description, closing time or delivery date."), {})
    with transaction():
        campaign = locked_campaign(campaign_id)
        if not accepts_changes(campaign):
            raise Conflict(_("Orders for this campaign have ended; it can no longer be changed."))
        errors = {}
        reason = clean_reason(errors, reason, required=False)
        changes = _clean_changes(
            campaign, errors, title=title, description=description, closes_at=closes_at, delivery_on=delivery_on
        )
        if errors:
            raise ValidationFailed(_("Please correct the marked fields."), errors)
        before = {name: getattr(campaign, name) for name in changes}
        for name, value in changes.items():
            setattr(campaign, name, value)
        record_audit(
            actor,
            "campaign.change",
            campaign,
            reason=reason,
            changes={name: [str(before[name]), str(value)] for name, value in changes.items()},
        )
        if campaign.status == CampaignStatus.PUBLISHED and {"closes_at", "delivery_on"} & changes.keys():
            title, body = running_campaigns.campaign_rescheduled(campaign)
            queue_buyer_fanout(
                campaign_id=campaign.id,
                kind="campaign_rescheduled",
                subject=f"campaign:{campaign.id}:dates:{int(campaign.closes_at.timestamp())}:{campaign.delivery_on:%Y%m%d}",
                title=title,
                body=body,
            )
    return campaign


def _running_item(item_id) -> CampaignItem:
    item = db.session.get(CampaignItem, item_id) if valid_id(item_id) else None
    if item is None:
        raise NotFound(_("No such item."))
    campaign = locked_campaign(item.campaign_id)
    if not accepts_changes(campaign):
        raise Conflict(_("Orders for this campaign have ended; its supplies can no longer change."))
    db.session.refresh(item)
    return item


def set_supply(actor, item_id, listing_id, quantity, *, reason, confirm_mixed=False) -> Supply:
    """Set how much of a listing supplies an item, while its campaign runs: more is taken from the listing, less is
    given back to it, a new listing joins the item; never below what buyers have ordered of the item.

    :raises NotFound: no such item or listing.
    :param confirm_mixed: the operator confirmed that a joining listing of another name or price is the same product.
    :raises Conflict: the campaign's orders have ended, or the item would offer less than is ordered.
    :raises MixedListings: a joining listing differs in name or price from the item's, not confirmed.
    :raises ValidationFailed: a bad quantity, no reason, a listing of another sale unit, or more taken from a listing
        whose certificate (or its producer's admission) has expired.
    :raises InsufficientStock: the listing has too little left (or is not approved).
    """
    errors = {}
    if not is_int(quantity) or not 0 < quantity <= MAX_QUANTITY:
        errors["quantity"] = [_("Enter a whole number above 0.")]
    reason = clean_reason(errors, reason, required=True)
    if not valid_id(listing_id):
        errors["listing_id"] = [_("No such listing: %(id)s.", id=listing_id)]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    with transaction():
        item = _running_item(item_id)
        supply = next((s for s in item.supplies if s.listing_id == listing_id), None)
        listing = _supplying_listing(item, listing_id) if supply is None else supply.listing
        delta = quantity - (supply.quantity if supply else 0)
        mixed = None
        if supply is None:
            mixed = check_pooling([s.listing for s in item.supplies] + [listing], confirm=confirm_mixed)
        if delta > 0:
            check_listing_fit(listing)
            commit_listing_quantity(listing.id, delta)
            db.session.execute(
                sa.update(CampaignItem).where(CampaignItem.id == item.id).values(capacity=CampaignItem.capacity + delta)
            )
        elif delta < 0:
            _lower_capacity(item, -delta)
            release_listing_quantity(listing.id, -delta)
        if supply is None:
            supply = Supply(item_id=item.id, listing_id=listing.id, producer_id=listing.producer_id, quantity=quantity)
            db.session.add(supply)
        supply.quantity = quantity
        record_audit(
            actor,
            "campaign.supply.set",
            item,
            reason=reason,
            listing_id=listing.id,
            quantity=quantity,
            change=delta,
            **audit_details(mixed),
        )
    db.session.refresh(item)
    return supply


def _supplying_listing(item, listing_id) -> Listing:
    """A listing joining an item: sold by the item's unit (approval and stock are checked as it gives its quantity)."""
    listing = db.session.get(Listing, listing_id)
    if listing is None:
        raise NotFound(_("No such listing."))
    if listing.unit != item.unit:
        raise ValidationFailed(
            _("Please correct the marked fields."),
            {"listing_id": [_("All supplies of an item must be sold by the same unit (%(unit)s).", unit=item.unit)]},
        )
    return listing


def _lower_capacity(item, by) -> None:
    """Guarded like a reservation: an order reserving at the same time is either counted or refused, never oversold."""
    lowered = db.session.execute(
        sa.update(CampaignItem)
        .where(CampaignItem.id == item.id, CampaignItem.capacity - CampaignItem.ordered >= by)
        .values(capacity=CampaignItem.capacity - by)
    ).rowcount
    if not lowered:
        ordered = db.session.scalar(sa.select(CampaignItem.ordered).where(CampaignItem.id == item.id))
        raise Conflict(
            _(
                "Buyers have already ordered %(n)d %(unit)s of %(item)s; it cannot offer less.",
                n=ordered,
                unit=item.unit,
                item=item.title,
            )
        )
