"""Helpers for the Kafka tests: settings with topics of their own, a provider's client told in
the stories' vocabulary (tests/stories.py), a plain producer and consumer, workers in a thread or
a subprocess, and waits on positions (never on time)."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.ingest import tracking_name
from infra.embedded import create_topics
from services.adapters.store import EventStore
from services.settings import Settings
from tests.stories import COUNSELOR, Body, Story

REPO = Path(__file__).resolve().parents[2]
Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def kafka_settings(
    database_url: str, bootstrap: str, *, partitions: int = 3, **overrides: Any
) -> Settings:
    """Settings whose four topics and ingest group are this test's own, created on the broker
    (and an audit anchors topic of its own, created when anchors are first published)."""
    tag = uuid4().hex[:12]
    overrides.setdefault("audit_anchor_topic", f"t-{tag}.care.audit.anchors")
    settings = Settings(
        database_url=database_url,
        kafka_bootstrap=bootstrap,
        kafka_inbound_topic=f"t-{tag}.care.events.inbound",
        kafka_deadletter_topic=f"t-{tag}.care.events.deadletter",
        kafka_events_topic=f"t-{tag}.care.events",
        kafka_flags_topic=f"t-{tag}.care.flags",
        kafka_ingest_group=f"t-{tag}-ingest",
        kafka_topic_partitions=partitions,
        kafka_session_timeout_ms=6000,
        **overrides,
    )
    create_topics(
        bootstrap,
        [
            settings.kafka_inbound_topic,
            settings.kafka_deadletter_topic,
            settings.kafka_events_topic,
            settings.kafka_flags_topic,
        ],
        partitions=partitions,
    )
    return settings


def environment(settings: Settings) -> dict[str, str]:
    """The CARE_* variables that make a `carecircle` subprocess use these settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    for name in (
        "database_url",
        "kafka_bootstrap",
        "kafka_inbound_topic",
        "kafka_deadletter_topic",
        "kafka_events_topic",
        "kafka_flags_topic",
        "kafka_ingest_group",
        "kafka_ingest_instance_id",
        "kafka_topic_partitions",
        "kafka_session_timeout_ms",
        "kafka_max_poll_records",
        "kafka_publish_batch",
        "audit_anchor_topic",
    ):
        if getattr(settings, name) is not None:
            env[f"CARE_{name.upper()}"] = str(getattr(settings, name))
    env["CARE_LOG_LEVEL"] = "info"
    return env


# ---------------------------------------------------------------- wire events


def a_client(client_id: UUID, check_ins: int = 0) -> Story:
    """What a provider's service tells on Kafka about one client (`.on_kafka()` for the bodies):
    enrolled 30 days ago in a Part 2 program, a counselor assigned the day after, then
    `check_ins` check-ins (see `checking_in`)."""
    story = Story(client_id=client_id).by(COUNSELOR).at(days=-30)
    story.enrolled("Rowan", "Testperson", part2=True, program="outpatient")
    story.at(days=-29).team(COUNSELOR)
    for n in range(check_ins):
        checking_in(story, n)
    return story


def checking_in(story: Story, n: int, *, note: str | None = None) -> Story:
    """Check-in number `n`: 28 days ago plus n tenths of an hour, mood and craving varied by n."""
    more: dict[str, Any] = {} if note is None else {"note": note}
    story.at(days=-28, hours=n / 10)
    return story.check_in(n % 11, (n * 3) % 11, 6.5, substances=[], **more)


def one_check_in(client_id: UUID, n: int = 0, *, note: str | None = None) -> Body:
    """Check-in number `n` alone, as a Kafka body."""
    [body] = checking_in(Story(client_id=client_id).by(COUNSELOR), n, note=note).on_kafka()
    return body


def enrollment(client_id: UUID) -> Body:
    """`a_client`'s enrollment alone, as a Kafka body."""
    return a_client(client_id).on_kafka()[0]


def message(event: dict[str, Any], **headers: str) -> Message:
    """Key = client id, value = the JSON body, as docs/kafka.md asks of provider services."""
    key = str(event.get("client_id", "")).encode() or None
    return key, json.dumps(event).encode(), [(k, v.encode()) for k, v in headers.items()]


