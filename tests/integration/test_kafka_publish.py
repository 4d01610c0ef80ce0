"""Publish on a real broker and real PostgreSQL: every stored event reaches `care.events`, keyed by
client, in position order per client; the checkpoint moves only after the broker acknowledged,
so a killed publisher sends again rather than skips, and a re-sent event carries its event-id."""

from __future__ import annotations

import base64
import json
import random
import signal
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from consumers.publish import checkpoint_name
from demo.simulate import simulate
from domain.catalogue import parse_event
from domain.commands import RecordCareEvent
from infra.embedded import create_database, drop_database
from services.adapters.publish_payloads import publish_aad
from services.wiring import Runtime, build_runtime, migrate, run_publish
from tests.integration.kafka_support import (
    enrollment,
    in_thread,
    kafka_settings,
    read_topic,
    wait_until,
    worker_process,
)
from tests.stories import COUNSELOR, Story

START = datetime.now(UTC).replace(microsecond=0) - timedelta(days=40)
RULE = {"id": "SUI-1", "role": "rule", "org": "carecircle", "kind": "rule"}


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    """A database of this test's own, so the whole store is what the test wrote."""
    name = f"carecircle_publish_{uuid4().hex[:12]}"
    yield create_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)


def runtime_on(database_url: str, bootstrap: str, **overrides: Any) -> Runtime:
    runtime = build_runtime(kafka_settings(database_url, bootstrap, **overrides), database_url)
    migrate(runtime)
    return runtime


def fill(runtime: Runtime, clients: int, days: int) -> None:
    """Simulated circles of care, stored through the command handler."""

    def record(commands: Any) -> int:
        recorded, refused = runtime.handler.record_batch(commands)
        assert refused == []
        return len(recorded)

    simulate(record, clients=clients, days=days, seed=11, start=START, batch_size=2000)


def opened_value(runtime: Runtime, value: bytes) -> dict[str, Any]:
    """A published value with its sealed data opened under the client's key. A re-sent event is
    sealed again with a fresh nonce (AES-GCM), so its bytes differ; what it says does not."""
    body: dict[str, Any] = json.loads(value)
    sealed = body.pop("sealed_data", None)
    if sealed is not None:
        keys = runtime.privacy.keys
        assert keys is not None
        cipher = keys.cipher_for(UUID(body["client_id"]), create=False)
        assert cipher is not None
        raw = base64.b64decode(sealed)
        aad = publish_aad(body["client_id"], body["event_id"], body["type"])
        body["opened_data"] = json.loads(cipher.decrypt(raw[:12], raw[12:], aad))
    return body


def stored_events(runtime: Runtime) -> list[Any]:
    out: list[Any] = []
    while batch := runtime.store.read(after=out[-1].position if out else 0, limit=5000):
        out += batch
    return out


def published_through_head(runtime: Runtime) -> Any:
    name = checkpoint_name(runtime.settings.kafka_events_topic)
    head = runtime.store.head()
    return lambda: (runtime.store.tracked(name) or 0) >= head


def header(record: Any, name: str) -> str:
    return dict(record.headers)[name].decode()


