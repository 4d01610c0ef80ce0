"""Privacy tests get their own database per module (access-log chains, key rotation and erasure
act on whole tables), a clock they move (break-the-glass and consent expiry), and the API."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from fastapi.testclient import TestClient

from infra.embedded import create_database, drop_database
from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime, migrate
from tests.stories import Clock


@pytest.fixture(scope="module")
def privacy_db_url(postgres_server_url: str) -> Iterator[str]:
    name = f"carecircle_privacy_{secrets.token_hex(6)}"
    yield create_database(postgres_server_url, name)
    with contextlib.suppress(psycopg.Error):  # a leftover test database harms nothing
        drop_database(postgres_server_url, name)


@pytest.fixture(scope="module")
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture(scope="module")
def settings(privacy_db_url: str) -> Settings:
    # no key cache: a key destroyed by another process (the CLI) is gone for this one at once
    return Settings(database_url=privacy_db_url, key_cache_seconds=0)


@pytest.fixture(scope="module")
def runtime(settings: Settings, privacy_db_url: str, clock: Clock) -> Iterator[Runtime]:
    runtime = build_runtime(settings, privacy_db_url, clock=clock)
    migrate(runtime)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(build_api(runtime), raise_server_exceptions=False) as client:
        yield client
