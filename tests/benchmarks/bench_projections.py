"""Catch-up rate of the three core projections together (caseload, audit trail, early warning)
over at least 1,000,000 simulated events, beside the `eventsourcing` library's default
`ProjectionRunner` (one event per transaction) driving the same three projections over the
first 20,000 of the same events in the same run; then the time from an event's commit to its
flag being visible, p50 and p99, with the projection worker following live.

Run: `.venv/bin/python tests/benchmarks/bench_projections.py [--events 1000000]`
(CARE_DATABASE_URL or an embedded PostgreSQL; a fresh database is created and dropped).
The events come from demo/simulate.py through the command handler, a batch per
transaction; recording them takes minutes and is reported but not the point.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import secrets
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking, TrackingRecorder
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.projection import Projection as LibraryProjection
from eventsourcing.projection import ProjectionRunner
from psycopg.conninfo import conninfo_to_dict

from demo.simulate import care_events, command_for
from domain.catalogue import CareEvent, parse_event
from domain.commands import RecordCareEvent
from infra.embedded import create_database, database_url_or_embedded, drop_database
from projections import CORE
from projections.engine import Stored, Target, live_targets, prepare_version
from projections.runner import Runner
from services.app.read_side import ProjectionWorker
from services.settings import Settings
from services.wiring import (
    Runtime,
    build_runtime,
    evaluator,
    live_runner,
    migrate,
    pool_of,
    tune_garbage_collector,
)

BATCH = 2000


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


# --- the events -----------------------------------------------------------------------------------


def record_events(runtime: Runtime, events: int) -> tuple[int, float]:
    """At least `events` simulated events through the command handler; (stored, seconds)."""
    days = 120
    clients = max(40, int(events / (1.5 * days)))  # ~1.7 events per client-day
    start = (datetime.now(UTC) - timedelta(days=days + 1)).replace(microsecond=0)
    stream = care_events(clients=clients, days=days, seed=20261127, start=start)
    stored = 0
    started = time.perf_counter()
    while stored < events:
        commands = [command_for(p) for p in itertools.islice(stream, BATCH)]
        if not commands:
            break
        recorded, _refused = runtime.handler.record_batch(commands)
        stored += len(recorded)
        if stored // 100_000 != (stored - len(recorded)) // 100_000:
            say(f"  recorded {stored:,} events ({time.perf_counter() - started:.0f} s)")
    return stored, time.perf_counter() - started


# --- the library's runner -------------------------------------------------------------------------


class _StoredMapper:
    """Turns the library's notifications of `care_events` into our decoded events."""

    def __init__(self, runtime: Runtime) -> None:
        self.store = runtime.store

    def to_domain_event(self, stored: Any) -> Stored:
        from domain.recorded import Recorded

        client_id = stored.originator_id
        client_id = client_id if isinstance(client_id, UUID) else UUID(client_id)
        event, recorded_at = self.store.decode(client_id, stored.state)
        recorded = Recorded(event, stored.originator_version, stored.id, recorded_at)
        return Stored(recorded, stored.topic, stored.state)


_RUNTIME: Runtime | None = None
_TARGETS: list[Target] = []


class CareApp(Application):  # type: ignore[type-arg]
    """The library's view of our store: same `care_events` table, our payload codec."""

    name = "care"

    def construct_mapper(self) -> Any:
        assert _RUNTIME is not None
        return _StoredMapper(_RUNTIME)


class CoreView(PostgresTrackingRecorder):
    """The same three projections, applied one event per transaction with the tracking row."""

    def apply(self, item: Stored, tracking: Tracking) -> None:
        with self.datastore.transaction(commit=True) as curs:
            self._insert_tracking(curs, tracking)
            for target in _TARGETS:
                target.projection.apply(curs, target.tables, [item])


class CoreProjection(LibraryProjection[TrackingRecorder]):
    name = "benchcore"

    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        view = self.view
        assert isinstance(view, CoreView)
        view.apply(domain_event, tracking)


