"""The measures on a store that already holds history: a bulk fill of simulated care events
through the command path, the three core projections catching up over it (beside the plain
store read in the same run), the time from a commit to its flag, and how a client's load time
grows with its history."""

from __future__ import annotations

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from psycopg.sql import SQL

from demo.simulate import care_events, command_for
from domain.catalogue import CareEvent, parse_event
from domain.commands import RecordCareEvent
from projections.engine import live_targets, prepare_version
from projections.upkeep import maintain
from services.app.read_side import ProjectionWorker
from services.bench.report import Figure, say
from services.wiring import (
    Runtime,
    evaluator,
    keyed_projections,
    live_runner,
    pool_of,
    projection_lag,
    read_models,
)

FILL_BATCH = 5000
DAYS = 120


def fill(runtime: Runtime, events: int) -> tuple[int, float]:
    """At least `events` simulated events (about 1.5 per client-day over 120 days) through the
    command handler in batches of 5,000: the events the command path makes, written in bulk."""
    clients = max(40, int(events / (1.5 * DAYS)))
    start = (datetime.now(UTC) - timedelta(days=DAYS + 1)).replace(microsecond=0)
    stream = care_events(clients=clients, days=DAYS, seed=20261127, start=start)
    stored = 0
    started = time.perf_counter()
    while stored < events:
        commands = [command_for(p) for p in itertools.islice(stream, FILL_BATCH)]
        if not commands:
            break
        recorded, _refused = runtime.handler.record_batch(commands)
        stored += len(recorded)
        if stored // 100_000 != (stored - len(recorded)) // 100_000:
            say(f"  filled {stored:,} events ({time.perf_counter() - started:.0f} s)")
    return stored, time.perf_counter() - started


def analyze_database(runtime: Runtime) -> None:
    """What autovacuum would do by now to every table (projections/upkeep.py: vacuum the ones
    whose dead row versions passed its threshold, analyze the changed ones): the bench fills a
    fresh database in minutes, and a server may run without autovacuum (this project's CI
    server does), where no table would ever have statistics and every plan would be a guess."""
    with runtime.db.connection() as conn:
        autovacuum = conn.execute("SHOW autovacuum").fetchone()
        names = [
            row["name"]
            for row in conn.execute(
                "SELECT quote_ident(schemaname) || '.' || quote_ident(relname) AS name"
                " FROM pg_stat_user_tables"
            ).fetchall()
        ]
    time.sleep(1.0)  # PostgreSQL publishes a backend's row counts at most once a second
    started = time.perf_counter()
    done = maintain(runtime.db, [SQL(name) for name in names])
    vacuumed = sum(1 for upkeep in done.values() if upkeep == "vacuum")
    setting = "off" if autovacuum is None else autovacuum["autovacuum"]
    say(
        f"  kept the database as autovacuum would in {time.perf_counter() - started:.1f} s"
        f" ({vacuumed} tables vacuumed, {len(done) - vacuumed} analyzed; autovacuum {setting})"
    )


def store_read_rate(runtime: Runtime, events: int) -> float:
    """Events/s of reading the store in pages of 2,000 (decrypt and validate each)."""
    started = time.perf_counter()
    count, after = 0, 0
    while count < events and (page := runtime.store.read(after=after, limit=2000)):
        count += len(page)
        after = page[-1].position
    return count / (time.perf_counter() - started)


