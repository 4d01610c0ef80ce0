"""The projection engine: read models in PostgreSQL, each a function of the event stream.

A projection is a name, a version, the DDL of its tables and an `apply` of a batch of events
(usually a mapping event type → function(cursor, tables, recorded) running one or two
statements). Its tables carry the version in their names (`caseload_members_v1`), so a new
version is built into fresh tables beside the live one.

The runner reads events in batches from a source port and applies a whole batch in ONE
transaction together with the projection's position row (`projection_positions`), locked
FOR UPDATE first: a crash at any instant leaves either the batch and its position or neither,
and two runners on the same projection take turns instead of applying an event twice. It
catches up, then follows live on LISTEN (NOTIFY is only a wake-up; a timeout poll backs it up).

Which version queries read is one row per projection in `projection_versions` (`live`, and
`building` while a rebuild runs); the swap is one UPDATE of that row, so a query sees the old
version or the new one, never a mixture. Old tables are dropped after a grace period.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import structlog
from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import ConnectionPool

from domain.recorded import Recorded
from projections.parking import FAILURES_DDL, apply_or_park, drop_failures

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
    """

    def __init__(self) -> None:
        self._by_client: dict[object, list[_Asked]] = {}
        self._client: object = None

    def about(self, client: object) -> None:
        """The client whose event the next statements are for."""
        self._client = client

    def execute(
        self, statement: SQL, values: Sequence[Any], *, greatest: int | None = None
    ) -> None:
        """Ask for one statement (table names filled in at `run`) with one row of values.

        `greatest`: the index of the value the statement only ever raises columns to
        (`GREATEST(column, value)`). Such statements commute with each other, so in a run of
        them a client's rows with the same other values become one row with the largest value:
        twenty check-ins of a client in a batch are one UPDATE row, not twenty rounds.
        """
        asked = self._by_client.setdefault(self._client, [])
        if greatest is not None:
            key = (id(statement), *(v for i, v in enumerate(values) if i != greatest))
            for at in range(len(asked) - 1, -1, -1):
                earlier = asked[at]
                if earlier.greatest is None:
                    break  # only within a run of raising statements
                if earlier.key == key:
                    if values[greatest] > earlier.values[greatest]:
                        asked[at] = _Asked(statement, values, greatest, key)
                    return
            asked.append(_Asked(statement, values, greatest, key))
            return
        asked.append(_Asked(statement, values))

    def run(self, cur: Cursor[DictRow], tables: Tables) -> None:
        queue = list(self._by_client.values())
        formatted: dict[int, Composed] = {}
        depth = max((len(q) for q in queue), default=0)
        for k in range(depth):
            rounds: dict[int, tuple[SQL, list[Sequence[Any]]]] = {}
            for statements in queue:
                if k < len(statements):
                    asked = statements[k]
                    rounds.setdefault(id(asked.statement), (asked.statement, []))[1].append(
                        asked.values
                    )
            for key, (statement, rows) in rounds.items():
                query = formatted.get(key)
                if query is None:
                    query = formatted[key] = statement.format(**tables)
                cur.execute(query, [list(column) for column in zip(*rows, strict=True)])
        self._by_client.clear()


@dataclass(frozen=True, slots=True)
class _Asked:
    statement: SQL
    values: Sequence[Any]
    greatest: int | None = None
    key: tuple[Any, ...] = ()


Handler = Callable[[Statements, Tables, Recorded], None]
BatchApply = Callable[[Cursor[DictRow], Tables, Sequence[Stored]], None]


def dispatch(
    cur: Cursor[DictRow], tables: Tables, items: Sequence[Stored], handlers: Mapping[str, Handler]
) -> None:
    """Each event to its type's handler; the statements they ask for run grouped, in order."""
    statements = Statements()
    for item in items:
        event = item.recorded.event
        handler = handlers.get(event.type)
        if handler is not None:
            statements.about(event.client_id)
            handler(statements, tables, item.recorded)
    statements.run(cur, tables)


