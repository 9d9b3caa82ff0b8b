"""Filing a claim on a delivered line and deciding it: every write of the claims area, each in one transaction.

Concurrency: filing locks the order line, deciding locks the claim and then its order line (always in that order),
so two claims on one line, or two decisions on one claim, take turns and are never both counted.
"""

from datetime import timedelta

import sqlalchemy as sa
from flask import current_app
from flask_babel import gettext as _

import after_commit
from accounts.models import User
from accounts.services import record_audit
from claims.ledger import REFUND_KIND, deliverers, line_ledger
from claims.models import CLAIM_REASONS, DECISIONS, Claim, ClaimPhoto, ClaimRefund
from dashboard.kept_figures import keep_campaign_outcomes
from database import transaction, utcnow
from delivery.models import LineEntry
from errors import Conflict, DomainError, Forbidden, NotFound, ValidationFailed
from extensions import db
from fulfilment.allocation import SupplyOffer, share_in_proportion
from notifications import after_delivery
from notifications.services import queue_notification
from orders.models import Order, OrderLine
from producers import photos as photo_files
from producers.models import Producer

NOTE_MAX = 500
MAX_CLAIM_PHOTOS = 3


def _invalid(fields):
    raise ValidationFailed(_("Please correct the marked fields."), fields)


def _whole(value):
    return isinstance(value, int) and not isinstance(value, bool)


def may_file_for(user, order) -> bool:
    """The order's owner, or the coordinator of its unit."""
    if user is None:
        return False
    return order.user_id == user.id or (user.is_coordinator and user.unit_id == order.unit_id)


def claim_deadline(ledger):
    """The moment claims on a line stop: CLAIM_DAYS after its goods were first recorded as delivered."""
    return ledger.delivered_at + timedelta(days=current_app.config["CLAIM_DAYS"])


def claimed_quantity(order_line_id) -> int:
    """Pieces of the line already claimed and not rejected."""
    return int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Claim.quantity), 0)).where(
                Claim.order_line_id == order_line_id, Claim.status != "rejected"
            )
        )
    )


def _check_claim_fields(item_id, quantity, reason, note, photos):
    errors = {}
    if not _whole(item_id):
        errors["item_id"] = [_("Choose the item.")]
    if not _whole(quantity) or quantity <= 0:
        errors["quantity"] = [_("Enter a whole number greater than zero.")]
    if reason not in CLAIM_REASONS:
        errors["reason"] = [_("Choose what was wrong: short, damaged, spoiled or not as described.")]
    if note is not None and len(note) > NOTE_MAX:
        errors["note"] = [_("At most %(n)d characters.", n=NOTE_MAX)]
    if len(photos) > MAX_CLAIM_PHOTOS:
        errors["photos"] = [_("At most %(n)d photos.", n=MAX_CLAIM_PHOTOS)]
    if errors:
        _invalid(errors)


