"""The audit proves itself: `carecircle audit verify` catches what SQL behind the application's
back does to the audit trail and the access log — an edited actor or time, an edit with every
later hash recomputed, the last row deleted, every row deleted, the store's tail deleted with its
audit rows — using the keyed chains and the anchors `carecircle audit anchor` keeps outside the
database.

Each test gets a small store of its own: three clients' events chained by the audit trail and a
few reads in the access log, anchored once into a file, as an operator's cron job would.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
import psycopg
import pytest
from psycopg.sql import SQL

from infra.embedded import create_database, database_url, drop_database
from projections.audit_trail import (
    AUDIT_TRAIL,
    GENESIS,
    Link,
    chain_hash,
    chain_hash_v1,
    event_link,
)
from projections.engine import Target, prepare_version, versions_of
from projections.runner import Runner
from services.adapters.access_log import AccessEntry
from services.cli.main import main
from services.settings import Settings
from services.wiring import build_runtime, live_runner, migrate, pool_of, rebuild_outdated
from tests.integration.read_models.support import Client, ReadSide
from tests.stories import Clock
from tests.unit import builders as b

TRAIL = "audit_trail_v3"
KEY = "YW4tb3BlcmF0b3JzLWF1ZGl0LWtleS1rZXB0LW91dHNpZGUtdGhlLWRi"  # base64 of 42 bytes


@pytest.fixture(scope="module")
def template(postgres_server_url: str, clock: Clock) -> Iterator[str]:
    """Three clients' events chained by the audit trail, four reads in the access log."""
    name = f"carecircle_proof_{secrets.token_hex(6)}"
    url = create_database(postgres_server_url, name)
    runtime = build_runtime(Settings(database_url=url, audit_key=KEY), url, clock=clock)
    try:
        migrate(runtime)
        side = ReadSide(runtime, clock)
        clients = [Client.enrolled(side) for _craving in (2, 5, 8)]
        for client, craving in zip(clients, (2, 5, 8), strict=True):
            client.record(b.check_in, craving=craving)
        runtime.privacy.access_log.append(
            [
                AccessEntry(
                    at=clock() + timedelta(seconds=i),
                    actor_id="clinician-1",
                    actor_role="clinician",
                    actor_org="org-a",
                    client_id=client.client_id,
                    action="read",
                    data_classes=("record",),
                    purpose="treatment",
                    outcome="allowed",
                    basis="care_team",
                )
                for i, client in enumerate([*clients, clients[0]])
            ]
        )
        live_runner(runtime).catch_up()
    finally:
        runtime.close()
    yield name
    with contextlib.suppress(psycopg.Error):
        drop_database(postgres_server_url, name)


