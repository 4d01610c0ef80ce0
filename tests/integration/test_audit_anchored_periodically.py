"""The running stack anchors the audit periodically (issue 10): `carecircle audit anchor --topic`
existed, but nothing anchored unless an operator ran it. Now the `anchor` worker role (in
`carecircle up` too) publishes a signed checkpoint of both chains to the anchors topic every
CARE_AUDIT_ANCHOR_EVERY_S seconds, and `audit verify --anchors-from-topic` reads them back: the
store's tail deleted with its audit rows after a periodic anchor fails verification."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import psycopg
import pytest

from domain.catalogue import parse_event
from domain.commands import RecordCareEvent
from infra.embedded import create_database, drop_database
from projections.audit_trail import AUDIT_TRAIL
from services.cli.main import main
from services.wiring import (
    Runtime,
    build_runtime,
    live_runner,
    migrate,
    run_audit_anchors,
    topic_anchors,
)
from tests.integration.kafka_support import (
    a_client,
    environment,
    in_thread,
    kafka_settings,
    wait_until,
)

TRAIL = f"audit_trail_v{AUDIT_TRAIL.version}"  # the live table


@pytest.fixture
def runtime(postgres_server_url: str, kafka_bootstrap: str) -> Iterator[Runtime]:
    name = f"carecircle_anchors_{secrets.token_hex(6)}"
    url = create_database(postgres_server_url, name)
    settings = kafka_settings(url, kafka_bootstrap, audit_anchor_every_s=0.5)
    runtime = build_runtime(settings, url)
    migrate(runtime)
    yield runtime
    runtime.close()
    with contextlib.suppress(psycopg.Error):
        drop_database(postgres_server_url, name)


def record(runtime: Runtime, bodies: list[dict[str, Any]]) -> None:
    commands = [RecordCareEvent(parse_event(body), now=runtime.clock()) for body in bodies]
    _, refused = runtime.handler.record_batch(commands)
    assert refused == []


def anchored_positions(runtime: Runtime) -> list[int]:
    """The audit trail positions anchored on the topic so far."""
    settings = runtime.settings
    assert settings.kafka_bootstrap is not None
    anchors = topic_anchors(settings, settings.kafka_bootstrap)
    return [anchor.position for anchor in anchors if anchor.chain == "audit_trail"]


def sql(url: str, statement: str, *params: object) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(statement, params)  # type: ignore[arg-type]


def verify_from_topic(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str]:
    """`carecircle audit verify --anchors-from-topic` as an operator runs it."""
    for name, value in environment(runtime.settings).items():
        if name.startswith("CARE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("CARE_LOG_LEVEL", "warning")
    monkeypatch.setattr("services.cli.main.configure_logging", lambda *_a, **_k: None)
    capsys.readouterr()
    status = main(["audit", "verify", "--anchors-from-topic"])
    return status, capsys.readouterr().out


def test_a_periodic_anchor_on_the_topic_catches_the_stores_tail_deleted_with_its_audit_rows(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # given three clients' events on the audit trail
    for _ in range(3):
        record(runtime, a_client(uuid4(), check_ins=2).on_kafka())
    live_runner(runtime).catch_up()
    head = runtime.store.head()
    # when the stack's anchor worker runs, nobody asking it to
    with in_thread(lambda stop: run_audit_anchors(runtime, None, stop)):
        wait_until(lambda: head in anchored_positions(runtime), "a periodic anchor of the head")
        wait_until(lambda: len(anchored_positions(runtime)) >= 2, "a second periodic anchor")
    # then verifying against the topic's anchors passes while nothing is touched
    status, out = verify_from_topic(runtime, monkeypatch, capsys)
    assert status == 0, out
    assert "anchors:" in out
    # and when the store's tail is deleted with its audit rows and the projection rewound
    cut = head - 3
    url = runtime.database_url
    sql(url, "DELETE FROM care_event_index WHERE position > %s", cut)
    sql(url, "DELETE FROM care_events WHERE notification_id > %s", cut)
    sql(url, f"DELETE FROM {TRAIL} WHERE position > %s", cut)
    sql(url, "UPDATE projection_positions SET position = %s", cut)
    # then verify against the topic's anchors fails and says the chain was truncated
    status, out = verify_from_topic(runtime, monkeypatch, capsys)
    assert status == 1, out
    assert "audit_trail fails its anchor" in out
    assert f"truncated (the chain ends at {cut}" in out
