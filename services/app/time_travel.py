"""Time travel: a read model rebuilt as it stood at a past moment, in a schema of its own.

For incident and postvention reviews ("what did the caseload and the flags show on the night of
the crisis?"): the projection engine (projections/engine.py) runs the chosen projections over the
events recorded up to that moment (`recorded_at <= as_of`, in position order) into fresh tables
in a separate PostgreSQL schema, where the usual queries (caseload_of, flags_page, …) read them
through `tables_of(...)`. The live read models are never touched: the engine's connections see
only the review schema (`search_path` is that schema alone, so even the engine's own
`DROP TABLE IF EXISTS` cannot reach a live table), and a schema is replaced only if it was made
by this command (it holds the `time_travel` marker table).

The early-warning evaluator does not run: flags are what the rules had recorded by then, which
is what clinicians saw.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection
from psycopg.rows import DictRow, dict_row
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from domain.recorded import Recorded
from projections.engine import Pool, Projection, Tables, Target, migrate
from projections.runner import Runner
from services.adapters.store import INDEX_TABLE, EventStore

SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
RESERVED = frozenset({"public", "information_schema"})
MARKER = "time_travel"


class TimeTravelRefused(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Rebuilt:
    """One projection as of the moment: its tables (schema-qualified), events applied, position."""

    projection: Projection
    schema: str
    as_of: datetime
    events: int
    position: int

    @property
    def tables(self) -> Tables:
        """The projection's tables in the review schema, for its query functions."""
        return {
            base: Identifier(self.schema, f"{base}_v{self.projection.version}")
            for base in self.projection.tables
        }


class AsOfSource:
    """The store's global order cut at a moment: events recorded at or before `as_of`.

    Positions follow commit order while `recorded_at` is stamped just before the insert, so a
    later position can carry an earlier time; the cut is therefore by time, up to the last
    position recorded by then, and a batch is filled past the events it skips (the runner takes
    a short batch for the head).
    """

    def __init__(self, store: EventStore, as_of: datetime, bound: int) -> None:
        self.store = store
        self.as_of = as_of
        self.bound = bound

    def read_stored(self, *, after: int, limit: int) -> Sequence[tuple[Recorded, str, bytes]]:
        out: list[tuple[Recorded, str, bytes]] = []
        position = after
        while len(out) < limit and position < self.bound:
            page = self.store.read_stored(after=position, limit=limit)
            if not page:
                break
            for item in page:
                recorded = item[0]
                if recorded.position > self.bound:
                    return out
                if recorded.recorded_at <= self.as_of:
                    out.append(item)
                    if len(out) == limit:
                        return out
            position = page[-1][0].position
        return out

    def head(self) -> int:
        return self.bound


def last_position_at(store: EventStore, as_of: datetime) -> int:
    """The highest position of an event recorded at or before `as_of` (0: none)."""
    query = SQL("SELECT max(position) AS top FROM {}.{} WHERE recorded_at <= %s").format(
        Identifier(store.database.schema), Identifier(INDEX_TABLE)
    )
    with store.connection() as conn:
        row = conn.execute(query, (as_of,)).fetchone()
    return int(row["top"]) if row is not None and row["top"] is not None else 0


def check_schema_name(schema: str, store_schema: str) -> None:
    if not SCHEMA_NAME.match(schema) or schema.startswith("pg_"):
        raise TimeTravelRefused(
            "invalid_schema",
            "The schema name is lower-case letters, digits and _ (at most 63), not starting with "
            "pg_.",
        )
    if schema in RESERVED or schema == store_schema:
        raise TimeTravelRefused("invalid_schema", f"{schema} is a live schema: name another.")


def prepare_schema(conn: Connection[DictRow], schema: str, *, replace: bool) -> None:
    """A fresh, empty review schema; an existing one only if it is ours and `replace` is asked."""
    exists = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
    if exists is not None:
        ours = conn.execute(
            "SELECT to_regclass(%s) IS NOT NULL AS ours", (f"{schema}.{MARKER}",)
        ).fetchone()
        if not replace:
            raise TimeTravelRefused(
                "schema_exists", f"Schema {schema} exists; pass --replace to rebuild it."
            )
        if ours is None or not ours["ours"]:
            raise TimeTravelRefused(
                "schema_not_ours",
                f"Schema {schema} exists and was not made by time travel: not replaced.",
            )
        conn.execute(SQL("DROP SCHEMA {} CASCADE").format(Identifier(schema)))
    conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(schema)))
    conn.execute(
        SQL(
            "CREATE TABLE {}.{} (projection text PRIMARY KEY, version integer NOT NULL,"
            " as_of timestamptz NOT NULL, position bigint NOT NULL, events bigint NOT NULL,"
            " built_at timestamptz NOT NULL DEFAULT now())"
        ).format(Identifier(schema), Identifier(MARKER))
    )


def schema_pool(database_url: str, schema: str) -> Pool:
    """Connections that see only the review schema (and pg_catalog)."""
    pool: Pool = ConnectionPool(
        database_url,
        connection_class=Connection[DictRow],
        kwargs={
            "autocommit": True,
            "row_factory": dict_row,
            "options": f"-c search_path={schema}",
        },
        min_size=1,
        max_size=2,
        open=True,
    )
    return pool


def _only(target: Target) -> Callable[[], Sequence[Target]]:
    return lambda: [target]


def rebuild_as_of(
    store: EventStore,
    database_url: str,
    *,
    as_of: datetime,
    projections: Sequence[Projection],
    schema: str,
    replace: bool = False,
    batch_size: int = 2000,
) -> list[Rebuilt]:
    """Build each projection from the events recorded up to `as_of` into `schema`."""
    if as_of.tzinfo is None or as_of.utcoffset() is None:
        raise TimeTravelRefused("invalid_time", "TIME needs a UTC offset, e.g. 2026-11-20T23:00Z.")
    check_schema_name(schema, store.database.schema)
    with store.connection() as conn, conn.transaction():
        prepare_schema(conn, schema, replace=replace)
    bound = last_position_at(store, as_of)
    source = AsOfSource(store, as_of, bound)
    out = []
    with schema_pool(database_url, schema) as pool:
        migrate(pool, projections)
        for projection in projections:
            target = Target(projection, projection.version)
            runner = Runner(source, pool, _only(target), batch_size=batch_size)
            events = runner.catch_up()
            with pool.connection() as conn:
                row = conn.execute(
                    "SELECT position FROM projection_positions WHERE name = %s AND version = %s",
                    target.key,
                ).fetchone()
                position = int(row["position"]) if row is not None else 0
                conn.execute(
                    SQL(
                        "INSERT INTO {} (projection, version, as_of, position, events)"
                        " VALUES (%s, %s, %s, %s, %s)"
                    ).format(Identifier(MARKER)),
                    (projection.name, projection.version, as_of, position, events),
                )
            out.append(Rebuilt(projection, schema, as_of, events, position))
    return out
