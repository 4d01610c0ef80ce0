"""Sustained Kafka ingest, durable and tracked, from a pre-filled topic of at least 200,000
simulated care events; beside it, in the same run, the rate of one transaction per message
(the same ingest with one message per poll) on a smaller sample, since at that rate 200,000
messages would take many minutes.

Last, the same volume through `carecircle worker ingest` in several processes of one group
(`--processes`, default 2), to show what scaling by partitions gives on this machine.

Run: `.venv/bin/python tests/benchmarks/bench_ingest.py [--clients 3000 --days 30]`
(CARE_DATABASE_URL or an embedded PostgreSQL, CARE_KAFKA_BOOTSTRAP or a Tansu broker; a fresh
database and fresh topics each run). Prints figures; asserts nothing about time.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from kafka import KafkaProducer

from consumers.backoff import Backoff
from consumers.deadletter import DeadLetterProducer
from consumers.ingest import Ingest, tracking_name
from demo.simulate import care_events
from infra.embedded import (
    create_database,
    create_topics,
    database_url_or_embedded,
    drop_database,
    kafka_bootstrap_or_tansu,
)
from services.adapters.kafka import TRANSIENT, ingest_consumer, reliable_producer
from services.adapters.logging import configure_logging
from services.app.relay import HandlerRecord
from services.settings import Settings
from services.wiring import Runtime, build_runtime, migrate, tune_garbage_collector


@dataclass
class Timings:
    """An IngestMetrics that keeps when each batch ended and how big it was."""

    batches: list[tuple[float, int, int, float]] = field(default_factory=list)
    dead: int = 0

    def batch(self, *, messages: int, stored: int, seconds: float) -> None:
        self.batches.append((time.perf_counter(), messages, stored, seconds))

    def dead_lettered(self, code: str) -> None:
        self.dead += 1

    def lag(self, topic: str, partition: int, lag: int) -> None:
        return None

    def retried(self, error_type: str) -> None:
        return None


def prefill(bootstrap: str, topic: str, clients: int, days: int, seed: int) -> tuple[int, float]:
    """Simulated events (valid per-client order) keyed by client; (count, seconds to produce)."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days + 1)
    messages = [
        (str(e["client_id"]).encode(), json.dumps(e).encode())
        for e in care_events(clients=clients, days=days, seed=seed, start=start)
    ]
    producer = KafkaProducer(
        bootstrap_servers=bootstrap,
        acks="all",
        linger_ms=20,
        batch_size=1024 * 1024,
        max_request_size=8 * 1024 * 1024,
    )
    started = time.perf_counter()
    for key, value in messages:
        producer.send(topic, key=key, value=value)
    producer.flush(timeout=600)
    seconds = time.perf_counter() - started
    producer.close()
    return len(messages), seconds


def run_until_tracked(runtime: Runtime, bootstrap: str, ends: dict[int, int]) -> Timings:
    """Ingest in a thread until the store tracks every partition's last offset."""
    settings = runtime.settings
    timings = Timings()
    consumer = ingest_consumer(settings, bootstrap)
    producer = reliable_producer(bootstrap, client_id="bench-deadletter")
    ingest = Ingest(
        consumer,
        topic=settings.kafka_inbound_topic,
        record=HandlerRecord(runtime.handler, runtime.store),
        dead_letters=DeadLetterProducer(producer, settings.kafka_deadletter_topic),
        clock=runtime.clock,
        transient=TRANSIENT,
        metrics=timings,
        backoff=Backoff(),
    )
    stop = threading.Event()
    thread = threading.Thread(target=ingest.run, args=(stop,), daemon=True)
    thread.start()
    names = {p: tracking_name(settings.kafka_inbound_topic, p) for p in ends}
    while True:
        tracked = {p: runtime.store.tracked(name) for p, name in names.items()}
        if all(t is not None and t >= ends[p] for p, t in tracked.items()):
            break
        time.sleep(0.2)
    stop.set()
    thread.join(timeout=60)
    consumer.close(autocommit=False)
    producer.close()
    return timings


