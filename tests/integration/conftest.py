"""Real parts, one of each per session (docs/domain.md, the operating contract).

`CARE_DATABASE_URL` names a server to use, else an embedded PostgreSQL runs under pytest's temp
dir; either way the session works in a fresh database it created, never in an existing one.
`CARE_KAFKA_BOOTSTRAP` names a cluster to use, else a memory-only Tansu broker runs.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import psycopg
import pytest
import structlog

from infra.embedded import (
    create_database,
    database_url_or_embedded,
    drop_database,
    kafka_bootstrap_or_tansu,
)
from tests.wire_observer import Observed, observing

_log = structlog.get_logger(__name__)


@pytest.fixture(scope="session")
def postgres_server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """URL of the server's maintenance database; only used to create and drop test databases."""
    pgdata = tmp_path_factory.mktemp("postgres") / "pgdata"
    with database_url_or_embedded(pgdata=pgdata) as url:
        yield url


@pytest.fixture(scope="session")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """URL of a database created for this session, `carecircle_test_<hex>`, dropped after it."""
    name = f"carecircle_test_{secrets.token_hex(8)}"
    yield create_database(postgres_server_url, name)
    try:
        drop_database(postgres_server_url, name)
    except psycopg.Error as error:  # a leftover test database harms nothing: say so, go on
        _log.warning("postgres.test_database_kept", sqlstate=error.sqlstate)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap servers of a Kafka-protocol broker: `CARE_KAFKA_BOOTSTRAP` or Tansu."""
    with kafka_bootstrap_or_tansu(data_dir=tmp_path_factory.mktemp("tansu")) as bootstrap:
        yield bootstrap


@pytest.fixture(scope="session", autouse=True)
def wire_observed() -> Iterator[Observed]:
    """Every HTTP exchange and Kafka message of the session, for test_wire_contracts.py."""
    with observing() as observed:
        yield observed


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The wire-contract checks run last, over everything the other tests put on the wire."""
    items.sort(key=lambda item: item.nodeid.startswith(CONTRACT_CHECKS))


CONTRACT_CHECKS = "tests/integration/test_wire_contracts.py"
