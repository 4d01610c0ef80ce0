"""Rounds: behind the head, several backlog batches in one transaction, with what the read models
can hold back (their statements, the early-warning signs) written once at the round's end. The
read models are the ones a batch a transaction builds, and an event a round cannot apply is
parked as a batch a transaction would park it."""

from __future__ import annotations

from uuid import UUID

import pytest
from psycopg.sql import SQL

from domain.recorded import Recorded
from projections.engine import Projection, Statements, Target, migrate
from projections.parking import FAILURES
from projections.runner import Runner
from services.wiring import Runtime, keyed_projections, pool_of, projection_lag
from tests.integration.read_models.support import (
    compare_with_rebuild,
    core_runner,
    record_simulated,
)


def test_a_round_of_backlog_batches_builds_what_a_batch_a_transaction_builds(
    runtime: Runtime,
) -> None:
    # given a backlog of simulated care, recorded before any projection ran
    stored = record_simulated(runtime, clients=20, days=30, seed=45)
    assert stored > 1_000
    runner = core_runner(runtime, batch_size=50, backlog_batch_size=100, backlog_round=3)

    # when the runner catches up: 50 events, then batches of 100, three a transaction
    steps = []
    while not (step := runner.step()).caught_up:
        steps.append(step)
    steps.append(step)

    # then the first transaction held the first batch and two backlog batches, the next ones
    # three backlog batches each, and every event was applied once
    assert steps[0].count == 250
    assert {s.count for s in steps[1:-1]} == {300}
    assert steps[-1].count < 300
    assert sum(s.count for s in steps) == runtime.store.head()
    assert projection_lag(runtime) == 0
    # and every read model holds, row for row, what a rebuild a batch a transaction makes:
    # the caseload's statements held over the round, the early-warning signs written once
    for projection in keyed_projections(runtime.settings):
        assert compare_with_rebuild(runtime, projection)


class Poisoned:
    """A handler writing each check-in's and session's position, which fails on one event:
    by a bug (raises), or by asking the database to store text it refuses (a NUL)."""

    def __init__(self, how: str) -> None:
        self.how = how
        self.poison: UUID | None = None

    def __call__(self, statements: Statements, tables: object, recorded: Recorded) -> None:
        note = "kept"
        if recorded.event.event_id == self.poison:
            if self.how == "bug":
                raise KeyError("a bug in the handler")
            note = "nul\u0000"
        statements.execute(_NOTE, (recorded.position, note))


_NOTE = SQL(
    "INSERT INTO {round_notes} (position, note) SELECT * FROM unnest(%b::bigint[], %b::text[])"
)


@pytest.mark.parametrize("how", ["bug", "refused"])
def test_a_round_that_fails_for_one_event_parks_it_and_applies_every_other_event_once(
    runtime: Runtime, how: str
) -> None:
    # given a store with sessions and check-ins, and a projection that cannot apply one of its
    # sessions (a bug in its handler, or text the database refuses)
    record_simulated(runtime, clients=10, days=20, seed=46)
    events = runtime.store.read(after=0, limit=1_000_000)
    noted = [r for r in events if r.event.type in ("CheckInRecorded", "SessionHeld")]
    poison = next(r for r in noted if r.event.type == "SessionHeld")
    handler = Poisoned(how)
    handler.poison = poison.event.event_id
    notes = Projection(
        name=f"test_round_notes_{how}",
        version=1,
        tables=("round_notes",),
        ddl=(SQL("CREATE TABLE {round_notes} (position bigint PRIMARY KEY, note text)"),),
        handlers={"CheckInRecorded": handler, "SessionHeld": handler},
    )
    pool = pool_of(runtime)
    migrate(pool, [notes])
    runner = Runner(
        runtime.store,
        pool,
        lambda: [Target(notes, 1)],
        batch_size=20,
        backlog_batch_size=50,
        backlog_round=3,
    )

    # when the runner catches up in rounds of three batches
    counts = []
    while not (step := runner.step()).caught_up:
        counts.append(step.count)
    counts.append(step.count)

    # then the poisoned session is parked, and only it
    with pool.connection() as conn:
        parked = conn.execute(
            SQL("SELECT position, event_type FROM {} WHERE name = %s").format(FAILURES),
            (notes.name,),
        ).fetchall()
        kept = conn.execute(
            SQL("SELECT position FROM {} ORDER BY position").format(
                notes.tables_of(1)["round_notes"]
            )
        ).fetchall()
    assert [(p["position"], p["event_type"]) for p in parked] == [(poison.position, "SessionHeld")]
    # and every other check-in and session is in the read model once
    assert [r["position"] for r in kept] == [r.position for r in noted if r is not poison]
    # and the failed round was applied again a batch a transaction (one transaction of 0 events
    # rolled back, then batches of 50), and the rounds went on after it
    assert 0 in counts
    assert 150 in counts[counts.index(0) :]
    assert sum(counts) == runtime.store.head()
