"""Where the read models stand and the way queries into them: each projection's live version,
position and lag (`carecircle projections status`), and `ReadModels.reading`, which hands a
query the live tables once they reached the position a write answered (read-your-writes).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

from psycopg import Connection
from psycopg.rows import DictRow
from psycopg.sql import SQL

from projections.engine import (
    POSITIONS,
    VERSIONS,
    EventSource,
    Pool,
    Projection,
    Tables,
    versions_of,
)


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
