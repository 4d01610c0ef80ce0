"""PHI at rest: each client's event data under that client's own key, the keys under a master key.

Envelope encryption with AES-256-GCM (the `cryptography` package):

- every client gets a random 256-bit **data key** the first time an event of theirs is stored;
  the key is kept **wrapped** (AES-GCM under the master key, bound to the client id and the
  master key's id) in `client_keys`, never in clear;
- the **master key** comes from configuration (`CARE_MASTER_KEY`, base64 of 32 bytes); its id is
  a fingerprint, so `carecircle keys rotate` can re-wrap every data key under a new master key
  while `CARE_PREVIOUS_MASTER_KEYS` still opens the old ones;
- a stored event keeps its **skeleton** in clear (type, ids, actor, times, purpose, labels — who
  did what when) and seals the PHI-bearing `data` object, with the skeleton's ids as associated
  data so a sealed payload cannot be moved to another event;
- **crypto-shredding**: erasing a client deletes their wrapped key (`client_keys.wrapped` becomes
  NULL); the sealed data can never be opened again, and the store answers those events as
  `ErasedEntry` skeletons (domain/erasure.py) instead of failing. New events for an erased client
  are refused.

Processes cache unwrapped keys for `CARE_KEY_CACHE_SECONDS`: after an erasure in another
process, a cached key can open that client's data for at most that long.
"""

from __future__ import annotations

import base64
import hashlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import orjson
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from psycopg.sql import SQL, Composed, Identifier

from domain.catalogue import CareEvent, parse_event
from domain.erasure import ErasedData, ErasedEntry
from services.adapters.store import Database, StreamConflict

KEYS_TABLE = "client_keys"
NONCE_BYTES = 12
FORMAT = 2  # 1: the plain JsonCodec payload; 2: skeleton in clear, data sealed

# The envelope fields a stored event keeps readable; everything in `data` is sealed.
SKELETON_FIELDS = (
    "event_id",
    "client_id",
    "type",
    "schema_version",
    "occurred_at",
    "actor",
    "purpose_of_use",
    "correlation_id",
    "causation_id",
    "source",
    "security_labels",
)


class ClientErased(StreamConflict):
    """The client's data key was destroyed: nothing more can be stored for them.

    Raised by `encode` when a writer decided on state cached from before the erasure. It is a
    StreamConflict so the handler re-decides its group on fresh state, where the client's
    entries read as `ErasedEntry` and the decider refuses the command (client_not_enrolled);
    the other clients' commands of the group are stored as usual.
    """


class UnknownMasterKey(Exception):
    """A data key is wrapped under a master key this process was not given."""


def decode_master_key(text: str) -> bytes:
    """A master key from its base64 form; it must be 32 bytes (AES-256)."""
    try:
        key = base64.b64decode(text.strip(), validate=True)
    except ValueError:
        raise ValueError("a master key is base64 of 32 bytes") from None
    if len(key) != 32:
        raise ValueError("a master key is base64 of 32 bytes")
    return key


def master_key_id(key: bytes) -> str:
    """A stable, non-secret name for a master key (a fingerprint, not the key)."""
    return hashlib.sha256(b"carecircle-master-key\x1f" + key).hexdigest()[:16]


def new_master_key() -> str:
    """A fresh master key, base64 (for `carecircle keys new`)."""
    return base64.b64encode(os.urandom(32)).decode()


class MasterKeys:
    """The current master key, which wraps new data keys, and retired ones that still unwrap."""

    def __init__(self, current: bytes, previous: Iterable[bytes] = ()) -> None:
        self.current_id = master_key_id(current)
        self._keys = {master_key_id(k): AESGCM(k) for k in (*previous, current)}

    def wrap(self, client_id: UUID, data_key: bytes) -> tuple[str, bytes]:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[self.current_id].encrypt(
            nonce, data_key, _wrap_aad(client_id, self.current_id)
        )
        return self.current_id, nonce + sealed

    def unwrap(self, client_id: UUID, key_id: str, wrapped: bytes) -> bytes:
        cipher = self._keys.get(key_id)
        if cipher is None:
            raise UnknownMasterKey(key_id)
        return cipher.decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], _wrap_aad(client_id, key_id)
        )


def _wrap_aad(client_id: UUID, key_id: str) -> bytes:
    return b"carecircle-data-key\x1f" + client_id.bytes + key_id.encode()


