"""The event store: care events in PostgreSQL through eventsourcing's recorder, one total order.

This is the only module that imports the eventsourcing library's persistence: every other module
reaches PostgreSQL through `Database` (the process's one connection pool) and the event store
through `EventStore`'s methods, never through the library's recorder, datastore or codec.

Each care event becomes one stored event (originator id = client id, originator version = the
client's version, topic = the event type) in `care_events`, whose `notification_id` is the
global position. The library's recorder takes an EXCLUSIVE table lock per insert, so commit order
equals position order and a reader tailing positions never skips an event; we keep that and get
throughput from putting many events of many clients in one transaction.

Beside each stored event, in the same transaction, a row in `care_event_index` keys it by
(client, `event_id`) (the idempotency key of a client's record) with its version, position,
type and times, so a re-sent event is answered without decoding payloads, and Kafka tracking
rows (topic/partition → offset) commit with the events they produced.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

import orjson
import psycopg
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
    Tracking,
)
from eventsourcing.postgres import PostgresDatastore, PostgresProcessRecorder
from psycopg.conninfo import conninfo_to_dict
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Identifier, Literal
from psycopg_pool import ConnectionPool

from domain.catalogue import CareEvent, parse_event
from domain.recorded import Recorded
from services.adapters.store_types import (
    ERASED_CLIENT_MESSAGE,
    Append,
    DuplicateEventId,
    ErasedOnAppend,
    IndexEntry,
    StreamConflict,
    TrackingConflict,
    UpstreamPosition,
    erased_on_append,
)

EVENTS_TABLE = "care_events"
TRACKING_TABLE = "care_tracking"
INDEX_TABLE = "care_event_index"

# The value and error types live in store_types.py; the store's users import them from here.
__all__ = [
    "ERASED_CLIENT_MESSAGE",
    "Append",
    "DuplicateEventId",
    "ErasedOnAppend",
    "IndexEntry",
    "StreamConflict",
    "TrackingConflict",
    "UpstreamPosition",
    "erased_on_append",
]


class PayloadCodec(Protocol):
    """Turns an event and its recording time into stored bytes and back."""

    def encode(self, event: CareEvent, recorded_at: datetime) -> bytes: ...

    def decode(self, client_id: UUID, state: bytes) -> tuple[CareEvent, datetime]: ...


class JsonCodec:
    """Plain JSON payloads: the event as on the wire, plus the time it was recorded."""

    def encode(self, event: CareEvent, recorded_at: datetime) -> bytes:
        return orjson.dumps(
            {"recorded_at": recorded_at.isoformat(), "event": event.model_dump(mode="json")}
        )

    def decode(self, client_id: UUID, state: bytes) -> tuple[CareEvent, datetime]:
        body = orjson.loads(state)
        return parse_event(body["event"]), datetime.fromisoformat(body["recorded_at"])


class CareDatastore(PostgresDatastore):
    """The library's datastore, with just-in-time compilation off on every connection.

    Our statements are short lookups and batched writes; PostgreSQL compiles a query once its
    estimated cost passes `jit_above_cost`, which a table without statistics (a fresh store,
    a server running without autovacuum) reaches on a ten-row lookup, and the compile costs
    6-60 ms (measured at 1,000,000 events, docs/benchmarks.md), more than the query itself.
    """

    def after_connect_func(self) -> Callable[[psycopg.Connection[Any]], None]:
        library_setup = super().after_connect_func()

        def after_connect(conn: psycopg.Connection[Any]) -> None:
            library_setup(conn)
            conn.execute("SET jit = off")

        return after_connect


class Database:
    """The process's one PostgreSQL connection pool, shared by the store and every adapter that
    keeps tables beside it (keys, access log, read models)."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self._datastore = datastore

    @property
    def schema(self) -> str:
        schema: str = self._datastore.schema
        return schema

    @property
    def pool(self) -> ConnectionPool[Any]:
        pool: ConnectionPool[Any] = self._datastore.pool
        return pool

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        with self._datastore.get_connection() as conn:
            yield conn

    @contextmanager
    def transaction(self) -> Iterator[psycopg.Cursor[DictRow]]:
        """A cursor in a transaction committed when the block ends without an exception."""
        with self._datastore.transaction(commit=True) as curs:
            yield curs

    def close(self) -> None:
        self._datastore.close()


