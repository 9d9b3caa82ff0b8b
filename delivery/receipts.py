"""Recording what arrived: a receipt per unit and producer, its checks, and the "everything arrived" receipt.

A receipt line states what arrived in all of one item (not a difference). A second statement for the same
producer, unit and item is a correction and needs a reason; the earlier lines stay, and the new one carries the
change. Adding the weight to a line that had none is not a correction. Quantities above the producer's pick line
for the unit are refused, and so is a weight of 0 or less; a weight far from the expected one needs confirmation.
Every receipt of a campaign takes its turn on the campaign's row (``orders.locks.lock_campaign_for_delivery``).
"""

import sqlalchemy as sa
from flask_babel import gettext as _

from accounts.models import Unit
from accounts.services import record_audit
from dashboard.kept_figures import keep_campaign_outcomes
from database import transaction, utcnow
from delivery import notices
from delivery.completion import complete_deliveries
from delivery.models import Receipt, ReceiptBag, ReceiptLine
from delivery.resharing import buyer_lines, current_receipt_lines, reshare
from delivery.sharing import charge_for_weight, weight_far_from_expected
from errors import Conflict, Forbidden, NotFound, ValidationFailed, WeightUnconfirmed
from extensions import db
from fulfilment.models import Allocation, PickLine
from measures import kg, parse_kg
from orders.locks import lock_campaign_for_delivery
from producers.access import cadre_of
from producers.models import Producer
from shop.lifecycle import DELIVERABLE
from shop.models import CampaignItem

MAX_REASON = 255
MAX_LINES = 100


def may_record(actor, unit_id, producer_id=None) -> None:
    """Operators record at any unit, a coordinator at their own, a village cadre for its town's producers.

    :raises NotFound: a coordinator of another unit (it is not theirs to see), a cadre for another town's producer.
    :raises Forbidden: anyone else.
    """
    if actor.role == "operator":
        return
    if actor.role == "cadre":
        producer = db.session.get(Producer, producer_id) if producer_id is not None else None
        if producer is None or not cadre_of(actor, producer):
            raise NotFound(_("No such producer."))
        return
    if not actor.is_coordinator:
        raise Forbidden(_("Only operators and the unit's coordinator record what arrived."))
    if actor.unit_id != unit_id:
        raise NotFound(_("No such unit."))


def deliverable_campaign(actor, campaign_id, unit_id, producer_id=None):
    """The campaign, locked for delivery, after the caller's right to record at the unit (for the producer) is checked.

    :raises NotFound, Forbidden: see :func:`may_record`; no such campaign or unit.
    :raises Conflict: the campaign is not allocated yet, or already settled.
    """
    may_record(actor, unit_id, producer_id)
    campaign = lock_campaign_for_delivery(campaign_id)
    if campaign is None:
        raise NotFound(_("No such campaign."))
    if db.session.get(Unit, unit_id) is None:
        raise NotFound(_("No such unit."))
    if campaign.status not in DELIVERABLE:
        raise Conflict(_("Deliveries can be recorded once the campaign is allocated, and until it is settled."))
    return campaign


def pick_lines(campaign_id, unit_id, producer_id) -> dict[int, tuple[int, int]]:
    """What the producer was to bring to the unit: item id → (allocation id, quantity)."""
    rows = db.session.execute(
        sa.select(Allocation.item_id, Allocation.id, PickLine.quantity)
        .join(PickLine, PickLine.allocation_id == Allocation.id)
        .where(Allocation.campaign_id == campaign_id, Allocation.producer_id == producer_id, PickLine.unit_id == unit_id)
    ).all()
    return {item_id: (allocation_id, quantity) for item_id, allocation_id, quantity in rows}


def line_value(item, quantity, weight_g) -> int:
    """What a producer is owed for a receipt line: by weight once weighed, else by the piece."""
    if item.price_per_kg_fen is not None and weight_g is not None:
        return charge_for_weight(weight_g, item.price_per_kg_fen)
    return quantity * item.price_fen


def _weight(raw, item, errors, key):
    """Grams from a typed weight (None when none was typed)."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if item.price_per_kg_fen is None:
        errors[key] = [_("%(item)s is sold by the piece: it takes no weight.", item=item.title)]
        return None
    try:
        grams = parse_kg(raw)
    except ValueError as error:
        errors[key] = [str(error)]
        return None
    if grams <= 0:
        errors[key] = [_("Enter a weight above 0.")]
        return None
    return grams


def _bags(raw_bags, item, campaign_id, unit_id, errors, key):
    """Each person's weighed bag: order line id → grams."""
    if not raw_bags:
        return {}
    if item.price_per_kg_fen is None:
        errors[key] = [_("%(item)s is sold by the piece: it takes no weight.", item=item.title)]
        return {}
    allowed = {line.id for line in buyer_lines(campaign_id, unit_id, item.id)}
    bags = {}
    for index, bag in enumerate(raw_bags):
        line_id = bag.get("order_line_id")
        if line_id not in allowed or line_id in bags:
            errors[f"{key}.{index}.order_line_id"] = [_("Not one of this unit's orders of %(item)s.", item=item.title)]
            continue
        grams = _weight(bag.get("weight_kg"), item, errors, f"{key}.{index}.weight_kg")
        if grams is not None:
            bags[line_id] = grams
    return bags


