"""The projection engine: read models in PostgreSQL, each a function of the event stream.

A projection is a name, a version, the DDL of its tables and an `apply` of a batch of events
(usually a mapping event type → function(cursor, tables, recorded) running one or two
statements). Its tables carry the version in their names (`caseload_members_v1`), so a new
version is built into fresh tables beside the live one.

The runner (projections/runner.py) reads events in batches from a source port and applies them
exactly once, in one transaction with the projections' positions; handlers ask `Statements`
for what they write, run set-wise per batch, or held over a round of backlog batches (`Held`).

Which version queries read is one row per projection in `projection_versions` (`live`, and
`building` while a rebuild runs); the swap is one UPDATE of that row, so a query sees the old
version or the new one, never a mixture. Old tables are dropped after a grace period.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import structlog
from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import ConnectionPool

from domain.recorded import Recorded
from projections.parking import FAILURES_DDL, drop_failures

log = structlog.get_logger(__name__)

Tables = Mapping[str, Identifier]
Pool = ConnectionPool[Connection[DictRow]]

POSITIONS = Identifier("projection_positions")
VERSIONS = Identifier("projection_versions")
_MIGRATION_LOCK = 0x43415245  # advisory lock key: "CARE"


@dataclass(frozen=True, slots=True)
class Stored:
    """One event as the store holds it: decoded, and its topic and payload bytes as stored."""

    recorded: Recorded
    topic: str
    state: bytes

    @property
    def position(self) -> int:
        return self.recorded.position


class EventSource(Protocol):
    """Where projections read the global order from (the event store satisfies it)."""

    def read_stored(self, *, after: int, limit: int) -> Sequence[tuple[Recorded, str, bytes]]: ...

    def head(self) -> int: ...


class Statements:
    """The statements a batch's handlers ask for, run in each client's order, set-wise.

    A statement is written over arrays of values (`unnest(%b::uuid[], ...)`), and a handler
    gives it one row of values per event. A handler's statements touch rows of the event's
    client only (every read-model row is keyed by client, or by a flag or handoff of one
    client), so statements of different clients commute. They run in rounds: round k holds each
    client's k-th statement, and a round's rows for the same statement go to the server as ONE
    statement — a batch of thousands of events is a few dozen statements, and each client's
    statements still apply in event order (within a round no row is touched twice). (No
    pipeline mode: psycopg's pipeline sync can deadlock on large parameters, psycopg#685.)

    Two kinds of statement need not keep their place, and a client's list gets shorter for it
    (fewer rounds, fewer statements: docs/benchmarks.md, sixth pass):
    - a statement that only raises a column (`greatest`) commutes with every statement but
      one that inserts or deletes rows (`reshapes`), so it merges with the client's earlier
      raise of the same row since the last such statement;
    - a statement that recomputes a derived column from the rows as they stand (`settle`)
      gives the same answer at the batch's end as after each change, so it runs once per
      client and values, after every round.
    """

    def __init__(self) -> None:
        self._by_client: dict[object, list[_Asked]] = {}
        # per client: where each raise that a later one of the same row may merge into stands
        self._raises: dict[object, dict[tuple[Any, ...], int]] = {}
        self._settling: dict[tuple[int, tuple[Any, ...]], _Asked] = {}
        self._client: object = None

    def about(self, client: object) -> None:
        """The client whose event the next statements are for."""
        self._client = client

    def execute(
        self,
        statement: SQL,
        values: Sequence[Any],
        *,
        greatest: int | None = None,
        reshapes: bool = False,
    ) -> None:
        """Ask for one statement (table names filled in at `run`) with one row of values.

        `greatest`: the index of the value the statement only ever raises columns to
        (`GREATEST(column, value)`). Such a statement commutes with every statement that does
        not insert or delete rows, so a client's raises of the same row (the same other values)
        since the last `reshapes` statement become one row with the largest value: twenty
        check-ins of a client in a batch are one UPDATE row, not twenty rounds.
        `reshapes`: the statement inserts or deletes rows (an enrollment, a member joining or
        leaving); no raise is moved across it, since the row it raises may come or go with it.
        """
        asked = self._by_client.setdefault(self._client, [])
        raises = self._raises.setdefault(self._client, {})
        if reshapes:
            raises.clear()
        if greatest is not None:
            rest = (
                values[1:]  # every raise the handlers ask for raises to its first value
                if greatest == 0
                else [v for i, v in enumerate(values) if i != greatest]
            )
            key = (id(statement), *rest)
            at = raises.get(key)
            if at is not None:
                if values[greatest] > asked[at].values[greatest]:
                    asked[at] = _Asked(statement, values)
                return
            raises[key] = len(asked)
        asked.append(_Asked(statement, values))

    def settle(self, statement: SQL, values: Sequence[Any]) -> None:
        """Ask for a statement that recomputes a derived column of the client's rows from the
        rows as they stand (the next open appointment from the appointments): it runs once per
        values, after every round, however often the batch's events ask for it."""
        self._settling.setdefault((id(statement), tuple(values)), _Asked(statement, values))

    def run(self, cur: Cursor[DictRow], tables: Tables) -> None:
        formatted: dict[int, Composed] = {}
        queue = list(self._by_client.values())
        depth = max((len(q) for q in queue), default=0)
        for k in range(depth):
            self._run_round(cur, tables, formatted, [q[k] for q in queue if k < len(q)])
        if self._settling:
            self._run_round(cur, tables, formatted, list(self._settling.values()))
        self._by_client.clear()
        self._raises.clear()
        self._settling.clear()

    @staticmethod
    def _run_round(
        cur: Cursor[DictRow],
        tables: Tables,
        formatted: dict[int, Composed],
        round_: Sequence[_Asked],
    ) -> None:
        """One round: the rows asked of each statement go to the server as one statement."""
        grouped: dict[int, tuple[SQL, list[Sequence[Any]]]] = {}
        for asked in round_:
            grouped.setdefault(id(asked.statement), (asked.statement, []))[1].append(asked.values)
        for key, (statement, rows) in grouped.items():
            query = formatted.get(key)
            if query is None:
                query = formatted[key] = statement.format(**tables)
            cur.execute(query, [list(column) for column in zip(*rows, strict=True)])


@dataclass(frozen=True, slots=True)
class _Asked:
    statement: SQL
    values: Sequence[Any]


Handler = Callable[[Statements, Tables, Recorded], None]
BatchApply = Callable[[Cursor[DictRow], Tables, Sequence[Stored]], None]


@dataclass(slots=True)
class Held:
    """What one projection holds back over a round: several backlog batches applied in one
    transaction, whose writes wait for the round's end (`Projection.settle`). The statements
    its handlers asked for, and whatever else the projection keeps per client until then (the
    early-warning fold's signs). Dropped unwritten when the round's transaction fails."""

    statements: Statements = field(default_factory=Statements)
    entries: dict[Any, Any] = field(default_factory=dict)


@runtime_checkable
class Holding(Protocol):
    """A batch apply that can hold its writes over a round (the early-warning fold)."""

    def hold(
        self, cur: Cursor[DictRow], tables: Tables, items: Sequence[Stored], held: Held
    ) -> None:
        """Fold a batch of the round into `held`, writing nothing it can leave to `settle`."""

    def settle(self, cur: Cursor[DictRow], tables: Tables, held: Held) -> None:
        """Write what the round's batches left in `held`."""


def ask(
    statements: Statements, tables: Tables, items: Sequence[Stored], handlers: Mapping[str, Handler]
) -> None:
    """Each event to its type's handler, which asks `statements` for what it writes."""
    for item in items:
        event = item.recorded.event
        handler = handlers.get(event.type)
        if handler is not None:
            statements.about(event.client_id)
            handler(statements, tables, item.recorded)


def dispatch(
    cur: Cursor[DictRow], tables: Tables, items: Sequence[Stored], handlers: Mapping[str, Handler]
) -> None:
    """Each event to its type's handler; the statements they ask for run grouped, in order."""
    statements = Statements()
    ask(statements, tables, items, handlers)
    statements.run(cur, tables)


@dataclass(frozen=True)
class Projection:
    """A read model: its name, version, tables (base names), their DDL and how events apply.

    DDL templates name tables by base name, e.g. `SQL("CREATE TABLE {caseload_members} ...")`.
    `handlers` maps an event type to a function running one or two statements; `batch`, when
    given, replaces per-event dispatch for the whole batch (the audit chain, the rule facts).
    Over a round of backlog batches (`Runner`), handlers' statements are held to the round's
    end; a `batch` that is also `Holding` holds what it writes the same way, any other writes
    each batch as it comes.
    """

    name: str
    version: int
    tables: tuple[str, ...]
    ddl: tuple[SQL, ...]
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    batch: BatchApply | None = None

    def tables_of(self, version: int) -> dict[str, Identifier]:
        return {base: Identifier(f"{base}_v{version}") for base in self.tables}

    def apply(
        self,
        cur: Cursor[DictRow],
        tables: Tables,
        items: Sequence[Stored],
        held: Held | None = None,
    ) -> None:
        """Apply a batch; with `held`, one of a round, leaving what it can to `settle`."""
        if self.batch is None:
            if held is None:
                dispatch(cur, tables, items, self.handlers)
            else:
                ask(held.statements, tables, items, self.handlers)
        elif held is not None and isinstance(self.batch, Holding):
            self.batch.hold(cur, tables, items, held)
        else:
            self.batch(cur, tables, items)

    def settle(self, cur: Cursor[DictRow], tables: Tables, held: Held) -> None:
        """Write what a round's batches held back."""
        if self.batch is None:
            held.statements.run(cur, tables)
        elif isinstance(self.batch, Holding):
            self.batch.settle(cur, tables, held)


@dataclass(frozen=True, slots=True)
class Target:
    """One version of one projection that a runner keeps up to date."""

    projection: Projection
    version: int

    @property
    def key(self) -> tuple[str, int]:
        return (self.projection.name, self.version)

    @property
    def tables(self) -> dict[str, Identifier]:
        return self.projection.tables_of(self.version)

    def apply(
        self, cur: Cursor[DictRow], items: Sequence[Stored], held: Held | None = None
    ) -> None:
        self.projection.apply(cur, self.tables, items, held)

    def settle(self, cur: Cursor[DictRow], held: Held) -> None:
        self.projection.settle(cur, self.tables, held)


# --- schema and versions --------------------------------------------------------------------------

_ENGINE_DDL = (
    SQL(
        "CREATE TABLE IF NOT EXISTS {positions} ("
        " name text NOT NULL,"
        " version integer NOT NULL,"
        " position bigint NOT NULL DEFAULT 0,"
        " recorded_at timestamptz,"
        " PRIMARY KEY (name, version))"
    ),
    SQL(
        "CREATE TABLE IF NOT EXISTS {versions} ("
        " name text PRIMARY KEY,"
        " live integer NOT NULL,"
        " building integer)"
    ),
)


def _locked_migration(conn: Connection[DictRow]) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))


