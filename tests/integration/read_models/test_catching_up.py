"""Catching up a backlog: larger transactions behind the head, the same read models as small
ones, fresh planner statistics once a long catch-up or a rebuild has filled the tables, and an
evaluator that takes the signs the fold just wrote instead of parsing them again."""

from __future__ import annotations

import io
import threading
import time
from datetime import datetime

import pytest
from psycopg.sql import SQL, Identifier
from pydantic import ValidationError

from domain.commands import RecordCareEvent
from domain.flags import RiskFlagRaised
from projections.caseload import CASELOAD
from projections.early_warning import FlagEvaluator
from projections.engine import Target, live_targets, versions_of
from projections.runner import Runner
from projections.signs_fold import SignsFold
from projections.upkeep import upkeep_of
from services.app.read_side import ProjectionWorker
from services.wiring import (
    BY_NAME,
    Runtime,
    keyed_projections,
    pool_of,
    projection_lag,
    read_models,
    rebuild,
)
from tests.integration.read_models.support import (
    Client,
    ReadSide,
    compare_with_rebuild,
    core_runner,
    record_simulated,
)
from tests.unit import builders as b


def last_kept(
    runtime: Runtime, tables: list[Identifier], upkeep: str = "last_analyze"
) -> dict[str, datetime | None]:
    """When each table was last analyzed (or, with `last_vacuum`, vacuumed) by hand."""
    names = [table.as_string().strip('"') for table in tables]
    query = SQL("SELECT relname, {} AS at FROM pg_stat_user_tables WHERE relname = ANY(%s)")
    with runtime.db.connection() as conn:
        rows = conn.execute(query.format(Identifier(upkeep)), (names,)).fetchall()
    return {row["relname"]: row["at"] for row in rows}


def live_tables(runtime: Runtime) -> list[Identifier]:
    with read_models(runtime).reading(list(BY_NAME)) as (_conn, tables):
        return [table for by_base in tables.values() for table in by_base.values()]


def database_now(runtime: Runtime) -> datetime:
    with runtime.db.connection() as conn:
        row = conn.execute("SELECT now() AS now").fetchone()
    assert row is not None
    return row["now"]  # type: ignore[no-any-return]


def test_behind_the_head_batches_grow_and_every_event_is_applied_once(
    runtime: Runtime, read_side: ReadSide
) -> None:
    # given a backlog of simulated care, recorded before any projection ran
    stored = record_simulated(runtime, clients=20, days=30, seed=41)
    assert stored > 1_000
    pool = pool_of(runtime)
    keyed = keyed_projections(runtime.settings)
    targets = lambda: live_targets(pool, keyed)  # noqa: E731
    runner = Runner(runtime.store, pool, targets, batch_size=50, backlog_batch_size=400)

    # when the runner catches up: 50 events first, then 400 a transaction while behind
    counts = []
    while True:
        step = runner.step()
        counts.append(step.count)
        if step.caught_up:
            break

    # then the batches grew once the first was full, and every event was applied once
    assert counts[0] == 50
    assert set(counts[1:-1]) == {400}
    assert counts[-1] < 400
    assert sum(counts) == runtime.store.head()
    assert projection_lag(runtime) == 0
    for projection in keyed:  # row for row what a rebuild in batches of 2,000 makes
        assert compare_with_rebuild(runtime, projection)

    # and at the head a new event is one small batch again
    head = runtime.store.head()
    Client.enrolled(read_side).record(b.check_in, craving=4)
    step = runner.step()
    assert step.caught_up
    assert step.count == runtime.store.head() - head


def test_a_batch_read_ahead_is_thrown_away_when_another_runner_moved_the_projections_meanwhile(
    runtime: Runtime,
) -> None:
    # given two runners on the same projections (two workers taking turns), and a backlog
    # recorded after the projections stood at the head
    pool = pool_of(runtime)
    keyed = keyed_projections(runtime.settings)
    first, second = (
        Runner(
            runtime.store,
            pool,
            lambda: live_targets(pool, keyed),
            batch_size=50,
            backlog_batch_size=400,
        )
        for _ in range(2)
    )
    first.catch_up()
    start = runtime.store.head()
    record_simulated(runtime, clients=12, days=20, seed=43)

    # when the first applies a full batch (and reads the next 400 ahead), the second applies
    # the 50 after it, and the first goes on
    assert first.step().count == 50
    by_second = second.step().items
    assert len(by_second) == 50
    steps = []
    while not (step := first.step()).caught_up:
        steps.append(step)
    steps.append(step)

    # then the first read again from where the second left the projections, not from where
    # its read-ahead began, and every event was applied once
    assert steps[0].items[0].position > by_second[-1].position
    assert steps[0].count == 400
    assert 100 + sum(s.count for s in steps) == runtime.store.head() - start
    assert projection_lag(runtime) == 0
    for projection in keyed:
        assert compare_with_rebuild(runtime, projection)


