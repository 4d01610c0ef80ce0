"""`carecircle chaos`: the fault suite's long form, and the soak.

Against the real processes (services/cli/chaos_cluster.py: the API and the three workers, each
its own process, on an embedded PostgreSQL and a Tansu broker of their own) while the clinical
mix runs, each round injects, one after the other: kill -9 of the API and of each worker at a
random instant, a PostgreSQL restart, a lock on the event store held for seconds while a burst
of requests exhausts the API's pool, and a broker restart. After each fault the load pauses, the
system settles, and the checks run:

- every acknowledged event (HTTP 2xx; a Kafka offset the store tracks) is stored, exactly once
  (event ids are unique in the store; no stored check-in that the load never sent);
- every projection equals its rebuild (built from scratch beside it, compared row by row);
- the audit verifies (both chains, services/app/audit.py);
- `care.events` holds every event stored since the broker last started, in order per client.

The broker is memory-only: a restart loses what it held. What the system guarantees there is
what is checked: the HTTP path and the store lose nothing, the publisher resumes from its
checkpoint in PostgreSQL (events stored while the broker was away are published after), and
only messages the store tracked count as acknowledged over Kafka.

`--soak SECONDS` runs the load alone and reports the error rate, p50/p99 latency, each
process's memory at start and end, and the projections' lag over time.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg.sql import SQL, Identifier

from consumers.publish import checkpoint_name
from projections.engine import Target, drop_version, prepare_version, versions_of
from projections.runner import Runner
from services.cli.chaos_cluster import Cluster, Load, rss_mb
from services.settings import Settings
from services.wiring import (
    Runtime,
    build_runtime,
    keyed_projections,
    pool_of,
    projection_lag,
    slowest_projection,
    verify_audit,
)

FAULTS = (
    "kill api",
    "kill projections",
    "kill ingest",
    "kill publish",
    "restart postgres",
    "hold lock",
    "restart broker",
)


@dataclass
class Tally:
    """What a run did and found."""

    faults: list[str] = field(default_factory=list)
    acknowledged: int = 0
    acknowledged_kafka: int = 0
    stored: int = 0
    duplicated: int = 0
    lost: int = 0
    failures: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "faults_injected": len(self.faults),
            "faults": self.faults,
            "events_acknowledged": self.acknowledged,
            "of_them_over_kafka": self.acknowledged_kafka,
            "stored": self.stored,
            "duplicated": self.duplicated,
            "lost": self.lost,
            "failed_checks": self.failures,
        }


class Chaos:
    """One cluster, its load, the faults and the checks."""

    def __init__(self, cluster: Cluster, load: Load, *, seed: int = 11, out: Any = sys.stdout):
        self.cluster = cluster
        self.load = load
        self.rng = random.Random(seed)  # noqa: S311 - fault timing, not secrets
        self.tally = Tally()
        self.out = out
        self.kafka_epoch_start = 0  # kafka_sent index where the broker's current life began
        self.publish_from = 0  # stored positions after this must be on care.events

    def say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()

    def inject(self, fault: str) -> None:
        time.sleep(self.rng.uniform(0.5, 3.0))  # a random instant under load
        if fault.startswith("kill "):
            self.cluster.kill(fault.removeprefix("kill "))
        elif fault == "restart postgres":
            self.cluster.restart_postgres()
        elif fault == "hold lock":
            self._hold_lock(seconds=self.rng.uniform(3.0, 6.0))
        elif fault == "restart broker":
            self.cluster.restart_broker(while_down=self._broker_down)
        self.tally.faults.append(fault)
        self.say(f"fault: {fault}")

    def _hold_lock(self, seconds: float) -> None:
        """The event store locked for seconds while 60 extra requests pile onto the pool."""
        burst = [threading.Thread(target=self._burst_caller, daemon=True) for _ in range(60)]
        with psycopg.connect(self.cluster.url) as conn, conn.transaction():
            conn.execute("LOCK TABLE care_events IN EXCLUSIVE MODE")
            for thread in burst:
                thread.start()
            time.sleep(seconds)
        for thread in burst:
            thread.join(timeout=60)

    def _burst_caller(self) -> None:
        client = self.rng.choice(self.load.clients)
        with self.load._http() as http:
            self.load._check_in_http(http, client, random.Random())  # noqa: S311

    # --- checks -----------------------------------------------------------------------------------

    def check(self, after: str) -> None:
        self.load.pause()
        try:
            self.cluster.wait_ready()
            with _runtime(self.cluster.settings(), self.cluster.url) as runtime:
                self._settle(runtime)
                self._check_stored(runtime, after)
                self._check_projections(runtime, after)
                if not verify_audit(runtime).ok:
                    self.tally.failures.append(f"after {after}: audit verify failed")
                self._check_topic(runtime, after)
        finally:
            self.load.resume()

    def _broker_down(self) -> None:
        """Once the old broker is gone (its stop takes seconds, serving until then): what it
        acknowledged went with it; what is sent or stored from now on must reach the new one."""
        with self.load.ledger.lock:
            self.kafka_epoch_start = len(self.load.ledger.kafka_sent)
        with _runtime(self.cluster.settings(), self.cluster.url) as runtime:
            self.publish_from = runtime.store.head()

    def _settle(self, runtime: Runtime, timeout_s: float = 180.0) -> None:
        """Until the projections and the publisher reached the head and ingest has tracked every
        message sent since the broker started, unchanged for two seconds."""
        deadline = time.monotonic() + timeout_s
        quiet_since: float | None = None
        last: tuple[int, ...] = ()
        while time.monotonic() < deadline:
            state = self._progress(runtime)
            done = state[0] == state[1] == state[2] and state[3]
            if done and state == last:
                quiet_since = quiet_since or time.monotonic()
                if time.monotonic() - quiet_since >= 2.0:
                    return
            else:
                quiet_since = None
            last = state
            time.sleep(0.5)
        self.tally.failures.append(f"did not settle within {timeout_s:.0f} s: {last}")

    def _progress(self, runtime: Runtime) -> tuple[int, int, int, int]:
        head = runtime.store.head()
        projected = slowest_projection(runtime)
        published = runtime.store.tracked(_publish_upstream(runtime.settings)) or 0
        return head, projected, published, int(self._kafka_tracked(runtime))

    def _kafka_tracked(self, runtime: Runtime) -> bool:
        with self.load.ledger.lock:
            current = self.load.ledger.kafka_sent[self.kafka_epoch_start :]
        wanted: dict[int, int] = {}
        for partition, offset, _event in current:
            wanted[partition] = max(wanted.get(partition, -1), offset)
        topic = runtime.settings.kafka_inbound_topic
        return all(
            _offset(runtime.store.tracked(f"kafka:{topic}:{p}")) >= o for p, o in wanted.items()
        )

    def _check_stored(self, runtime: Runtime, after: str) -> None:
        ledger = self.load.ledger
        with ledger.lock:
            acked = dict(ledger.http_acked)
            kafka_all = list(ledger.kafka_sent)
            sent = {client: set(ids) for client, ids in ledger.sent_to.items()}
        topic = runtime.settings.kafka_inbound_topic
        with runtime.db.connection() as conn:
            rows = conn.execute(
                "SELECT event_id::text AS id, client_id::text AS client FROM care_event_index"
                " WHERE type = 'CheckInRecorded'"
            ).fetchall()
            tracked = {
                p: _offset(runtime.store.tracked(f"kafka:{topic}:{p}"))
                for p in range(runtime.settings.kafka_topic_partitions)
            }
        stored = {row["id"]: row["client"] for row in rows}
        kafka_acked = {
            event
            for i, (partition, offset, event) in enumerate(kafka_all)
            if (i >= self.kafka_epoch_start and offset <= tracked.get(partition, -1))
            or event in stored
        }
        everything = set(acked) | kafka_acked
        lost = [event for event in everything if event not in stored]
        duplicated = [
            event for event, client in stored.items() if event not in sent.get(client, set())
        ]
        self.tally.acknowledged = len(everything)
        self.tally.acknowledged_kafka = len(kafka_acked)
        self.tally.stored = len(stored)
        self.tally.lost = len(lost)
        self.tally.duplicated = len(duplicated)
        if lost or duplicated:
            self.tally.failures.append(
                f"after {after}: {len(lost)} acknowledged events lost, {len(duplicated)} duplicated"
            )

    def _check_projections(self, runtime: Runtime, after: str) -> None:
        pool = pool_of(runtime)
        for number, projection in enumerate(keyed_projections(runtime.settings)):
            scratch = 900 + number
            prepare_version(pool, projection, scratch)
            try:
                Runner(runtime.store, pool, _fixed([Target(projection, scratch)])).catch_up()
                with pool.connection() as conn:
                    live = versions_of(conn, projection.name).live
                    for base in projection.tables:
                        a, b = Identifier(f"{base}_v{live}"), Identifier(f"{base}_v{scratch}")
                        row = conn.execute(
                            SQL(
                                "SELECT count(*) AS n FROM ((SELECT * FROM {a} EXCEPT ALL"
                                " SELECT * FROM {b}) UNION ALL (SELECT * FROM {b} EXCEPT ALL"
                                " SELECT * FROM {a})) d"
                            ).format(a=a, b=b)
                        ).fetchone()
                        if row is None or row["n"]:
                            self.tally.failures.append(
                                f"after {after}: {base} differs from its rebuild"
                            )
            finally:
                drop_version(pool, projection, scratch)

    def _check_topic(self, runtime: Runtime, after: str) -> None:
        settings = runtime.settings
        messages = _read_topic(self.cluster.broker.bootstrap, settings.kafka_events_topic)
        seen: dict[str, list[int]] = {}
        ids: set[str] = set()
        for key, headers in messages:
            event = headers.get("event-id", "")
            if event in ids:
                continue  # at least once: a re-send after a crash
            ids.add(event)
            seen.setdefault(key, []).append(int(headers["position"]))
        disordered = [k for k, positions in seen.items() if positions != sorted(positions)]
        with runtime.db.connection() as conn:
            rows = conn.execute(
                "SELECT event_id::text AS id FROM care_event_index WHERE position > %s",
                (self.publish_from,),
            ).fetchall()
        missing = [row["id"] for row in rows if row["id"] not in ids]
        if disordered or missing:
            self.tally.failures.append(
                f"after {after}: care.events misses {len(missing)} events,"
                f" {len(disordered)} clients out of order"
            )


def _offset(tracked: int | None) -> int:
    """The last offset the store tracked; -1 for none (offset 0 is a real one)."""
    return -1 if tracked is None else tracked


def _fixed(targets: list[Target]) -> Callable[[], list[Target]]:
    return lambda: targets


def _publish_upstream(settings: Settings) -> str:
    return checkpoint_name(settings.kafka_events_topic)


def _read_topic(bootstrap: str, topic: str) -> list[tuple[str, dict[str, str]]]:
    """Every message of a topic: its key and headers (decoded)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=3000
    )
    try:
        parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        consumer.assign(parts)
        consumer.seek_to_beginning(*parts)
        end = consumer.end_offsets(parts)
        out: list[tuple[str, dict[str, str]]] = []
        while any(consumer.position(tp) < end[tp] for tp in parts):
            for batch in consumer.poll(timeout_ms=2000, max_records=5000).values():
                for record in batch:
                    headers = {k: v.decode() for k, v in record.headers or []}
                    out.append(((record.key or b"").decode(), headers))
        return out
    finally:
        consumer.close()


