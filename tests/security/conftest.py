"""Fixtures for the security tests; the world itself is built in security/world.py."""

import pytest
from security.world import build_world


@pytest.fixture
def world(app):
    return build_world()