def migrate(pool: Pool, projections: Sequence[Projection]) -> None:
    """Create the engine's tables and, for a projection never built, its first version (live)."""
    with pool.connection() as conn, conn.transaction():
        _locked_migration(conn)
        for statement in _ENGINE_DDL:
            conn.execute(statement.format(positions=POSITIONS, versions=VERSIONS))
        conn.execute(FAILURES_DDL)
        for projection in projections:
            row = conn.execute(
                SQL("SELECT live FROM {} WHERE name = %s").format(VERSIONS), (projection.name,)
            ).fetchone()
            if row is not None:
                continue
            _create_version(conn, projection, projection.version)
            conn.execute(
                SQL("INSERT INTO {} (name, live) VALUES (%s, %s)").format(VERSIONS),
                (projection.name, projection.version),
            )


def _create_version(conn: Connection[DictRow], projection: Projection, version: int) -> None:
    tables = projection.tables_of(version)
    drop_failures(conn, projection.name, version)
    for table in tables.values():
        conn.execute(SQL("DROP TABLE IF EXISTS {}").format(table))
    for statement in projection.ddl:
        conn.execute(statement.format(**tables))
    conn.execute(
        SQL(
            "INSERT INTO {} (name, version, position) VALUES (%s, %s, 0)"
            " ON CONFLICT (name, version) DO UPDATE SET position = 0, recorded_at = NULL"
        ).format(POSITIONS),
        (projection.name, version),
    )