def poison(rng: random.Random, enrolled: list[UUID]) -> tuple[Message, str]:
    """One message ingest cannot apply, and the code it must be dead-lettered with."""
    client = rng.choice(enrolled)
    future = one_check_in(client)
    future["occurred_at"] = "2999-01-01T00:00:00+00:00"
    no_id = one_check_in(client)
    del no_id["event_id"]
    out_of_range = one_check_in(client, note="SECRET-NOTE must never reach a reason")
    out_of_range["data"]["mood"] = 42
    with_source = {**one_check_in(client), "source": {"topic": "x", "partition": 0, "offset": 1}}
    then = Story(client_id=client).by(COUNSELOR).on(datetime(2026, 1, 1, tzinfo=UTC))
    flag, sent = then.event("RiskFlagRaised", flag_id=str(uuid4())).event("CheckInSent").on_kafka()
    kinds: list[tuple[Message, str]] = [
        ((client.bytes, b"{not json", []), "malformed_json"),
        ((None, b"\xff\xfe\x00", []), "malformed_json"),
        ((None, b"[1, 2, 3]", []), "validation_error"),
        ((client.bytes, None, []), "validation_error"),  # a tombstone
        ((b"not-the-client-id", json.dumps(one_check_in(client)).encode(), []), "key_mismatch"),
        (message(sent), "unknown_event_type"),
        (message(flag), "event_not_recordable"),
        (message(no_id), "validation_error"),
        (message(out_of_range), "validation_error"),
        (message(with_source), "validation_error"),
        (message(one_check_in(uuid4())), "client_not_enrolled"),
        (message(future), "occurred_in_future"),
        (message(enrollment(client)), "client_already_enrolled"),
    ]
    return rng.choice(kinds)


# ---------------------------------------------------------------- a plain producer and consumer


def produce(bootstrap: str, topic: str, messages: Sequence[Message]) -> list[Any]:
    """Send with a plain kafka-python producer (acks=all); the broker's metadata per message."""
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=10,
        max_in_flight_requests_per_connection=1,
        batch_size=512 * 1024,
    )
    try:
        futures = [
            producer.send(topic, key=key, value=value, headers=headers)
            for key, value, headers in messages
        ]
        producer.flush(timeout=60)
        return [future.get(timeout=30) for future in futures]
    finally:
        producer.close(timeout=10)


def read_topic(bootstrap: str, topic: str, *, expected: int | None = None) -> list[Any]:
    """Every record of `topic` through a plain consumer (assign, from the beginning, to the end
    the fetches report; with `expected`, until at least that many arrived)."""
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    try:
        parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        records: list[Any] = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            polled = consumer.poll(timeout_ms=200)
            for tp in sorted(polled, key=lambda tp: tp.partition):
                records.extend(polled[tp])
            caught_up = all(
                consumer.highwater(tp) is not None
                and consumer.position(tp) >= consumer.highwater(tp)
                for tp in parts
            )
            if not polled and caught_up and (expected is None or len(records) >= expected):
                return records
        raise AssertionError(f"{topic}: {len(records)} records read before the deadline")
    finally:
        consumer.close()


# ---------------------------------------------------------------- waiting on positions


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 90) -> None:
    """Poll `condition` (a position, a count) until it holds; fail naming `what` otherwise."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def last_offsets(sent: Sequence[Any]) -> dict[int, int]:
    """The last offset written to each partition, from the producer's metadata."""
    last: dict[int, int] = {}
    for meta in sent:
        last[meta.partition] = max(last.get(meta.partition, -1), meta.offset)
    return last


def ingested_through(store: EventStore, topic: str, last: dict[int, int]) -> Callable[[], bool]:
    """Whether the store's tracking reached `last` on every partition."""

    def reached() -> bool:
        tracked = [store.tracked(tracking_name(topic, partition)) for partition in last]
        return all(t is not None and t >= last[p] for p, t in zip(last, tracked, strict=True))

    return reached


def stored_ids(store: EventStore, event_ids: Sequence[str]) -> list[str]:
    """The event_ids of `event_ids` the store holds, one entry per stored row."""
    with store.connection() as conn:
        rows = conn.execute(
            "SELECT event_id::text AS id FROM care_event_index WHERE event_id = ANY(%s::uuid[])",
            (list(event_ids),),
        ).fetchall()
    return [row["id"] for row in rows]


# ---------------------------------------------------------------- workers


@contextmanager
def in_thread(run: Callable[[threading.Event], None]) -> Iterator[threading.Thread]:
    """Run a worker loop in a thread for the block, then stop it and wait for it."""
    stop = threading.Event()
    failures: list[BaseException] = []

    def target() -> None:
        try:
            run(stop)
        except BaseException as error:
            failures.append(error)
            raise

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        stop.set()
        thread.join(timeout=60)
    assert not failures, f"worker failed: {failures!r}"


def worker_process(role: str, settings: Settings, log_path: Path) -> subprocess.Popen[bytes]:
    """`python -m services.cli.main worker ROLE` with these settings, logs to `log_path`."""
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "worker", role],
            cwd=REPO,
            env=environment(settings),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
