"""Fixtures shared by the sandbox's tests."""

from __future__ import annotations

import socket

import pytest


@pytest.fixture
def pair():
    """Both ends of a connected Unix socket pair, closed afterwards."""
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()
