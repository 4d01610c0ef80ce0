"""Analysts' tests get their own database per module: the export counts the whole store, and the
early-warning evaluator of the time-travel test looks at every client in it."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from infra.embedded import create_database, drop_database
from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime, migrate


@pytest.fixture(scope="module")
def analysts_db_url(postgres_server_url: str) -> Iterator[str]:
    name = f"carecircle_analysts_{secrets.token_hex(6)}"
    yield create_database(postgres_server_url, name)
    with contextlib.suppress(psycopg.Error):  # a leftover test database harms nothing
        drop_database(postgres_server_url, name)


@pytest.fixture(scope="module")
def runtime(analysts_db_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(database_url=analysts_db_url), analysts_db_url)
    migrate(runtime)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(build_api(runtime), raise_server_exceptions=False) as client:
        yield client
