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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier
from psycopg_pool import ConnectionPool

from domain.recorded import Recorded
from projections.parking import FAILURES_DDL, apply_or_park, drop_failures
from projections.upkeep import maintain

log = structlog.get_logger(__name__)

# events a runner applies between two upkeeps of its tables (vacuum, analyze as autovacuum
# would): often enough that the rows its updates leave behind stay a fraction of a table (a
# vacuumed table keeps its size for new rows; one upkeep per 100,000 events left the caseload's
# client table at 4 times the size it has with one per 10,000, and its organization-wide
# read at 19.6 ms against 3.2)
MAINTAIN_EVERY = 20_000

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
            key = (id(statement), *(v for i, v in enumerate(values) if i != greatest))
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


def _read(source: EventSource, after: int, limit: int) -> list[Stored]:
    return [Stored(*row) for row in source.read_stored(after=after, limit=limit)]


class _ReadAhead:
    """The next backlog batch, read and decoded on a thread of its own while the runner applies
    the one before it: a batch's statements wait on PostgreSQL for a third of its time or more,
    and decoding the next batch fills that wait. The runner takes it only if the batch it
    applied left every target where the read-ahead starts (a failed batch, a target added
    meanwhile or a smaller limit throw it away and read again)."""

    def __init__(self, source: EventSource, after: int, limit: int) -> None:
        self.after = after
        self.limit = limit
        self._done = threading.Event()
        self._items: list[Stored] = []
        self._error: BaseException | None = None
        threading.Thread(
            target=self._read, args=(source,), name="projections-read-ahead", daemon=True
        ).start()

    def _read(self, source: EventSource) -> None:
        try:
            self._items = _read(source, self.after, self.limit)
        except BaseException as error:  # handed to the runner's thread in items()
            self._error = error
        finally:
            self._done.set()

    def items(self) -> list[Stored]:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._items


class Runner:
    """Applies batches of events to some projection versions, exactly once each.

    At the head a batch holds up to `batch_size` events (a flag follows its event quickly);
    behind it, after a full batch, up to `backlog_batch_size`. A batch is one transaction and
    its early-warning signs are written once per client it touches, so a larger batch writes
    a client's signs once for several of their events: catching up 300,000 events of a
    1,000,000-event store ran at 3,527 events/s in batches of 2,000 and 5,323 in batches of
    20,000 (docs/benchmarks.md).
    """

    def __init__(
        self,
        source: EventSource,
        pool: Pool,
        targets: Callable[[], Sequence[Target]],
        *,
        batch_size: int = 2000,
        backlog_batch_size: int | None = None,
        maintain_every: int = MAINTAIN_EVERY,
        read_ahead: bool = True,
    ) -> None:
        self.source = source
        self.pool = pool
        self.targets = targets
        self.batch_size = batch_size
        self.backlog_batch_size = max(batch_size, backlog_batch_size or batch_size)
        self.maintain_every = maintain_every
        self.read_ahead = read_ahead
        self._behind = False  # the last batch was full: more are waiting
        self._ahead: _ReadAhead | None = None
        self._since_maintained = 0

    def step(self) -> Step:
        """Read one batch after the lowest position and apply it to every target behind it."""
        targets = list(self.targets())
        if not targets:
            return Step((), caught_up=True)
        names = [t.projection.name for t in targets]
        versions = [t.version for t in targets]
        limit = self.backlog_batch_size if self._behind else self.batch_size
        ahead, self._ahead = self._ahead, None
        with self.pool.connection() as conn:
            rows = conn.execute(_READ_POSITIONS, (names, versions)).fetchall()
            start = min((row["position"] for row in rows), default=0)
            if ahead is not None and (ahead.after, ahead.limit) == (start, limit):
                items = ahead.items()
            else:
                items = _read(self.source, start, limit)
            self._behind = len(items) >= limit
            if not items:
                return Step((), caught_up=True)
            if self._behind and self.read_ahead:
                self._ahead = _ReadAhead(self.source, items[-1].position, self.backlog_batch_size)
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
        self._since_maintained += len(items)
        if self._since_maintained >= self.maintain_every:
            self.maintain(targets)
        return Step(items, caught_up=len(items) < limit)

    def maintain(self, targets: Sequence[Target]) -> None:
        """Vacuum and analyze the targets' tables as autovacuum would (projections/upkeep.py),
        every `maintain_every` events applied, behind the head and at it."""
        done = maintain(self.pool, (table for t in targets for table in t.tables.values()))
        log.info(
            "projections.maintained",
            events=self._since_maintained,
            vacuumed=sum(1 for upkeep in done.values() if upkeep == "vacuum"),
            analyzed=sum(1 for upkeep in done.values() if upkeep == "analyze"),
        )
        self._since_maintained = 0

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
