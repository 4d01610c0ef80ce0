"""The access log: every read of a client's data, and every refused request, hash chained.

One row per access: when, who (id, role, organization), which client, what action and data
classes, for what purpose, on what basis (care team, organization, break-the-glass, …), and the
outcome — `allowed`, `denied` (403) or `not_found` (404, no relationship or no such client).
Rows hold ids and codes only, never PHI, so crypto-shredding a client leaves them intact.

Append-only (ONC 170.315(d)(2), HIPAA 164.312(b), R4): the application only ever INSERTs, and a
trigger refuses UPDATE, DELETE and TRUNCATE whoever asks. Tamper-evident (R5): each row stores
`hash = "hmac:" + HMAC-SHA256(key, prev_hash || canonical(row))` under the audit key kept
outside the database (`CARE_AUDIT_KEY`), over every column a reader is shown; `carecircle audit
verify` recomputes the chain and names the first row that was altered, removed, inserted or
reordered behind the application's back, and nobody without the key can recompute the chain
over an edit. Rows written before the chain was keyed hold a bare sha256 hex hash and still
verify as such, but only before the first keyed row (no downgrade after it). Deleting the last
rows leaves a shorter chain that verifies; anchors kept outside the database catch that
(services/app/audit.py).

Appends are group-committed: concurrent requests of one process hand their entries to one
writer (the first to arrive leads; the others wait for its commit), which chains them all in one
transaction. Writers of all processes take one transaction-level advisory lock, never a lock on
the table (reads and `verify` go on). A writer numbers and hashes its rows after the chain's
last row as it last saw it and sends ONE message (one round trip, one transaction, committed
before the request that caused it is answered): take the lock; insert the rows only if the
chain's last row is still the one they were chained after (the insert runs after the lock, so
it sees every row committed before). When another process appended meanwhile nothing is
inserted, and the writer does it the sure way: a transaction that takes the lock, reads the
last row and inserts its rows chained after it (three round trips). So the chain has one order
and its ids grow by one along it without gaps (the primary key would refuse a second row with
an id, whatever happened).
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import orjson
from psycopg import sql
from psycopg.sql import SQL, Composed, Identifier

from projections.rows import from_row
from services.adapters.store import Database

ACCESS_LOG_TABLE = "access_log"
GENESIS = "0" * 64
# pg_advisory_xact_lock key of the chain's one writer at a time (any constant unique to us)
CHAIN_LOCK_KEY = 0x63617265_616C6F67  # "carealog"
KEYED = "hmac:"  # the prefix of a keyed row's hash; a bare hex hash is an unkeyed (older) row

Outcome = Literal["allowed", "denied", "not_found"]


@dataclass(frozen=True, slots=True)
class AccessEntry:
    """One access to be appended."""

    at: datetime
    actor_id: str
    actor_role: str
    actor_org: str
    client_id: UUID | None
    action: str
    data_classes: tuple[str, ...]
    purpose: str
    outcome: Outcome
    code: str | None = None
    basis: str | None = None
    correlation_id: str | None = None


@dataclass(frozen=True, slots=True)
class LoggedAccess:
    """One appended row, as the access-log query returns it."""

    entry_id: int
    entry: AccessEntry
    prev_hash: str
    hash: str

    def to_dict(self) -> dict[str, Any]:
        e = self.entry
        return {
            "entry_id": self.entry_id,
            "at": e.at.isoformat(),
            "actor": {"id": e.actor_id, "role": e.actor_role, "org": e.actor_org},
            "client_id": None if e.client_id is None else str(e.client_id),
            "action": e.action,
            "data_classes": list(e.data_classes),
            "purpose": e.purpose,
            "outcome": e.outcome,
            "code": e.code,
            "basis": e.basis,
            "correlation_id": e.correlation_id,
            "hash": self.hash,
        }


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The chain as of one entry: entries up to it and its hash (what an anchor records)."""

    entry_id: int
    count: int
    hash: str


@dataclass(frozen=True, slots=True)
class ChainCheck:
    """The result of re-computing the chain: rows checked and the first bad one, if any;
    the last entry's head, and the heads at the entries asked for."""

    checked: int
    first_bad_entry_id: int | None
    head: ChainHead | None = None
    heads: dict[int, ChainHead] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.first_bad_entry_id is None

    def line(self) -> str:
        """One line for `carecircle audit verify` and `carecircle access-log verify`."""
        if self.first_bad_entry_id is None:
            return f"access log verified: {self.checked} entries chained"
        return (
            f"access log broken at entry {self.first_bad_entry_id}:"
            f" {self.checked} entries before it verified"
        )