def end_offsets(bootstrap: str, topic: str, count: int) -> dict[int, int]:
    """The last offset of each partition, read back through a plain consumer."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
    consumer.assign(parts)
    for tp in parts:
        consumer.seek(tp, 0)
    while any(consumer.highwater(tp) is None for tp in parts):
        consumer.poll(timeout_ms=200, max_records=1)
    ends = {tp.partition: consumer.highwater(tp) - 1 for tp in parts}
    consumer.close()
    assert sum(e + 1 for e in ends.values()) == count, "the topic holds what was produced"
    return {p: e for p, e in ends.items() if e >= 0}


@contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    name = f"carecircle_bench_ingest_{secrets.token_hex(6)}"
    url = create_database(server_url, name)
    try:
        yield url
    finally:
        drop_database(server_url, name)


def settings_for(url: str, bootstrap: str, tag: str, **overrides: object) -> Settings:
    return Settings(
        database_url=url,
        kafka_bootstrap=bootstrap,
        kafka_inbound_topic=f"bench-{tag}.care.events.inbound",
        kafka_deadletter_topic=f"bench-{tag}.care.events.deadletter",
        kafka_ingest_group=f"bench-{tag}",
        kafka_session_timeout_ms=6000,
        **overrides,  # type: ignore[arg-type]
    )


def describe(label: str, count: int, timings: Timings) -> float:
    """Print the sustained rate (after the first batch, which includes joining the group)."""
    ends = [b[0] for b in timings.batches]
    first_end = ends[0]
    after_first = sum(b[1] for b in timings.batches[1:])
    stored_after_first = sum(b[2] for b in timings.batches[1:])
    seconds = ends[-1] - first_end
    rate = after_first / seconds if seconds > 0 else float("nan")
    durations = sorted(b[3] for b in timings.batches)
    p99 = durations[min(len(durations) - 1, int(len(durations) * 0.99))]
    print(f"{label}:")
    print(f"  messages ingested              {count:>10,}")
    print(f"  events stored                  {sum(b[2] for b in timings.batches):>10,}")
    print(f"  dead letters                   {timings.dead:>10,}")
    print(f"  batches                        {len(timings.batches):>10,}")
    print(
        f"  mean messages per batch        {statistics.mean(b[1] for b in timings.batches):>10,.0f}"
    )
    p50 = statistics.median(durations)
    print(f"  batch time p50 / p99           {p50 * 1000:>7,.1f} ms / {p99 * 1000:,.1f} ms")
    print(f"  sustained (after 1st batch)    {rate:>10,.0f} messages/s")
    print(f"  sustained stored events        {stored_after_first / seconds:>10,.0f} events/s")
    return rate


def run_processes(settings: Settings, store_runtime: Runtime, processes: int, count: int) -> float:
    """`carecircle worker ingest` in `processes` processes of one group; sustained messages/s
    from the first tracked progress to the end (process start and group join excluded)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    for name in (
        "database_url",
        "kafka_bootstrap",
        "kafka_inbound_topic",
        "kafka_deadletter_topic",
        "kafka_ingest_group",
        "kafka_session_timeout_ms",
    ):
        env[f"CARE_{name.upper()}"] = str(getattr(settings, name))
    env["CARE_LOG_LEVEL"] = "warning"
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", "worker", "ingest"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
        )
        for _ in range(processes)
    ]
    names = [tracking_name(settings.kafka_inbound_topic, p) for p in range(64)]

    def done() -> int:
        return sum((store_runtime.store.tracked(n) or -1) + 1 for n in names)

    try:
        while (first := done()) == 0:
            time.sleep(0.05)
        started = time.perf_counter()
        while (now := done()) < count:
            time.sleep(0.1)
        seconds = time.perf_counter() - started
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=60)
    rate = (now - first) / seconds
    print(f"{processes} ingest processes in one group (subprocesses, {count:,} messages):")
    print(f"  sustained (after first commit) {rate:>10,.0f} messages/s")
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=3000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--sample-clients", type=int, default=60)
    parser.add_argument("--partitions", type=int, default=6)
    parser.add_argument("--processes", type=int, default=2, help="0: skip the multi-process run")
    args = parser.parse_args()
    configure_logging("warning", cache=False)
    tune_garbage_collector()  # as `carecircle worker ingest` does, so both runs compare alike
    workdir = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    with (
        database_url_or_embedded(pgdata=workdir / "pgdata") as server_url,
        kafka_bootstrap_or_tansu(data_dir=workdir / "tansu") as bootstrap,
        fresh_database(server_url) as url,
    ):
        tag = secrets.token_hex(4)
        big = settings_for(url, bootstrap, f"{tag}-batch")
        one = settings_for(url, bootstrap, f"{tag}-single", kafka_max_poll_records=1)
        for s in (big, one):
            create_topics(
                bootstrap, [s.kafka_inbound_topic, s.kafka_deadletter_topic], args.partitions
            )
        started = time.perf_counter()
        count, produce_s = prefill(bootstrap, big.kafka_inbound_topic, args.clients, args.days, 1)
        print(
            f"pre-filled {count:,} events in {time.perf_counter() - started:.1f} s "
            f"(produce {count / produce_s:,.0f}/s), {args.partitions} partitions"
        )
        sample, _ = prefill(bootstrap, one.kafka_inbound_topic, args.sample_clients, args.days, 2)
        ends_big = end_offsets(bootstrap, big.kafka_inbound_topic, count)
        ends_one = end_offsets(bootstrap, one.kafka_inbound_topic, sample)

        runtime = build_runtime(big, url)
        migrate(runtime)
        batched = describe(
            f"batched ingest (max_poll_records={big.kafka_max_poll_records})",
            count,
            run_until_tracked(runtime, bootstrap, ends_big),
        )
        runtime.close()
        runtime = build_runtime(one, url)
        single = describe(
            f"one transaction per message (max_poll_records=1, sample of {sample:,})",
            sample,
            run_until_tracked(runtime, bootstrap, ends_one),
        )
        runtime.close()
        print(f"ratio batched / one per message: {batched / single:,.1f}x")
        if args.processes:
            many = settings_for(url, bootstrap, f"{tag}-group")
            create_topics(
                bootstrap, [many.kafka_inbound_topic, many.kafka_deadletter_topic], args.partitions
            )
            more, _ = prefill(bootstrap, many.kafka_inbound_topic, args.clients, args.days, 3)
            runtime = build_runtime(many, url)
            parallel = run_processes(many, runtime, args.processes, more)
            runtime.close()
            print(f"ratio {args.processes} processes / 1 process: {parallel / batched:,.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
