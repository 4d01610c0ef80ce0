"""`carecircle audit verify` against tampering done in SQL behind the application's back.

Each test gets its own small store: a few clients' events, chained by the audit-trail
projection; then one row of `care_events` is changed, deleted, swapped or slipped in, and the
command (run as operators run it, in its own process) must exit non-zero naming that position.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from infra.embedded import create_database, drop_database
from projections.runner import Runner
from services.settings import Settings
from services.wiring import build_runtime, live_runner, migrate
from tests.integration.read_models.support import Client, ReadSide
from tests.stories import Clock
from tests.unit import builders as b

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def store_url(postgres_server_url: str, clock: Clock) -> Iterator[str]:
    """A fresh store holding three clients' events, all chained by the audit trail."""
    name = f"carecircle_audit_{secrets.token_hex(6)}"
    url = create_database(postgres_server_url, name)
    runtime = build_runtime(Settings(database_url=url), url, clock=clock)
    try:
        migrate(runtime)
        side = ReadSide(runtime, clock)
        for craving in (2, 5, 8):
            Client.enrolled(side).record(b.check_in, craving=craving)
            with runtime.store.connection() as conn:  # a rolled-back write leaves such gaps
                conn.execute(
                    "SELECT nextval(pg_get_serial_sequence('care_events', 'notification_id'))"
                )
        runner: Runner = live_runner(runtime)
        runner.catch_up()
    finally:
        runtime.close()
    yield url
    with contextlib.suppress(psycopg.Error):
        drop_database(postgres_server_url, name)


def audit_verify(url: str) -> tuple[int, str]:
    """`carecircle audit verify` in its own process: exit status and what it printed."""
    env = {**os.environ, "CARE_DATABASE_URL": url, "CARE_LOG_LEVEL": "warning"}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.returncode, done.stdout


def positions(url: str) -> list[int]:
    with psycopg.connect(url) as conn:
        return [
            row[0]
            for row in conn.execute("SELECT notification_id FROM care_events ORDER BY 1").fetchall()
        ]


def tamper(url: str, statement: str, *params: object) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)  # type: ignore[arg-type]


def test_an_untouched_store_verifies_clean(store_url: str) -> None:
    status, out = audit_verify(store_url)

    assert status == 0, out
    assert f"{len(positions(store_url))} entries" in out


def test_one_stored_events_bytes_updated_is_reported_as_altered_at_its_position(
    store_url: str,
) -> None:
    victim = positions(store_url)[4]
    tamper(
        store_url,
        "UPDATE care_events SET state = state || ' '::bytea WHERE notification_id = %s",
        victim,
    )

    status, out = audit_verify(store_url)

    assert status == 1
    assert f"broken at position {victim}: altered" in out


def test_a_deleted_event_is_reported_at_its_position(store_url: str) -> None:
    victim = positions(store_url)[6]
    tamper(store_url, "DELETE FROM care_events WHERE notification_id = %s", victim)

    status, out = audit_verify(store_url)

    assert status == 1
    assert f"broken at position {victim}: deleted" in out


def test_two_rows_with_their_payloads_swapped_are_reported_as_reordered_at_the_first(
    store_url: str,
) -> None:
    first, second = positions(store_url)[3], positions(store_url)[8]
    tamper(
        store_url,
        "UPDATE care_events AS t SET state = o.state FROM care_events AS o"
        " WHERE (t.notification_id, o.notification_id) IN ((%s, %s), (%s, %s))",
        first,
        second,
        second,
        first,
    )

    status, out = audit_verify(store_url)

    assert status == 1
    assert f"broken at position {first}: reordered" in out
    assert f"chained at position {second}" in out


def test_an_event_slipped_into_a_gap_between_chained_ones_is_reported_as_inserted(
    store_url: str,
) -> None:
    existing = positions(store_url)
    gap = next(p for p in range(existing[0], existing[-1]) if p not in existing)
    tamper(
        store_url,
        "INSERT INTO care_events (originator_id, originator_version, topic, state,"
        " notification_id) SELECT originator_id, originator_version + 1000, topic, state, %s"
        " FROM care_events WHERE notification_id = %s",
        gap,
        existing[2],
    )

    status, out = audit_verify(store_url)

    assert status == 1
    assert f"broken at position {gap}: inserted" in out
