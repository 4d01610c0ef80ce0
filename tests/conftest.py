"""Shared by every test level: unit tests are pure, real servers live in integration/."""

from __future__ import annotations

import warnings
from uuid import UUID, uuid4

import pytest

# kafka-python 3.0 reads its protocol schemas with importlib.resources.read_text at import time;
# on Python 3.11 the nested `open_text` DeprecationWarning is attributed to importlib, not to
# `kafka.*`, so pyproject's filter misses it and "error" fails collection. Import it once, quietly.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import kafka  # noqa: F401


@pytest.fixture
def fresh_id() -> UUID:
    """A new UUID per test, so tests sharing a server never share a stream."""
    return uuid4()
