"""Fixtures for fault injection."""

import shutil

import pytest
from faults.helpers import PrivateRedis

from backends import IN_CI


@pytest.fixture
def private_redis(tmp_path):
    if not shutil.which("redis-server"):
        if IN_CI:
            pytest.fail("redis-server is not installed (CI=true: a missing backend fails the run)", pytrace=False)
        pytest.skip("redis-server is not installed")
    server = PrivateRedis(tmp_path)
    server.start()
    yield server
    server.stop()