def open_database(
    database_url: str,
    *,
    pool_size: int = 8,
    max_overflow: int = 40,
    pool_timeout: float = 5.0,
    schema: str = "public",
) -> Database:
    """A connection pool on the database a libpq URL names (host may be a socket directory)."""
    params = conninfo_to_dict(database_url)
    datastore = CareDatastore(
        dbname=str(params.get("dbname", "postgres")),
        host=str(params.get("host", "127.0.0.1")),
        port=str(params.get("port", "5432")),
        user=str(params.get("user", "postgres")),
        password=str(params.get("password", "")),
        pool_size=pool_size,
        max_overflow=max_overflow,
        connect_timeout=pool_timeout,
        idle_in_transaction_session_timeout=30,
        lock_timeout=10,
        schema=schema,
        pool_open_timeout=None,
        pre_ping=False,
    )
    # Open and fill the pool here, once. With a pool_open_timeout the library calls
    # pool.open(wait=True) on EVERY checkout, and psycopg_pool's wait() asserts when two
    # threads find fewer than min_size idle connections at once (an AssertionError under load).
    datastore.pool.open(wait=True, timeout=30.0)
    return Database(datastore)


class CareRecorder(PostgresProcessRecorder):
    """The library's process recorder (events + tracking), plus the event_id index."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        super().__init__(
            datastore, events_table_name=EVENTS_TABLE, tracking_table_name=TRACKING_TABLE
        )
        schema = Identifier(datastore.schema)
        index = Identifier(INDEX_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.{index} ("
                " event_id uuid NOT NULL,"
                " client_id uuid NOT NULL,"
                " type text NOT NULL,"
                " version bigint NOT NULL,"
                " position bigint NOT NULL UNIQUE,"
                " recorded_at timestamptz NOT NULL,"
                " PRIMARY KEY (client_id, event_id))"
            ).format(schema=schema, index=index)
        )
        # An event_id is unique per client (the idempotency key of the client's record), not
        # across clients: a store made when it was global gets the per-client key.
        self.sql_create_statements.append(
            SQL(
                "DO $do$ BEGIN"
                " IF (SELECT array_length(c.conkey, 1) FROM pg_constraint c"
                "     WHERE c.conrelid = to_regclass({name}) AND c.contype = 'p') = 1 THEN"
                "  ALTER TABLE {schema}.{index} DROP CONSTRAINT {pkey},"
                "   ADD CONSTRAINT {pkey} PRIMARY KEY (client_id, event_id);"
                " END IF;"
                " END $do$"
            ).format(
                name=Literal(f"{datastore.schema}.{INDEX_TABLE}"),
                schema=schema,
                index=index,
                pkey=Identifier(f"{INDEX_TABLE}_pkey"),
            )
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE INDEX IF NOT EXISTS care_event_index_event ON {schema}.{index} (event_id)"
            ).format(schema=schema, index=index)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE INDEX IF NOT EXISTS care_event_index_client_recorded"
                " ON {schema}.{index} (client_id, recorded_at)"
            ).format(schema=schema, index=index)
        )
        # Events and their index rows in one statement: one round trip after the lock.
        self._insert_events_and_index = SQL(
            "WITH ins AS ("
            " INSERT INTO {schema}.{events} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::uuid[], %b::bigint[], %b::text[], %b::bytea[])"
            " RETURNING originator_id, originator_version, notification_id)"
            " INSERT INTO {schema}.{index}"
            " (event_id, client_id, type, version, position, recorded_at)"
            " SELECT x.event_id, ins.originator_id, x.type, ins.originator_version,"
            " ins.notification_id, x.recorded_at"
            " FROM ins JOIN unnest(%b::uuid[], %b::uuid[], %b::text[], %b::bigint[],"
            " %b::timestamptz[]) AS x(event_id, client_id, type, version, recorded_at)"
            " ON x.client_id = ins.originator_id AND x.version = ins.originator_version"
            " RETURNING client_id, version, position"
        ).format(schema=schema, events=Identifier(EVENTS_TABLE), index=index)
        # BEGIN, the library's lock statements and the NOTIFY, sent as one simple query
        self._begin_locked = SQL("; ").join(
            [
                SQL("BEGIN"),
                *self.lock_table_statements,
                SQL("NOTIFY {0}").format(Identifier(self.channel_name)),
            ]
        )
        self._select_index = SQL(
            "SELECT event_id, client_id, type, version, position, recorded_at"
            " FROM {schema}.{index} WHERE event_id = ANY(%s)"
        ).format(schema=schema, index=index)

    def record(
        self,
        stored: Sequence[StoredEvent],
        index_rows: Sequence[tuple[UUID, UUID, str, int, datetime]],
        trackings: Sequence[Tracking] = (),
    ) -> list[int]:
        """Insert events, their index rows and tracking positions in one transaction."""
        with self.datastore.get_connection() as conn:
            return self._record(conn, stored, index_rows, trackings)

    def _record(
        self,
        conn: psycopg.Connection[DictRow],
        stored: Sequence[StoredEvent],
        index_rows: Sequence[tuple[UUID, UUID, str, int, datetime]],
        trackings: Sequence[Tracking],
    ) -> list[int]:
        # No pipeline mode: psycopg 3.3's pipeline sync waits for results while part of a large
        # statement (about 1 MB of parameters: a Kafka poll's batch) is still in libpq's output
        # buffer, and the server waits for the rest (ClientRead): a deadlock (psycopg #685).
        # Any failure, a refused tracking position included, propagates and rolls back all.
        if not stored:
            with conn.transaction(), conn.cursor() as curs:
                for tracking in trackings:
                    self._insert_tracking(curs, tracking)
            return []
        # Three round trips: BEGIN, the lock and the NOTIFY as one simple query (no
        # parameters), then the insert, then COMMIT (was six: each on its own).
        with conn.cursor() as curs:
            curs.execute(self._begin_locked)
            try:
                for tracking in trackings:
                    self._insert_tracking(curs, tracking)
                # Plain typed arrays sent in binary (%b): the library's composite-type array is
                # dumped as escaped text, a third of a large batch's time.
                ids, clients, types, versions, times = (
                    list(column) for column in zip(*index_rows, strict=True)
                )
                curs.execute(
                    self._insert_events_and_index,
                    (
                        [e.originator_id for e in stored],
                        [e.originator_version for e in stored],
                        [e.topic for e in stored],
                        [e.state for e in stored],
                        ids,
                        clients,
                        types,
                        versions,
                        times,
                    ),
                )
                positions = {
                    (row["client_id"], row["version"]): row["position"] for row in curs.fetchall()
                }
                curs.execute(_COMMIT)
            except BaseException:
                if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    with contextlib.suppress(psycopg.Error):
                        curs.execute(_ROLLBACK)
                raise
        return [positions[(_as_uuid(e.originator_id), e.originator_version)] for e in stored]

    def select_index(self, event_ids: Sequence[UUID]) -> list[IndexEntry]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_index, (list(event_ids),))
            return [IndexEntry(**row) for row in curs.fetchall()]


_COMMIT = SQL("COMMIT")
_ROLLBACK = SQL("ROLLBACK")


def _as_uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


def _conflict_kind(error: Exception) -> type[Exception]:
    """Which uniqueness rule an IntegrityError broke, from the constraint name (never row text)."""
    cause = error.__cause__
    constraint = getattr(getattr(cause, "diag", None), "constraint_name", None) or ""
    if constraint.startswith(INDEX_TABLE):
        return DuplicateEventId
    if constraint.startswith(EVENTS_TABLE):
        return StreamConflict
    if "tracking" in str(error).lower() or constraint.startswith(TRACKING_TABLE):
        return TrackingConflict
    return StreamConflict


class EventStore:
    """Load a client's events, append many clients' events at once, read the global order."""

    def __init__(
        self,
        database: Database,
        codec: PayloadCodec | None = None,
        clock: Any = None,
    ) -> None:
        self.database = database
        self._recorder = CareRecorder(database._datastore)
        self._codec: PayloadCodec = codec or JsonCodec()
        self._clock = clock or (lambda: datetime.now(UTC))
        events = SQL("{}.{}").format(Identifier(database.schema), Identifier(EVENTS_TABLE))
        self._select_stream = SQL(
            "SELECT originator_version, notification_id, state FROM {events}"
            " WHERE originator_id = %s AND originator_version > %s"
            " ORDER BY originator_version LIMIT %s"
        ).format(events=events)
        # LATERAL: each client's events by the primary key, whatever the statistics say. As a
        # plain join, a store without statistics was planned as a parallel scan of every event
        # (655 ms at 1,000,000 events for a ten-client caseload, docs/benchmarks.md).
        self._select_streams = SQL(
            "SELECT w.client_id AS originator_id, e.originator_version, e.notification_id,"
            " e.state FROM unnest(%s::uuid[], %s::bigint[]) AS w(client_id, after_version)"
            " CROSS JOIN LATERAL (SELECT originator_version, notification_id, state"
            " FROM {events} WHERE originator_id = w.client_id"
            " AND originator_version > w.after_version) e"
            " ORDER BY 1, 2"
        ).format(events=events)
        self._select_firsts = SQL(
            "SELECT originator_id, notification_id, state FROM {events}"
            " WHERE originator_id = ANY(%s::uuid[]) AND originator_version = 1"
        ).format(events=events)
        page = (
            "SELECT notification_id, originator_id, originator_version, topic, state FROM {events}"
        )
        self._select_page = SQL(
            page + " WHERE notification_id > %s ORDER BY notification_id LIMIT %s"
        ).format(events=events)
        self._select_page_of_types = SQL(
            page + " WHERE notification_id > %s AND topic = ANY(%s::text[])"
            " ORDER BY notification_id LIMIT %s"
        ).format(events=events)

    def migrate(self) -> None:
        """Create every table the store needs, once (not raced by workers: CREATE_TABLE=n)."""
        self._recorder.create_table()

    def decode(self, client_id: UUID, state: bytes) -> tuple[CareEvent, datetime]:
        """A stored payload as its event and recorded time (through the configured codec)."""
        return self._codec.decode(client_id, state)

    def close(self) -> None:
        self.database.close()

    def load(
        self, client_id: UUID, *, after_version: int = 0, limit: int | None = None
    ) -> list[Recorded]:
        """The client's events in version order, each with its global position."""
        with self.database.connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_stream, (client_id, after_version, limit), prepare=True)
            rows = curs.fetchall()
        return [self._recorded(client_id, row) for row in rows]

    def _recorded(self, client_id: UUID, row: Mapping[str, Any]) -> Recorded:
        """A stored row as the event it holds, with its version and global position."""
        event, recorded_at = self._codec.decode(client_id, bytes(row["state"]))
        return Recorded(event, row["originator_version"], row["notification_id"], recorded_at)

    def load_many(self, after_versions: dict[UUID, int]) -> dict[UUID, list[Recorded]]:
        """Each client's events after the given version, in one query."""
        if not after_versions:
            return {}
        clients = list(after_versions)
        out: dict[UUID, list[Recorded]] = {client: [] for client in clients}
        with self.database.connection() as conn, conn.cursor() as curs:
            curs.execute(
                self._select_streams, (clients, [after_versions[c] for c in clients]), prepare=True
            )
            rows = curs.fetchall()
        for row in rows:
            out[row["originator_id"]].append(self._recorded(row["originator_id"], row))
        return out

    def load_first(self, client_ids: Iterable[UUID]) -> dict[UUID, Recorded]:
        """Each client's first event (the enrollment), in one query; clients with none are left
        out. What a list shows to name a client, without folding whole histories."""
        clients = list(set(client_ids))
        if not clients:
            return {}
        with self.database.connection() as conn, conn.cursor() as curs:
            curs.execute(self._select_firsts, (clients,), prepare=True)
            rows = curs.fetchall()
        self._prefetch_keys(row["originator_id"] for row in rows)
        out: dict[UUID, Recorded] = {}
        for row in rows:
            client_id = row["originator_id"]
            event, recorded_at = self._codec.decode(client_id, bytes(row["state"]))
            out[client_id] = Recorded(event, 1, row["notification_id"], recorded_at)
        return out

    def append(
        self, appends: Sequence[Append], trackings: Sequence[UpstreamPosition] = ()
    ) -> list[Recorded]:
        """Store every append in one transaction, or none; raises a conflict exception."""
        recorded_at = self._clock()
        prepare = getattr(self._codec, "prepare", None)
        if prepare is not None:  # an encrypting codec's keys for the whole batch, at once
            prepare({append.client_id for append in appends if append.events})
        stored: list[StoredEvent] = []
        index_rows: list[tuple[UUID, UUID, str, int, datetime]] = []
        versions: list[int] = []
        events: list[CareEvent] = []
        for append in appends:
            for offset, event in enumerate(append.events, start=1):
                version = append.expected_version + offset
                stored.append(
                    StoredEvent(
                        originator_id=append.client_id,
                        originator_version=version,
                        topic=event.type,
                        state=self._codec.encode(event, recorded_at),
                    )
                )
                index_rows.append(
                    (event.event_id, append.client_id, event.type, version, recorded_at)
                )
                versions.append(version)
                events.append(event)
        try:
            positions = self._recorder.record(
                stored, index_rows, [Tracking(t.upstream, t.position) for t in trackings]
            )
        except IntegrityError as e:
            raise _conflict_kind(e)() from None
        except Exception as e:
            erased = erased_on_append(e)
            if erased is None:
                raise
            forget = getattr(self._codec, "erased", None)  # the key cache learns it at once
            if forget is not None:
                for client_id in erased.client_ids:
                    forget(client_id)
            raise erased from None
        return [
            Recorded(event, version, position, recorded_at)
            for event, version, position in zip(events, versions, positions, strict=True)
        ]

    def find(self, event_ids: Sequence[UUID]) -> list[IndexEntry]:
        """Where these event_ids were stored, for those that were: an event_id is unique per
        client, so one id may have been stored for several clients."""
        if not event_ids:
            return []
        return self._recorder.select_index(event_ids)

    def read(
        self, *, after: int = 0, limit: int = 1000, types: Sequence[str] = ()
    ) -> list[Recorded]:
        """Stored events in global order after a position, of the given types (all when empty)."""
        return [recorded for recorded, _topic, _state in self._page(after, limit, types)]

    def read_stored(
        self, *, after: int = 0, limit: int = 1000
    ) -> list[tuple[Recorded, str, bytes]]:
        """Stored events in global order after a position, each with its topic and payload bytes
        as stored (what the audit trail's hash chain covers, ciphertext included)."""
        return self._page(after, limit, ())

    def _page(
        self, after: int, limit: int, types: Sequence[str]
    ) -> list[tuple[Recorded, str, bytes]]:
        """A page of the global order, each stored row decoded (the page's client keys loaded
        at once), beside its topic and payload bytes. The rows come as binary tuples, not as
        the library's notification objects: 5 against 12-14 us an event (docs/benchmarks.md,
        seventh pass)."""
        with (
            self.database.connection() as conn,
            conn.cursor(row_factory=tuple_row, binary=True) as curs,
        ):
            if types:
                curs.execute(self._select_page_of_types, (after, list(types), limit), prepare=True)
            else:
                curs.execute(self._select_page, (after, limit), prepare=True)
            rows = curs.fetchall()
        self._prefetch_keys(row[1] for row in rows)
        decode = self._codec.decode
        out = []
        for position, client_id, version, topic, state in rows:
            event, recorded_at = decode(client_id, state)
            out.append((Recorded(event, version, position, recorded_at), topic, state))
        return out

    def _prefetch_keys(self, client_ids: Iterable[UUID | str]) -> None:
        """Let an encrypting codec load a page's client keys in one query (not one per client)."""
        prefetch = getattr(self._codec, "prefetch", None)
        if prefetch is not None:
            prefetch({c if isinstance(c, UUID) else UUID(c) for c in client_ids})

    def head(self) -> int:
        """The highest position stored (0 for an empty store)."""
        return self._recorder.max_notification_id() or 0

    def tracked(self, upstream: str) -> int | None:
        """The last upstream position recorded with events (e.g. a Kafka partition's offset)."""
        tracked: int | None = self._recorder.max_tracking_id(upstream)
        return tracked

    def advance(self, upstream: str, position: int) -> None:
        """Record an upstream position on its own; raises TrackingConflict if it is not past the
        one recorded (a relay's checkpoint moves forward only)."""
        try:
            self._recorder.insert_tracking(Tracking(upstream, position))
        except IntegrityError:
            raise TrackingConflict from None

    def rewind(self, upstream: str, position: int) -> bool:
        """Forget an upstream's tracked position if it is still `position` (its source began
        again: a Kafka topic deleted and created anew numbers its offsets from 0); whether it
        was. The next position recorded for it may then be any."""
        statement = SQL(
            "DELETE FROM {schema}.{tracking} WHERE application_name = %s AND notification_id = %s"
        ).format(schema=Identifier(self.database.schema), tracking=Identifier(TRACKING_TABLE))
        with self.database.transaction() as curs:
            curs.execute(statement, (upstream, position))
            return curs.rowcount == 1

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        with self.database.connection() as conn:
            yield conn


# Failures that mean "the database is not reachable now": retry later, never a client error.
# The library wraps psycopg's errors in its own; the pool and the read models raise psycopg's
# (a lost connection, a pool timeout, a statement or lock timeout).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (
    OperationalError,
    InterfaceError,
    psycopg.OperationalError,
    psycopg.InterfaceError,
)
