"""Sustained Kafka ingest, durable and tracked: `carecircle worker ingest --processes N` at 1, 2
and 3 processes of one consumer group over a pre-filled topic of simulated care events, each
run into a fresh database; beside it, in the same run, the rate of consuming the same topic
and validating each message into a care event (no database): what any ingest must do.

The rate counts from the first tracked commit (process start and group join excluded) to the
moment the store tracks every partition's last offset. With `--projections`, a projections
worker follows along, and the time from the last tracked offset to the three projections at
the store's head is reported.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import orjson
from kafka import KafkaConsumer, TopicPartition

from consumers.ingest import tracking_name
from consumers.wire import Rejection, event_from_message
from demo.simulate import care_events
from services.bench.report import Figure, say
from services.settings import Settings
from services.wiring import Runtime, build_runtime, ensure_topics, migrate, producer
from services.wiring import projection_lag as lag_of

FreshDatabase = Callable[[], AbstractContextManager[str]]


@dataclass(frozen=True, slots=True)
class Topic:
    settings: Settings
    count: int
    partitions: int


def prefill(bootstrap: str, tag: str, clients: int, days: int, partitions: int) -> Topic:
    settings = Settings(
        kafka_bootstrap=bootstrap,
        kafka_inbound_topic=f"bench-{tag}.care.events.inbound",
        kafka_deadletter_topic=f"bench-{tag}.care.events.deadletter",
        kafka_events_topic=f"bench-{tag}.care.events",
        kafka_flags_topic=f"bench-{tag}.care.flags",
        kafka_topic_partitions=partitions,
        kafka_session_timeout_ms=6000,
    )
    ensure_topics(settings, bootstrap)
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days + 1)
    send = producer(bootstrap, client_id="bench-prefill")
    count = 0
    for event in care_events(clients=clients, days=days, seed=13, start=start):
        key = str(event["client_id"]).encode()
        send.send(settings.kafka_inbound_topic, key=key, value=orjson.dumps(event))
        count += 1
    send.flush(timeout=600)
    send.close()
    return Topic(settings, count, partitions)


def _partitions(consumer: KafkaConsumer, topic: str) -> list[TopicPartition]:
    return [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]


def baseline(bootstrap: str, topic: Topic, limit: int) -> float:
    """Messages/s of consuming the topic and validating each into a care event."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        max_poll_records=4000,
        fetch_max_bytes=64 * 1024 * 1024,
        max_partition_fetch_bytes=4 * 1024 * 1024,
    )
    name = topic.settings.kafka_inbound_topic
    parts = _partitions(consumer, name)
    consumer.assign(parts)
    for tp in parts:
        consumer.seek(tp, 0)
    done = rejected = 0
    started = time.perf_counter()
    while done < min(limit, topic.count):
        for tp, records in consumer.poll(timeout_ms=1000).items():
            for r in records:
                outcome = event_from_message(
                    r.value, topic=tp.topic, partition=tp.partition, offset=r.offset, key=r.key
                )
                rejected += isinstance(outcome, Rejection)
                done += 1
    seconds = time.perf_counter() - started
    consumer.close()
    return done / seconds


