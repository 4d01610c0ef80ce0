"""The audit trail: every recorded event by client and by actor, hash-chained over the global order.

Each entry keeps who did what (actor id, role, org, kind), to which client, when it happened
and when it was recorded, and its place in the global order. The chain: each entry's `digest`
is sha256 of the payload bytes exactly as stored (ciphertext once payloads are encrypted), and
its `hash` is sha256 over the previous entry's hash, the entry kind, its position and
sub-position, the stored originator id, version and topic, and that digest. Editing, deleting,
inserting or reordering a stored event behind the application's back therefore shows up when
`verify` walks the chain against the store.

Entries are keyed (position, entry): an event is entry 0 at its position; other kinds of entry
(e.g. an access log) can join the chain later as entries 1, 2, … after the position they follow,
with their own `kind`, without changing how events are chained.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed, Identifier

from projections.engine import Projection, Stored, Tables

NAME = "audit_trail"
VERSION = 1
EVENT = "event"
GENESIS = bytes(32)

DDL = (
    SQL(
        "CREATE TABLE {audit_trail} ("
        " position bigint NOT NULL,"
        " entry integer NOT NULL DEFAULT 0,"
        " kind text NOT NULL,"
        " event_id uuid,"
        " client_id uuid,"
        " version bigint,"
        " type text,"
        " actor_id text,"
        " actor_role text,"
        " actor_org text,"
        " actor_kind text,"
        " occurred_at timestamptz,"
        " recorded_at timestamptz,"
        " digest bytea NOT NULL,"
        " hash bytea NOT NULL,"
        " PRIMARY KEY (position, entry))"
    ),
    SQL("CREATE INDEX ON {audit_trail} (client_id, position)"),
    SQL("CREATE INDEX ON {audit_trail} (actor_id, position)"),
)
TABLES = ("audit_trail",)


def payload_digest(state: bytes) -> bytes:
    return hashlib.sha256(state).digest()


def chain_hash(
    previous: bytes,
    *,
    kind: str,
    position: int,
    entry: int,
    originator_id: UUID,
    version: int,
    topic: str,
    digest: bytes,
) -> bytes:
    """sha256 over the previous hash and the entry's fields, each length-prefixed."""
    h = hashlib.sha256(previous)
    for part in (
        kind.encode(),
        position.to_bytes(8, "big", signed=True),
        entry.to_bytes(4, "big", signed=True),
        originator_id.bytes,
        version.to_bytes(8, "big", signed=True),
        topic.encode(),
        digest,
    ):
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.digest()


_LAST_HASH = SQL("SELECT hash FROM {audit_trail} ORDER BY position DESC, entry DESC LIMIT 1")
_APPEND = SQL(
    "INSERT INTO {audit_trail} (position, entry, kind, event_id, client_id, version, type,"
    " actor_id, actor_role, actor_org, actor_kind, occurred_at, recorded_at, digest, hash)"
    " SELECT * FROM unnest(%b::bigint[], %b::integer[], %b::text[], %b::uuid[], %b::uuid[],"
    " %b::bigint[], %b::text[], %b::text[], %b::text[], %b::text[], %b::text[],"
    " %b::timestamptz[], %b::timestamptz[], %b::bytea[], %b::bytea[])"
    " ON CONFLICT (position, entry) DO NOTHING"
)


def append_batch(cur: Cursor[DictRow], tables: Tables, items: Sequence[Stored]) -> None:
    """Chain the batch after the last entry and insert it with one statement."""
    cur.execute(_LAST_HASH.format(**tables))
    row = cur.fetchone()
    previous = bytes(row["hash"]) if row else GENESIS
    columns: list[list[Any]] = [[] for _ in range(15)]
    for item in items:
        r = item.recorded
        e = r.event
        digest = payload_digest(item.state)
        previous = chain_hash(
            previous,
            kind=EVENT,
            position=r.position,
            entry=0,
            originator_id=e.client_id,
            version=r.version,
            topic=item.topic,
            digest=digest,
        )
        values = (
            r.position,
            0,
            EVENT,
            e.event_id,
            e.client_id,
            r.version,
            item.topic,
            e.actor.id,
            e.actor.role,
            e.actor.org,
            e.actor.kind,
            e.occurred_at,
            r.recorded_at,
            digest,
            previous,
        )
        for column, value in zip(columns, values, strict=True):
            column.append(value)
    cur.execute(_APPEND.format(**tables), columns, binary=True)


