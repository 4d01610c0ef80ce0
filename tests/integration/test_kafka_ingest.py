"""Ingest on a real broker and real PostgreSQL: what a provider's service sends is stored once,
what cannot be applied is dead-lettered with its reason, and the partition moves on."""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
import structlog
from fastapi.testclient import TestClient

from consumers.deadletter import DeadLetter
from services.adapters.logging import SAFE_KEYS
from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime, migrate, run_ingest
from tests.integration.kafka_support import (
    Message,
    a_client,
    checking_in,
    enrollment,
    in_thread,
    ingested_through,
    kafka_settings,
    last_offsets,
    message,
    one_check_in,
    poison,
    produce,
    read_topic,
    stored_ids,
    wait_until,
)
from tests.stories import COUNSELOR


@pytest.fixture
def runtime(database_url: str, kafka_bootstrap: str) -> Iterator[Runtime]:
    settings = kafka_settings(database_url, kafka_bootstrap)
    runtime = build_runtime(settings, database_url)
    migrate(runtime)
    yield runtime
    runtime.close()


def ingesting(runtime: Runtime) -> Any:
    bootstrap = runtime.settings.kafka_bootstrap
    return in_thread(lambda stop: run_ingest(runtime, bootstrap, stop))


def dead_letters(settings: Settings, expected: int | None = None) -> list[DeadLetter]:
    assert settings.kafka_bootstrap is not None
    records = read_topic(
        settings.kafka_bootstrap, settings.kafka_deadletter_topic, expected=expected
    )
    return [DeadLetter.of(record) for record in records]


def test_given_a_service_publishes_an_enrollment_and_check_ins_then_they_read_back_over_http(
    runtime: Runtime,
) -> None:
    settings, client = runtime.settings, uuid4()
    bootstrap = settings.kafka_bootstrap
    assert bootstrap is not None
    story = a_client(client)
    events = checking_in(checking_in(story, 1), 2).on_kafka()

    sent = produce(
        bootstrap,
        settings.kafka_inbound_topic,
        [message(e, **{"source-service": "texting-platform"}) for e in events],
    )
    with ingesting(runtime):
        wait_until(
            ingested_through(runtime.store, settings.kafka_inbound_topic, last_offsets(sent)),
            "ingest to track the last offset",
        )
    with TestClient(build_api(runtime)) as api:
        answer = api.get(
            f"/v1/clients/{client}/events",
            headers=COUNSELOR.headers(settings),
        )

    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    submitted = [e for e in items if e["type"] != "EpisodeOpened"]
    assert [e["event_id"] for e in submitted] == [e["event_id"] for e in events]
    assert [e["source"] for e in submitted] == [
        {
            "service": "texting-platform",
            "topic": settings.kafka_inbound_topic,
            "partition": meta.partition,
            "offset": meta.offset,
        }
        for meta in sent
    ]
    assert dead_letters(settings) == []


