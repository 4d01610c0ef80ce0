"""A broker restart in the middle (issue 10), on a memory-only Tansu broker of the test's own
that loses every topic and message when it stops and comes back on the same port.

- The publisher used to retry its first send after the restart forever with the same producer;
  now it replaces the producer, creates the topics again and resumes from its checkpoint in
  PostgreSQL: a consumer sees every event once, in order per client.
- Ingest used to pass over the recreated topic's first messages: their offsets start again at 0
  while the offset stored is higher. Now it sees the log end before what it stored, forgets the
  stored offset and consumes the new topic from its beginning, storing nothing twice (a re-sent
  `event_id` stores nothing).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from kafka import KafkaProducer

from consumers.ingest import tracking_name
from consumers.publish import checkpoint_name
from domain.catalogue import parse_event
from domain.commands import RecordCareEvent
from infra.embedded import (
    TansuBroker,
    create_database,
    create_topics,
    drop_database,
    free_loopback_port,
)
from services.wiring import Runtime, build_runtime, migrate, run_ingest, run_publish
from tests.integration.kafka_support import (
    a_client,
    checking_in,
    in_thread,
    kafka_settings,
    message,
    produce,
    read_topic,
    stored_ids,
    wait_until,
)
from tests.stories import COUNSELOR, Story


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    name = f"carecircle_restart_{uuid4().hex[:12]}"
    yield create_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[TansuBroker]:
    """A memory-only broker of this test's own, on a port it keeps across restarts."""
    started = TansuBroker(tmp_path / "tansu", port=free_loopback_port()).start()
    yield started
    started.stop()


@pytest.fixture
def runtime(fresh_database: str, broker: TansuBroker) -> Iterator[Runtime]:
    settings = kafka_settings(fresh_database, broker.bootstrap, partitions=2)
    runtime = build_runtime(settings, fresh_database)
    migrate(runtime)
    yield runtime
    runtime.close()


def restart(broker: TansuBroker) -> None:
    """Stop the broker (every topic and message gone) and start it on the same port."""
    broker.stop()
    broker.start()


def record(runtime: Runtime, bodies: list[dict[str, Any]]) -> None:
    """Events told over HTTP or Kafka alike, stored through the command handler."""
    commands = [RecordCareEvent(parse_event(body), now=runtime.clock()) for body in bodies]
    _, refused = runtime.handler.record_batch(commands)
    assert refused == []


def published_through_head(runtime: Runtime) -> Any:
    name = checkpoint_name(runtime.settings.kafka_events_topic)
    head = runtime.store.head()
    return lambda: (runtime.store.tracked(name) or 0) >= head


def ingested(runtime: Runtime, sent: list[Any]) -> bool:
    """Whether the store tracks every offset the broker gave `sent` on the inbound topic."""
    topic = runtime.settings.kafka_inbound_topic
    for meta in sent:
        tracked = runtime.store.tracked(tracking_name(topic, meta.partition))
        if tracked is None or tracked < meta.offset:
            return False
    return True


def event_ids_by_client(records: list[Any]) -> dict[str, list[tuple[int, str]]]:
    """Per client (the key), the (position, event-id) of each message, in topic order."""
    found: dict[str, list[tuple[int, str]]] = defaultdict(list)
    for r in records:
        headers = dict(r.headers)
        found[r.key.decode()].append((int(headers["position"]), headers["event-id"].decode()))
    return found