@contextmanager
def _runtime(settings: Settings, url: str) -> Iterator[Runtime]:
    runtime = build_runtime(settings, url)
    try:
        yield runtime
    finally:
        runtime.close()


# --- runs -----------------------------------------------------------------------------------------


def fault_run(
    base: Path,
    *,
    rounds: int,
    seed: int,
    faults: tuple[str, ...] = FAULTS,
    out: Any = sys.stdout,
) -> Tally:
    """`rounds` rounds of the faults, checked after each; the cluster stopped at the end."""
    cluster = Cluster(base)
    cluster.start()
    try:
        load = Load(cluster, seed=seed)
        chaos = Chaos(cluster, load, seed=seed, out=out)
        load.start()
        try:
            for number in range(rounds):
                order = list(faults)
                chaos.rng.shuffle(order)
                for fault in order:
                    chaos.inject(fault)
                    chaos.check(f"{fault} (round {number + 1})")
                    chaos.say(json.dumps(chaos.tally.to_dict()))
        finally:
            load.halt()
        chaos.check("the load stopped")
        return chaos.tally
    finally:
        cluster.stop()


@dataclass(frozen=True, slots=True)
class Soak:
    seconds: float
    requests: int
    errors: int
    p50_ms: float
    p99_ms: float
    memory_mb: dict[str, tuple[float, float]]
    lag: list[tuple[int, int]]  # (second, events behind)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seconds": self.seconds,
            "requests": self.requests,
            "error_rate": self.errors / max(1, self.requests),
            "p50_ms": round(self.p50_ms, 1),
            "p99_ms": round(self.p99_ms, 1),
            "memory_mb_start_end": {
                k: [round(a), round(b)] for k, (a, b) in self.memory_mb.items()
            },
            "lag_events_over_time": self.lag,
        }


