"""Pure allocation rules, no database: the fair split of an item's demand and the delivery split."""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

POLICIES = ("proportional", "poor_first")


@dataclass(frozen=True)
class SupplyOffer:
    """One supply of an item: what it offers, whether a registered poverty household offers it, and its place in line.

    ``order`` says which supply is "earlier" when remainders tie (lower first); it defaults to the supply id.
    """

    supply_id: int
    quantity: int
    poverty: bool = False
    order: int | None = None

    @property
    def rank(self):
        return (self.supply_id if self.order is None else self.order, self.supply_id)


def allocate_item(demand: int, supplies: Iterable[SupplyOffer], policy: str = "proportional") -> dict[int, int]:
    """Split ``demand`` across ``supplies`` by the fair-split rule; returns supply id → quantity.

    ``proportional``: each supply gets floor(D·q_i/Q); the units left over go one each to the largest
    remainders, ties to poverty households first, then to the earlier supply. ``poor_first``: poverty
    households' supplies are filled first (split among them by the same rule), the rest goes to the others.
    Every a_i ≤ q_i and Σ a_i = D; the same input always gives the same output.

    :raises ValueError: a negative quantity, a repeated supply id, an unknown policy, or demand above the total offered.
    """
    supplies = list(supplies)
    if policy not in POLICIES:
        raise ValueError(f"unknown allocation policy {policy!r}")
    if demand < 0:
        raise ValueError("demand must not be negative")
    if any(s.quantity < 0 for s in supplies):
        raise ValueError("a supply's quantity must not be negative")
    if len({s.supply_id for s in supplies}) != len(supplies):
        raise ValueError("supply ids must be unique")
    offered = sum(s.quantity for s in supplies)
    if demand > offered:
        raise ValueError(f"demand {demand} exceeds the {offered} offered")
    if policy == "proportional":
        return _proportional(demand, supplies)
    poor = [s for s in supplies if s.poverty]
    others = [s for s in supplies if not s.poverty]
    poor_total = sum(s.quantity for s in poor)
    if demand <= poor_total:
        result = _proportional(demand, poor)
        result.update({s.supply_id: 0 for s in others})
    else:
        result = {s.supply_id: s.quantity for s in poor}
        result.update(_proportional(demand - poor_total, others))
    return result


def share_in_proportion(amount: int, shares: Iterable[SupplyOffer]) -> dict[int, int]:
    """Split ``amount`` (any non-negative integer, more than the total too) in proportion to each share's quantity.

    The fair split's own largest-remainder rule (floors, then one each to the largest remainders, ties to poverty
    households, then to the earlier ``rank``), for the receipts' split of a weight or a shortfall among buyers.
    """
    shares = list(shares)
    if amount < 0 or any(s.quantity < 0 for s in shares):
        raise ValueError("amounts must not be negative")
    if len({s.supply_id for s in shares}) != len(shares):
        raise ValueError("share ids must be unique")
    return _proportional(amount, shares)


def _proportional(demand: int, supplies: list[SupplyOffer]) -> dict[int, int]:
    """Largest remainders in exact integer arithmetic: no float ever decides who gets a unit."""
    total = sum(s.quantity for s in supplies)
    if total == 0:
        return {s.supply_id: 0 for s in supplies}
    shares = {}
    remainders = []
    for supply in supplies:
        whole, remainder = divmod(demand * supply.quantity, total)
        shares[supply.supply_id] = whole
        # A zero remainder means the share is already exact; it never takes a leftover unit.
        if remainder:
            remainders.append((-remainder, not supply.poverty, supply.rank, supply.supply_id))
    leftover = demand - sum(shares.values())
    remainders.sort()
    for *_key, supply_id in remainders[:leftover]:
        shares[supply_id] += 1
    return shares


def split_deliveries(producer_allocations: Mapping[int, int], unit_demands: Mapping[int, int]) -> list[tuple[int, int, int]]:
    """Split one item's producer allocations across delivery units: (producer id, unit id, quantity) cells.

    Row sums equal each producer's allocation, column sums each unit's demand, and at most
    producers + units − 1 cells are non-zero (a north-west-corner walk over producers and units in id
    order), so most units get their goods from one producer in one trip. Deterministic: only the ids
    and quantities matter, never the order of the mappings.

    :raises ValueError: negative quantities, or the two sides do not add up to the same total.
    """
    if any(q < 0 for q in producer_allocations.values()) or any(q < 0 for q in unit_demands.values()):
        raise ValueError("quantities must not be negative")
    if sum(producer_allocations.values()) != sum(unit_demands.values()):
        raise ValueError("producer allocations and unit demands must add up to the same total")
    producers = iter(sorted((p, q) for p, q in producer_allocations.items() if q > 0))
    units = sorted((u, q) for u, q in unit_demands.items() if q > 0)
    cells = []
    add = cells.append
    # The totals are equal, so a unit still short always finds a producer with goods left.
    producer, supply_left = next(producers, (None, 0))
    for unit, demand_left in units:
        while demand_left:
            quantity = supply_left if supply_left < demand_left else demand_left
            add((producer, unit, quantity))
            demand_left -= quantity
            supply_left -= quantity
            if not supply_left:
                producer, supply_left = next(producers, (None, 0))
    return cells
