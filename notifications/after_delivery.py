"""The texts Pinbang sends after delivery: payouts' corrections, claims (售后) filed and decided.

messages.py's sibling (that module is at the house's size limit); the same shape: one function per message, each
returning its text rendered in the current locale.
"""

from measures import yuan
from notifications.rendering import _


def payout_reversed(campaign, amount_fen, reason):
    """To a producer: a payout was recorded wrongly and is taken back (the right one follows). Returns (title, body)."""
    title = _("Payout corrected: %(campaign)s", campaign=campaign.title)
    body = _(
        "The payout of %(amount)s for %(campaign)s was recorded wrongly and is reversed (%(reason)s). "
        "The correct amount is recorded separately.",
        amount=yuan(amount_fen),
        campaign=campaign.title,
        reason=reason,
    )
    return title, body


def claim_reason(reason) -> str:
    """A claim's reason as people say it."""
    return {
        "short": _("short"),
        "damaged": _("damaged"),
        "spoiled": _("spoiled"),
        "not_as_described": _("not as described"),
    }.get(reason, reason)


def claim_filed(claim, order):
    """To the producers who delivered the item, and to operators: a buyer's claim. Returns (title, body)."""
    title = _("Claim on %(item)s", item=claim.item.title)
    pieces = f"{claim.quantity}{claim.item.unit}"
    body = _(
        "%(unit)s: %(quantity)s of %(item)s reported %(reason)s. An operator will decide (refund, replacement or rejection).",
        unit=order.unit.name,
        quantity=pieces,
        item=claim.item.title,
        reason=claim_reason(claim.reason),
    )
    return title, body


def claim_decided(claim):
    """To the buyer: what became of their claim. Returns (title, body)."""
    title = _("Your claim on %(item)s", item=claim.item.title)
    if claim.status == "refunded":
        pieces = f"{claim.refund_quantity}{claim.item.unit}"
        body = _(
            "Refunded: %(amount)s for %(quantity)s of %(item)s.",
            amount=yuan(claim.refund_fen),
            quantity=pieces,
            item=claim.item.title,
        )
    elif claim.status == "replaced":
        body = _("The %(item)s will be replaced.", item=claim.item.title)
    else:
        body = _("Not accepted: %(reason)s", reason=claim.decision_note or "")
    if claim.decision_note and claim.status != "rejected":
        body = f"{body} {claim.decision_note}"
    return title, body