def test_given_stored_events_and_flags_when_published_then_each_is_on_care_events_in_order(
    fresh_database: str, kafka_bootstrap: str
) -> None:
    runtime = runtime_on(fresh_database, kafka_bootstrap)
    settings = runtime.settings
    try:
        fill(runtime, clients=12, days=10)
        client = uuid4()
        flag, critical = "flag-" + uuid4().hex, "flag-" + uuid4().hex
        # a high flag raised, acknowledged by the counselor (a pager stops escalating),
        # cleared by its rule and resolved by a person (the lifecycle of issue 12), and a
        # critical one: care.flags carries every change of status and the severity
        raised, acknowledged, cleared, resolved, imminent = (
            Story(client_id=client)
            .by(COUNSELOR)
            .on(START)
            .event(
                "RiskFlagRaised",
                flag_id=flag,
                rule_id="SUI-1",
                rule_version=1,
                severity="high",
                reason="PHQ-9 item 9 answered above zero",
            )
            .event("RiskFlagAcknowledged", flag_id=flag)
            .event("RiskFlagCleared", flag_id=flag)
            .event("RiskFlagResolved", flag_id=flag, note="C-SSRS done, no current risk")
            .event(
                "RiskFlagRaised",
                flag_id=critical,
                rule_id="CRS-2",
                rule_version=2,
                severity="critical",
                reason="Imminent risk: safety plan and scheduled follow-up not yet in place",
            )
            .on_kafka()
        )
        by_rule = [{**body, "actor": RULE} for body in (raised, cleared, imminent)]
        bodies = (enrollment(client), by_rule[0], acknowledged, by_rule[1], resolved, by_rule[2])
        for body in bodies:
            _, refused = runtime.handler.record_batch(
                [RecordCareEvent(parse_event(body), now=datetime.now(UTC))]
            )
            assert refused == []
        stored = stored_events(runtime)

        with in_thread(lambda stop: run_publish(runtime, kafka_bootstrap, stop)):
            wait_until(published_through_head(runtime), "the checkpoint to reach the head")
        events = read_topic(kafka_bootstrap, settings.kafka_events_topic, expected=len(stored))
        flags = read_topic(kafka_bootstrap, settings.kafka_flags_topic, expected=5)
        said = [opened_value(runtime, r.value) for r in flags]  # sealed under the client's key
    finally:
        runtime.close()

    assert sorted(int(header(r, "position")) for r in events) == [s.position for s in stored]
    by_position = {s.position: s for s in stored}
    for record in events:
        original = by_position[int(header(record, "position"))]
        value = json.loads(record.value)
        assert record.key == str(original.event.client_id).encode()
        assert header(record, "event-id") == str(original.event.event_id) == value["event_id"]
        assert header(record, "type") == original.event.type == value["type"]
        assert header(record, "schema-version") == str(original.event.schema_version)
        assert (value["version"], value["position"]) == (original.version, original.position)
        assert value["recorded_at"] == original.recorded_at.isoformat()
    per_client: dict[bytes, list[int]] = defaultdict(list)
    for record in events:
        per_client[record.key].append(int(header(record, "position")))
    assert all(positions == sorted(positions) for positions in per_client.values())
    assert [header(r, "type") for r in flags] == [
        "RiskFlagRaised",
        "RiskFlagAcknowledged",
        "RiskFlagCleared",
        "RiskFlagResolved",
        "RiskFlagRaised",
    ]
    assert {r.key for r in flags} == {str(client).encode()}
    assert [v["opened_data"]["flag_id"] for v in said] == [flag, flag, flag, flag, critical]
    kinds = [v["actor"]["kind"] for v in said]
    assert kinds == ["rule", "human", "rule", "human", "rule"]
    assert said[1]["actor"]["id"] == COUNSELOR.sub
    assert said[4]["opened_data"]["severity"] == "critical"


def test_given_a_publisher_killed_at_random_points_then_every_event_is_published_in_order(
    fresh_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    runtime = runtime_on(fresh_database, kafka_bootstrap, kafka_publish_batch=300)
    settings, rng = runtime.settings, random.Random(7)
    name = checkpoint_name(settings.kafka_events_topic)
    try:
        fill(runtime, clients=60, days=30)
        stored = stored_events(runtime)
        head = stored[-1].position
        kills = 0
        for target in sorted(rng.sample(range(head // 10, head - head // 10), 6)):
            worker = worker_process("publish", settings, tmp_path / "publish.log")
            wait_until(
                lambda target=target: (runtime.store.tracked(name) or 0) >= target,
                f"the checkpoint to pass {target}",
            )
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
        worker = worker_process("publish", settings, tmp_path / "publish.log")
        try:
            wait_until(published_through_head(runtime), "the last publisher to reach the head")
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        events = read_topic(kafka_bootstrap, settings.kafka_events_topic, expected=len(stored))
        opened = {id(record): opened_value(runtime, record.value) for record in events}
    finally:
        runtime.close()

    assert kills >= 5
    first: dict[str, Any] = {}
    per_client: dict[bytes, list[int]] = defaultdict(list)
    for record in events:
        event_id = header(record, "event-id")
        if event_id in first:  # a duplicate: the same event, the same key, the same data
            assert opened[id(first[event_id])] == opened[id(record)]
            assert first[event_id].key == record.key
            continue
        first[event_id] = record
        per_client[record.key].append(int(header(record, "position")))
    assert sorted(int(header(r, "position")) for r in first.values()) == [
        s.position for s in stored
    ]
    assert all(positions == sorted(positions) for positions in per_client.values())
    assert {str(s.event.event_id) for s in stored} == set(first)