def entry_hash(prev_hash: str, entry_id: int, entry: AccessEntry, key: bytes | None) -> str:
    """HMAC-SHA256 under `key` (sha256 when None: rows written before the chain was keyed) over
    the previous hash and the row's canonical JSON (sorted keys, UTC times)."""
    message = prev_hash.encode() + b"\n" + canonical_entry(entry_id, entry)
    if key is None:
        return hashlib.sha256(message).hexdigest()
    return KEYED + hmac.new(key, message, hashlib.sha256).hexdigest()


def canonical_entry(entry_id: int, entry: AccessEntry) -> bytes:
    """Every column a reader is shown, as sorted-key JSON."""
    return orjson.dumps(
        {
            "entry_id": entry_id,
            "at": entry.at.astimezone(UTC).isoformat(),
            "actor_id": entry.actor_id,
            "actor_role": entry.actor_role,
            "actor_org": entry.actor_org,
            "client_id": None if entry.client_id is None else str(entry.client_id),
            "action": entry.action,
            "data_classes": sorted(entry.data_classes),
            "purpose": entry.purpose,
            "outcome": entry.outcome,
            "code": entry.code,
            "basis": entry.basis,
            "correlation_id": entry.correlation_id,
        },
        option=orjson.OPT_SORT_KEYS,
    )


_COLUMNS = (
    "entry_id, at, actor_id, actor_role, actor_org, client_id, action, data_classes, purpose,"
    " outcome, code, basis, correlation_id, prev_hash, hash"
)


def access_log_ddl(schema_name: str) -> list[Composed]:
    """The table, its indexes, and the triggers that make it append-only."""
    schema = Identifier(schema_name)
    table = SQL("{}.{}").format(schema, Identifier(ACCESS_LOG_TABLE))
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            " entry_id bigserial PRIMARY KEY,"
            " at timestamptz NOT NULL,"
            " actor_id text NOT NULL,"
            " actor_role text NOT NULL,"
            " actor_org text NOT NULL,"
            " client_id uuid,"
            " action text NOT NULL,"
            " data_classes text[] NOT NULL,"
            " purpose text NOT NULL,"
            " outcome text NOT NULL CHECK (outcome IN ('allowed', 'denied', 'not_found')),"
            " code text,"
            " basis text,"
            " correlation_id text,"
            " prev_hash text NOT NULL,"
            " hash text NOT NULL)"
        ).format(table=table),
        SQL(
            "CREATE INDEX IF NOT EXISTS access_log_by_client ON {table} (client_id, entry_id)"
        ).format(table=table),
        SQL(
            "CREATE INDEX IF NOT EXISTS access_log_by_actor ON {table} (actor_id, entry_id)"
        ).format(table=table),
        SQL(
            "CREATE OR REPLACE FUNCTION {schema}.access_log_refuse_change() RETURNS trigger"
            " LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION 'access_log is append-only' USING ERRCODE = '42501';"
            " END $$"
        ).format(schema=schema),
        SQL(
            "CREATE OR REPLACE TRIGGER access_log_append_only"
            " BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION {schema}.access_log_refuse_change()"
        ).format(table=table, schema=schema),
        SQL(
            "CREATE OR REPLACE TRIGGER access_log_no_truncate"
            " BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION {schema}.access_log_refuse_change()"
        ).format(table=table, schema=schema),
    ]