@pytest.fixture
def store_url(
    postgres_server_url: str, template: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    """A copy of the template store for one test, configured for the CLI."""
    name = f"carecircle_proof_{secrets.token_hex(6)}"
    with psycopg.connect(postgres_server_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    url = database_url(postgres_server_url, name)
    monkeypatch.setenv("CARE_DATABASE_URL", url)
    monkeypatch.setenv("CARE_AUDIT_KEY", KEY)
    monkeypatch.setenv("CARE_LOG_LEVEL", "warning")
    # the command's logging would write to this test's captured stdout after it is closed
    monkeypatch.setattr("services.cli.main.configure_logging", lambda *_a, **_k: None)
    yield url
    with contextlib.suppress(psycopg.Error):
        drop_database(postgres_server_url, name)


def audit(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`carecircle audit ...` as operators run it: exit status and what it printed."""
    capsys.readouterr()
    status = main(["audit", *args])
    return status, capsys.readouterr().out


@pytest.fixture
def anchors(store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> Path:
    """An anchor of both chains as they are now, in a file outside the database."""
    path = tmp_path / "anchors.jsonl"
    status, out = audit("anchor", "--file", str(path), capsys=capsys)
    assert status == 0, out
    return path


def sql(url: str, statement: str, *params: object) -> list[tuple[object, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(statement, params)  # type: ignore[arg-type]
        return cur.fetchall() if cur.description else []


def last_position(url: str) -> int:
    return int(sql(url, f"SELECT max(position) FROM {TRAIL}")[0][0])  # type: ignore[arg-type]


def behind_the_access_logs_back(url: str, statement: str, *params: object) -> None:
    """What a superuser can do despite the append-only triggers."""
    with psycopg.connect(url) as conn, conn.transaction():
        conn.execute("ALTER TABLE access_log DISABLE TRIGGER USER")
        conn.execute(statement, params)  # type: ignore[arg-type]
        conn.execute("ALTER TABLE access_log ENABLE TRIGGER USER")


def recompute_trail(url: str, key: bytes, *, after: int = 0) -> None:
    """Rewrite every audit hash from the first entry, as a forger holding `key` would."""
    with psycopg.connect(url, autocommit=False) as conn:
        conn.row_factory = psycopg.rows.dict_row  # type: ignore[assignment]
        previous = GENESIS
        rows = conn.execute(f"SELECT * FROM {TRAIL} ORDER BY position, entry").fetchall()
        for row in rows:
            if row["position"] > after:
                fresh = chain_hash(key, previous, Link.of_row(row))
                conn.execute(
                    f"UPDATE {TRAIL} SET hash = %s WHERE position = %s AND entry = %s",
                    (fresh, row["position"], row["entry"]),
                )
                previous = fresh
            else:
                previous = bytes(row["hash"])
        conn.commit()


# --- the untouched store --------------------------------------------------------------------------


def test_an_untouched_store_verifies_with_its_anchors(
    store_url: str, anchors: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [orjson.loads(line) for line in anchors.read_text().splitlines()]

    status, out = audit("verify", "--anchors", str(anchors), capsys=capsys)

    assert status == 0, out
    assert {line["chain"] for line in lines} == {"audit_trail", "access_log"}
    assert {line["count"] for line in lines if line["chain"] == "access_log"} == {4}
    assert "anchors: 2 of 2 hold" in out


def test_later_events_extend_an_anchored_chain_without_failing_it(
    store_url: str, anchors: Path, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    runtime = build_runtime(Settings(), store_url, clock=clock)
    try:
        Client.enrolled(ReadSide(runtime, clock)).record(b.check_in, craving=3)
        live_runner(runtime).catch_up()
    finally:
        runtime.close()

    status, out = audit("verify", "--anchors", str(anchors), capsys=capsys)

    assert status == 0, out


# --- the audit trail ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("actor_id", "someone-else"),
        ("actor_org", "another-org"),
        ("actor_role", "supervisor"),
        ("occurred_at", "2020-01-01T00:00:00Z"),
        ("recorded_at", "2020-01-01T00:00:00Z"),
        ("event_id", str(uuid4())),
    ],
)
def test_an_edited_actor_time_or_event_id_breaks_the_chain_at_its_entry(
    store_url: str, column: str, value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = sql(store_url, f"SELECT position FROM {TRAIL} ORDER BY position OFFSET 3 LIMIT 1")
    sql(store_url, f"UPDATE {TRAIL} SET {column} = %s WHERE position = %s", value, victim[0][0])

    status, out = audit("verify", capsys=capsys)

    assert status == 1
    assert f"audit trail broken at position {victim[0][0]}: chain_broken" in out


def test_an_edit_with_every_later_hash_recomputed_without_the_key_breaks_the_chain(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    victim = sql(store_url, f"SELECT position FROM {TRAIL} ORDER BY position OFFSET 2 LIMIT 1")
    sql(store_url, f"UPDATE {TRAIL} SET actor_id = 'forger' WHERE position = %s", victim[0][0])
    recompute_trail(store_url, b"the code is public, the key is not", after=victim[0][0] - 1)

    status, out = audit("verify", capsys=capsys)

    assert status == 1
    assert f"broken at position {victim[0][0]}: chain_broken" in out


def test_an_edit_recomputed_by_someone_holding_the_key_fails_the_anchor(
    store_url: str, anchors: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(store_url, f"UPDATE {TRAIL} SET actor_id = 'insider' WHERE position = %s", 1)
    recompute_trail(store_url, Settings().audit_key_bytes())

    alone_status, _ = audit("verify", capsys=capsys)
    status, out = audit("verify", "--anchors", str(anchors), capsys=capsys)

    assert alone_status == 0, "the key's holder can rewrite the chain itself"
    assert status == 1
    assert "audit_trail fails its anchor" in out
    assert "rewritten" in out


def test_the_last_audit_entry_deleted_is_reported_as_truncated(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    last = last_position(store_url)
    sql(store_url, f"DELETE FROM {TRAIL} WHERE position = %s", last)

    status, out = audit("verify", capsys=capsys)

    assert status == 1
    assert f"audit trail broken at position {last}: truncated" in out


def test_every_audit_entry_deleted_is_reported_as_truncated(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(store_url, f"DELETE FROM {TRAIL}")

    status, out = audit("verify", capsys=capsys)

    assert status == 1
    assert "audit trail broken at position" in out
    assert "truncated" in out


def test_the_stores_tail_deleted_with_its_audit_rows_is_reported_as_truncated(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = last_position(store_url) - 3
    sql(store_url, "DELETE FROM care_event_index WHERE position > %s", cut)
    sql(store_url, "DELETE FROM care_events WHERE notification_id > %s", cut)
    sql(store_url, f"DELETE FROM {TRAIL} WHERE position > %s", cut)

    status, out = audit("verify", capsys=capsys)

    assert status == 1
    assert "truncated" in out


def test_the_tail_deleted_and_the_projections_position_rewound_fails_the_anchor(
    store_url: str, anchors: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = last_position(store_url) - 3
    sql(store_url, "DELETE FROM care_event_index WHERE position > %s", cut)
    sql(store_url, "DELETE FROM care_events WHERE notification_id > %s", cut)
    sql(store_url, f"DELETE FROM {TRAIL} WHERE position > %s", cut)
    sql(store_url, "UPDATE projection_positions SET position = %s", cut)

    alone_status, _ = audit("verify", capsys=capsys)
    status, out = audit("verify", "--anchors", str(anchors), capsys=capsys)

    assert alone_status == 0, "a consistent cut of one database cannot be seen from inside it"
    assert status == 1
    assert "audit_trail fails its anchor" in out
    assert f"truncated (the chain ends at {cut}" in out


def test_everything_deleted_store_and_trail_fails_the_anchor(
    store_url: str, anchors: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(store_url, "DELETE FROM care_event_index")
    sql(store_url, "DELETE FROM care_events")
    sql(store_url, f"DELETE FROM {TRAIL}")
    sql(store_url, "UPDATE projection_positions SET position = 0")

    status, out = audit("verify", "--anchors", str(anchors), capsys=capsys)

    assert status == 1
    assert "audit_trail fails its anchor" in out
    assert "truncated (the chain ends at 0" in out


# --- the access log -------------------------------------------------------------------------------


def test_an_edited_access_actor_or_time_breaks_the_access_logs_chain(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    behind_the_access_logs_back(
        store_url, "UPDATE access_log SET actor_id = 'someone-else' WHERE entry_id = 2"
    )

    status, out = audit("verify", capsys=capsys)

    assert status == 1
    assert "access log broken at entry 2" in out


def test_an_access_entry_edited_with_its_hashes_recomputed_without_the_key_breaks_the_chain(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = sql(store_url, "SELECT entry_id, hash FROM access_log ORDER BY entry_id")
    forged = "hmac:" + hmac.new(b"guess", b"anything", hashlib.sha256).hexdigest()
    behind_the_access_logs_back(
        store_url,
        "UPDATE access_log SET at = at - interval '1 day', hash = %s WHERE entry_id = %s",
        forged,
        rows[1][0],
    )

    status, out = audit("verify", capsys=capsys)

    assert status == 1
    assert f"access log broken at entry {rows[1][0]}" in out


def test_the_last_access_entry_deleted_fails_the_anchor(
    store_url: str, anchors: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    behind_the_access_logs_back(
        store_url, "DELETE FROM access_log WHERE entry_id = (SELECT max(entry_id) FROM access_log)"
    )

    status, out = audit("verify", "--anchors", str(anchors), capsys=capsys)

    assert status == 1
    assert "access_log fails its anchor" in out
    assert "truncated" in out


def test_every_access_entry_deleted_fails_the_anchor(
    store_url: str, anchors: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    behind_the_access_logs_back(store_url, "DELETE FROM access_log")

    status, out = audit("verify", "--anchors", str(anchors), capsys=capsys)

    assert status == 1
    assert "access_log fails its anchor" in out
    assert "the chain ends at 0" in out


# --- the anchors themselves -----------------------------------------------------------------------


def test_an_anchor_edited_to_fit_a_cut_chain_is_refused_as_forged(
    store_url: str, anchors: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [orjson.loads(line) for line in anchors.read_text().splitlines()]
    for line in lines:
        line["count"] -= 1
    anchors.write_text("".join(orjson.dumps(line).decode() + "\n" for line in lines))

    status, out = audit("verify", "--anchors", str(anchors), capsys=capsys)

    assert status == 1
    assert "forged" in out


def test_a_chain_that_does_not_verify_is_not_anchored(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql(store_url, f"UPDATE {TRAIL} SET actor_id = 'x' WHERE position = %s", 1)
    path = tmp_path / "anchors.jsonl"

    status, out = audit("anchor", "--file", str(path), capsys=capsys)

    assert status == 1
    assert "not anchored" in out
    assert not path.exists()


# --- a store made before the keyed chain ----------------------------------------------------------


def test_a_store_with_a_version_1_trail_is_verified_then_rebuilt_keyed_by_the_worker(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    def append_v1(cur: Any, tables: Any, items: Any) -> None:
        previous = GENESIS
        for item in items:
            link = event_link(item)
            previous = chain_hash_v1(previous, link)
            cur.execute(
                SQL(
                    "INSERT INTO {audit_trail} (position, entry, kind, client_id, version, type,"
                    " actor_id, digest, hash) VALUES (%s, 0, 'event', %s, %s, %s, %s, %s, %s)"
                ).format(**tables),
                (
                    link.position,
                    link.client_id,
                    link.version,
                    link.type,
                    link.actor_id,
                    link.digest,
                    previous,
                ),
            )

    older = replace(AUDIT_TRAIL, version=1, batch=append_v1)
    runtime = build_runtime(Settings(), store_url)
    try:
        pool = pool_of(runtime)
        prepare_version(pool, older, 1)
        Runner(runtime.store, pool, lambda: [Target(older, 1)]).catch_up()
        sql(store_url, "UPDATE projection_versions SET live = 1 WHERE name = 'audit_trail'")
        before, _ = audit("verify", capsys=capsys)

        rebuild_outdated(runtime, grace_seconds=0)

        with pool.connection() as conn:
            live = versions_of(conn, "audit_trail").live
    finally:
        runtime.close()
    status, out = audit("verify", capsys=capsys)
    assert before == 0, "the version 1 chain still verifies as version 1"
    assert live > 1
    assert status == 0, out