AUDIT_TRAIL = Projection(name=NAME, version=VERSION, tables=TABLES, ddl=DDL, batch=append_batch)


# --- verify ---------------------------------------------------------------------------------------

Problem = Literal["altered", "deleted", "inserted", "reordered", "chain_broken"]


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


@dataclass(frozen=True, slots=True)
class _StoreRow:
    position: int
    originator_id: UUID
    version: int
    topic: str
    digest: bytes


def verify(
    conn: Connection[DictRow], tables: Tables, events_table: str, *, page: int = 5000
) -> Verdict:
    """Walk the chain in order against the stored events; stop at the first disagreement.

    - the chain itself: each hash recomputed from the previous one and the entry's fields
      (an edited audit row breaks it);
    - each event entry against the stored row at its position: a row missing is `deleted`, a
      stored row the chain never saw is `inserted`, different payload bytes are `reordered` when
      they are another chained entry's bytes and `altered` otherwise, as are changed columns.

    Stored events after the chain's last position are counted as `unchained` (not projected yet).
    """
    store = _store_rows(conn, Identifier(events_table), page)
    pending = next(store, None)
    previous = GENESIS
    checked = 0
    last = 0
    for entry in _chain(conn, tables, page):
        position = entry["position"]
        expected = chain_hash(
            previous,
            kind=entry["kind"],
            position=position,
            entry=entry["entry"],
            originator_id=entry["client_id"],
            version=entry["version"],
            topic=entry["type"],
            digest=bytes(entry["digest"]),
        )
        if expected != bytes(entry["hash"]):
            return _bad(checked, last, "chain_broken", position, "audit entry does not chain")
        if entry["kind"] == EVENT:
            if pending is not None and pending.position < position:
                return _bad(checked, last, "inserted", pending.position, "stored, never chained")
            if pending is None or pending.position > position:
                return _bad(checked, last, "deleted", position, "chained, no longer stored")
            found = _compare(conn, tables, entry, pending)
            if found is not None:
                return _bad(checked, last, found[0], position, found[1])
            pending = next(store, None)
        previous = bytes(entry["hash"])
        checked += 1
        last = position
    unchained = 0
    while pending is not None:
        unchained += 1
        pending = next(store, None)
    return Verdict(ok=True, checked=checked, last_position=last, unchained=unchained)


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
    conn: Connection[DictRow], tables: Tables, entry: DictRow, row: _StoreRow
) -> tuple[Problem, str] | None:
    if row.digest != bytes(entry["digest"]):
        elsewhere = conn.execute(
            SQL(
                "SELECT position FROM {audit_trail} WHERE digest = %s AND position <> %s LIMIT 1"
            ).format(**tables),
            (row.digest, row.position),
        ).fetchone()
        if elsewhere is not None:
            return "reordered", f"holds the payload chained at position {elsewhere['position']}"
        return "altered", "payload bytes differ from those chained"
    if (row.originator_id, row.version, row.topic) != (
        entry["client_id"],
        entry["version"],
        entry["type"],
    ):
        return "altered", "client, version or type differ from those chained"
    return None


def _chain(conn: Connection[DictRow], tables: Tables, page: int) -> Iterator[DictRow]:
    query = SQL(
        "SELECT position, entry, kind, client_id, version, type, digest, hash FROM {audit_trail}"
        " WHERE (position, entry) > (%s, %s) ORDER BY position, entry LIMIT %s"
    ).format(**tables)
    after = (0, -1)
    while True:
        rows = conn.execute(query, (*after, page)).fetchall()
        yield from rows
        if len(rows) < page:
            return
        after = (rows[-1]["position"], rows[-1]["entry"])