def test_a_worker_that_caught_up_a_long_backlog_leaves_its_read_models_with_statistics(
    runtime: Runtime,
) -> None:
    # given a backlog recorded while no worker ran
    backlog = record_simulated(runtime, clients=8, days=10, seed=42)
    before = database_now(runtime)

    # when the projections worker starts and catches up more events than its runner's upkeep
    # interval
    runner = core_runner(runtime, batch_size=200, maintain_every=backlog // 2)
    worker = ProjectionWorker(runner, None, poll_seconds=0.1)
    stop = threading.Event()
    thread = threading.Thread(target=worker.run, args=(stop,), daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 60
        while projection_lag(runtime) and time.monotonic() < deadline:
            time.sleep(0.05)
        tables = live_tables(runtime)
        while time.monotonic() < deadline:
            analyzed = last_kept(runtime, tables)
            if all(at is not None and at >= before for at in analyzed.values()):
                break
            time.sleep(0.05)
    finally:
        stop.set()
        thread.join(timeout=30)

    # then every live table was analyzed after the catch-up began (not by autovacuum, whose
    # runs are counted apart): the planner knows what the tables now hold
    assert len(analyzed) == len(tables)
    assert all(at is not None and at >= before for at in analyzed.values()), analyzed


def test_a_rebuilt_read_model_goes_live_with_statistics(runtime: Runtime) -> None:
    # given a store with history and a live caseload
    before = database_now(runtime)

    # when the caseload is rebuilt beside the live one and swapped in
    assert rebuild(runtime, "caseload", grace_seconds=0.0, out=io.StringIO()) == 0

    # then the new version's tables were analyzed before their first read
    with read_models(runtime).reading(["caseload"]) as (_conn, tables):
        rebuilt = list(tables["caseload"].values())
    analyzed = last_kept(runtime, rebuilt)
    assert len(analyzed) == len(rebuilt)
    assert all(at is not None and at >= before for at in analyzed.values()), analyzed


def test_the_processes_connections_plan_without_just_in_time_compilation(
    runtime: Runtime,
) -> None:
    # given the process's one pool; when any of its connections is asked
    with runtime.db.connection() as conn:
        row = conn.execute("SHOW jit").fetchone()
    # then JIT is off: a compile costs more than the short queries it would speed up
    assert row is not None
    assert row["jit"] == "off"


def test_the_evaluator_takes_the_signs_the_fold_just_wrote_without_parsing_them_again(
    runtime: Runtime, read_side: ReadSide
) -> None:
    # given a client whose craving check-ins this process's early-warning fold just folded
    client = Client.enrolled(read_side)
    client.record(b.check_in, craving=9)
    client.record(b.check_in, craving=9)
    read_side.runner.catch_up()
    # and their stored signs document made unreadable, at the same position
    with read_models(runtime).reading(["early_warning"]) as (conn, tables):
        conn.execute(
            SQL("UPDATE {warning_signs} SET signs = 'not json' WHERE client_id = %s").format(
                **tables["early_warning"]
            ),
            (client.client_id,),
        )
    recorded: list[RecordCareEvent] = []

    # when an evaluator that folded nothing looks at the client, it must parse the document
    unfolded = FlagEvaluator(pool_of(runtime), recorded.extend, runtime.clock, fold=SignsFold())
    with pytest.raises(ValidationError):
        unfolded.evaluate_clients([client.client_id])
    # and the process's evaluator evaluates the signs its fold holds for that position
    FlagEvaluator(pool_of(runtime), recorded.extend, runtime.clock).evaluate_clients(
        [client.client_id]
    )

    # then the rules ran on the folded signs: craving elevated twice in a row raised CRV-1
    raised = [c.event for c in recorded if isinstance(c.event, RiskFlagRaised)]
    assert [e.data.rule_id for e in raised] == ["CRV-1"]


def wait_for_dead_rows_counted(runtime: Runtime, table: Identifier, seconds: float = 30) -> None:
    """Until the statistics show the table past autovacuum's threshold of dead row versions: a
    backend publishes its counts when it goes idle, at most once a second, and one that went
    idle sooner after its last report waits for PostgreSQL's idle interval (10 s in 15)."""
    name = table.as_string().strip('"')
    deadline = time.monotonic() + seconds
    while True:
        with runtime.db.connection() as conn:
            row = conn.execute(
                "SELECT n_live_tup, n_dead_tup FROM pg_stat_user_tables WHERE relname = %s",
                (name,),
            ).fetchone()
        if row is not None and upkeep_of(row["n_live_tup"], row["n_dead_tup"], 0, False):
            return
        assert time.monotonic() < deadline, f"no dead rows counted for {name}: {row}"
        time.sleep(0.2)


def test_the_runner_vacuums_the_caseload_rows_its_updates_left_behind(runtime: Runtime) -> None:
    # given a backlog caught up a few events a transaction, as a worker following live applies
    # them, by a runner that has not kept its tables yet: every transaction rewrote the caseload
    # rows of the clients it touched, leaving the old versions behind. A report's transaction
    # open meanwhile keeps them from being pruned as the pages fill, and the server's own
    # autovacuum is off for the table (an embedded server runs it): only the runner reclaims them
    record_simulated(runtime, clients=8, days=10, seed=7)
    runner = core_runner(runtime, batch_size=5, maintain_every=10**9)
    [caseload] = [t for t in live_tables(runtime) if "caseload_clients" in t.as_string()]
    with runtime.db.connection() as conn:
        conn.execute(SQL("ALTER TABLE {} SET (autovacuum_enabled = false)").format(caseload))
    try:
        with runtime.db.connection() as report, report.transaction():
            report.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            report.execute("SELECT count(*) FROM pg_class")  # its snapshot
            runner.catch_up()
            wait_for_dead_rows_counted(runtime, caseload)
            before = database_now(runtime)

            # when the runner keeps its tables, as it does every `maintain_every` events
            runner.maintain(runner.targets())
    finally:
        with runtime.db.connection() as conn:
            conn.execute(SQL("ALTER TABLE {} RESET (autovacuum_enabled)").format(caseload))

    # then the caseload's client rows, far past autovacuum's threshold of dead versions, were
    # vacuumed (and with that analyzed)
    vacuumed = last_kept(runtime, [caseload], "last_vacuum")
    assert len(vacuumed) == 1
    assert all(at is not None and at >= before for at in vacuumed.values()), table_stats(
        runtime, caseload
    )


def table_stats(runtime: Runtime, table: Identifier) -> dict[str, object]:
    """What the statistics say of a table's rows and upkeep (a failed assertion's message)."""
    with runtime.db.connection() as conn:
        row = conn.execute(
            "SELECT n_live_tup, n_dead_tup, last_vacuum, last_autovacuum, last_analyze,"
            " last_autoanalyze FROM pg_stat_user_tables WHERE relname = %s",
            (table.as_string().strip('"'),),
        ).fetchone()
    return dict(row or {})


def test_the_caseload_built_event_by_event_is_the_caseload_built_in_one_batch(
    runtime: Runtime,
) -> None:
    # given a backlog of simulated care: contacts and check-ins around bookings and attended or
    # missed appointments, members joining and leaving care teams, episodes closing
    record_simulated(runtime, clients=6, days=40, seed=44)
    kinds = {recorded.event.type for recorded in runtime.store.read(after=0, limit=100_000)}
    assert {"CareTeamMemberReleased", "AppointmentAttended", "CheckInRecorded"} <= kinds

    # when the live caseload is built one event a transaction (every statement in event
    # order), and a rebuild applies the whole backlog as one batch (raises merged per row
    # across other statements, the next appointment settled once per client)
    pool = pool_of(runtime)
    with pool.connection() as conn:
        live = versions_of(conn, CASELOAD.name).live
    Runner(runtime.store, pool, lambda: [Target(CASELOAD, live)], batch_size=1).catch_up()
    counts = compare_with_rebuild(runtime, CASELOAD)

    # then both hold the same rows, row for row
    assert counts["caseload_members"] > 0
    assert counts["caseload_appointments"] > 0