def prepare_version(pool: Pool, projection: Projection, version: int) -> None:
    """Fresh tables and a position at 0 for a version that no query reads (benchmarks, tools)."""
    with pool.connection() as conn, conn.transaction():
        _locked_migration(conn)
        _create_version(conn, projection, version)


@dataclass(frozen=True, slots=True)
class Versions:
    live: int
    building: int | None


def versions_of(conn: Connection[DictRow], name: str) -> Versions:
    row = conn.execute(
        SQL("SELECT live, building FROM {} WHERE name = %s").format(VERSIONS), (name,)
    ).fetchone()
    if row is None:
        raise LookupError(f"projection {name} is not migrated")
    return Versions(row["live"], row["building"])


def begin_rebuild(pool: Pool, projection: Projection) -> int:
    """Fresh tables for the next version beside the live one; resumes an unfinished rebuild."""
    with pool.connection() as conn, conn.transaction():
        _locked_migration(conn)
        current = versions_of(conn, projection.name)
        if current.building is not None:
            return current.building
        row = conn.execute(
            SQL("SELECT max(version) AS top FROM {} WHERE name = %s").format(POSITIONS),
            (projection.name,),
        ).fetchone()
        top = row["top"] if row and row["top"] is not None else current.live
        version = max(top + 1, current.live + 1, projection.version)
        _create_version(conn, projection, version)
        conn.execute(
            SQL("UPDATE {} SET building = %s WHERE name = %s").format(VERSIONS),
            (version, projection.name),
        )
    return version