def library_rate(runtime: Runtime, url: str, sample: int) -> float:
    """Events/s of eventsourcing's ProjectionRunner over the first `sample` events."""
    global _RUNTIME
    _RUNTIME = runtime
    pool = pool_of(runtime)
    for projection in CORE:
        version = 90  # tables of their own, beside the live ones
        prepare_version(pool, projection, version)
        _TARGETS.append(Target(projection, version))
    p = conninfo_to_dict(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(p.get("dbname")),
        "POSTGRES_HOST": str(p.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(p.get("port", "5432")),
        "POSTGRES_USER": str(p.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(p.get("password", "")),
        "CREATE_TABLE": "y",
    }
    last = runtime.store.read_stored(after=0, limit=sample)[-1][0].position
    started = time.perf_counter()
    with ProjectionRunner(
        application_class=CareApp, projection_class=CoreProjection, view_class=CoreView, env=env
    ) as runner:
        runner.wait(last, timeout=3600)
        seconds = time.perf_counter() - started
    return sample / seconds


# --- ours -----------------------------------------------------------------------------------------


def our_rate(runtime: Runtime, stored: int, batch_size: int) -> tuple[float, float]:
    """Catch up the live versions of the three projections from 0; (events/s, seconds)."""
    pool = pool_of(runtime)
    runner = Runner(runtime.store, pool, lambda: live_targets(pool, CORE), batch_size=batch_size)
    started = time.perf_counter()
    done = 0
    while True:
        step = runner.step()
        done += step.count
        if done // 200_000 != (done - step.count) // 200_000:
            elapsed = time.perf_counter() - started
            say(f"  caught up {done:,} events ({done / elapsed:,.0f}/s)")
        if step.caught_up:
            break
    seconds = time.perf_counter() - started
    return done / seconds, seconds


# --- latency --------------------------------------------------------------------------------------


COUNSELOR = {"id": "bench-counselor", "role": "counselor", "org": "bench-clinic"}
ENROLLMENT = {
    "program": "outpatient",
    "part2": False,
    "given_name": "Bench",
    "family_name": "Client",
    "birth_date": "1990-01-01",
}
MEMBER = {"member_id": "bench-counselor", "role": "counselor", "org": "bench-clinic"}


def _event(client_id: UUID, kind: str, at: datetime, **data: Any) -> CareEvent:
    return parse_event(
        {
            "event_id": str(uuid4()),
            "type": kind,
            "client_id": str(client_id),
            "occurred_at": at.isoformat(),
            "actor": COUNSELOR,
            "data": data,
        }
    )


def flag_latency(runtime: Runtime, samples: int, rate: float) -> list[float]:
    """ms from a positive PHQ-9's commit to its SUI-1 flag in the flags read model."""
    stop = threading.Event()
    worker = ProjectionWorker(live_runner(runtime), evaluator(runtime), poll_seconds=0.5)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    pool = pool_of(runtime)
    try:
        _wait_quiet(runtime)
        clients = [uuid4() for _ in range(samples)]
        for client_id in clients:
            now = runtime.clock()
            for event in (
                _event(client_id, "ClientEnrolled", now, **ENROLLMENT),
                _event(client_id, "CareTeamMemberAssigned", now, **MEMBER),
            ):
                runtime.handler.record(RecordCareEvent(event, now=now))
        _wait_quiet(runtime)
        committed: dict[UUID, float] = {}
        visible: dict[UUID, float] = {}
        polling = threading.Event()

        def poll() -> None:
            with pool.connection() as conn:
                while not polling.is_set() or len(visible) < len(committed):
                    pending = [c for c in committed if c not in visible]
                    if pending:
                        rows = conn.execute(
                            "SELECT client_id FROM flags_v1 WHERE client_id = ANY(%s)",
                            (pending,),
                        ).fetchall()
                        seen_at = time.perf_counter()
                        for row in rows:
                            visible.setdefault(row["client_id"], seen_at)
                    time.sleep(0.002)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        for client_id in clients:
            now = runtime.clock()
            event = _event(
                client_id, "AssessmentRecorded", now, instrument="PHQ-9", answers=[0] * 8 + [1]
            )
            runtime.handler.record(RecordCareEvent(event, now=now))
            committed[client_id] = time.perf_counter()
            time.sleep(1 / rate)
        polling.set()
        poller.join(timeout=120)
        return sorted((visible[c] - committed[c]) * 1000 for c in clients if c in visible)
    finally:
        stop.set()
        thread.join(timeout=30)


def _wait_quiet(runtime: Runtime) -> None:
    """Until every live projection is at the head and the head stopped moving for a second."""
    pool = pool_of(runtime)
    quiet_since = None
    while True:
        head = runtime.store.head()
        with pool.connection() as conn:
            positions = {
                row["position"]
                for row in conn.execute(
                    "SELECT p.position FROM projection_positions p JOIN projection_versions v"
                    " ON v.name = p.name AND v.live = p.version"
                ).fetchall()
            }
        if positions == {head}:
            quiet_since = quiet_since or (time.monotonic(), head)
            if quiet_since[1] != head:
                quiet_since = (time.monotonic(), head)
            elif time.monotonic() - quiet_since[0] > 1.0:
                return
        else:
            quiet_since = None
        time.sleep(0.1)


# --- main -----------------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    with (
        tempfile.TemporaryDirectory() as tmp,
        database_url_or_embedded(pgdata=Path(tmp) / "pgdata") as server,
    ):
        name = f"carecircle_bench_{secrets.token_hex(6)}"
        url = create_database(server, name)
        try:
            yield url
        finally:
            with contextlib.suppress(Exception):
                drop_database(server, name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--baseline-events", type=int, default=20_000)
    parser.add_argument("--batch-size", type=int, default=BATCH)
    parser.add_argument("--latency-samples", type=int, default=200)
    parser.add_argument("--latency-rate", type=float, default=20.0, help="events/s")
    args = parser.parse_args()
    tune_garbage_collector()  # as `carecircle worker projections` does

    with fresh_database() as url:
        runtime = build_runtime(Settings(database_url=url), url)
        try:
            migrate(runtime)
            say(f"encryption at rest: {runtime.settings.encrypt_at_rest}")
            stored, seconds = record_events(runtime, args.events)
            say(f"recorded {stored:,} events in {seconds:.0f} s ({stored / seconds:,.0f}/s)")

            baseline = library_rate(runtime, url, args.baseline_events)
            say(
                f"library ProjectionRunner, one event per transaction, three projections, "
                f"first {args.baseline_events:,} events: {baseline:,.0f} events/s"
            )
            rate, took = our_rate(runtime, stored, args.batch_size)
            say(
                f"batched runner, {args.batch_size} events per transaction, three projections, "
                f"{stored:,} events: {rate:,.0f} events/s in {took:.0f} s "
                f"({rate / baseline:.1f}x the library's runner)"
            )
            latencies = flag_latency(runtime, args.latency_samples, args.latency_rate)
            p50 = statistics.median(latencies)
            p99 = latencies[min(len(latencies) - 1, round(0.99 * (len(latencies) - 1)))]
            say(
                f"event committed -> flag visible ({len(latencies)} PHQ-9 item 9 positives at "
                f"{args.latency_rate:.0f}/s, worker following live): "
                f"p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {latencies[-1]:.0f} ms"
            )
        finally:
            runtime.close()


if __name__ == "__main__":
    main()