@dataclass(frozen=True)
class Projection:
    """A read model: its name, version, tables (base names), their DDL and how events apply.

    DDL templates name tables by base name, e.g. `SQL("CREATE TABLE {caseload_members} ...")`.
    `handlers` maps an event type to a function running one or two statements; `batch`, when
    given, replaces per-event dispatch for the whole batch (the audit chain, the rule facts).
    """

    name: str
    version: int
    tables: tuple[str, ...]
    ddl: tuple[SQL, ...]
    handlers: Mapping[str, Handler] = field(default_factory=dict)
    batch: BatchApply | None = None

    def tables_of(self, version: int) -> dict[str, Identifier]:
        return {base: Identifier(f"{base}_v{version}") for base in self.tables}

    def apply(self, cur: Cursor[DictRow], tables: Tables, items: Sequence[Stored]) -> None:
        if self.batch is not None:
            self.batch(cur, tables, items)
            return
        dispatch(cur, tables, items, self.handlers)


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

    def apply(self, cur: Cursor[DictRow], items: Sequence[Stored]) -> None:
        self.projection.apply(cur, self.tables, items)


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


# --- the runner -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """What one batch did: events read, the position reached, and whether the head was reached."""

    items: Sequence[Stored]
    caught_up: bool

    @property
    def count(self) -> int:
        return len(self.items)


_LOCK_POSITIONS = SQL(
    "SELECT p.name, p.version, p.position FROM {positions} p"
    " JOIN unnest(%s::text[], %s::integer[]) AS t(name, version) USING (name, version)"
    " ORDER BY p.name, p.version FOR UPDATE OF p"
).format(positions=POSITIONS)
_READ_POSITIONS = SQL(
    "SELECT p.name, p.version, p.position FROM {positions} p"
    " JOIN unnest(%s::text[], %s::integer[]) AS t(name, version) USING (name, version)"
).format(positions=POSITIONS)
_MOVE_POSITION = SQL(
    "UPDATE {positions} SET position = %s, recorded_at = %s WHERE name = %s AND version = %s"
).format(positions=POSITIONS)


class Runner:
    """Applies batches of events to some projection versions, exactly once each."""

    def __init__(
        self,
        source: EventSource,
        pool: Pool,
        targets: Callable[[], Sequence[Target]],
        *,
        batch_size: int = 2000,
    ) -> None:
        self.source = source
        self.pool = pool
        self.targets = targets
        self.batch_size = batch_size

    def step(self) -> Step:
        """Read one batch after the lowest position and apply it to every target behind it."""
        targets = list(self.targets())
        if not targets:
            return Step((), caught_up=True)
        names = [t.projection.name for t in targets]
        versions = [t.version for t in targets]
        with self.pool.connection() as conn:
            rows = conn.execute(_READ_POSITIONS, (names, versions)).fetchall()
            start = min((row["position"] for row in rows), default=0)
            items = [
                Stored(recorded, topic, state)
                for recorded, topic, state in self.source.read_stored(
                    after=start, limit=self.batch_size
                )
            ]
            if not items:
                return Step((), caught_up=True)
            with conn.transaction():
                locked = {
                    (row["name"], row["version"]): row["position"]
                    for row in conn.execute(_LOCK_POSITIONS, (names, versions)).fetchall()
                }
                with conn.cursor() as cur:
                    for target in targets:
                        position = locked.get(target.key)
                        if position is None:
                            continue  # dropped meanwhile
                        todo = [item for item in items if item.position > position]
                        if not todo:
                            continue
                        apply_or_park(conn, cur, target.key, todo, target.apply)
                        last = todo[-1].recorded
                        name, version = target.key
                        cur.execute(
                            _MOVE_POSITION, (last.position, last.recorded_at, name, version)
                        )
        return Step(items, caught_up=len(items) < self.batch_size)

    def catch_up(self, stop: threading.Event | None = None) -> int:
        """Apply batches until the head (as it was when each batch was read) is reached."""
        total = 0
        while stop is None or not stop.is_set():
            step = self.step()
            total += step.count
            if step.caught_up:
                break
        return total

    def follow(
        self,
        stop: threading.Event,
        *,
        channel: str,
        poll_seconds: float = 1.0,
        after_batch: Callable[[Step], None] | None = None,
        when_idle: Callable[[], None] | None = None,
    ) -> None:
        """Catch up, then wait on LISTEN (or the poll timeout) for more, until `stop` is set."""
        with self.pool.connection() as listener:
            listener.execute(SQL("LISTEN {}").format(Identifier(channel)))
            while not stop.is_set():
                step = self.step()
                if step.count and after_batch is not None:
                    after_batch(step)
                if not step.caught_up:
                    continue
                if when_idle is not None:
                    when_idle()
                for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                    pass