def _store_rows(conn: Connection[DictRow], table: Identifier, page: int) -> Iterator[_StoreRow]:
    query: Composed = SQL(
        "SELECT notification_id, originator_id, originator_version, topic, sha256(state) AS digest"
        " FROM {} WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
    ).format(table)
    after = -(2**63)  # every stored row, even one slipped in below the first position
    while True:
        rows = conn.execute(query, (after, page)).fetchall()
        for row in rows:
            yield _StoreRow(
                position=row["notification_id"],
                originator_id=row["originator_id"],
                version=row["originator_version"],
                topic=row["topic"],
                digest=bytes(row["digest"]),
            )
        if len(rows) < page:
            return
        after = rows[-1]["notification_id"]


# --- queries --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AuditEntry:
    position: int
    event_id: UUID
    type: str
    client_id: UUID
    actor_id: str
    actor_role: str
    actor_org: str
    actor_kind: str
    occurred_at: datetime
    recorded_at: datetime
    hash: bytes


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: list[AuditEntry]
    next: int | None


def audit_page(
    conn: Connection[DictRow],
    tables: Tables,
    *,
    client_id: UUID | None = None,
    actor_id: str | None = None,
    recorded_from: datetime | None = None,
    recorded_to: datetime | None = None,
    after: int = 0,
    limit: int = 100,
) -> AuditPage:
    """Chained events in global order, by client and/or actor, within recorded times."""
    where = [SQL("kind = %s"), SQL("position > %s")]
    params: list[Any] = [EVENT, after]
    if client_id is not None:
        where.append(SQL("client_id = %s"))
        params.append(client_id)
    if actor_id is not None:
        where.append(SQL("actor_id = %s"))
        params.append(actor_id)
    if recorded_from is not None:
        where.append(SQL("recorded_at >= %s"))
        params.append(recorded_from)
    if recorded_to is not None:
        where.append(SQL("recorded_at < %s"))
        params.append(recorded_to)
    query = SQL(
        "SELECT position, event_id, type, client_id, actor_id, actor_role, actor_org,"
        " actor_kind, occurred_at, recorded_at, hash FROM {audit_trail} WHERE {where}"
        " ORDER BY position LIMIT %s"
    ).format(where=SQL(" AND ").join(where), **tables)
    rows = conn.execute(query, (*params, limit + 1)).fetchall()
    more = len(rows) > limit
    items = [
        AuditEntry(
            position=row["position"],
            event_id=row["event_id"],
            type=row["type"],
            client_id=row["client_id"],
            actor_id=row["actor_id"],
            actor_role=row["actor_role"],
            actor_org=row["actor_org"],
            actor_kind=row["actor_kind"],
            occurred_at=row["occurred_at"],
            recorded_at=row["recorded_at"],
            hash=bytes(row["hash"]),
        )
        for row in rows[:limit]
    ]
    return AuditPage(items=items, next=items[-1].position if more and items else None)


def enrolled_by(conn: Connection[DictRow], tables: Tables, actor_id: str) -> list[UUID]:
    """The clients this actor enrolled (the enrolling clinician is on the care team)."""
    rows = conn.execute(
        SQL(
            "SELECT client_id FROM {audit_trail} WHERE actor_id = %s AND type = 'ClientEnrolled'"
            " AND kind = %s"
        ).format(**tables),
        (actor_id, EVENT),
    ).fetchall()
    return [row["client_id"] for row in rows]


def chain_head(conn: Connection[DictRow], tables: Tables) -> tuple[int, bytes] | None:
    """The last chained entry's position and hash, None for an empty chain."""
    row = conn.execute(
        SQL(
            "SELECT position, hash FROM {audit_trail} ORDER BY position DESC, entry DESC LIMIT 1"
        ).format(**tables)
    ).fetchone()
    return None if row is None else (row["position"], bytes(row["hash"]))