def analyze(pool: Pool, tables: Iterable[Identifier]) -> None:
    """Fresh planner statistics for tables that just grew in bulk (a rebuilt version before it
    goes live, the live ones after a long catch-up). Autovacuum would get there in a minute,
    or never where it is off; until then a table built from empty has no statistics and a
    read planned on it scans it whole (docs/benchmarks.md: 4-5 s reads at 1,000,000 events)."""
    with pool.connection() as conn:
        for table in tables:
            conn.execute(SQL("ANALYZE {}").format(table))


def swap(pool: Pool, name: str, version: int) -> int:
    """Make the built version live in one UPDATE; answers the version it replaced."""
    with pool.connection() as conn, conn.transaction():
        current = versions_of(conn, name)
        if current.building != version:
            raise LookupError(f"projection {name} is not building version {version}")
        conn.execute(
            SQL("UPDATE {} SET live = %s, building = NULL WHERE name = %s").format(VERSIONS),
            (version, name),
        )
    return current.live


def drop_version(pool: Pool, projection: Projection, version: int, lock_timeout_s: int = 5) -> None:
    """Drop a version's tables and position; never the live or the building one."""
    with pool.connection() as conn, conn.transaction():
        current = versions_of(conn, projection.name)
        if version in (current.live, current.building):
            raise ValueError(f"version {version} of {projection.name} is in use")
        conn.execute(SQL("SET LOCAL lock_timeout = {}").format(f"{lock_timeout_s}s"))
        for table in projection.tables_of(version).values():
            conn.execute(SQL("DROP TABLE IF EXISTS {}").format(table))
        conn.execute(
            SQL("DELETE FROM {} WHERE name = %s AND version = %s").format(POSITIONS),
            (projection.name, version),
        )
        drop_failures(conn, projection.name, version)


def live_targets(pool: Pool, projections: Sequence[Projection]) -> list[Target]:
    """The live version of each projection, skipping one whose live tables predate its code."""
    targets = []
    with pool.connection() as conn:
        for projection in projections:
            live = versions_of(conn, projection.name).live
            if live < projection.version:
                log.warning("projection.needs_rebuild", projection=projection.name, version=live)
                continue
            targets.append(Target(projection, live))
    return targets
