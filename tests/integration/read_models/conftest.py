"""Read-model tests get their own database per module (the projections read the whole store, so
another module's clients would be evaluated at this module's clock) and a clock they move."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from infra.embedded import create_database, drop_database
from services.settings import Settings
from services.wiring import Runtime, build_runtime, migrate
from tests.integration.read_models.support import ReadSide
from tests.stories import Clock


@pytest.fixture(scope="module")
def read_db_url(postgres_server_url: str) -> Iterator[str]:
    name = f"carecircle_read_{secrets.token_hex(6)}"
    yield create_database(postgres_server_url, name)
    with contextlib.suppress(psycopg.Error):  # a leftover test database harms nothing
        drop_database(postgres_server_url, name)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(datetime.now(UTC).replace(microsecond=0) - timedelta(days=1))


@pytest.fixture(scope="module")
def runtime(read_db_url: str, clock: Clock) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(database_url=read_db_url), read_db_url, clock=clock)
    migrate(runtime)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def read_side(runtime: Runtime, clock: Clock) -> ReadSide:
    return ReadSide(runtime, clock)