def test_given_10000_messages_with_duplicates_and_poison_then_good_once_and_poison_dead_lettered(
    runtime: Runtime,
) -> None:
    settings, rng = runtime.settings, random.Random(4)
    bootstrap = settings.kafka_bootstrap
    assert bootstrap is not None
    clients = [uuid4() for _ in range(125)]
    streams: dict[UUID, list[tuple[Message, str | None]]] = {}
    good_ids: list[str] = []
    for client in clients:
        events = a_client(client, check_ins=72).on_kafka()
        good_ids += [e["event_id"] for e in events]
        streams[client] = [(message(e), None) for e in events]
    for _ in range(500):  # a service re-sends an event it already sent
        stream = streams[rng.choice(clients)]
        original = rng.randrange(len(stream))
        stream.insert(rng.randrange(original + 1, len(stream) + 1), stream[original])
    for _ in range(250):  # after the enrollments, so only the poison itself is refused
        bad, code = poison(rng, clients)
        stream = streams[rng.choice(clients)]
        stream.insert(rng.randrange(1, len(stream) + 1), (bad, code))
    interleaved: list[tuple[Message, str | None]] = []
    cursors = dict.fromkeys(clients, 0)
    while cursors:
        client = rng.choice(list(cursors))
        interleaved.append(streams[client][cursors[client]])
        cursors[client] += 1
        if cursors[client] == len(streams[client]):
            del cursors[client]
    assert len(interleaved) == 10_000

    sent = produce(bootstrap, settings.kafka_inbound_topic, [m for m, _ in interleaved])
    with structlog.testing.capture_logs() as logs, ingesting(runtime):
        wait_until(
            ingested_through(runtime.store, settings.kafka_inbound_topic, last_offsets(sent)),
            "ingest to track the last offset of every partition",
        )
    letters = dead_letters(settings, expected=250)

    stored = stored_ids(runtime.store, good_ids)
    assert len(stored) == len(good_ids) == len(set(stored)) == 9250
    expected_letters = sorted(
        (meta.partition, meta.offset, code, m[1])
        for meta, (m, code) in zip(sent, interleaved, strict=True)
        if code is not None
    )
    assert (
        sorted((d.source_partition, d.source_offset, d.code, d.value) for d in letters)
        == expected_letters
    )
    assert {d.source_topic for d in letters} == {settings.kafka_inbound_topic}
    assert all(d.reason for d in letters)
    assert not [d.reason for d in letters if "SECRET" in d.reason or "42" in d.reason]
    assert {entry["code"] for entry in logs if entry["event"] == "ingest.dead_lettered"} == {
        code for _, code in interleaved if code is not None
    }
    assert "SECRET" not in repr(logs)
    assert {key for entry in logs for key in entry} <= SAFE_KEYS | {"log_level"}
    assert Counter(d.code for d in letters)["client_not_enrolled"] > 0
    with runtime.store.connection() as conn:
        row = conn.execute(
            "SELECT count(*) AS n FROM care_event_index WHERE client_id = ANY(%s::uuid[])",
            ([str(c) for c in clients],),
        ).fetchone()
    assert row is not None
    assert row["n"] == 9250 + 125  # each enrollment also opened an episode


def test_given_a_dead_letter_when_its_cause_is_fixed_and_it_is_replayed_then_it_is_stored(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli.kafka import cmd_deadletter_list, cmd_deadletter_replay

    settings, client = runtime.settings, uuid4()
    bootstrap = settings.kafka_bootstrap
    assert bootstrap is not None
    early = one_check_in(client, 1, note="SECRET-NOTE stays out of the listing")
    sent = produce(bootstrap, settings.kafka_inbound_topic, [message(early, trace="t-1")])
    with ingesting(runtime):
        wait_until(
            ingested_through(runtime.store, settings.kafka_inbound_topic, last_offsets(sent)),
            "the early check-in to be consumed",
        )
        (letter,) = dead_letters(settings, expected=1)
        cmd_deadletter_list(_args(limit=None), settings)
        listing = capsys.readouterr().out

        fixed = produce(bootstrap, settings.kafka_inbound_topic, [message(enrollment(client))])
        wait_until(
            ingested_through(runtime.store, settings.kafka_inbound_topic, last_offsets(fixed)),
            "the enrollment to be stored",
        )
        cmd_deadletter_replay(
            _args(offset=letter.offset, partition=letter.partition, all=False), settings
        )
        wait_until(
            lambda: stored_ids(runtime.store, [early["event_id"]]) == [early["event_id"]],
            "the replayed check-in to be stored",
        )

    assert letter.code == "client_not_enrolled"
    assert json.loads(letter.value or b"") == early
    assert ("trace", b"t-1") in letter.original_headers()
    assert f"{letter.partition}@{letter.offset}  client_not_enrolled" in listing
    assert f"source={settings.kafka_inbound_topic}/{sent[0].partition}@{sent[0].offset}" in listing
    assert "SECRET" not in listing
    assert len(dead_letters(settings)) == 1  # the replay was applied, not dead-lettered again


def _args(**values: Any) -> Any:
    import argparse

    return argparse.Namespace(**values)