def file_claim(user, order_id, *, item_id, quantity, reason, note=None, producer_id=None, photos=()) -> Claim:
    """A buyer (or their coordinator) claims on a delivered line: how many pieces, what was wrong, a note, photos.
    The producers who delivered it and the operators are told.

    :param producer_id: the producer the claim names, when the buyer knows whose goods were wrong.
    :raises NotFound: no such order, or one the user may not claim on; no live line of that item.
    :raises Conflict: the line is not delivered, or the claim deadline has passed.
    :raises ValidationFailed: a wrong field; more pieces than delivered less already claimed; nothing is saved.
    :raises UploadTooLarge: a photo over the size limit; nothing is saved.
    """
    note = (note or "").strip() or None
    photos = [photo for photo in photos if photo]
    _check_claim_fields(item_id, quantity, reason, note, photos)
    order = db.session.get(Order, order_id) if _whole(order_id) else None
    if order is None or not may_file_for(user, order):
        raise NotFound(_("No such order."))
    stored = []
    try:
        # Photos are checked and stored before any lock is taken: decoding one must not hold the line.
        for upload in photos:
            stored.append(photo_files.store_photo(upload, field="photos"))
        with transaction(write=True):
            line = db.session.scalar(
                sa.select(OrderLine)
                .where(OrderLine.order_id == order.id, OrderLine.item_id == item_id, sa.not_(OrderLine.cancelled))
                .with_for_update()
            )
            if line is None:
                raise NotFound(_("This order has no such item."))
            ledger = line_ledger(line.id)
            if not ledger.delivered:
                raise Conflict(_("This line has not been delivered: there is nothing to claim on yet."))
            if utcnow() > claim_deadline(ledger):
                raise Conflict(
                    _("Claims on this line closed %(days)d days after delivery.", days=current_app.config["CLAIM_DAYS"])
                )
            left = ledger.delivered - claimed_quantity(line.id)
            if quantity > left:
                _invalid({"quantity": [_("At most %(n)d: what was delivered less what is already claimed.", n=max(left, 0))]})
            delivered_by = deliverers(order.campaign_id, order.unit_id, item_id)
            if producer_id is not None and producer_id not in delivered_by:
                _invalid({"producer_id": [_("This producer did not deliver this item to your unit.")]})
            claim = Claim(
                campaign_id=order.campaign_id,
                order_id=order.id,
                order_line_id=line.id,
                item_id=item_id,
                producer_id=producer_id,
                quantity=quantity,
                reason=reason,
                note=note,
                status="open",
                filed_by_id=user.id,
            )
            db.session.add(claim)
            db.session.flush()
            for position, (name, thumb) in enumerate(stored):
                db.session.add(ClaimPhoto(claim_id=claim.id, filename=name, thumbnail=thumb, position=position))
            record_audit(
                user, "claim.file", claim, on_behalf_of=order.buyer_name, line_id=line.id, quantity=quantity, reason=reason
            )
            _tell_about_filing(claim, order, [producer_id] if producer_id else sorted(delivered_by))
    except (DomainError, sa.exc.SQLAlchemyError):
        photo_files.discard_files(*(name for pair in stored for name in pair))
        raise
    return claim


def _tell_about_filing(claim, order, producer_ids):
    title, body = after_delivery.claim_filed(claim, order)
    subject = f"claim:{claim.id}"
    for producer in db.session.scalars(sa.select(Producer).where(Producer.id.in_(producer_ids)).order_by(Producer.id)):
        queue_notification(kind="claim_filed", subject=subject, title=title, body=body, producer=producer, new_subject=True)
    for operator in db.session.scalars(sa.select(User).where(User.role == "operator", User.active.is_(True)).order_by(User.id)):
        queue_notification(kind="claim_filed", subject=subject, title=title, body=body, user=operator, new_subject=True)
    after_commit.dispatch_notifications()


def _check_decision(decision, quantity, note):
    errors = {}
    if decision not in DECISIONS:
        errors["decision"] = [_("Choose refund, replace or reject.")]
    if quantity is not None and (not _whole(quantity) or quantity <= 0):
        errors["quantity"] = [_("Enter a whole number greater than zero.")]
    if note is not None and len(note) > NOTE_MAX:
        errors["note"] = [_("At most %(n)d characters.", n=NOTE_MAX)]
    elif decision == "reject" and not note:
        errors["note"] = [_("Say why the claim is rejected.")]
    if errors:
        _invalid(errors)