@dataclass(frozen=True, slots=True)
class _Cached:
    cipher: AESGCM | None  # None: erased
    fetched: float


def client_keys_ddl(schema_name: str) -> list[Composed]:
    """One row per client: its wrapped data key, or NULL once erased (never both, never neither)."""
    table = SQL("{}.{}").format(Identifier(schema_name), Identifier(KEYS_TABLE))
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            " client_id uuid PRIMARY KEY,"
            " key_id text,"
            " wrapped bytea,"
            " created_at timestamptz NOT NULL DEFAULT now(),"
            " rewrapped_at timestamptz,"
            " erased_at timestamptz,"
            " CHECK ((wrapped IS NULL) = (erased_at IS NOT NULL)))"
        ).format(table=table)
    ]


class ClientKeys:
    """The `client_keys` table: one wrapped data key per client, destroyed on erasure."""

    def __init__(
        self,
        database: Database,
        master: MasterKeys,
        *,
        cache_seconds: float = 30.0,
        cache_size: int = 50_000,
        monotonic: Callable[[], float] = time.monotonic,
        ensure_schema: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = database
        self._ensure_schema = ensure_schema
        self.master = master
        self._ttl = cache_seconds
        self._size = cache_size
        self._monotonic = monotonic
        self._cache: OrderedDict[UUID, _Cached] = OrderedDict()
        # Clients this process knows were erased: a key fetched before the erasure committed
        # by a request still in flight is never cached (nor used) after it (`forget`).
        self._erased: set[UUID] = set()
        self._lock = threading.Lock()
        table = SQL("{}.{}").format(Identifier(database.schema), Identifier(KEYS_TABLE))
        self._select = SQL("SELECT key_id, wrapped FROM {table} WHERE client_id = %s").format(
            table=table
        )
        self._select_many = SQL(
            "SELECT client_id, key_id, wrapped FROM {table} WHERE client_id = ANY(%s)"
        ).format(table=table)
        self._insert = SQL(
            "INSERT INTO {table} (client_id, key_id, wrapped) VALUES (%s, %s, %s)"
            " ON CONFLICT (client_id) DO NOTHING"
        ).format(table=table)
        self._insert_many = SQL(
            "INSERT INTO {table} (client_id, key_id, wrapped)"
            " SELECT * FROM unnest(%s::uuid[], %s::text[], %s::bytea[])"
            " ON CONFLICT (client_id) DO NOTHING"
        ).format(table=table)
        self.erase_sql = SQL(
            "INSERT INTO {table} (client_id, key_id, wrapped, erased_at)"
            " VALUES (%s, NULL, NULL, now())"
            " ON CONFLICT (client_id) DO UPDATE SET key_id = NULL, wrapped = NULL,"
            " erased_at = COALESCE({table}.erased_at, now())"
        ).format(table=table)
        self._stale = SQL(
            "SELECT client_id, key_id, wrapped FROM {table}"
            " WHERE wrapped IS NOT NULL AND key_id <> %s ORDER BY client_id LIMIT %s"
            " FOR UPDATE SKIP LOCKED"
        ).format(table=table)
        self._rewrap = SQL(
            "UPDATE {table} SET key_id = %s, wrapped = %s, rewrapped_at = now()"
            " WHERE client_id = %s AND key_id = %s"
        ).format(table=table)
        self._count = SQL(
            "SELECT coalesce(key_id, 'erased') AS key_id, count(*) AS n FROM {table} GROUP BY 1"
        ).format(table=table)

    def cipher_for(self, client_id: UUID, *, create: bool) -> AESGCM | None:
        """The client's data-key cipher; None once erased (or never made, when not creating)."""
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(client_id)
            if cached is not None and now - cached.fetched < self._ttl:
                self._cache.move_to_end(client_id)
                if cached.cipher is not None or not create:
                    return cached.cipher
                raise ClientErased
        cipher, erased = self._fetch(client_id, create=create)
        if cipher is None and not erased:
            return None  # no key yet, and none asked for
        with self._lock:
            if client_id in self._erased:  # erased while this fetch was in flight
                cipher = None
            self._cache[client_id] = _Cached(cipher, now)
            self._cache.move_to_end(client_id)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)
        if cipher is None and create:
            raise ClientErased
        return cipher

    def _fetch(self, client_id: UUID, *, create: bool) -> tuple[AESGCM | None, bool]:
        self._ensure_schema()
        with self.db.connection() as conn:
            row = conn.execute(self._select, (client_id,), prepare=True).fetchone()
            if row is None and create:
                key_id, wrapped = self.master.wrap(client_id, AESGCM.generate_key(bit_length=256))
                conn.execute(self._insert, (client_id, key_id, wrapped))
                row = conn.execute(self._select, (client_id,), prepare=True).fetchone()
        if row is None:
            return None, False
        if row["wrapped"] is None:
            return None, True
        data_key = self.master.unwrap(client_id, row["key_id"], bytes(row["wrapped"]))
        return AESGCM(data_key), False

    def erase(self, client_id: UUID) -> None:
        """Destroy the client's data key: their sealed data can never be opened again."""
        self._ensure_schema()
        with self.db.connection() as conn:
            conn.execute(self.erase_sql, (client_id,))
        self.forget(client_id)

    def prefetch(self, client_ids: Iterable[UUID]) -> None:
        """Load the keys of many clients in one query (a page of the global order).

        A key past half its time to live is loaded again with the page: otherwise the keys a
        catch-up loaded together expire together, in the middle of decoding a page, and each
        is then fetched on its own (a round trip per client: 5.7 % of a catch-up's samples,
        docs/benchmarks.md, seventh pass)."""
        now = self._monotonic()
        with self._lock:
            wanted = [
                c
                for c in set(client_ids)
                if (cached := self._cache.get(c)) is None or now - cached.fetched >= self._ttl / 2
            ]
        if not wanted:
            return
        self._ensure_schema()
        with self.db.connection() as conn:
            rows = conn.execute(self._select_many, (wanted,)).fetchall()
        fetched = {}
        for row in rows:
            client_id, wrapped = row["client_id"], row["wrapped"]
            cipher = (
                None
                if wrapped is None
                else AESGCM(self.master.unwrap(client_id, row["key_id"], bytes(wrapped)))
            )
            fetched[client_id] = _Cached(cipher, now)
        with self._lock:
            for client_id, cached in fetched.items():
                erased = client_id in self._erased
                self._cache[client_id] = _Cached(None, now) if erased else cached
                self._cache.move_to_end(client_id)
            while len(self._cache) > self._size:
                self._cache.popitem(last=False)

    def ensure(self, client_ids: Iterable[UUID]) -> None:
        """Keys for many clients about to be written (a batch of many new clients): those not
        cached are read in one query, the missing ones created in one statement and read back
        in one more (another process may have made some first: its key wins)."""
        now = self._monotonic()
        with self._lock:
            wanted = {
                c
                for c in set(client_ids)
                if (cached := self._cache.get(c)) is None or now - cached.fetched >= self._ttl
            }
        if not wanted:
            return
        self.prefetch(wanted)
        with self._lock:
            missing = [c for c in wanted if c not in self._cache]
        if not missing:
            return
        made = [self.master.wrap(c, AESGCM.generate_key(bit_length=256)) for c in missing]
        with self.db.connection() as conn:
            conn.execute(
                self._insert_many,
                (missing, [key_id for key_id, _ in made], [wrapped for _, wrapped in made]),
            )
        self.prefetch(missing)

    def known_erased(self, client_id: UUID) -> bool:
        """Whether the client's key was destroyed, as this process knows it (cached, see TTL)."""
        now = self._monotonic()
        with self._lock:
            cached = self._cache.get(client_id)
            if cached is not None and now - cached.fetched < self._ttl:
                return cached.cipher is None
        cipher, erased = self._fetch(client_id, create=False)
        with self._lock:
            if client_id in self._erased:
                cipher, erased = None, True
            if cipher is not None or erased:
                self._cache[client_id] = _Cached(cipher, now)
        return erased

    def is_erased(self, client_id: UUID) -> bool:
        self._ensure_schema()
        with self.db.connection() as conn:
            row = conn.execute(self._select, (client_id,)).fetchone()
        return row is not None and row["wrapped"] is None

    def forget(self, client_id: UUID) -> None:
        """The client was erased (this process's erasure, or another's notice): drop the key,
        and never cache one again for them (erasure is for good)."""
        with self._lock:
            self._erased.add(client_id)
            self._cache.pop(client_id, None)

    def clear(self) -> None:
        """Forget everything (a missed erasure notice can no longer matter)."""
        with self._lock:
            self._cache.clear()

    def rotate(self, batch: int = 500) -> int:
        """Re-wrap every data key not under the current master key; returns how many."""
        self._ensure_schema()
        total = 0
        while True:
            with self.db.transaction() as curs:
                curs.execute(self._stale, (self.master.current_id, batch))
                rows = curs.fetchall()
                for row in rows:
                    client_id = row["client_id"]
                    data_key = self.master.unwrap(client_id, row["key_id"], bytes(row["wrapped"]))
                    key_id, wrapped = self.master.wrap(client_id, data_key)
                    curs.execute(self._rewrap, (key_id, wrapped, client_id, row["key_id"]))
            total += len(rows)
            if len(rows) < batch:
                break
        with self._lock:
            self._cache.clear()
        return total

    def counts(self) -> dict[str, int]:
        """How many data keys each master key wraps (and how many were erased)."""
        self._ensure_schema()
        with self.db.connection() as conn:
            return {row["key_id"]: int(row["n"]) for row in conn.execute(self._count).fetchall()}