def soak_run(base: Path, *, seconds: float, callers: int, seed: int) -> Soak:
    """The load alone for `seconds`: error rate, latency, memory, projection lag."""
    cluster = Cluster(base)
    cluster.start()
    try:
        load = Load(cluster, seed=seed, callers=callers, clients=40)
        memory_start = {role: rss_mb(pid) for role, pid in cluster.pids().items()}
        lag: list[tuple[int, int]] = []
        started = time.monotonic()
        load.start()
        try:
            with _runtime(cluster.settings(), cluster.url) as runtime:
                while (elapsed := time.monotonic() - started) < seconds:
                    lag.append((round(elapsed), projection_lag(runtime)))
                    time.sleep(min(10.0, max(0.0, seconds - elapsed)))
        finally:
            load.halt()
        memory = {role: (memory_start[role], rss_mb(pid)) for role, pid in cluster.pids().items()}
        latencies = sorted(s for _when, s in load.ledger.latencies)

        def at(q: float) -> float:
            return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

        return Soak(
            seconds, load.ledger.requests, load.ledger.errors, at(0.5), at(0.99), memory, lag
        )
    finally:
        cluster.stop()


def cmd_chaos(args: argparse.Namespace, settings: Settings) -> int:
    for noisy in ("httpx", "kafka"):  # the load's own clients: their chatter is not the report
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    base = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="carecircle-chaos-"))
    if args.soak:
        soak = soak_run(base, seconds=args.soak, callers=args.callers, seed=args.seed)
        sys.stdout.write(json.dumps(soak.to_dict(), indent=2) + "\n")
        return 0
    faults = tuple(args.fault) if args.fault else FAULTS
    tally = fault_run(base, rounds=args.rounds, seed=args.seed, faults=faults)
    sys.stdout.write(json.dumps(tally.to_dict(), indent=2) + "\n")
    return 0 if not tally.failures else 1


def add_chaos_command(sub: Any, _run: Callable[..., int] | None = None) -> None:
    chaos = sub.add_parser(
        "chaos", help="the fault suite against real processes (own PostgreSQL and broker)"
    )
    chaos.add_argument("--rounds", type=int, default=3, help="rounds of every fault")
    chaos.add_argument(
        "--fault", action="append", choices=FAULTS, help="only these faults (repeatable)"
    )
    chaos.add_argument("--soak", type=float, default=None, metavar="SECONDS", help="load only")
    chaos.add_argument(
        "--callers", type=int, default=4, help="concurrent HTTP writers of the simulated load"
    )
    chaos.add_argument("--seed", type=int, default=11, help="seed of the faults and the load")
    chaos.add_argument("--dir", default=None, help="where the cluster lives (default: a temp dir)")
    chaos.set_defaults(run=cmd_chaos)