def _env(url: str, topic: Topic, group: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    s = topic.settings
    env.update(
        CARE_DATABASE_URL=url,
        CARE_KAFKA_BOOTSTRAP=str(s.kafka_bootstrap),
        CARE_KAFKA_INBOUND_TOPIC=s.kafka_inbound_topic,
        CARE_KAFKA_DEADLETTER_TOPIC=s.kafka_deadletter_topic,
        CARE_KAFKA_EVENTS_TOPIC=s.kafka_events_topic,
        CARE_KAFKA_FLAGS_TOPIC=s.kafka_flags_topic,
        CARE_KAFKA_TOPIC_PARTITIONS=str(topic.partitions),
        CARE_KAFKA_INGEST_GROUP=group,
        CARE_KAFKA_SESSION_TIMEOUT_MS="6000",
        CARE_LOG_LEVEL="warning",
    )
    return env


def _workers(env: dict[str, str], argv: list[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "services.cli.main", "worker", *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
    )


@dataclass(frozen=True, slots=True)
class IngestRun:
    rate: float
    caught_up_seconds: float | None


def ingest_run(
    fresh_database: FreshDatabase, topic: Topic, processes: int, *, projections: bool, tag: str
) -> IngestRun:
    """One run into a fresh database: messages/s tracked, and projection lag at the end."""
    with fresh_database() as url:
        runtime: Runtime = build_runtime(topic.settings, url)
        try:
            migrate(runtime)
            env = _env(url, topic, f"bench-{tag}")
            procs = [_workers(env, ["ingest", "--processes", str(processes)])]
            if projections:
                procs.append(_workers(env, ["projections"]))
            try:
                return _follow(runtime, topic, projections)
            finally:
                for p in procs:
                    p.terminate()
                for p in procs:
                    p.wait(timeout=60)
        finally:
            runtime.close()


def _follow(runtime: Runtime, topic: Topic, projections: bool) -> IngestRun:
    names = [tracking_name(topic.settings.kafka_inbound_topic, p) for p in range(topic.partitions)]

    def done() -> int:
        return sum((runtime.store.tracked(n) or -1) + 1 for n in names)

    deadline = time.monotonic() + 120
    while (first := done()) == 0:
        if time.monotonic() > deadline:
            raise RuntimeError("the ingest workers stored nothing in 120 s")
        time.sleep(0.02)
    started = time.perf_counter()
    while (now := done()) < topic.count:
        time.sleep(0.02)
    ended = time.perf_counter()
    rate = (now - first) / (ended - started)
    caught_up = None
    if projections:
        while lag_of(runtime) > 0:
            time.sleep(0.02)
        caught_up = time.perf_counter() - ended
    return IngestRun(rate, caught_up)


def measure(
    bootstrap: str,
    fresh_database: FreshDatabase,
    *,
    clients: int,
    days: int,
    runs: int,
    processes: tuple[int, ...],
    tag: str,
) -> list[Figure]:
    topic = prefill(bootstrap, tag, clients, days, partitions=6)
    say(f"ingest: topic pre-filled with {topic.count:,} simulated events, 6 partitions")
    base = [baseline(bootstrap, topic, 100_000) for _ in range(runs)]
    base_rate = sorted(base)[len(base) // 2]
    say(f"ingest: baseline consume + validate {base_rate:,.0f} messages/s")
    single = []
    for n in range(runs):
        run = ingest_run(fresh_database, topic, 1, projections=False, tag=f"{tag}-1p{n}")
        say(f"ingest: 1 process, run {n + 1}: {run.rate:,.0f} messages/s")
        single.append(run.rate)
    figures = [
        Figure(
            f"Kafka ingest, 1 process ({topic.count:,} messages)",
            "events/s",
            single,
            target=20_000,
            baseline=base_rate,
            baseline_label="consume + validate, no database",
        )
    ]
    for count in processes:
        run = ingest_run(fresh_database, topic, count, projections=True, tag=f"{tag}-{count}pp")
        say(
            f"ingest: {count} processes + projections worker: {run.rate:,.0f} messages/s, "
            f"projections at head {run.caught_up_seconds or 0:.1f} s after the end"
        )
        figures.append(
            Figure(
                f"Kafka ingest, {count} processes, projections worker beside",
                "events/s",
                [run.rate],
                target=20_000,
                baseline=sorted(single)[len(single) // 2],
                baseline_label="1 process, no projections",
                extra={"projections_caught_up_seconds": run.caught_up_seconds},
            )
        )
        figures.append(
            Figure(
                f"  projections at head after ingest end ({count} processes)",
                "s",
                [run.caught_up_seconds or 0.0],
                target=2.0,
                better="lower",
            )
        )
    return figures
