"""Fixtures of delivery day: the campaign of delivery_day.py, built in the test's database."""

import pytest
from delivery_day import build_delivery_day


@pytest.fixture
def day(app):
    return build_delivery_day()
