"""The shortfall's fair rule and the weight split: worked examples and properties (hypothesis)."""

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from delivery.sharing import BuyerLine, charge_for_weight, share_shortfall, share_weight, weight_far_from_expected


def lines(*ordered):
    """One line per quantity, in order: line i+1 of order 100+i."""
    return [BuyerLine(line_id=i + 1, ordered=q, order_id=100 + i) for i, q in enumerate(ordered)]


# --- worked examples -------------------------------------------------------------------------------


def test_a_shortfall_is_shared_by_ordered_quantity_not_first_come_first_served():
    # 8 of 10 eggs' worth: ordered 6 and 4 → 4.8 and 3.2; the .8 takes the one piece left.
    assert share_shortfall(8, lines(6, 4)) == {1: 5, 2: 3}


def test_a_tie_goes_to_the_earlier_order_even_when_listed_later():
    late_first = [BuyerLine(1, 1, order_id=9), BuyerLine(2, 1, order_id=3)]
    assert share_shortfall(1, late_first) == {1: 0, 2: 1}


def test_a_surplus_is_never_handed_out():
    assert share_shortfall(50, lines(3, 2)) == {1: 3, 2: 2}


def test_nothing_arrived_means_nothing_for_anyone():
    assert share_shortfall(0, lines(3, 2)) == {1: 0, 2: 0}


def test_largest_remainders_are_not_monotone_the_alabama_paradox():
    # Documented, not hidden: with orders of 1, 3 and 3, one more piece arriving takes the first buyer's away.
    # Each share still stays within one piece of its exact proportion (the quota property below).
    assert share_shortfall(3, lines(1, 3, 3)) == {1: 1, 2: 1, 3: 1}
    assert share_shortfall(4, lines(1, 3, 3)) == {1: 0, 2: 2, 3: 2}


def test_a_weight_is_shared_by_pieces_received_in_grams():
    buyers = lines(2, 1)
    assert share_weight(4001, buyers, {1: 2, 2: 1}) == {1: 2667, 2: 1334}
    assert share_weight(3000, buyers, {1: 2, 2: 0}) == {1: 3000, 2: 0}


def test_bad_quantities_are_refused():
    with pytest.raises(ValueError):
        share_shortfall(-1, lines(1))
    with pytest.raises(ValueError):
        share_shortfall(1, [BuyerLine(1, 1, 1), BuyerLine(1, 1, 2)])


def test_the_charge_for_a_weight_is_rounded_to_the_fen():
    assert charge_for_weight(1500, 3000) == 4500  # 1.5 kg at ¥30/kg
    assert charge_for_weight(1, 500) == 1  # half a fen rounds up
    assert charge_for_weight(1, 499) == 0


def test_weights_far_from_expected():
    assert not weight_far_from_expected(3000, 2, 1500)
    assert weight_far_from_expected(700_000, 2, 1500)  # 700 kg typed for 0.7 kg
    assert weight_far_from_expected(900, 2, 1500)  # under a third
    assert not weight_far_from_expected(1000, 2, 1500)
    assert not weight_far_from_expected(5, 2, None)


# --- properties ------------------------------------------------------------------------------------


@st.composite
def shortfall_cases(draw):
    ordered = draw(st.lists(st.integers(min_value=0, max_value=60), min_size=1, max_size=12))
    order_ids = draw(st.permutations(range(1, len(ordered) + 1)))
    buyers = [BuyerLine(line_id=10 + i, ordered=q, order_id=order_ids[i]) for i, q in enumerate(ordered)]
    arrived = draw(st.integers(min_value=0, max_value=sum(ordered) + 5))
    return arrived, buyers


@settings(max_examples=300, deadline=None)
@given(shortfall_cases())
def test_each_share_at_most_ordered_and_the_shares_add_up_to_what_arrived(case):
    arrived, buyers = case
    shares = share_shortfall(arrived, buyers)
    assert set(shares) == {b.line_id for b in buyers}
    assert all(0 <= shares[b.line_id] <= b.ordered for b in buyers)
    assert sum(shares.values()) == min(arrived, sum(b.ordered for b in buyers))


@settings(max_examples=300, deadline=None)
@given(shortfall_cases(), st.randoms(use_true_random=False))
def test_the_shares_are_deterministic_whatever_the_order_of_the_lines(case, rng):
    arrived, buyers = case
    shuffled = list(buyers)
    rng.shuffle(shuffled)
    assert share_shortfall(arrived, shuffled) == share_shortfall(arrived, buyers)


@settings(max_examples=300, deadline=None)
@given(shortfall_cases())
def test_each_share_is_within_one_piece_of_its_exact_proportion(case):
    arrived, buyers = case
    total = sum(b.ordered for b in buyers)
    if arrived > total or total == 0:
        return
    shares = share_shortfall(arrived, buyers)
    for buyer in buyers:
        quota = Fraction(arrived * buyer.ordered, total)
        assert quota - 1 < shares[buyer.line_id] < quota + 1


@settings(max_examples=300, deadline=None)
@given(shortfall_cases())
def test_who_ordered_more_never_gets_less(case):
    arrived, buyers = case
    shares = share_shortfall(arrived, buyers)
    for a in buyers:
        for b in buyers:
            if a.ordered > b.ordered:
                assert shares[a.line_id] >= shares[b.line_id]


@settings(max_examples=300, deadline=None)
@given(shortfall_cases(), st.integers(min_value=1, max_value=200_000))
def test_a_weight_split_adds_up_and_follows_the_pieces(case, weight_g):
    arrived, buyers = case
    received = share_shortfall(arrived, buyers)
    grams = share_weight(weight_g, buyers, received)
    if sum(received.values()):
        assert sum(grams.values()) == weight_g
    for buyer in buyers:
        if received[buyer.line_id] == 0:
            assert grams[buyer.line_id] == 0