def catch_up(runtime: Runtime, segment: int) -> list[tuple[int, float]]:
    """The three live projections from position 0 to the head; (events, events/s) per segment."""
    runner = live_runner(runtime)
    # a segment holds whole transactions: at most one segment's events in each
    runner.backlog_batch_size = min(runner.backlog_batch_size, max(runner.batch_size, segment))
    runner.backlog_round = min(runner.backlog_round, max(1, segment // runner.backlog_batch_size))
    segments: list[tuple[int, float]] = []
    done = in_segment = 0
    started = time.perf_counter()
    while True:
        step = runner.step()
        done += step.count
        in_segment += step.count
        if in_segment >= segment or (step.caught_up and in_segment):
            now = time.perf_counter()
            segments.append((in_segment, in_segment / (now - started)))
            say(f"  caught up {done:,} events ({segments[-1][1]:,.0f}/s in this segment)")
            started, in_segment = now, 0
        if step.caught_up:
            return segments


COUNSELOR = {"id": "bench-counselor", "role": "counselor", "org": "bench-clinic"}
ENROLLMENT = {
    "program": "outpatient",
    "part2": False,
    "given_name": "Bench",
    "family_name": "Client",
    "birth_date": "1990-01-01",
}
MEMBER = {"member_id": "bench-counselor", "role": "counselor", "org": "bench-clinic"}


def event(client_id: UUID, kind: str, at: datetime, **data: Any) -> CareEvent:
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


def enroll(runtime: Runtime, client_id: UUID, check_ins: int = 0) -> None:
    """A client of bench-counselor with `check_ins` check-ins, recorded in batches."""
    now = runtime.clock()
    first = [
        event(client_id, "ClientEnrolled", now - timedelta(days=400), **ENROLLMENT),
        event(client_id, "CareTeamMemberAssigned", now - timedelta(days=400), **MEMBER),
    ]
    runtime.handler.record_batch([RecordCareEvent(e, now=now) for e in first])
    for chunk in range(0, check_ins, 2000):
        commands = [
            RecordCareEvent(
                event(
                    client_id,
                    "CheckInRecorded",
                    now - timedelta(days=399) + timedelta(minutes=50 * (chunk + i)),
                    mood=6,
                    craving=3,
                    sleep_hours=7,
                    used_since_last=False,
                ),
                now=now,
            )
            for i in range(min(2000, check_ins - chunk))
        ]
        runtime.handler.record_batch(commands)


def wait_quiet(runtime: Runtime) -> None:
    """Until every live projection is at the head and the head stood still for a second."""
    quiet_since: tuple[float, int] | None = None
    while True:
        head = runtime.store.head()
        if projection_lag(runtime) == 0:
            if quiet_since is None or quiet_since[1] != head:
                quiet_since = (time.monotonic(), head)
            elif time.monotonic() - quiet_since[0] > 1.0:
                return
        else:
            quiet_since = None
        time.sleep(0.05)


def flag_latency(runtime: Runtime, samples: int, rate: float) -> tuple[list[float], list[float]]:
    """ms from a positive PHQ-9's commit to its SUI-1 flag in the flags read model, with the
    projections worker following live; beside it, each single-event commit's own ms."""
    stop = threading.Event()
    worker = ProjectionWorker(live_runner(runtime), evaluator(runtime), poll_seconds=0.5)
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    reads = read_models(runtime)
    try:
        wait_quiet(runtime)
        clients = [uuid4() for _ in range(samples)]
        for client_id in clients:
            enroll(runtime, client_id)
        wait_quiet(runtime)
        committed: dict[UUID, float] = {}
        commits: list[float] = []
        visible: dict[UUID, float] = {}
        polling = threading.Event()

        def poll() -> None:
            with reads.reading(["early_warning"]) as (conn, tables):
                query = SQL("SELECT client_id FROM {flags} WHERE client_id = ANY(%s)").format(
                    **tables["early_warning"]
                )
                while not polling.is_set() or len(visible) < len(committed):
                    pending = [c for c in committed if c not in visible]
                    if pending:
                        rows = conn.execute(query, (pending,)).fetchall()
                        seen_at = time.perf_counter()
                        for row in rows:
                            visible.setdefault(row["client_id"], seen_at)
                    time.sleep(0.002)

        poller = threading.Thread(target=poll, daemon=True)
        poller.start()
        for client_id in clients:
            now = runtime.clock()
            phq9 = event(
                client_id, "AssessmentRecorded", now, instrument="PHQ-9", answers=[0] * 8 + [1]
            )
            t0 = time.perf_counter()
            runtime.handler.record(RecordCareEvent(phq9, now=now))
            committed[client_id] = time.perf_counter()
            commits.append((committed[client_id] - t0) * 1000)
            time.sleep(1 / rate)
        polling.set()
        poller.join(timeout=120)
        latencies = sorted((visible[c] - committed[c]) * 1000 for c in clients if c in visible)
        return latencies, sorted(commits)
    finally:
        stop.set()
        thread.join(timeout=30)


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] if ordered else 0.0


def smaller_store_rates(runtime: Runtime, events: int, runs: int = 3) -> tuple[int, list[float]]:
    """(events, events/s of each run) of the three projections catching up a freshly filled
    store of `events` events, `runs` times from fresh tables: the same simulation at a tenth of
    the clients, the smaller store that the larger one's overall catch-up rate is held against
    (one run of half a minute moved by a third from one bench run to the next)."""
    stored, _seconds = fill(runtime, events)
    analyze_database(runtime)
    pool = pool_of(runtime)
    rates = []
    for run in range(runs):
        if run:
            for target in live_targets(pool, keyed_projections(runtime.settings)):
                prepare_version(pool, target.projection, target.version)
        started = time.perf_counter()
        done = sum(count for count, _rate in catch_up(runtime, max(events, 1)))
        rates.append(done / (time.perf_counter() - started))
    return stored, rates


def projection_figures(
    runtime: Runtime, stored: int, segment: int, small: int, smaller: tuple[int, list[float]]
) -> list[Figure]:
    """Catch-up over the whole store by segments, beside the plain store read of the first
    `small` events measured three times in the same run; the whole pass's rate against the
    `smaller` store's (its events and the rates of its runs, measured before this store was
    filled; the median of them)."""
    reads = [store_read_rate(runtime, small) for _ in range(3)]
    base = sorted(reads)[1]
    say(f"projections: store read + decrypt + validate {base:,.0f} events/s")
    started = time.perf_counter()
    segments = catch_up(runtime, segment)
    overall = sum(count for count, _rate in segments) / (time.perf_counter() - started)
    rates = [rate for _count, rate in segments]
    full = [rate for count, rate in segments if count >= segment // 2] or rates
    first, last = full[0], full[-1]
    smaller_events, smaller_rates = smaller
    smaller_rate = sorted(smaller_rates)[len(smaller_rates) // 2]
    return [
        Figure(
            f"projection catch-up, three core projections, {stored:,} events "
            f"(per {segment:,}-event segment)",
            "events/s",
            full,
            target=25_000,
            baseline=base,
            baseline_label="store read + decrypt + validate",
            note=f"min / median / max over {len(full)} segments of one pass from position 0",
        ),
        Figure(
            f"catch-up flatness: {stored:,}-event store / {smaller_events:,}-event store",
            "ratio",
            [overall / smaller_rate],
            target=0.8,
            note=f"whole pass {overall:,.0f}/s over {stored:,} events, "
            f"{smaller_rate:,.0f}/s over {smaller_events:,} (median of "
            + ", ".join(f"{rate:,.0f}" for rate in smaller_rates)
            + ")",
        ),
        Figure(
            f"catch-up within one pass: last segment / first segment ({stored:,} events)",
            "ratio",
            [last / first],
            note=f"first segment {first:,.0f}/s, last {last:,.0f}/s; the simulated clients' "
            "signs grow over their first 60 days, so the late segments fold longer lists",
        ),
    ]
