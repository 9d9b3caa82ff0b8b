"""The fair split and the delivery split: worked examples and properties (hypothesis)."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fulfilment.allocation import SupplyOffer, allocate_item, split_deliveries


def offers(*rows):
    """rows of (supply_id, quantity, poverty)."""
    return [SupplyOffer(supply_id=i, quantity=q, poverty=p) for i, q, p in rows]


# --- worked examples -------------------------------------------------------------------------------


def test_proportional_floors_then_largest_remainders():
    # 10 of 20 offered: 6→3, 9→4.5, 5→2.5; two halves tie for the one unit left, the earlier supply wins.
    assert allocate_item(10, offers((1, 6, False), (2, 9, False), (3, 5, False))) == {1: 3, 2: 5, 3: 2}


def test_a_tie_goes_to_the_poverty_household_before_the_earlier_supply():
    assert allocate_item(10, offers((1, 6, False), (2, 9, False), (3, 5, True))) == {1: 3, 2: 4, 3: 3}


def test_a_tie_between_equals_goes_to_the_earlier_supply_even_when_listed_later():
    assert allocate_item(1, offers((9, 1, False), (4, 1, False))) == {9: 0, 4: 1}
    assert allocate_item(1, [SupplyOffer(9, 1, order=1), SupplyOffer(4, 1, order=2)]) == {9: 1, 4: 0}


def test_a_larger_remainder_beats_poverty():
    # 7 of 10: 7×6/10 = 4.2 and 7×4/10 = 2.8; the poor household's .2 loses to .8.
    assert allocate_item(7, offers((1, 6, True), (2, 4, False))) == {1: 4, 2: 3}


def test_poor_first_fills_poverty_households_before_anyone_else():
    supplies = offers((1, 100, False), (2, 30, True), (3, 20, True))
    assert allocate_item(40, supplies, "poor_first") == {1: 0, 2: 24, 3: 16}
    assert allocate_item(70, supplies, "poor_first") == {1: 20, 2: 30, 3: 20}
    assert allocate_item(40, supplies, "proportional") == {1: 27, 2: 8, 3: 5}


def test_no_demand_and_full_demand():
    supplies = offers((1, 5, False), (2, 7, True))
    assert allocate_item(0, supplies) == {1: 0, 2: 0}
    assert allocate_item(12, supplies) == {1: 5, 2: 7}
    assert allocate_item(0, []) == {}


@pytest.mark.parametrize(
    "demand, supplies, policy",
    [
        (13, offers((1, 5, False), (2, 7, False)), "proportional"),
        (-1, offers((1, 5, False)), "proportional"),
        (1, offers((1, 5, False), (1, 2, False)), "proportional"),
        (1, offers((1, 5, False)), "lottery"),
    ],
)
def test_impossible_input_is_refused(demand, supplies, policy):
    with pytest.raises(ValueError):
        allocate_item(demand, supplies, policy)


def test_delivery_split_walks_producers_and_units_in_id_order():
    cells = split_deliveries({20: 5, 10: 7}, {3: 4, 1: 6, 2: 2})
    assert cells == [(10, 1, 6), (10, 2, 1), (20, 2, 1), (20, 3, 4)]


def test_delivery_split_refuses_totals_that_differ():
    with pytest.raises(ValueError):
        split_deliveries({1: 5}, {1: 4})


# --- properties ------------------------------------------------------------------------------------


@st.composite
def item_cases(draw):
    quantities = draw(st.lists(st.integers(min_value=1, max_value=500), min_size=1, max_size=12))
    ids = draw(
        st.lists(st.integers(min_value=1, max_value=10_000), min_size=len(quantities), max_size=len(quantities), unique=True)
    )
    poverty = draw(st.lists(st.booleans(), min_size=len(quantities), max_size=len(quantities)))
    supplies = [SupplyOffer(i, q, p) for i, q, p in zip(ids, quantities, poverty, strict=True)]
    demand = draw(st.integers(min_value=0, max_value=sum(quantities)))
    policy = draw(st.sampled_from(["proportional", "poor_first"]))
    return demand, supplies, policy


@settings(max_examples=300, deadline=None)
@given(item_cases())
def test_sums_are_exact_and_no_supply_gives_more_than_it_offered(case):
    demand, supplies, policy = case
    result = allocate_item(demand, supplies, policy)
    assert set(result) == {s.supply_id for s in supplies}
    assert sum(result.values()) == demand
    assert all(0 <= result[s.supply_id] <= s.quantity for s in supplies)


@settings(max_examples=300, deadline=None)
@given(item_cases(), st.randoms(use_true_random=False))
def test_same_input_gives_the_same_output_in_any_order(case, rnd):
    demand, supplies, policy = case
    shuffled = list(supplies)
    rnd.shuffle(shuffled)
    assert allocate_item(demand, supplies, policy) == allocate_item(demand, shuffled, policy)


def _check_largest_remainders(demand, supplies, result):
    """Each share is floor or floor + 1 of the exact share; extra units go by remainder, then poverty, then id."""
    total = sum(s.quantity for s in supplies)
    if total == 0:
        return
    got_extra, no_extra = [], []
    for s in supplies:
        whole, remainder = divmod(demand * s.quantity, total)
        assert result[s.supply_id] in (whole, whole + 1)
        (got_extra if result[s.supply_id] == whole + 1 else no_extra).append((remainder, s))
    for r_won, winner in got_extra:
        assert r_won > 0
        for r_lost, loser in no_extra:
            assert r_won >= r_lost
            if r_won == r_lost:
                assert (not winner.poverty, winner.supply_id) < (not loser.poverty, loser.supply_id)


@settings(max_examples=300, deadline=None)
@given(item_cases())
def test_leftover_units_go_to_the_largest_remainders_with_ties_as_specified(case):
    demand, supplies, _policy = case
    _check_largest_remainders(demand, supplies, allocate_item(demand, supplies, "proportional"))


@settings(max_examples=300, deadline=None)
@given(item_cases())
def test_poor_first_fills_poverty_households_then_splits_the_rest_fairly(case):
    demand, supplies, _policy = case
    result = allocate_item(demand, supplies, "poor_first")
    poor = [s for s in supplies if s.poverty]
    others = [s for s in supplies if not s.poverty]
    poor_total = sum(s.quantity for s in poor)
    if demand <= poor_total:
        assert all(result[s.supply_id] == 0 for s in others)
        _check_largest_remainders(demand, poor, result)
    else:
        assert all(result[s.supply_id] == s.quantity for s in poor)
        _check_largest_remainders(demand - poor_total, others, result)


@st.composite
def delivery_cases(draw):
    rows = draw(st.lists(st.integers(min_value=0, max_value=300), min_size=1, max_size=15))
    total = sum(rows)
    units = draw(st.integers(min_value=1, max_value=20))
    cuts = sorted(draw(st.lists(st.integers(min_value=0, max_value=total), min_size=units - 1, max_size=units - 1)))
    columns = [b - a for a, b in zip([0, *cuts], [*cuts, total], strict=True)]
    producer_ids = draw(st.lists(st.integers(1, 5000), min_size=len(rows), max_size=len(rows), unique=True))
    unit_ids = draw(st.lists(st.integers(1, 5000), min_size=units, max_size=units, unique=True))
    return dict(zip(producer_ids, rows, strict=True)), dict(zip(unit_ids, columns, strict=True))


@settings(max_examples=300, deadline=None)
@given(delivery_cases())
def test_delivery_split_row_and_column_sums_are_exact_with_few_cells(case):
    producers, units = case
    cells = split_deliveries(producers, units)
    assert all(q > 0 for _p, _u, q in cells)
    for producer, quantity in producers.items():
        assert sum(q for p, _u, q in cells if p == producer) == quantity
    for unit, quantity in units.items():
        assert sum(q for _p, u, q in cells if u == unit) == quantity
    busy_producers = sum(1 for q in producers.values() if q)
    busy_units = sum(1 for q in units.values() if q)
    assert len(cells) <= max(busy_producers + busy_units - 1, 0)
    assert len({(p, u) for p, u, _q in cells}) == len(cells)


@settings(max_examples=200, deadline=None)
@given(delivery_cases(), st.randoms(use_true_random=False))
def test_delivery_split_is_deterministic(case, rnd):
    producers, units = case
    p_items, u_items = list(producers.items()), list(units.items())
    rnd.shuffle(p_items)
    rnd.shuffle(u_items)
    assert split_deliveries(dict(p_items), dict(u_items)) == split_deliveries(producers, units)


def test_a_large_item_splits_quickly_and_exactly():
    rng = random.Random(7)
    supplies = [SupplyOffer(i, rng.randint(1, 400), rng.random() < 0.3) for i in range(1, 2001)]
    demand = sum(s.quantity for s in supplies) * 2 // 3
    result = allocate_item(demand, supplies)
    assert sum(result.values()) == demand