# --- status and waiting ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Status:
    name: str
    live: int
    building: int | None
    position: int
    head: int
    lag_events: int
    lag_seconds: float
    building_position: int | None = None


def status(pool: Pool, source: EventSource, projections: Sequence[Projection]) -> list[Status]:
    """Per projection: live version, its position, the head, and the lag in events and seconds."""
    head = source.head()
    head_at = _recorded_at(source, head)
    out = []
    with pool.connection() as conn:
        for projection in projections:
            v = versions_of(conn, projection.name)
            rows = {
                row["version"]: row
                for row in conn.execute(
                    SQL("SELECT version, position, recorded_at FROM {} WHERE name = %s").format(
                        POSITIONS
                    ),
                    (projection.name,),
                ).fetchall()
            }
            live = rows.get(v.live, {"position": 0, "recorded_at": None})
            lag = max(head - live["position"], 0)
            seconds = 0.0
            if lag and head_at is not None:
                seconds = (
                    (head_at - live["recorded_at"]).total_seconds()
                    if live["recorded_at"] is not None
                    else float("nan")
                )
            building = rows.get(v.building) if v.building is not None else None
            out.append(
                Status(
                    name=projection.name,
                    live=v.live,
                    building=v.building,
                    position=live["position"],
                    head=head,
                    lag_events=lag,
                    lag_seconds=max(seconds, 0.0),
                    building_position=building["position"] if building else None,
                )
            )
    return out


def _recorded_at(source: EventSource, position: int) -> datetime | None:
    if position <= 0:
        return None
    found = source.read_stored(after=position - 1, limit=1)
    return found[0][0].recorded_at if found else None


class NotCaughtUp(Exception):
    """The read models did not reach the asked position within the wait."""


class PositionNotIssued(Exception):
    """The asked position is beyond the store's head: no write answered it, so waiting for it
    is the caller's mistake, not the read models' lag."""


_LIVE_POSITIONS = SQL(
    "SELECT v.name, v.live, p.position FROM {versions} v"
    " JOIN {positions} p ON p.name = v.name AND p.version = v.live"
    " WHERE v.name = ANY(%s)"
).format(versions=VERSIONS, positions=POSITIONS)


class ReadModels:
    """Queries' way in: a connection and the live tables, once caught up with a position."""

    def __init__(
        self,
        pool: Pool,
        projections: Sequence[Projection],
        *,
        wait_seconds: float = 2.0,
        sleep: Callable[[float], None] = time.sleep,
        head: Callable[[], int] | None = None,
    ) -> None:
        self.pool = pool
        self._head = head
        self.projections = {p.name: p for p in projections}
        self.wait_seconds = wait_seconds
        self._sleep = sleep

    def _beyond_head(self, position: int | None) -> bool:
        return position is not None and self._head is not None and position > self._head()

    @contextmanager
    def reading(
        self, names: Sequence[str], min_position: int | None = None
    ) -> Iterator[tuple[Connection[DictRow], dict[str, Tables]]]:
        """The live tables of each named projection, after waiting for `min_position`."""
        with self.pool.connection() as conn:
            deadline = time.monotonic() + self.wait_seconds
            pause = 0.005
            while True:
                rows = conn.execute(_LIVE_POSITIONS, (list(names),)).fetchall()
                if len(rows) < len(set(names)):
                    raise LookupError("a projection is not migrated")
                behind = min_position is not None and any(
                    row["position"] < min_position for row in rows
                )
                if not behind:
                    break
                if pause == 0.005 and self._beyond_head(min_position):
                    raise PositionNotIssued
                if time.monotonic() >= deadline:
                    raise NotCaughtUp
                self._sleep(pause)
                pause = min(pause * 2, 0.1)
            tables: dict[str, Tables] = {
                row["name"]: self.projections[row["name"]].tables_of(row["live"]) for row in rows
            }
            yield conn, tables