def test_the_publisher_resumes_after_a_memory_broker_restart_without_loss_or_duplicate(
    runtime: Runtime, broker: TansuBroker
) -> None:
    settings = runtime.settings
    topic = settings.kafka_events_topic
    clients = [uuid4(), uuid4()]
    # given two clients' events published to care.events
    for client in clients:
        record(runtime, a_client(client, check_ins=3).on_kafka())
    with in_thread(lambda stop: run_publish(runtime, broker.bootstrap, stop)):
        wait_until(published_through_head(runtime), "the first events published")
        before = read_topic(broker.bootstrap, topic, expected=runtime.store.head())
        # when the broker restarts, losing the topics, and more events are stored
        restart(broker)
        for n, client in enumerate(clients):
            story = Story(client_id=client).by(COUNSELOR)
            record(runtime, [checking_in(story, 10 + n).on_kafka()[-1]])
        newcomer = uuid4()
        record(runtime, a_client(newcomer, check_ins=2).on_kafka())
        # then the publisher gets them all out on the restarted broker
        wait_until(published_through_head(runtime), "the publisher after the restart", 180)
        head = runtime.store.head()
        checkpoint_at_restart = len(before)
        after = read_topic(broker.bootstrap, topic, expected=head - checkpoint_at_restart)
    # and a consumer that read the topic before and after the restart saw every event once
    seen = before + after
    ids = [dict(r.headers)["event-id"].decode() for r in seen]
    with runtime.store.connection() as conn:
        stored = [
            row["id"]
            for row in conn.execute(
                "SELECT event_id::text AS id FROM care_event_index ORDER BY position"
            ).fetchall()
        ]
    assert sorted(ids) == sorted(stored)
    assert len(ids) == len(set(ids))
    # and in position order for each client, across the restart
    for client, seen_of_client in event_ids_by_client(before + after).items():
        positions = [position for position, _ in seen_of_client]
        assert positions == sorted(positions), client
    assert {UUID(key) for key in event_ids_by_client(after)} == {*clients, newcomer}


def test_ingest_consumes_a_recreated_topic_from_its_beginning_and_stores_nothing_twice(
    fresh_database: str, broker: TansuBroker
) -> None:
    settings = kafka_settings(fresh_database, broker.bootstrap, partitions=1)
    runtime = build_runtime(settings, fresh_database)
    migrate(runtime)
    inbound = settings.kafka_inbound_topic
    # given a client's ten events ingested from partition 0: offset 9 stored
    first = a_client(uuid4(), check_ins=8).on_kafka()
    sent = produce(broker.bootstrap, inbound, [message(body) for body in first])
    assert {(m.partition, m.offset) for m in sent} == {(0, n) for n in range(10)}
    try:
        with in_thread(lambda stop: run_ingest(runtime, broker.bootstrap, stop)):
            wait_until(lambda: ingested(runtime, sent), "the first events ingested")
            events = stored_count(runtime)
            # when the broker restarts and the topics are there again (created by an operator,
            # or by the broker itself on a client's first request, as Tansu does)
            restart(broker)
            create_topics(broker.bootstrap, [inbound, settings.kafka_deadletter_topic])
            # and a new client's first events arrive on partition 0, with one re-send of an
            # event already stored: offsets 0, 1 and 2, below the 9 stored
            second = a_client(uuid4()).on_kafka()
            resent = first[-1]
            after = produce_to_partition_0(broker.bootstrap, inbound, [*second, resent])
            assert [(m.partition, m.offset) for m in after] == [(0, 0), (0, 1), (0, 2)]
            # then the new client's events are stored: none passed over
            new_ids = [str(body["event_id"]) for body in second]
            wait_until(
                lambda: len(stored_ids(runtime.store, new_ids)) == len(new_ids),
                "the new topic's first messages stored",
                180,
            )
            wait_until(lambda: ingested(runtime, after), "the new topic ingested to its end")
        # and nothing is stored twice: the re-sent event stored nothing
        assert sorted(stored_ids(runtime.store, new_ids)) == sorted(new_ids)
        assert stored_ids(runtime.store, [str(resent["event_id"])]) == [str(resent["event_id"])]
        # (an enrollment also stores what the handler derives from it, as the first one did)
        derived = events - len(first)
        assert stored_count(runtime) == events + len(second) + derived
    finally:
        runtime.close()


def stored_count(runtime: Runtime) -> int:
    with runtime.store.connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM care_event_index").fetchone()
    assert row is not None
    return int(row["n"])


def produce_to_partition_0(bootstrap: str, topic: str, bodies: list[dict[str, Any]]) -> list[Any]:
    """Keyed by client as the contract asks, all sent to partition 0 (where offset 9 is stored,
    whatever partition count the topic came back with)."""
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        futures = []
        for body in bodies:
            key, value, headers = message(body)
            futures.append(producer.send(topic, key=key, value=value, headers=headers, partition=0))
        producer.flush(timeout=60)
        return [future.get(timeout=30) for future in futures]
    finally:
        producer.close(timeout=10)
