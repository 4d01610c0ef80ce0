"""Parked events: an event a projection cannot apply is set aside, and the projection moves on.

Without parking, one event a read model cannot hold (a NUL in a member id, once stored, made
PostgreSQL refuse the caseload's row with `CharacterNotInRepertoire`) is retried forever: every
read model stops for every client, and every read that waits for a position answers 503.

When a batch fails to apply to a projection with an error that retrying cannot cure — the
database refusing the data (`DataError`, `IntegrityError`) or a bug in a handler (any exception
that is not psycopg's) — the batch is rolled back to a savepoint and applied again one event at
a time, each under its own savepoint. The events that still fail are written to
`projection_failures` (projection, version, position, event type, and the error's type and
SQLSTATE — never its message, which may quote the data) in the same transaction that moves the
projection's position past them: parked exactly once, like any applied event.

Errors that say the database is away or busy (connection lost, serialization, lock timeouts)
are not parked: the batch is retried as before.

Parked events are shown by `carecircle projections status`, `carecircle status`, the
`carecircle_projection_parked_events` gauge and `/readyz` (degraded). After a fix, `carecircle
projections retry` rebuilds each projection with parked events beside the live version, in
position order (so a hash chain or a later release is never applied out of order), and swaps;
what still fails is parked again in the new version.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import psycopg
import structlog
from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier
from psycopg_pool import ConnectionPool

from domain.recorded import Recorded

log = structlog.get_logger(__name__)

FAILURES = Identifier("projection_failures")

FAILURES_DDL = SQL(
    "CREATE TABLE IF NOT EXISTS {failures} ("
    " name text NOT NULL,"
    " version integer NOT NULL,"
    " position bigint NOT NULL,"
    " event_type text NOT NULL,"
    " reason text NOT NULL,"
    " parked_at timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (name, version, position))"
).format(failures=FAILURES)

_PARK = SQL(
    "INSERT INTO {failures} (name, version, position, event_type, reason)"
    " VALUES (%s, %s, %s, %s, %s) ON CONFLICT DO NOTHING"
).format(failures=FAILURES)

# what retrying cannot cure: the database refuses the data, or a handler has a bug
_PARKABLE_DB_ERRORS = (psycopg.errors.DataError, psycopg.errors.IntegrityError)


def parkable(error: BaseException) -> bool:
    """Whether an apply failure is the event's (park it), not the database's (retry)."""
    if isinstance(error, psycopg.Error):
        return isinstance(error, _PARKABLE_DB_ERRORS)
    return isinstance(error, Exception)


def reason_of(error: BaseException) -> str:
    """The error's type and SQLSTATE: never its message, which may quote the event's data."""
    state = getattr(error, "sqlstate", None)
    return f"{type(error).__name__}" + (f" (SQLSTATE {state})" if state else "")


class Item(Protocol):
    """One stored event as the engine hands it over (projections.engine.Stored)."""

    @property
    def recorded(self) -> Recorded: ...

    @property
    def position(self) -> int: ...


Apply = Callable[[Cursor[DictRow], Sequence[Any]], None]


def apply_or_park(
    conn: Connection[DictRow],
    cur: Cursor[DictRow],
    key: tuple[str, int],
    items: Sequence[Item],
    apply: Apply,
) -> int:
    """Apply a batch under a savepoint; if it fails for the events' sake, apply them one by one
    and park those that fail. Answers how many were parked. Runs inside the batch's transaction.
    """
    try:
        with conn.transaction():
            apply(cur, items)
        return 0
    except Exception as error:
        if not parkable(error):
            raise
        log.warning("projections.batch_failed", projection=key[0], error_type=type(error).__name__)
    parked = 0
    for item in items:
        try:
            with conn.transaction():
                apply(cur, [item])
        except Exception as error:
            if not parkable(error):
                raise
            park(cur, key, item, error)
            parked += 1
    return parked


def park(cur: Cursor[DictRow], key: tuple[str, int], item: Item, error: BaseException) -> None:
    name, version = key
    event_type = item.recorded.event.type
    cur.execute(_PARK, (name, version, item.position, event_type, reason_of(error)))
    log.error(
        "projections.parked",
        projection=name,
        version=version,
        position=item.position,
        event_type=event_type,
        error_type=type(error).__name__,
    )


# --- reading them ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Parked:
    name: str
    version: int
    position: int
    event_type: str
    reason: str
    parked_at: datetime


_LIVE_PARKED = SQL(
    "SELECT f.name, f.version, f.position, f.event_type, f.reason, f.parked_at"
    " FROM {failures} f JOIN projection_versions v ON v.name = f.name AND v.live = f.version"
    " ORDER BY f.name, f.position"
).format(failures=FAILURES)


def live_parked(conn: Connection[Any]) -> list[Parked]:
    """The events parked in each projection's live version, in position order."""
    return [
        Parked(
            row["name"],
            row["version"],
            row["position"],
            row["event_type"],
            row["reason"],
            row["parked_at"],
        )
        for row in conn.execute(_LIVE_PARKED).fetchall()
    ]


def parked_counts(pool: ConnectionPool[Any]) -> dict[str, int]:
    """Per projection, how many events its live version has parked (0s left out)."""
    return {name: summary.count for name, summary in parked_summaries(pool).items()}


@dataclass(frozen=True, slots=True)
class ParkedSummary:
    """What one projection's live version has parked: how many, and the oldest position."""

    count: int
    oldest_position: int


_LIVE_SUMMARY = SQL(
    "SELECT f.name, count(*) AS count, min(f.position) AS oldest FROM {failures} f"
    " JOIN projection_versions v ON v.name = f.name AND v.live = f.version"
    " GROUP BY f.name ORDER BY f.name"
).format(failures=FAILURES)


def parked_summaries(pool: ConnectionPool[Any]) -> dict[str, ParkedSummary]:
    """Per projection with parked events, how many and the oldest position (`status`,
    /metrics); projections with none are left out."""
    with pool.connection() as conn:
        rows = conn.execute(_LIVE_SUMMARY).fetchall()
    return {row["name"]: ParkedSummary(int(row["count"]), int(row["oldest"])) for row in rows}


def drop_failures(conn: Connection[Any], name: str, version: int) -> None:
    conn.execute(
        SQL("DELETE FROM {} WHERE name = %s AND version = %s").format(FAILURES), (name, version)
    )