def _clean(campaign_id, unit_id, producer_id, lines, reason):
    """The receipt's lines checked against the pick lines and the standing figures.

    :returns: [(item, allocation id, quantity, grams, bags, standing line or None)] for the lines that change
        something, and whether any of them corrects an earlier figure.
    :raises ValidationFailed: every problem at once, by field.
    """
    picks = pick_lines(campaign_id, unit_id, producer_id)
    if not picks:
        raise NotFound(_("Nothing was allocated for this unit."))
    items = {item.id: item for item in db.session.scalars(sa.select(CampaignItem).where(CampaignItem.id.in_(sorted(picks))))}
    errors, cleaned, seen, correcting = {}, [], set(), False
    if not lines:
        errors["lines"] = [_("Say what arrived of at least one item.")]
    if len(lines) > MAX_LINES:
        errors["lines"] = [_("At most %(n)d lines.", n=MAX_LINES)]
    for index, raw in enumerate(lines[:MAX_LINES]):
        key = f"lines.{index}"
        item_id, quantity = raw.get("item_id"), raw.get("quantity")
        if item_id not in picks or item_id in seen:
            errors[f"{key}.item_id"] = [_("This producer has nothing of this item for this unit (or it is given twice).")]
            continue
        seen.add(item_id)
        item, (allocation_id, allocated) = items[item_id], picks[item_id]
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
            errors[f"{key}.quantity"] = [_("Enter a whole number, 0 or more.")]
            continue
        if quantity > allocated:
            errors[f"{key}.quantity"] = [
                _("At most %(n)d: that is what %(item)s this producer was to bring here.", n=allocated, item=item.title)
            ]
            continue
        grams = _weight(raw.get("weight_kg"), item, errors, f"{key}.weight_kg")
        bags = _bags(raw.get("bags"), item, campaign_id, unit_id, errors, f"{key}.bags")
        if bags:
            if grams is not None and grams != sum(bags.values()):
                errors[f"{key}.weight_kg"] = [_("The bags add up to %(weight)s.", weight=kg(sum(bags.values())))]
            grams = sum(bags.values())
        if grams is not None and quantity == 0:
            errors[f"{key}.weight_kg"] = [_("Nothing arrived, so there is nothing to weigh.")]
        standing = current_receipt_lines(campaign_id, unit_id, item_id, producer_id).get(producer_id)
        if standing is not None:
            if grams is None and quantity == standing.quantity:
                grams = standing.weight_g  # the weight stands unless the pieces changed
                bags = bags or {bag.order_line_id: bag.weight_g for bag in standing.bags}
            old_bags = {bag.order_line_id: bag.weight_g for bag in standing.bags}
            if (quantity, grams, bags) == (standing.quantity, standing.weight_g, old_bags):
                continue  # nothing new about this item
            adds_weight = standing.weight_g is None and quantity == standing.quantity
            correcting = correcting or not adds_weight
        cleaned.append((item, allocation_id, quantity, grams, bags, standing))
    if correcting and not reason:
        errors["reason"] = [_("This corrects figures already recorded: say why.")]
    if reason and len(reason) > MAX_REASON:
        errors["reason"] = [_("At most %(n)d characters.", n=MAX_REASON)]
    if errors:
        raise ValidationFailed(_("Please correct the marked fields."), errors)
    return cleaned, correcting


def _check_weights(cleaned, confirm_weight):
    """:raises WeightUnconfirmed: a weight far from the expected one, unless confirmed."""
    if confirm_weight:
        return
    far = [
        (item, quantity, grams)
        for item, _allocation, quantity, grams, _bags, _standing in cleaned
        if grams is not None and weight_far_from_expected(grams, quantity, item.unit_weight_g)
    ]
    if far:
        item, quantity, grams = far[0]
        raise WeightUnconfirmed(
            _(
                "%(weight)s for %(n)d %(item)s is far from the expected %(expected)s: check it, then confirm it.",
                weight=kg(grams),
                n=quantity,
                item=item.title,
                expected=kg(quantity * item.unit_weight_g),
            ),
            {"item_ids": [entry[0].id for entry in far]},
        )


