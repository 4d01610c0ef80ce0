"""Verifying the audit trail against the store, in one snapshot.

`verify` walks the chain in order and the stored events beside it, and stops at the first
disagreement:

- the chain itself: each hash recomputed from the previous one and the entry's columns, under
  the key (version 2) — an edited actor, time, event id or any other shown column breaks it,
  and so does an edit whose later hashes were recomputed without the key;
- each event entry against the store: a row missing is `deleted`, a stored row the chain never
  saw is `inserted`, different payload bytes are `reordered` when they are another chained
  entry's bytes and `altered` otherwise, as are changed columns — including the event id and
  recorded time the store's event-id index holds;
- the time bounds of version 3 (derived, not chained): each event entry's `recorded_ceiling`
  must be the latest recorded time up to it and its `recorded_floor` no later than its own time
  and no earlier than the previous entry's, or a page by time range could skip entries; an
  edited bound is `chain_broken` like any other edited audit column;
- the chain's end against the projection's own position (moved in the same transaction as every
  append): a chain ending before it was `truncated` — its last entries deleted, every entry
  deleted, or the store's tail deleted together with its audit rows.

Stored events after the projection's position are counted as `unchained` (not projected yet).
What one database cannot prove about itself (an attacker who also rewinds the position, or who
holds the key) is left to anchors kept outside it: `heads` answers the chain's state at the
positions an anchor names, and services/app/audit.py compares them.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal
from uuid import UUID

from psycopg import Connection
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from projections.audit_trail import EVENT, GENESIS, Link, chain_hash, chain_hash_v1
from projections.engine import Tables
from projections.rows import from_row

Problem = Literal["altered", "deleted", "inserted", "reordered", "chain_broken", "truncated"]


@dataclass(frozen=True, slots=True)
class Head:
    """The chain as of one position: entries up to it and the hash of its last entry there."""

    position: int
    count: int
    hash: bytes


@dataclass(frozen=True, slots=True)
class Verdict:
    """The first place the chain and the store disagree, or how much was checked."""

    ok: bool
    checked: int
    last_position: int
    problem: Problem | None = None
    position: int | None = None
    detail: str | None = None
    unchained: int = 0
    head: Head | None = None
    heads: dict[int, Head] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _StoreRow:
    position: int
    originator_id: UUID
    version: int
    topic: str
    digest: bytes
    event_id: UUID | None
    recorded_at: object


@dataclass(frozen=True, slots=True)
class Scope:
    """What is verified: the trail's tables and version, the store's tables, the key, and the
    position the projection says it chained up to (None: not known, no truncation check)."""

    tables: Tables
    version: int
    events_table: str
    index_table: str
    key: bytes
    projected: int | None


def verify(
    conn: Connection[DictRow], scope: Scope, *, at: Collection[int] = (), page: int = 5000
) -> Verdict:
    """Walk the chain against the store (see the module's docstring); `at`: positions whose
    chain state to report in `heads` (an anchor's)."""
    store = _store_rows(conn, scope, page)
    pending = next(store, None)
    previous = GENESIS
    checked = 0
    last = 0
    heads: dict[int, Head] = {}
    bounds = _Bounds()
    for row in _chain(conn, scope.tables, page, bounds=scope.version >= 3):
        link = Link.of_row(row)
        position = link.position
        if scope.version >= 2:
            expected = chain_hash(scope.key, previous, link)
        else:
            expected = chain_hash_v1(previous, link)
        if expected != bytes(row["hash"]):
            return _bad(checked, last, "chain_broken", position, "audit entry does not chain")
        if link.kind == EVENT:
            if pending is not None and pending.position < position:
                return _bad(checked, last, "inserted", pending.position, "stored, never chained")
            if pending is None or pending.position > position:
                return _bad(checked, last, "deleted", position, "chained, no longer stored")
            found = _compare(conn, scope, link, pending)
            if found is not None:
                return _bad(checked, last, found[0], position, found[1])
            if scope.version >= 3 and not bounds.follow(link, row):
                return _bad(checked, last, "chain_broken", position, "time bounds edited")
            pending = next(store, None)
        previous = bytes(row["hash"])
        checked += 1
        last = position
        if position in at:
            heads[position] = Head(position, checked, previous)
    if scope.projected is not None and scope.projected > last:
        missing = pending.position if pending is not None else scope.projected
        return _bad(
            checked,
            last,
            "truncated",
            min(missing, scope.projected),
            f"the trail was chained up to position {scope.projected}, its chain ends at {last}",
        )
    unchained = 0
    while pending is not None:
        unchained += 1
        pending = next(store, None)
    head = Head(last, checked, previous) if checked else None
    return Verdict(
        ok=True, checked=checked, last_position=last, unchained=unchained, head=head, heads=heads
    )


@dataclass(slots=True)
class _Bounds:
    """The time bounds walked so far: the latest recorded time and the last floor."""

    ceiling: datetime | None = None
    floor: datetime | None = None

    def follow(self, link: Link, row: DictRow) -> bool:
        """Whether this entry's ceiling and floor follow from the entries before it."""
        at = link.recorded_at
        if at is None:
            return False
        self.ceiling = at if self.ceiling is None or at > self.ceiling else self.ceiling
        ceiling, floor = row["recorded_ceiling"], row["recorded_floor"]
        if ceiling != self.ceiling or floor is None or floor > at:
            return False
        if self.floor is not None and floor < self.floor:
            return False
        self.floor = floor
        return True


def _bad(checked: int, last: int, problem: Problem, position: int, detail: str) -> Verdict:
    return Verdict(
        ok=False,
        checked=checked,
        last_position=last,
        problem=problem,
        position=position,
        detail=detail,
    )


def _compare(
    conn: Connection[DictRow], scope: Scope, link: Link, row: _StoreRow
) -> tuple[Problem, str] | None:
    if row.digest != link.digest:
        elsewhere = conn.execute(
            SQL(
                "SELECT position FROM {audit_trail} WHERE digest = %s AND position <> %s LIMIT 1"
            ).format(**scope.tables),
            (row.digest, row.position),
        ).fetchone()
        if elsewhere is not None:
            return "reordered", f"holds the payload chained at position {elsewhere['position']}"
        return "altered", "payload bytes differ from those chained"
    if (row.originator_id, row.version, row.topic) != (link.client_id, link.version, link.type):
        return "altered", "client, version or type differ from those chained"
    if scope.version >= 2 and (row.event_id, row.recorded_at) != (
        link.event_id,
        link.recorded_at,
    ):
        return "altered", "event id or recorded time differ from the store's index"
    return None


def _chain(
    conn: Connection[DictRow], tables: Tables, page: int, *, bounds: bool
) -> Iterator[DictRow]:
    query = SQL(
        "SELECT position, entry, kind, event_id, client_id, version, type, actor_id,"
        " actor_role, actor_org, actor_kind, occurred_at, recorded_at, digest, hash{bounds}"
        " FROM {audit_trail} WHERE (position, entry) > (%s, %s)"
        " ORDER BY position, entry LIMIT %s"
    ).format(bounds=SQL(", recorded_ceiling, recorded_floor" if bounds else ""), **tables)
    after = (0, -1)
    while True:
        rows = conn.execute(query, (*after, page)).fetchall()
        yield from rows
        if len(rows) < page:
            return
        after = (rows[-1]["position"], rows[-1]["entry"])


def _store_rows(conn: Connection[DictRow], scope: Scope, page: int) -> Iterator[_StoreRow]:
    query: Composed = SQL(
        "SELECT e.notification_id, e.originator_id, e.originator_version, e.topic,"
        " sha256(e.state) AS digest, i.event_id, i.recorded_at"
        " FROM {events} e LEFT JOIN {index} i ON i.position = e.notification_id"
        " WHERE e.notification_id > %s ORDER BY e.notification_id LIMIT %s"
    ).format(events=Identifier(scope.events_table), index=Identifier(scope.index_table))
    after = -(2**63)  # every stored row, even one slipped in below the first position
    while True:
        rows = conn.execute(query, (after, page)).fetchall()
        for row in rows:
            yield from_row(
                _StoreRow,
                row,
                position=row["notification_id"],
                version=row["originator_version"],
                digest=bytes(row["digest"]),
            )
        if len(rows) < page:
            return
        after = rows[-1]["notification_id"]