class AccessLog:
    """Appends to, queries and verifies the `access_log` table."""

    def __init__(
        self,
        database: Database,
        ensure_schema: Callable[[], None] = lambda: None,
        *,
        key: bytes,
    ) -> None:
        self.db = database
        self._key = key
        self._ensure_schema = ensure_schema
        schema = Identifier(database.schema)
        table = SQL("{}.{}").format(schema, Identifier(ACCESS_LOG_TABLE))
        self._table = table
        self._last = SQL(
            "SELECT entry_id, hash FROM {table} ORDER BY entry_id DESC LIMIT 1"
        ).format(table=table)
        # two statements in one simple-protocol message: one implicit transaction, the second
        # statement's snapshot taken after the first took the lock
        self._append_after = SQL(
            "SELECT pg_advisory_xact_lock({lock});"
            " INSERT INTO {table} (" + _COLUMNS + ")"
            " SELECT " + _COLUMNS + " FROM jsonb_populate_recordset(NULL::{table}, {rows})"
            " WHERE coalesce((SELECT max(entry_id) FROM {table}), 0) = {after}"
        )
        self._lock = SQL("SELECT pg_advisory_xact_lock(%s)")
        self._insert = SQL(
            "INSERT INTO {table} (" + _COLUMNS + ")"
            " SELECT " + _COLUMNS + " FROM jsonb_populate_recordset(NULL::{table}, %s::jsonb)"
        ).format(table=table)
        # the chain's last row as this process last wrote or read it (None: read it first)
        self._head: tuple[int, str] | None = None
        self._group = _GroupCommit(self._write)

    @property
    def batches(self) -> tuple[int, int]:
        """(transactions, entries) appended by this process: entries per commit, for /metrics."""
        return self._group.batches, self._group.entries

    def append(self, entries: Sequence[AccessEntry]) -> list[int]:
        """Append entries, chained after the last row, committed before this returns (grouped
        with other threads' entries into one transaction); returns their ids."""
        if not entries:
            return []
        self._ensure_schema()
        return self._group.submit(list(entries))

    def _write(self, entries: list[AccessEntry]) -> list[int]:
        try:
            if self._head is not None:
                ids, rows, last = self._chained(self._head, entries)
                if self._appended_after(self._head, rows):
                    self._head = last
                    return ids
            return self._write_locked(entries)
        except BaseException:
            self._head = None  # committed or not, the next writer reads the chain
            raise

    def _appended_after(self, head: tuple[int, str], rows: list[dict[str, Any]]) -> bool:
        """Insert rows chained after `head` if it is still the chain's last row (one round
        trip); False when another process appended since."""
        statement = self._append_after.format(
            table=self._table,
            lock=sql.Literal(CHAIN_LOCK_KEY),
            rows=sql.Literal(orjson.dumps(rows).decode()),
            after=sql.Literal(head[0]),
        )
        with self.db.connection() as conn:
            cursor = conn.execute(statement)
            cursor.nextset()  # the insert's answer
            return cursor.rowcount == len(rows)

    def _write_locked(self, entries: list[AccessEntry]) -> list[int]:
        """Under the lock: read the chain's last row, chain the rows after it, insert them."""
        with self.db.connection() as conn, conn.transaction():
            conn.execute(self._lock, (CHAIN_LOCK_KEY,))
            ids, rows, last = self._chained(self._last_row(conn), entries)
            conn.execute(self._insert, (orjson.dumps(rows).decode(),))
        self._head = last
        return ids

    def _last_row(self, conn: Any) -> tuple[int, str]:
        row = conn.execute(self._last).fetchone()
        return (0, GENESIS) if row is None else (int(row["entry_id"]), str(row["hash"]))

    def _chained(
        self, head: tuple[int, str], entries: list[AccessEntry]
    ) -> tuple[list[int], list[dict[str, Any]], tuple[int, str]]:
        """Ids and hashes of `entries` after `head`, as the rows to insert; the new head."""
        last_id, prev = head
        ids = list(range(last_id + 1, last_id + 1 + len(entries)))
        rows: list[dict[str, Any]] = []
        for entry_id, entry in zip(ids, entries, strict=True):
            digest = entry_hash(prev, entry_id, entry, self._key)
            rows.append(_row(entry_id, entry, prev, digest))
            prev = digest
        return ids, rows, (ids[-1], prev)

    def entries(
        self,
        *,
        client_id: UUID | None = None,
        actor_id: str | None = None,
        actor_org: str | None = None,
        client_ids: Iterable[UUID] | None = None,
        after: int = 0,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[LoggedAccess]:
        """Rows in chain order after an entry id, filtered; `client_ids` limits to those clients;
        `newest_first`: the latest `limit` rows, newest first."""
        self._ensure_schema()
        where: list[SQL | Composed] = [SQL("entry_id > %(after)s")]
        params: dict[str, Any] = {"after": after, "limit": limit}
        if client_id is not None:
            where.append(SQL("client_id = %(client)s"))
            params["client"] = client_id
        if actor_id is not None:
            where.append(SQL("actor_id = %(actor)s"))
            params["actor"] = actor_id
        if actor_org is not None or client_ids is not None:
            scope: list[SQL] = []
            if actor_org is not None:
                scope.append(SQL("actor_org = %(org)s"))
                params["org"] = actor_org
            if client_ids is not None:
                scope.append(SQL("client_id = ANY(%(clients)s)"))
                params["clients"] = list(client_ids)
            where.append(SQL("(") + SQL(" OR ").join(scope) + SQL(")"))
        order = SQL("entry_id DESC" if newest_first else "entry_id")
        query = SQL(
            "SELECT " + _COLUMNS + " FROM {table} WHERE {where} ORDER BY {order} LIMIT %(limit)s"
        ).format(table=self._table, where=SQL(" AND ").join(where), order=order)
        with self.db.connection() as conn:
            return [_logged(row) for row in conn.execute(query, params).fetchall()]

    def head(self) -> tuple[int, str] | None:
        """The last row's entry id and hash (the chain's head), None for an empty log."""
        self._ensure_schema()
        query = SQL("SELECT entry_id, hash FROM {table} ORDER BY entry_id DESC LIMIT 1").format(
            table=self._table
        )
        with self.db.connection() as conn:
            row = conn.execute(query).fetchone()
        return None if row is None else (int(row["entry_id"]), str(row["hash"]))

    def verify(self, batch: int = 5000, *, at: Collection[int] = ()) -> ChainCheck:
        """Re-compute every row's hash in order, in one snapshot; the first row whose stored
        hash or link differs, or an unkeyed row after a keyed one. `at`: entry ids whose chain
        state to report (an anchor's)."""
        self._ensure_schema()
        query = SQL(
            "SELECT " + _COLUMNS + " FROM {table} WHERE entry_id > %s ORDER BY entry_id LIMIT %s"
        ).format(table=self._table)
        prev, after, checked = GENESIS, 0, 0
        keyed = False
        heads: dict[int, ChainHead] = {}
        with self.db.connection() as conn, conn.transaction():
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            while True:
                rows = conn.execute(query, (after, batch)).fetchall()
                for row in rows:
                    logged = _logged(row)
                    keyed = keyed or logged.hash.startswith(KEYED)
                    key = self._key if keyed else None
                    expected = entry_hash(prev, logged.entry_id, logged.entry, key)
                    if logged.prev_hash != prev or logged.hash != expected:
                        return ChainCheck(checked, logged.entry_id)
                    prev, after, checked = logged.hash, logged.entry_id, checked + 1
                    if after in at:
                        heads[after] = ChainHead(after, checked, prev)
                if len(rows) < batch:
                    head = ChainHead(after, checked, prev) if checked else None
                    return ChainCheck(checked, None, head, heads)


def _row(entry_id: int, e: AccessEntry, prev: str, digest: str) -> dict[str, Any]:
    return {
        "entry_id": entry_id,
        "at": e.at,
        "actor_id": e.actor_id,
        "actor_role": e.actor_role,
        "actor_org": e.actor_org,
        "client_id": e.client_id,
        "action": e.action,
        "data_classes": list(e.data_classes),
        "purpose": e.purpose,
        "outcome": e.outcome,
        "code": e.code,
        "basis": e.basis,
        "correlation_id": e.correlation_id,
        "prev_hash": prev,
        "hash": digest,
    }


def _logged(row: Any) -> LoggedAccess:
    entry = from_row(AccessEntry, row, data_classes=tuple(row["data_classes"]))
    return LoggedAccess(row["entry_id"], entry, row["prev_hash"], row["hash"])


class _Waiter:
    __slots__ = ("done", "entries", "error", "ids", "lead")

    def __init__(self, entries: list[AccessEntry]) -> None:
        self.entries = entries
        self.done = threading.Event()
        self.lead = False
        self.ids: list[int] = []
        self.error: BaseException | None = None


class _GroupCommit:
    """Leader/follower group commit: the first caller writes everyone's entries waiting at that
    moment in one transaction; callers arriving meanwhile wait, and the first of them leads the
    next transaction. Nobody is answered before their entries are committed."""

    def __init__(self, write: Callable[[list[AccessEntry]], list[int]]) -> None:
        self._write = write
        self._mutex = threading.Lock()
        self._pending: list[_Waiter] = []
        self._busy = False
        self.batches = 0
        self.entries = 0

    def submit(self, entries: list[AccessEntry]) -> list[int]:
        me = _Waiter(entries)
        with self._mutex:
            self._pending.append(me)
            leading = not self._busy
            self._busy = True
        if not leading:
            me.done.wait()
            if not me.lead:
                if me.error is not None:
                    raise me.error
                return me.ids
        self._lead()
        if me.error is not None:
            raise me.error
        return me.ids

    def _lead(self) -> None:
        with self._mutex:
            group, self._pending = self._pending, []
        try:
            ids = self._write([e for w in group for e in w.entries])
        except BaseException as error:  # every waiter of the group sees the failure
            for w in group:
                w.error = error
        else:
            at = 0
            for w in group:
                w.ids = ids[at : at + len(w.entries)]
                at += len(w.entries)
            self.batches += 1
            self.entries += len(ids)
        with self._mutex:
            if self._pending:
                successor = self._pending[0]
                successor.lead = True
                successor.done.set()  # it writes the next group (itself included)
            else:
                self._busy = False
        for w in group:
            w.done.set()