def write_receipt(actor, campaign, unit_id, producer_id, lines, reason=None, confirm_weight=False, kind="receipt"):
    """Check and write one receipt and its entries, inside the caller's transaction (the campaign locked).

    :returns: the receipt, or None when it would change nothing.
    :raises ValidationFailed, WeightUnconfirmed, NotFound: see :func:`record_receipt`.
    """
    reason = (reason or "").strip() or None
    cleaned, correcting = _clean(campaign.id, unit_id, producer_id, lines, reason)
    _check_weights(cleaned, confirm_weight)
    if not cleaned:
        return None
    receipt = Receipt(
        campaign_id=campaign.id,
        unit_id=unit_id,
        producer_id=producer_id,
        kind="correction" if correcting else kind,
        reason=reason,
        recorded_by_id=actor.id if actor else None,
        recorded_at=utcnow(),
    )
    db.session.add(receipt)
    for item, allocation_id, quantity, grams, bags, standing in cleaned:
        value = line_value(item, quantity, grams)
        line = ReceiptLine(
            item_id=item.id,
            allocation_id=allocation_id,
            quantity=quantity,
            weight_g=grams,
            weight_confirmed=bool(confirm_weight and grams is not None),
            value_fen=value,
            quantity_change=quantity - (standing.quantity if standing else 0),
            weight_change_g=(grams or 0) - ((standing.weight_g or 0) if standing else 0),
            value_change_fen=value - (standing.value_fen if standing else 0),
            bags=[ReceiptBag(order_line_id=line_id, weight_g=g) for line_id, g in sorted(bags.items())],
        )
        receipt.lines.append(line)
    db.session.flush()
    changes = []
    for item, *_rest in cleaned:
        changes.extend(reshare(actor, receipt, item))
    record_audit(
        actor,
        "receipt.record",
        receipt,
        campaign_id=campaign.id,
        unit_id=unit_id,
        producer_id=producer_id,
        kind=receipt.kind,
        reason=reason,
        lines=[{"item_id": line.item_id, "quantity": line.quantity, "weight_g": line.weight_g} for line in receipt.lines],
    )
    notices.tell_changes(campaign, receipt, changes)
    return receipt


def record_receipt(actor, campaign_id, unit_id, producer_id, lines, reason=None, confirm_weight=False) -> Receipt:
    """Record what arrived at a unit from a producer; re-share each item among the unit's buyers; tell them.

    :param lines: [{item_id, quantity, weight_kg?, bags?: [{order_line_id, weight_kg}]}]: what arrived in all
        of each item (a second statement of an item corrects the first); ``bags`` when each person's share was
        weighed on its own.
    :param reason: why, required when a line corrects an earlier figure.
    :param confirm_weight: take a weight far from the expected one.
    :raises NotFound: no such campaign or unit, nothing allocated to the unit from that producer, or (for a
        coordinator) another unit.
    :raises Forbidden: neither an operator nor a coordinator.
    :raises Conflict: the campaign is not allocated yet or already settled; nothing new in the receipt.
    :raises ValidationFailed: a line above the pick line, a weight of 0 or less, a correction without a reason…
    :raises WeightUnconfirmed: a weight far from the expected one, not confirmed.
    """
    with transaction(write=True):
        campaign = deliverable_campaign(actor, campaign_id, unit_id, producer_id)
        receipt = write_receipt(actor, campaign, unit_id, producer_id, lines, reason, confirm_weight)
        if receipt is None:
            raise Conflict(_("These figures are already recorded: nothing changed."))
        complete_deliveries(actor, campaign, unit_id, {producer_id})
        keep_campaign_outcomes(campaign_id)
    return receipt


def receive_everything(actor, campaign, unit_id, producer_id, note=None):
    """ "Everything arrived": a receipt of the full pick lines for the items not yet received (inside a transaction).

    Items already received keep their figures.
    :raises Conflict: an item charged by weight has no weight yet: it must be weighed first.
    """
    picks = pick_lines(campaign.id, unit_id, producer_id)
    standing = {}
    for item_id in picks:
        line = current_receipt_lines(campaign.id, unit_id, item_id, producer_id).get(producer_id)
        if line is not None:
            standing[item_id] = line
    unweighed = [
        item.title
        for item in db.session.scalars(
            sa.select(CampaignItem).where(CampaignItem.id.in_(sorted(picks)), CampaignItem.price_per_kg_fen.is_not(None))
        )
        if item.id not in standing or (standing[item.id].quantity and standing[item.id].weight_g is None)
    ]
    if unweighed:
        raise Conflict(
            _("Enter the weight of %(items)s first: it is charged by the kilogram.", items=_(", ").join(sorted(unweighed)))
        )
    lines = [{"item_id": item_id, "quantity": q} for item_id, (_a, q) in sorted(picks.items()) if item_id not in standing]
    if not lines:
        return None
    return write_receipt(actor, campaign, unit_id, producer_id, lines, reason=note, kind="full")
