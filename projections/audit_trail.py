"""The audit trail: every recorded event by client and by actor, in a keyed hash chain.

Each entry keeps who did what (actor id, role, org, kind), to which client, when it happened
and when it was recorded, its event id and its place in the global order. The chain (version 2):
each entry's `digest` is sha256 of the payload bytes exactly as stored (ciphertext once payloads
are encrypted), and its `hash` is HMAC-SHA256, under a key kept outside the database
(`CARE_AUDIT_KEY`), over the previous entry's hash and EVERY column a reader is shown: kind,
position, sub-position, event id, client, version, type, actor id, role, org and kind, when it
occurred, when it was recorded, and the digest. So an `UPDATE` of any shown column breaks the
chain, and without the key nobody can recompute the chain over an edit. Editing, deleting,
inserting or reordering a stored event behind the application's back shows up when
`projections.audit_verify` walks the chain against the store; what the chain alone cannot show
(its tail cut off) is left to the projection's own position and to anchors kept outside the
database (services/app/audit.py, docs/reliability.md).

Version 1 chained sha256 without a key over kind, position, entry, client, version, type and
digest only; it is still read (`chain_hash_v1`) so a store made before version 2 can be verified
once more before the engine rebuilds its trail as version 2 beside it.

Entries are keyed (position, entry): an event is entry 0 at its position; other kinds of entry
(e.g. an access log) can join the chain later as entries 1, 2, … after the position they follow,
with their own `kind`, without changing how events are chained.

Version 3 adds two read-model columns to event entries so that a page by recorded time is a
range of positions, not a scan: `recorded_ceiling`, the latest recorded time of this entry and
every one before it, and `recorded_floor`, the earliest of this entry and every one after it.
Both only grow with the position. Positions follow commit order while the store stamps
`recorded_at` just before its insert, so a later position can carry an earlier time: every
entry recorded at or after `from` lies at or after the first position whose ceiling reaches
`from`, and every entry recorded before `to` at or before the last position whose floor is
before `to`; two index probes bound the page's primary-key range. A batch whose earliest time is
before the floor of earlier entries lowers their floor (normally none; at most the few entries
committed during the skew). They are derived, not chained; `audit verify` checks that they
bound each entry's time and never decrease (projections/audit_verify.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Composed

from projections.engine import BatchApply, Projection, Stored, Tables
from projections.rows import Where, from_row

NAME = "audit_trail"
VERSION = 3
EVENT = "event"
GENESIS = bytes(32)
# The development key (base64 of 32 bytes); settings refuse it in production.
DEVELOPMENT_KEY_TEXT = "Y2FyZWNpcmNsZS1kZXZlbG9wbWVudC1hdWRpdC1rZXk="
DEVELOPMENT_KEY = base64.b64decode(DEVELOPMENT_KEY_TEXT)

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
        " recorded_ceiling timestamptz,"
        " recorded_floor timestamptz,"
        " PRIMARY KEY (position, entry))"
    ),
    SQL("CREATE INDEX ON {audit_trail} (client_id, position)"),
    SQL("CREATE INDEX ON {audit_trail} (actor_id, position)"),
    SQL("CREATE INDEX ON {audit_trail} (recorded_ceiling, position)"),
    SQL("CREATE INDEX ON {audit_trail} (recorded_floor, position)"),
)
TABLES = ("audit_trail",)


def payload_digest(state: bytes) -> bytes:
    return hashlib.sha256(state).digest()


@dataclass(frozen=True, slots=True)
class Link:
    """One entry of the chain: every column a reader of the audit trail is shown."""

    kind: str
    position: int
    entry: int
    event_id: UUID | None
    client_id: UUID | None
    version: int | None
    type: str | None
    actor_id: str | None
    actor_role: str | None
    actor_org: str | None
    actor_kind: str | None
    occurred_at: datetime | None
    recorded_at: datetime | None
    digest: bytes

    @classmethod
    def of_row(cls, row: Mapping[str, Any]) -> Link:
        return from_row(cls, row, digest=bytes(row["digest"]))

    def parts(self) -> tuple[bytes | None, ...]:
        return (
            self.kind.encode(),
            self.position.to_bytes(8, "big", signed=True),
            self.entry.to_bytes(4, "big", signed=True),
            None if self.event_id is None else self.event_id.bytes,
            None if self.client_id is None else self.client_id.bytes,
            None if self.version is None else self.version.to_bytes(8, "big", signed=True),
            _text(self.type),
            _text(self.actor_id),
            _text(self.actor_role),
            _text(self.actor_org),
            _text(self.actor_kind),
            _instant(self.occurred_at),
            _instant(self.recorded_at),
            self.digest,
        )


def _text(value: str | None) -> bytes | None:
    return None if value is None else value.encode()


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def _instant(value: datetime | None) -> bytes | None:
    """Microseconds since the epoch: the same instant whatever time zone it is read in (a
    time without a zone is read as local time), by exact timedelta arithmetic."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.astimezone(UTC)
    return ((value - _EPOCH) // _MICROSECOND).to_bytes(8, "big", signed=True)


_ABSENT = (2**32 - 1).to_bytes(4, "big")  # a length no part can have: NULL, not empty


def chain_hash(key: bytes, previous: bytes, link: Link) -> bytes:
    """HMAC-SHA256 under `key` over the previous hash and the link's parts, each length-prefixed
    (an absent part has its own marker, so NULL and the empty text differ)."""
    pieces = [previous]
    for part in link.parts():
        if part is None:
            pieces.append(_ABSENT)
            continue
        pieces.append(len(part).to_bytes(4, "big"))
        pieces.append(part)
    # one message and the one-shot digest: the same bytes as updating a MAC part by part, in a
    # sixth less time (18.6 against 22.4 us a link; the catch-up hashes every event)
    return hmac.digest(key, b"".join(pieces), "sha256")


class EventChain:
    """Chains event entries under one key: the same hash as `chain_hash` over `event_link`,
    computed from the stored event without building a `Link`. Each part's length prefix is
    known ahead (fixed-width parts) or kept with the encoded text (type and actor, which
    repeat), and the MAC starts from a copy of one keyed state: 6.7-7.6 against 15.4-17.1 us an
    event, 20,000 stored events hashed five times (docs/benchmarks.md, eighth pass). The
    catch-up hashes every event; `chain_hash` stays the definition `audit verify` checks."""

    _TEXTS_KEPT = 4096

    def __init__(self, key: bytes) -> None:
        self._mac = hmac.new(key, digestmod="sha256")
        self._texts: dict[str, bytes] = {}

    def hash(self, previous: bytes, item: Stored, digest: bytes) -> bytes:
        r = item.recorded
        e = r.event
        actor = e.actor
        text = self._text
        mac = self._mac.copy()
        mac.update(
            b"".join(
                (
                    previous,
                    _EVENT_KIND,
                    _LENGTH_8,
                    r.position.to_bytes(8, "big", signed=True),
                    _ENTRY_0,
                    _LENGTH_16,
                    e.event_id.bytes,
                    _LENGTH_16,
                    e.client_id.bytes,
                    _LENGTH_8,
                    r.version.to_bytes(8, "big", signed=True),
                    text(item.topic),
                    text(actor.id),
                    text(actor.role),
                    text(actor.org),
                    text(actor.kind),
                    _moment(e.occurred_at),
                    _moment(r.recorded_at),
                    len(digest).to_bytes(4, "big"),
                    digest,
                )
            )
        )
        return mac.digest()

    def _text(self, value: str | None) -> bytes:
        """The text's length prefix and bytes (the absent marker for None)."""
        if value is None:
            return _ABSENT
        part = self._texts.get(value)
        if part is None:
            raw = value.encode()
            part = len(raw).to_bytes(4, "big") + raw
            if len(self._texts) < self._TEXTS_KEPT:
                self._texts[value] = part
        return part


_EVENT_KIND = len(EVENT).to_bytes(4, "big") + EVENT.encode()
_LENGTH_8 = (8).to_bytes(4, "big")
_LENGTH_16 = (16).to_bytes(4, "big")
_ENTRY_0 = (4).to_bytes(4, "big") + (0).to_bytes(4, "big", signed=True)


def _moment(value: datetime | None) -> bytes:
    """`_instant`'s part with its length prefix (the absent marker for None)."""
    instant = _instant(value)
    return _ABSENT if instant is None else _LENGTH_8 + instant


def chain_hash_v1(previous: bytes, link: Link) -> bytes:
    """Version 1's unkeyed sha256 over kind, position, entry, client, version, type and digest."""
    assert link.client_id is not None
    assert link.version is not None
    assert link.type is not None
    h = hashlib.sha256(previous)
    for part in (
        link.kind.encode(),
        link.position.to_bytes(8, "big", signed=True),
        link.entry.to_bytes(4, "big", signed=True),
        link.client_id.bytes,
        link.version.to_bytes(8, "big", signed=True),
        link.type.encode(),
        link.digest,
    ):
        h.update(len(part).to_bytes(4, "big"))
        h.update(part)
    return h.digest()


_LAST = SQL(
    "SELECT hash, (SELECT max(recorded_ceiling) FROM {audit_trail}) AS ceiling"
    " FROM {audit_trail} ORDER BY position DESC, entry DESC LIMIT 1"
)
# The batch goes in by COPY, not INSERT … SELECT FROM unnest: 8-12 against 20-26 us a row into
# the trail and its five indexes (docs/benchmarks.md, sixth pass). COPY has no ON CONFLICT: the
# runner applies a batch once, under its position's lock, so an entry already at a position is
# not a replay but a trail edited behind the engine's back: the batch fails (IntegrityError), is
# applied event by event, and the event whose entry was there is parked, not skipped silently.
_COLUMNS = (  # each column of an entry and its type, in the order a row is written
    ("position", "bigint"),
    ("entry", "integer"),
    ("kind", "text"),
    ("event_id", "uuid"),
    ("client_id", "uuid"),
    ("version", "bigint"),
    ("type", "text"),
    ("actor_id", "text"),
    ("actor_role", "text"),
    ("actor_org", "text"),
    ("actor_kind", "text"),
    ("occurred_at", "timestamptz"),
    ("recorded_at", "timestamptz"),
    ("digest", "bytea"),
    ("hash", "bytea"),
    ("recorded_ceiling", "timestamptz"),
    ("recorded_floor", "timestamptz"),
)
_TYPES = tuple(kind for _name, kind in _COLUMNS)
_APPEND = SQL(
    "COPY {audit_trail} (" + ", ".join(name for name, _kind in _COLUMNS) + ") FROM STDIN"
    " (FORMAT BINARY)"
)
# Earlier entries recorded after the batch's earliest time: their floor comes down to it.
_LOWER_FLOORS = SQL(
    "UPDATE {audit_trail} SET recorded_floor = %s WHERE recorded_floor > %s AND position < %s"
)


def event_link(item: Stored) -> Link:
    r = item.recorded
    e = r.event
    return Link(
        kind=EVENT,
        position=r.position,
        entry=0,
        event_id=e.event_id,
        client_id=e.client_id,
        version=r.version,
        type=item.topic,
        actor_id=e.actor.id,
        actor_role=e.actor.role,
        actor_org=e.actor.org,
        actor_kind=e.actor.kind,
        occurred_at=e.occurred_at,
        recorded_at=r.recorded_at,
        digest=payload_digest(item.state),
    )


def appender(key: bytes) -> BatchApply:
    """The batch apply of the audit trail chained under `key`."""
    chain = EventChain(key)

    def append_batch(cur: Cursor[DictRow], tables: Tables, items: Sequence[Stored]) -> None:
        """Chain the batch after the last entry and write it with one COPY."""
        if not items:
            return
        cur.execute(_LAST.format(**tables))
        row = cur.fetchone()
        previous = bytes(row["hash"]) if row else GENESIS
        ceilings, floors = time_bounds(
            row["ceiling"] if row else None, [item.recorded.recorded_at for item in items]
        )
        cur.execute(_LOWER_FLOORS.format(**tables), (floors[0], floors[0], items[0].position))
        with cur.copy(_APPEND.format(**tables)) as copy:
            copy.set_types(_TYPES)
            for item, ceiling, floor in zip(items, ceilings, floors, strict=True):
                r = item.recorded
                e = r.event
                digest = payload_digest(item.state)
                previous = chain.hash(previous, item, digest)
                copy.write_row(
                    (
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
                        ceiling,
                        floor,
                    )
                )

    return append_batch


def time_bounds(
    ceiling: datetime | None, times: Sequence[datetime]
) -> tuple[list[datetime], list[datetime]]:
    """Each entry's ceiling (the latest time up to it, after `ceiling`, the trail's so far) and
    floor within the batch (the earliest time from it to the batch's end)."""
    ceilings: list[datetime] = []
    for at in times:
        ceiling = at if ceiling is None or at > ceiling else ceiling
        ceilings.append(ceiling)
    floors: list[datetime] = []
    floor: datetime | None = None
    for at in reversed(times):
        floor = at if floor is None or at < floor else floor
        floors.append(floor)
    floors.reverse()
    return ceilings, floors


def audit_trail(key: bytes) -> Projection:
    """The audit-trail projection chaining under `key` (the wiring passes CARE_AUDIT_KEY's)."""
    if len(key) < 32:
        raise ValueError("the audit key must be at least 32 bytes")
    return Projection(name=NAME, version=VERSION, tables=TABLES, ddl=DDL, batch=appender(key))


# The development-keyed trail (tests, benchmarks); processes get theirs from the wiring.
AUDIT_TRAIL = audit_trail(DEVELOPMENT_KEY)


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


# The positions a time range can occupy (version 3's ceiling and floor, see the module's
# docstring): two index probes, so the page reads a range of the primary key, not the table.
_FROM_POSITION = SQL(
    "position >= (SELECT position FROM {audit_trail} WHERE recorded_ceiling >= %s"
    " ORDER BY recorded_ceiling, position LIMIT 1)"
)
_TO_POSITION = SQL(
    "position <= (SELECT position FROM {audit_trail} WHERE recorded_floor < %s"
    " ORDER BY recorded_floor DESC, position DESC LIMIT 1)"
)


@dataclass(frozen=True, slots=True)
class PageFilter:
    """What a page of the audit trail asks for: by client and/or actor, within recorded times."""

    client_id: UUID | None = None
    actor_id: str | None = None
    recorded_from: datetime | None = None
    recorded_to: datetime | None = None


def page_query(tables: Tables, asked: PageFilter) -> tuple[Composed, list[Any]]:
    """The page's query and its parameters, less `after` and the limit (appended in order)."""
    where = Where("kind = %s", EVENT)
    where.given("client_id = %s", asked.client_id)
    where.given("actor_id = %s", asked.actor_id)
    if asked.recorded_from is not None:
        where.add(SQL("recorded_at >= %s"), asked.recorded_from)
        where.add(_FROM_POSITION.format(**tables), asked.recorded_from)
    if asked.recorded_to is not None:
        where.add(SQL("recorded_at < %s"), asked.recorded_to)
        where.add(_TO_POSITION.format(**tables), asked.recorded_to)
    where.add(SQL("position > %s"))
    query = SQL(
        "SELECT position, event_id, type, client_id, actor_id, actor_role, actor_org,"
        " actor_kind, occurred_at, recorded_at, hash FROM {audit_trail} WHERE {where}"
        " ORDER BY position LIMIT %s"
    ).format(where=where.sql(), **tables)
    return query, where.params


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
    query, params = page_query(tables, PageFilter(client_id, actor_id, recorded_from, recorded_to))
    rows = conn.execute(query, (*params, after, limit + 1)).fetchall()
    more = len(rows) > limit
    items = [from_row(AuditEntry, row, hash=bytes(row["hash"])) for row in rows[:limit]]
    return AuditPage(items=items, next=items[-1].position if more and items else None)


def chain_head(conn: Connection[DictRow], tables: Tables) -> tuple[int, bytes] | None:
    """The last chained entry's position and hash, None for an empty chain."""
    row = conn.execute(
        SQL(
            "SELECT position, hash FROM {audit_trail} ORDER BY position DESC, entry DESC LIMIT 1"
        ).format(**tables)
    ).fetchone()
    return None if row is None else (row["position"], bytes(row["hash"]))
