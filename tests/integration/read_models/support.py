"""Helpers for read-model tests: the read side run step by step, at the stories' clock.

`ReadSide.settle()` does what the worker does, in the test's thread: catch up every live
projection, let the early-warning evaluator look at what changed or fell due on the clock, and
catch up again with the flags it recorded. No sleeps, no threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from psycopg.sql import SQL, Identifier

from demo.simulate import care_events, command_for
from domain.catalogue import CareEvent
from domain.commands import RecordCareEvent
from projections.early_warning import FlagView, flags_page
from projections.engine import Projection, Target, begin_rebuild, live_targets, versions_of
from projections.runner import Runner
from services.app.record import Outcome
from services.wiring import (
    Runtime,
    evaluator,
    keyed_projections,
    live_runner,
    pool_of,
    read_models,
)
from tests.stories import Clock
from tests.unit import builders


class ReadSide:
    def __init__(self, runtime: Runtime, clock: Clock) -> None:
        self.runtime = runtime
        self.clock = clock
        self.runner: Runner = live_runner(runtime, batch_size=500)
        self.flags = evaluator(runtime)
        self.reads = read_models(runtime)

    def record(self, event: CareEvent) -> Outcome:
        return self.runtime.handler.record(RecordCareEvent(event, now=self.clock()))

    def settle(self) -> None:
        """Project everything, evaluate the rules at the clock, project the flags they raised."""
        for _round in range(5):
            self.runner.catch_up()
            if not self.flags.sweep():
                return
        raise AssertionError("the rules kept recording flags")

    def flags_of(self, client_id: UUID, **filters: Any) -> list[FlagView]:
        with self.reads.reading(["early_warning"]) as (conn, tables):
            return flags_page(conn, tables["early_warning"], client_id=client_id, **filters).items

    def open_flags(self, client_id: UUID) -> dict[str, str]:
        """rule id → severity of the client's flags that are open or acknowledged."""
        return {
            f.rule_id: f.severity
            for f in self.flags_of(client_id)
            if f.status in ("open", "acknowledged")
        }

    def statuses(self, client_id: UUID, rule_id: str) -> list[str]:
        return [f.status for f in self.flags_of(client_id) if f.rule_id == rule_id]


@dataclass
class Client:
    """One synthetic client in care: enrolled with a counselor, at the clock's time."""

    side: ReadSide
    client_id: UUID

    @classmethod
    def enrolled(cls, side: ReadSide, **team: str) -> Client:
        client = cls(side, uuid4())
        client.record(builders.enrolled)
        client.record(builders.assigned, **team)
        return client

    def record(self, build: Any, *args: Any, at: datetime | None = None, **fields: Any) -> UUID:
        """Record what a builder makes for this client, at `at` (default: the clock)."""
        event = build(
            *args,
            client_id=self.client_id,
            occurred_at=at or self.side.clock(),
            event_id=uuid4(),
            **fields,
        )
        self.side.record(event)
        return event.event_id  # type: ignore[no-any-return]

    @property
    def open_flags(self) -> dict[str, str]:
        self.side.settle()
        return self.side.open_flags(self.client_id)

    def statuses(self, rule_id: str) -> list[str]:
        self.side.settle()
        return self.side.statuses(self.client_id, rule_id)


def record_simulated(runtime: Runtime, *, clients: int, days: int, seed: int) -> int:
    """A realistic backlog through the command path (demo/simulate.py), ending before now."""
    start = (runtime.clock() - timedelta(days=days + 1)).replace(microsecond=0)
    commands = [
        command_for(p) for p in care_events(clients=clients, days=days, seed=seed, start=start)
    ]
    stored = 0
    for offset in range(0, len(commands), 500):
        recorded, _refused = runtime.handler.record_batch(commands[offset : offset + 500])
        stored += len(recorded)
    return stored


def core_runner(runtime: Runtime, **sizes: Any) -> Runner:
    """A runner of the live versions of the core projections, batched as the test says."""
    pool = pool_of(runtime)
    keyed = keyed_projections(runtime.settings)
    return Runner(runtime.store, pool, lambda: live_targets(pool, keyed), **sizes)


def compare_with_rebuild(runtime: Runtime, projection: Projection) -> dict[str, int]:
    """Build the projection again from scratch beside the live version and compare every table
    row by row; answers each table's row count, or raises naming the first table that differs."""
    pool = pool_of(runtime)
    with pool.connection() as conn:
        live = versions_of(conn, projection.name).live
    fresh = begin_rebuild(pool, projection)
    Runner(runtime.store, pool, lambda: [Target(projection, fresh)]).catch_up()
    counts = {}
    with pool.connection() as conn:
        for base in projection.tables:
            a, b = Identifier(f"{base}_v{live}"), Identifier(f"{base}_v{fresh}")
            differing = conn.execute(
                SQL(
                    "SELECT count(*) AS n FROM ((SELECT * FROM {a} EXCEPT ALL SELECT * FROM {b})"
                    " UNION ALL (SELECT * FROM {b} EXCEPT ALL SELECT * FROM {a})) d"
                ).format(a=a, b=b)
            ).fetchone()
            assert differing is not None
            assert differing["n"] == 0, f"{base}: {differing['n']} rows differ from a rebuild"
            row = conn.execute(SQL("SELECT count(*) AS n FROM {}").format(a)).fetchone()
            assert row is not None
            counts[base] = row["n"]
    return counts
