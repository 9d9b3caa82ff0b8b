"""Correcting a payout recorded wrongly: a reversing entry with a reason, never an edit or a deletion."""

import sqlalchemy as sa
from flask_babel import gettext as _

import after_commit
from accounts.services import record_audit
from dashboard.models import Payout
from database import transaction, utcnow
from errors import Conflict, NotFound, ValidationFailed
from extensions import db
from notifications import after_delivery
from notifications.services import queue_notification
from shop.models import Campaign

REASON_MAX = 255


def get_payout(payout_id) -> Payout:
    """:raises NotFound: no such payout."""
    payout = db.session.get(Payout, payout_id)
    if payout is None:
        raise NotFound(_("No such payout."))
    return payout


def reverse_payout(actor, payout_id, reason) -> Payout:
    """Cancel a payout recorded wrongly by a reversing entry (the negative amount, who, when, why); the original stays.
    The right amount is then recorded as a new payout. The producer is told.

    :returns: the reversing entry.
    :raises NotFound: no such payout.
    :raises Conflict: the payout is itself a reversal, or was reversed already.
    :raises ValidationFailed: no reason, or one too long.
    """
    reason = (reason or "").strip()
    if not reason or len(reason) > REASON_MAX:
        message = _("Say why the payout is reversed.") if not reason else _("At most %(n)d characters.", n=REASON_MAX)
        raise ValidationFailed(_("Please correct the marked fields."), {"reason": [message]})
    with transaction(write=True):
        original = get_payout(payout_id)
        # The same lock as recording a payout: a reversal and a new payout of one campaign take turns.
        campaign = db.session.scalar(sa.select(Campaign).where(Campaign.id == original.campaign_id).with_for_update())
        if original.reverses_id is not None:
            raise Conflict(_("This entry is itself a reversal; record a new payout instead."))
        if db.session.scalar(sa.select(Payout.id).where(Payout.reverses_id == original.id)) is not None:
            raise Conflict(_("This payout was already reversed."))
        reversal = Payout(
            campaign_id=original.campaign_id,
            producer_id=original.producer_id,
            amount_fen=-original.amount_fen,
            method=original.method,
            reference=original.reference,
            paid_at=utcnow(),
            recorded_by_id=actor.id if actor else None,
            reverses_id=original.id,
            reason=reason,
        )
        db.session.add(reversal)
        try:
            db.session.flush()
        except sa.exc.IntegrityError:
            # Two operators reversed it at the same moment (SQLite has no row lock to wait on); theirs stands.
            raise Conflict(_("This payout was already reversed.")) from None
        record_audit(
            actor,
            "payout.reverse",
            reversal,
            campaign_id=original.campaign_id,
            producer_id=original.producer_id,
            reverses_id=original.id,
            amount_fen=reversal.amount_fen,
            reason=reason,
        )
        title, body = after_delivery.payout_reversed(campaign, original.amount_fen, reason)
        queue_notification(
            kind="payout_reversed", subject=f"payout:{reversal.id}", producer=original.producer, title=title, body=body
        )
        after_commit.dispatch_notifications()
    return reversal


def reversed_ids(payouts) -> set[int]:
    """Which of ``payouts`` have a reversing entry."""
    ids = [payout.id for payout in payouts]
    if not ids:
        return set()
    return set(db.session.scalars(sa.select(Payout.reverses_id).where(Payout.reverses_id.in_(ids))))
