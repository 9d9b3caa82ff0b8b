"""Reading claims: one claim, an order's, a unit's, the operators' queue; and which lines of an order can be claimed."""

import sqlalchemy as sa
from flask_babel import gettext as _

from claims.ledger import deliverers, line_ledger
from claims.models import Claim, ClaimPhoto
from claims.services import claim_deadline, claimed_quantity, may_file_for
from database import utcnow
from errors import Forbidden, NotFound
from extensions import db
from orders.models import Order
from producers.listing_photos import PHOTO_TOKEN
from producers.models import Producer


def may_see(user, claim) -> bool:
    """Operators any claim; its buyer and their unit's coordinator theirs."""
    return user is not None and (user.role == "operator" or may_file_for(user, claim.order))


def get_claim(user, claim_id) -> Claim:
    """:raises NotFound: no such claim, or one the user may not see."""
    claim = db.session.get(Claim, claim_id) if isinstance(claim_id, int) else None
    if claim is None or not may_see(user, claim):
        raise NotFound(_("No such claim."))
    return claim


def order_claims(user, order_id) -> list[Claim]:
    """:raises NotFound: no such order, or one the user may not see."""
    order = db.session.get(Order, order_id) if isinstance(order_id, int) else None
    if order is None or not (user.role == "operator" or may_file_for(user, order)):
        raise NotFound(_("No such order."))
    return db.session.scalars(sa.select(Claim).where(Claim.order_id == order.id).order_by(Claim.id)).all()


def unit_claims(user, unit_id) -> list[Claim]:
    """Every claim of a unit's orders, newest first (its coordinator, operators).

    :raises Forbidden: neither the unit's coordinator nor an operator.
    """
    if not (user.role == "operator" or (user.is_coordinator and user.unit_id == unit_id)):
        raise Forbidden(_("Only the unit's coordinator may see its claims."))
    return db.session.scalars(
        sa.select(Claim).join(Order, Order.id == Claim.order_id).where(Order.unit_id == unit_id).order_by(Claim.id.desc())
    ).all()


def claims_queue(user, status="open") -> list[Claim]:
    """The operators' queue: claims of a status (open ones oldest first, so none waits longest), or all (None).

    :raises Forbidden: not an operator.
    """
    if user.role != "operator":
        raise Forbidden(_("Only operators decide claims."))
    query = sa.select(Claim)
    if status:
        query = query.where(Claim.status == status).order_by(Claim.filed_at, Claim.id)
    else:
        query = query.order_by(Claim.id.desc())
    return db.session.scalars(query).all()


def claimable_lines(user, order) -> list[dict]:
    """The order's delivered lines the user could claim on now: the item, what is left to claim, the deadline and
    the producers who delivered it (a claim may name one)."""
    if not may_file_for(user, order):
        return []
    rows = []
    now = utcnow()
    for line in order.lines:
        if line.cancelled:
            continue
        ledger = line_ledger(line.id)
        if not ledger.delivered or now > claim_deadline(ledger):
            continue
        left = ledger.delivered - claimed_quantity(line.id)
        if left <= 0:
            continue
        producer_ids = sorted(deliverers(order.campaign_id, order.unit_id, line.item_id))
        producers = db.session.scalars(sa.select(Producer).where(Producer.id.in_(producer_ids)).order_by(Producer.id)).all()
        rows.append({"line": line, "left": left, "deadline": claim_deadline(ledger), "producers": producers})
    return rows


def get_photo_by_token(user, token) -> ClaimPhoto:
    """:raises NotFound: no such photo, or one of a claim the user may not see (the same answer)."""
    photo = None
    if isinstance(token, str) and PHOTO_TOKEN.fullmatch(token):
        photo = db.session.scalar(sa.select(ClaimPhoto).where(ClaimPhoto.filename == f"{token}.jpg"))
    if photo is None or not may_see(user, photo.claim):
        raise NotFound(_("No such photo."))
    return photo
