"""Building the parts of a process once, from settings, and passing them in (cosmicpython's
bootstrap, written out). Nothing here runs at import.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI

from infra.embedded import EmbeddedPostgres
from services.adapters.store import CareRecorder, EventStore, open_datastore
from services.api.app import create_app
from services.api.context import ApiContext
from services.app.privacy import Privacy, PrivacySchema, build_privacy, client_keys, payload_codec
from services.app.read_side import migrate_read_side
from services.app.record import CareRecordHandler
from services.settings import Settings


def tune_garbage_collector() -> None:
    """Long-running roles allocate many short-lived objects per batch; the default gen-0
    threshold (700) runs the cyclic collector dozens of times per Kafka poll (measured: a
    quarter of ingest time). Objects alive after start-up are frozen out of collection."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Runtime:
    """One process's store, handler and clock over one connection pool."""

    settings: Settings
    database_url: str
    store: EventStore
    handler: CareRecordHandler
    clock: Callable[[], datetime]
    privacy: Privacy | None = None

    def close(self) -> None:
        self.handler.close()
        self.store.datastore.close()

    def ping_database(self) -> None:
        with self.store.connection() as conn:
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
    datastore = open_datastore(
        database_url,
        pool_size=settings.pool_size,
        max_overflow=settings.pool_max_overflow,
        pool_timeout=settings.pool_timeout_seconds,
    )
    schema = PrivacySchema(datastore)
    keys = client_keys(settings, datastore, schema) if settings.encrypt_at_rest else None
    store = EventStore(CareRecorder(datastore), codec=payload_codec(settings, keys), clock=clock)
    handler = CareRecordHandler(store, conflict_retries=settings.conflict_retries)
    privacy = build_privacy(settings, store, handler, clock, keys=keys, schema=schema)
    return Runtime(settings, database_url, store, handler, clock, privacy)


def api_from_environment() -> FastAPI:
    """The app for one of several uvicorn worker processes (`carecircle serve --workers N`):
    each process builds its own runtime from CARE_* settings, which must name the database."""
    from services.adapters.logging import configure_logging

    settings = Settings()
    configure_logging(settings.log_level)
    if not settings.database_url:
        raise RuntimeError("CARE_DATABASE_URL must be set for worker processes")
    return build_api(build_runtime(settings, settings.database_url))


def migrate(runtime: Runtime) -> None:
    """Create or upgrade every table, once, before workers start (`carecircle db migrate`)."""
    runtime.store.migrate()
    if runtime.privacy is not None:
        runtime.privacy.migrate()
    migrate_read_side(runtime)


def build_api(runtime: Runtime) -> FastAPI:
    context = ApiContext(
        settings=runtime.settings,
        store=runtime.store,
        handler=runtime.handler,
        clock=runtime.clock,
        readiness={"postgres": runtime.ping_database},
        privacy=runtime.privacy,
    )
    return create_app(context)
