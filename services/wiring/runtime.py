"""The runtime of a process: the database (configured, or embedded PostgreSQL from infra/), one
connection pool, the event store with its payload codec (encrypting under per-client keys), the
command handler, the clock and the privacy parts, built once over that pool."""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

from infra.embedded import EmbeddedPostgres
from services.adapters.erasure_notices import ErasureListener
from services.adapters.store import Database, EventStore, open_database
from services.app.clients import NAMES
from services.app.privacy import Privacy, PrivacySchema
from services.app.record import CareRecordHandler, StateCache
from services.app.record_reads import RecordReads
from services.app.workers import WorkerHealth
from services.settings import Settings
from services.wiring.privacy_parts import build_privacy, check_keys, client_keys, payload_codec


def tune_garbage_collector() -> None:
    """Long-running roles allocate many short-lived objects per batch; the default gen-0
    threshold (700) runs the cyclic collector dozens of times per Kafka poll (measured: a
    quarter of ingest time). Objects alive after start-up are frozen out of collection, and so
    are the survivors of each full collection (the caches' clients: facts, states, records,
    names), so the next full collection walks only what came since: a full collection over the
    warm caches of 1,000 clients paused a request 400-450 ms (bench_console's slowest search).
    The price: a reference cycle among objects frozen this way is not collected if it later
    becomes garbage (the cached values are acyclic records; the caches are bounded)."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
    if _freeze_after_full_collection not in gc.callbacks:
        gc.callbacks.append(_freeze_after_full_collection)


def _freeze_after_full_collection(phase: str, info: dict[str, int]) -> None:
    if phase == "stop" and info.get("generation") == 2:
        gc.freeze()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """One process's store, handler, clock and privacy parts over one connection pool."""

    settings: Settings
    database_url: str
    store: EventStore
    handler: CareRecordHandler
    clock: Callable[[], datetime]
    privacy: Privacy
    erasure_listener: ErasureListener | None = None
    records: RecordReads | None = None  # the API's record snapshots, once it is built
    # the worker threads of this process (`carecircle up`): /readyz and `status` report them
    workers: WorkerHealth = field(default_factory=lambda: WorkerHealth(utc_now))

    @property
    def db(self) -> Database:
        return self.store.database

    def watch_erasures(self) -> ErasureListener:
        """Listen for erasures confirmed by any process, and drop this process's caches of the
        erased client at once (services/adapters/erasure_notices.py). Started once."""
        if self.erasure_listener is None:
            self.erasure_listener = ErasureListener(
                self.database_url, self._forget_client, self._forget_all
            ).start()
            self.erasure_listener.wait_listening()
        return self.erasure_listener

    def _forget_client(self, client_id: UUID) -> None:
        if self.privacy.keys is not None:
            self.privacy.keys.forget(client_id)
        self.privacy.gate.forget(client_id)
        self.handler.cache.erased(client_id)
        NAMES.erased(client_id)
        if self.records is not None:
            self.records.erased(client_id)

    def _forget_all(self) -> None:
        if self.privacy.keys is not None:
            self.privacy.keys.clear()
        self.privacy.gate.cache.clear()
        self.handler.cache.clear()
        NAMES.clear()
        if self.records is not None:
            self.records.clear()

    def close(self) -> None:
        if self.erasure_listener is not None:
            self.erasure_listener.stop()
        self.handler.close()
        self.store.close()

    def ping_database(self) -> None:
        with self.db.connection() as conn:
            conn.execute("SET LOCAL statement_timeout = '1s'")
            conn.execute("SELECT 1")


@contextmanager
def database(settings: Settings) -> Iterator[str]:
    """`CARE_DATABASE_URL`, or an embedded PostgreSQL under the data dir for the block."""
    if settings.database_url:
        yield settings.database_url
        return
    with EmbeddedPostgres(Path(settings.data_dir) / "pgdata") as server:
        yield server.ensure_database("carecircle")


def build_runtime(
    settings: Settings,
    database_url: str,
    *,
    clock: Callable[[], datetime] = utc_now,
) -> Runtime:
    check_keys(settings)
    db = open_database(
        database_url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
    )
    schema = PrivacySchema(db)
    keys = client_keys(settings, db, schema) if settings.encrypt_at_rest else None
    store = EventStore(db, codec=payload_codec(settings, keys), clock=clock)
    handler = CareRecordHandler(
        store,
        conflict_retries=settings.conflict_retries,
        cache=StateCache(settings.state_cache_size),
    )
    privacy = build_privacy(settings, store, handler, clock, keys=keys, schema=schema)
    return Runtime(
        settings, database_url, store, handler, clock, privacy, workers=WorkerHealth(clock)
    )