def decide_claim(actor, claim_id, decision, quantity=None, note=None) -> Claim:
    """An operator's one decision on an open claim: refund (all or part of its pieces), replace, or reject (with a
    reason). A refund is a ``refund`` entry in the line's ledger, lowering its charge, shared among the producers
    who delivered the item to the unit (or all to the producer the claim names). The buyer is told.

    :raises Forbidden: not an operator.
    :raises NotFound: no such claim.
    :raises Conflict: the claim was decided already.
    :raises ValidationFailed: a wrong field; a refund of more pieces than claimed, or above what the line is charged.
    """
    if actor is None or actor.role != "operator":
        raise Forbidden(_("Only operators decide claims."))
    note = (note or "").strip() or None
    _check_decision(decision, quantity, note)
    if decision != "refund" and quantity is not None:
        _invalid({"quantity": [_("Only a refund takes a quantity.")]})
    with transaction(write=True):
        claim = (
            db.session.scalar(
                sa.select(Claim).where(Claim.id == claim_id).with_for_update().execution_options(populate_existing=True)
            )
            if _whole(claim_id)
            else None
        )
        if claim is None:
            raise NotFound(_("No such claim."))
        if claim.status != "open":
            raise Conflict(_("This claim was decided already."))
        if decision == "refund":
            _refund(actor, claim, claim.quantity if quantity is None else quantity, note)
        claim.status = DECISIONS[decision]
        claim.decided_by_id, claim.decided_at, claim.decision_note = actor.id, utcnow(), note
        record_audit(
            actor,
            "claim.decide",
            claim,
            decision=decision,
            refund_quantity=claim.refund_quantity,
            refund_fen=claim.refund_fen,
            note=note,
        )
        _tell_buyer(claim)
        keep_campaign_outcomes(claim.campaign_id)
    return claim


def _refund(actor, claim, quantity, note):
    """The refund entry and its shares; the line is locked so refunds of two claims on it never pass its charge."""
    if quantity > claim.quantity:
        _invalid({"quantity": [_("At most the %(n)d pieces claimed can be refunded.", n=claim.quantity)]})
    db.session.scalar(sa.select(OrderLine.id).where(OrderLine.id == claim.order_line_id).with_for_update())
    ledger = line_ledger(claim.order_line_id)
    before = int(
        db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Claim.refund_quantity), 0)).where(
                Claim.order_line_id == claim.order_line_id, Claim.status == "refunded"
            )
        )
    )
    delivered = ledger.delivered or 0
    if before + quantity > delivered:
        _invalid({"quantity": [_("That refund is above what the line is charged.")]})
    # Pieces refunded so far map to fen by one formula, so partial refunds add up to the whole charge exactly.
    amount = ledger.delivery_charge_fen * (before + quantity) // delivered - ledger.delivery_charge_fen * before // delivered
    if amount <= 0 or amount > ledger.charged_fen:
        _invalid({"quantity": [_("That refund is above what the line is charged.")]})
    entry = LineEntry(
        order_line_id=claim.order_line_id,
        kind=REFUND_KIND,
        quantity=0,
        weight_g=0,
        charge_fen=-amount,
        reason=(note or _("Claim #%(id)d refunded", id=claim.id))[:255],
        recorded_by_id=actor.id,
    )
    db.session.add(entry)
    db.session.flush()
    claim.status = DECISIONS["refund"]
    claim.refund_quantity, claim.refund_fen, claim.line_entry_id = quantity, amount, entry.id
    for producer_id, share in refund_shares(claim, amount).items():
        db.session.add(ClaimRefund(claim_id=claim.id, campaign_id=claim.campaign_id, producer_id=producer_id, amount_fen=share))


def refund_shares(claim, amount) -> dict[int, int]:
    """Who bears a refund: the producer the claim names; else every producer who delivered the item to the unit, in
    proportion to the pieces each delivered (largest remainders, ties to the lower producer id)."""
    if claim.producer_id is not None:
        return {claim.producer_id: amount}
    delivered = deliverers(claim.campaign_id, claim.order.unit_id, claim.item_id)
    if not delivered:
        raise Conflict(_("No producer delivered this item to the unit; the refund cannot be attributed."))
    shares = share_in_proportion(amount, [SupplyOffer(pid, quantity) for pid, quantity in sorted(delivered.items())])
    return {pid: share for pid, share in shares.items() if share}


def _tell_buyer(claim):
    order = claim.order
    title, body = after_delivery.claim_decided(claim)
    subject = f"claim:{claim.id}:decided"
    if order.user is not None:
        queue_notification(kind="claim_decided", subject=subject, title=title, body=body, user=order.user)
    else:
        queue_notification(kind="claim_decided", subject=subject, title=title, body=body, phone=order.buyer_phone)
    after_commit.dispatch_notifications()
