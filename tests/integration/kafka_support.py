"""Helpers for the Kafka tests: settings with topics of their own, wire events as a provider's
service sends them, a plain producer and consumer, workers in a thread or a subprocess, and
waits on positions (never on time)."""

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
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from kafka import KafkaConsumer, KafkaProducer, TopicPartition

from consumers.ingest import tracking_name
from infra.embedded import create_topics
from services.adapters.store import EventStore
from services.settings import Settings

REPO = Path(__file__).resolve().parents[2]
COUNSELOR = {"id": "counselor-ines", "role": "counselor", "org": "harbor-counseling"}
Message = tuple[bytes | None, bytes | None, list[tuple[str, bytes]]]


def kafka_settings(
    database_url: str, bootstrap: str, *, partitions: int = 3, **overrides: Any
) -> Settings:
    """Settings whose four topics and ingest group are this test's own, created on the broker."""
    tag = uuid4().hex[:12]
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
    ):
        if getattr(settings, name) is not None:
            env[f"CARE_{name.upper()}"] = str(getattr(settings, name))
    env["CARE_LOG_LEVEL"] = "info"
    return env


# ---------------------------------------------------------------- wire events


def ago(days: float = 0, hours: float = 0) -> str:
    return (datetime.now(UTC) - timedelta(days=days, hours=hours)).isoformat()


def wire(client_id: UUID, type_: str, occurred_at: str, **data: Any) -> dict[str, Any]:
    """A care event as a provider's service publishes it: ids, actor and client in the body."""
    return {
        "event_id": str(uuid4()),
        "type": type_,
        "client_id": str(client_id),
        "occurred_at": occurred_at,
        "actor": COUNSELOR,
        "purpose_of_use": "treatment",
        "data": data,
    }


def enrollment(client_id: UUID) -> dict[str, Any]:
    return wire(
        client_id,
        "ClientEnrolled",
        ago(days=30),
        program="outpatient",
        part2=True,
        given_name="Rowan",
        family_name="Testperson",
        birth_date="1990-01-01",
        phone="555-0100",
    )


def team(client_id: UUID) -> dict[str, Any]:
    return wire(client_id, "CareTeamMemberAssigned", ago(days=29), **_member())


def _member() -> dict[str, str]:
    return {"member_id": COUNSELOR["id"], "role": "counselor", "org": COUNSELOR["org"]}


def check_in(client_id: UUID, n: int = 0, *, note: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "mood": n % 11,
        "craving": (n * 3) % 11,
        "sleep_hours": 6.5,
        "used_since_last": False,
        "substances": [],
    }
    if note is not None:
        data["note"] = note
    return wire(client_id, "CheckInRecorded", ago(days=28, hours=-n / 10), **data)


def message(event: dict[str, Any], **headers: str) -> Message:
    """Key = client id, value = the JSON body, as DESIGN.md §7 asks of provider services."""
    key = str(event.get("client_id", "")).encode() or None
    return key, json.dumps(event).encode(), [(k, v.encode()) for k, v in headers.items()]


def poison(rng: random.Random, enrolled: list[UUID]) -> tuple[Message, str]:
    """One message ingest cannot apply, and the code it must be dead-lettered with."""
    client = rng.choice(enrolled)
    future = check_in(client)
    future["occurred_at"] = "2999-01-01T00:00:00+00:00"
    no_id = check_in(client)
    del no_id["event_id"]
    out_of_range = check_in(client, note="SECRET-NOTE must never reach a reason")
    out_of_range["data"]["mood"] = 42
    with_source = {**check_in(client), "source": {"topic": "x", "partition": 0, "offset": 1}}
    flag = wire(client, "RiskFlagRaised", "2026-01-01T00:00:00+00:00", flag_id=str(uuid4()))
    kinds: list[tuple[Message, str]] = [
        ((client.bytes, b"{not json", []), "malformed_json"),
        ((None, b"\xff\xfe\x00", []), "malformed_json"),
        ((None, b"[1, 2, 3]", []), "validation_error"),
        ((client.bytes, None, []), "validation_error"),  # a tombstone
        (message(wire(client, "CheckInSent", "2026-01-01T00:00:00+00:00")), "unknown_event_type"),
        (message(flag), "event_not_recordable"),
        (message(no_id), "validation_error"),
        (message(out_of_range), "validation_error"),
        (message(with_source), "validation_error"),
        (message(check_in(uuid4())), "client_not_enrolled"),
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
