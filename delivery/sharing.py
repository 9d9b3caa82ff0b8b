"""Pure rules of delivery day, no database: a shortfall shared among a unit's buyers, a weight shared by pieces,
the charge for a weight, and when a weight is too far from the expected one to take without a second look.

The shortfall rule is the published fair rule (DESIGN.md, "Receipt"): shares in proportion to what each buyer
ordered, the units left over one each to the largest remainders, ties to the earlier order; never first come,
first served. It is the fair split's own largest-remainder code (``fulfilment.allocation``), not a second copy.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from fulfilment.allocation import SupplyOffer, allocate_item, share_in_proportion

# A weight more than this many times the expected one, or less than its 1/FAR_FACTOR, asks for confirmation:
# 700 kg typed for 700 g, or one chicken's weight typed for the whole delivery.
FAR_FACTOR = 3


@dataclass(frozen=True)
class BuyerLine:
    """One buyer's order line of an item at a unit: what they ordered and their order (the earlier wins a tie)."""

    line_id: int
    ordered: int
    order_id: int


def _offers(lines: Iterable[BuyerLine], quantity) -> list[SupplyOffer]:
    return [SupplyOffer(line.line_id, quantity(line), order=line.order_id) for line in lines]


def share_shortfall(arrived: int, lines: Iterable[BuyerLine]) -> dict[int, int]:
    """What each buyer receives when ``arrived`` pieces reached the unit: line id → quantity.

    Each share is at most what was ordered and the shares add up to ``arrived``; a surplus (more arrived than
    was ordered) is never handed out or charged: everyone gets what they ordered. Deterministic.

    :raises ValueError: a negative quantity or a repeated line id.
    """
    lines = list(lines)
    if arrived < 0 or any(line.ordered < 0 for line in lines):
        raise ValueError("quantities must not be negative")
    ordered = sum(line.ordered for line in lines)
    if arrived >= ordered:
        if len({line.line_id for line in lines}) != len(lines):
            raise ValueError("line ids must be unique")
        return {line.line_id: line.ordered for line in lines}
    return allocate_item(arrived, _offers(lines, lambda line: line.ordered))


def share_weight(weight_g: int, lines: Iterable[BuyerLine], received: Mapping[int, int]) -> dict[int, int]:
    """A weighed delivery's grams shared among the buyers by the pieces each received (largest remainders in grams).

    :param received: line id → pieces received (from :func:`share_shortfall`).
    :returns: line id → grams; they add up to ``weight_g`` whenever anyone received a piece.
    """
    return share_in_proportion(weight_g, _offers(lines, lambda line: received.get(line.line_id, 0)))


def charge_for_weight(weight_g: int, price_per_kg_fen: int) -> int:
    """Fen for a weight at a price per kg, to the nearest fen (half a fen up)."""
    return (weight_g * price_per_kg_fen * 2 + 1000) // 2000


def weight_far_from_expected(weight_g: int, quantity: int, unit_weight_g: int | None) -> bool:
    """More than FAR_FACTOR × or less than 1/FAR_FACTOR of ``quantity`` pieces at their expected weight."""
    if not unit_weight_g or quantity <= 0:
        return False
    expected = quantity * unit_weight_g
    return weight_g > FAR_FACTOR * expected or weight_g * FAR_FACTOR < expected
