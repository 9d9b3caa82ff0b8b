"""A delivered line to claim on (tests/delivered.py)."""

import pytest
from delivered import build_delivered


@pytest.fixture
def delivered(app):
    return build_delivered()
