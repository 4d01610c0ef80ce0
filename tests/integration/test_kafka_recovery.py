"""Ingest survives what docs/domain.md promises: kill -9 at any instant, and a PostgreSQL restart.
PostgreSQL's tracking, not the broker's committed offsets, says what was consumed, so a restart
neither loses nor repeats an event; a database outage is waited out, never dead-lettered."""

from __future__ import annotations

import random
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from prometheus_client import REGISTRY

from consumers.deadletter import DeadLetter
from consumers.ingest import tracking_name
from infra.embedded import EmbeddedPostgres, create_database, drop_database
from services.settings import Settings
from services.wiring import Runtime, build_runtime, migrate, run_ingest
from tests.integration.kafka_support import (
    Message,
    a_client,
    in_thread,
    ingested_through,
    kafka_settings,
    last_offsets,
    message,
    poison,
    produce,
    read_topic,
    stored_ids,
    wait_until,
    worker_process,
)


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    name = f"carecircle_recovery_{uuid4().hex[:12]}"
    yield create_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)


def care_stream(
    rng: random.Random, clients: int, check_ins: int, duplicates: int, poisoned: int
) -> tuple[list[tuple[Message, str | None]], list[str]]:
    """Per-client streams (enroll, team, check-ins) with re-sends and poison mixed in, clients
    interleaved; each message with the code it must be dead-lettered with (None: good)."""
    ids = [uuid4() for _ in range(clients)]
    streams: dict[UUID, list[tuple[Message, str | None]]] = {}
    good: list[str] = []
    for client in ids:
        events = a_client(client, check_ins).on_kafka()
        good += [e["event_id"] for e in events]
        streams[client] = [(message(e), None) for e in events]
    for _ in range(duplicates):
        stream = streams[rng.choice(ids)]
        original = rng.randrange(len(stream))
        stream.insert(rng.randrange(original + 1, len(stream) + 1), stream[original])
    for _ in range(poisoned):
        bad, code = poison(rng, ids)
        stream = streams[rng.choice(ids)]
        stream.insert(rng.randrange(1, len(stream) + 1), (bad, code))
    out: list[tuple[Message, str | None]] = []
    cursors = dict.fromkeys(ids, 0)
    while cursors:
        client = rng.choice(list(cursors))
        out.append(streams[client][cursors[client]])
        cursors[client] += 1
        if cursors[client] == len(streams[client]):
            del cursors[client]
    return out, good


def consumed(runtime: Runtime) -> int:
    """How many inbound offsets the store has tracked, over all partitions."""
    settings = runtime.settings
    return sum(
        (runtime.store.tracked(tracking_name(settings.kafka_inbound_topic, p)) or -1) + 1
        for p in range(settings.kafka_topic_partitions)
    )


def assert_dead_letters(settings: Settings, sent: list[Any], stream: list[Any]) -> list[Any]:
    """Every poison message is in the dead-letter topic (a crash may have doubled one: the same
    source offset, the same bytes and code) and nothing else is."""
    assert settings.kafka_bootstrap is not None
    expected = {
        (meta.partition, meta.offset): (code, m[1])
        for meta, (m, code) in zip(sent, stream, strict=True)
        if code is not None
    }
    letters = [
        DeadLetter.of(r)
        for r in read_topic(
            settings.kafka_bootstrap, settings.kafka_deadletter_topic, expected=len(expected)
        )
    ]
    found = {(d.source_partition, d.source_offset): (d.code, d.value) for d in letters}
    assert found == expected
    for letter in letters:
        assert expected[(letter.source_partition, letter.source_offset)] == (
            letter.code,
            letter.value,
        )
    return letters


def test_given_ingest_killed_at_random_points_then_the_store_holds_each_accepted_event_once(
    fresh_database: str, kafka_bootstrap: str, tmp_path: Path
) -> None:
    settings = kafka_settings(
        fresh_database,
        kafka_bootstrap,
        kafka_max_poll_records=250,
        kafka_ingest_instance_id="ingest-0",  # the restarted worker takes its partitions back
    )
    runtime = build_runtime(settings, fresh_database)
    migrate(runtime)
    rng = random.Random(9)
    stream, good = care_stream(rng, clients=60, check_ins=70, duplicates=300, poisoned=120)
    try:
        sent = produce(kafka_bootstrap, settings.kafka_inbound_topic, [m for m, _ in stream])
        kills = 0
        for target in sorted(rng.sample(range(len(sent) // 10, len(sent) * 9 // 10), 6)):
            worker = worker_process("ingest", settings, tmp_path / "ingest.log")
            wait_until(lambda t=target: consumed(runtime) >= t, f"ingest to pass {target}")
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            kills += 1
        worker = worker_process("ingest", settings, tmp_path / "ingest.log")
        try:
            wait_until(
                ingested_through(runtime.store, settings.kafka_inbound_topic, last_offsets(sent)),
                "the last ingest worker to reach every partition's end",
            )
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        stored = stored_ids(runtime.store, good)
        letters = assert_dead_letters(settings, sent, stream)
    finally:
        runtime.close()

    assert kills >= 5
    assert sorted(stored) == sorted(good)  # each accepted event once: no loss, no repeat
    assert len(letters) >= 120  # more if a crash fell between a batch's dead letters and commit


def retries() -> float:
    samples = [
        s.value
        for metric in REGISTRY.collect()
        if metric.name == "carecircle_ingest_retries"
        for s in metric.samples
        if s.name.endswith("_total")
    ]
    return sum(samples)


def test_given_postgresql_restarts_while_ingest_runs_then_it_waits_and_resumes_losing_nothing(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    rng = random.Random(3)
    stream, good = care_stream(rng, clients=30, check_ins=40, duplicates=50, poisoned=0)
    first, second = stream[: len(stream) // 2], stream[len(stream) // 2 :]
    with EmbeddedPostgres(tmp_path / "pgdata") as server:  # this test's own server: it restarts it
        url = server.ensure_database("carecircle")
        settings = kafka_settings(url, kafka_bootstrap, pool_timeout_seconds=1.0)
        runtime = build_runtime(settings, url)
        migrate(runtime)
        topic = settings.kafka_inbound_topic
        try:
            with in_thread(lambda stop: run_ingest(runtime, kafka_bootstrap, stop)):
                sent = produce(kafka_bootstrap, topic, [m for m, _ in first])
                wait_until(
                    ingested_through(runtime.store, topic, last_offsets(sent)), "the first half"
                )
                waited = retries()
                server.stop()
                sent += produce(kafka_bootstrap, topic, [m for m, _ in second])
                wait_until(lambda: retries() > waited, "ingest to wait on the database")
                server.start()
                wait_until(
                    ingested_through(runtime.store, topic, last_offsets(sent)), "the second half"
                )
            stored = stored_ids(runtime.store, good)
        finally:
            runtime.close()
    assert sorted(stored) == sorted(good)
    assert read_topic(kafka_bootstrap, settings.kafka_deadletter_topic) == []