class EncryptingCodec:
    """The store's PayloadCodec: skeleton in clear, `data` sealed under the client's key."""

    def __init__(self, keys: ClientKeys) -> None:
        self.keys = keys

    def encode(self, event: CareEvent, recorded_at: datetime) -> bytes:
        body = event.model_dump(mode="json")
        data = body.pop("data")
        cipher = self.keys.cipher_for(event.client_id, create=True)
        assert cipher is not None  # create=True either returns a cipher or raises
        nonce = os.urandom(NONCE_BYTES)
        sealed = cipher.encrypt(nonce, orjson.dumps(data), _data_aad(body))
        return orjson.dumps(
            {
                "format": FORMAT,
                "recorded_at": recorded_at.isoformat(),
                "event": {k: body[k] for k in SKELETON_FIELDS if k in body},
                "sealed": base64.b64encode(nonce + sealed).decode(),
            }
        )

    def prefetch(self, client_ids: Iterable[UUID]) -> None:
        """Called by the store before decoding a page of many clients' events."""
        self.keys.prefetch(client_ids)

    def erased(self, client_id: UUID) -> None:
        """Called by the store when an append met the client's erasure."""
        self.keys.forget(client_id)

    def prepare(self, client_ids: Iterable[UUID]) -> None:
        """Called by the store before encoding a batch: every client's key in a few queries."""
        self.keys.ensure(client_ids)

    def decode(self, client_id: UUID, state: bytes) -> tuple[CareEvent, datetime]:
        body: dict[str, Any] = orjson.loads(state)
        recorded_at = datetime.fromisoformat(body["recorded_at"])
        skeleton: dict[str, Any] = body["event"]
        if "sealed" not in body:  # stored before encryption was switched on
            return parse_event(skeleton), recorded_at
        cipher = self.keys.cipher_for(client_id, create=False)
        if cipher is None:
            return erased_entry(skeleton), recorded_at
        raw = base64.b64decode(body["sealed"])
        # A wrong tag means the row was altered behind our back: fail loudly (InvalidTag).
        opened = cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _data_aad(skeleton))
        data = orjson.loads(opened)
        return parse_event({**skeleton, "data": data}), recorded_at


def _data_aad(skeleton: dict[str, Any]) -> bytes:
    return "\x1f".join(
        (
            "carecircle-event",
            str(skeleton["client_id"]),
            str(skeleton["event_id"]),
            skeleton["type"],
        )
    ).encode()


def erased_entry(skeleton: dict[str, Any]) -> ErasedEntry:
    """The placeholder a reader gets for an entry whose data can no longer be opened."""
    envelope = {k: v for k, v in skeleton.items() if k not in ("type", "schema_version", "data")}
    data = ErasedData(
        original_type=skeleton["type"],
        original_schema_version=int(skeleton.get("schema_version") or 1),
    )
    return ErasedEntry.model_validate({**envelope, "data": data})


def is_sealed(state: bytes) -> bool:
    """Whether a stored payload keeps its data sealed (format 2) rather than in clear."""
    return b'"sealed"' in state
