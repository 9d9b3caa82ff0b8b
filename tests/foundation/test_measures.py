"""Money and weights at the edges: what people type becomes integer fen and grams, never floats."""

import pytest

from measures import parse_kg, parse_yuan


def test_units_at_the_edges():
    assert parse_yuan("98") == 9800
    assert parse_yuan(" ¥4.5 ") == 450
    assert parse_yuan("1,000.05") == 100005
    assert parse_kg(1.5) == 1500
    assert parse_kg("0.05") == 50
    assert parse_kg(2) == 2000
    for bad in ("4.505", "-1", "abc", "", "1e3"):
        with pytest.raises(ValueError):
            parse_yuan(bad)
    for bad in (1.2345, "abc", True, float("nan"), float("inf"), 1e300):
        with pytest.raises(ValueError):
            parse_kg(bad)
