"""The one composition root: every part of a process is built here, once, from settings, and
passed in (cosmicpython's bootstrap, written out). Nothing here runs at import.

What it builds, in order:

- the **runtime**: the database (configured, or embedded PostgreSQL from infra/), one
  connection pool, the event store with its payload codec (encrypting under per-client keys),
  the command handler and the clock;
- the **privacy** parts: the gatekeeper, the access log, client keys, erasures and the
  de-identifier;
- the **read side**: the read models the API queries, the projection runner and the
  early-warning evaluator of the `projections` worker, rebuilds and audit verification;
- the **Kafka edges**: the `ingest` and `publish` loops of consumers/, with the kafka-python
  clients of services/adapters/kafka.py and the use cases they call (services/app/relay.py);
- the **API** (services/api/) and the worker roles the CLI starts.

The CLI (services/cli/) and the API reach adapters and infra only through what this module
builds; tests build their runtime here too.
"""

from __future__ import annotations

import gc
import hashlib
import hmac
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any
from uuid import UUID

import structlog
from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from consumers.backoff import Backoff
from consumers.deadletter import DeadLetterProducer
from consumers.ingest import Ingest
from consumers.publish import ClearPayloads, Payloads, Publisher
from domain.deidentify import Deidentifier
from domain.early_warning import Thresholds, thresholds_from
from infra.embedded import EmbeddedPostgres, create_topics
from projections import CASELOAD, CORE, EARLY_WARNING, Projection
from projections.audit_trail import audit_trail
from projections.early_warning import FlagEvaluator, migrate_evaluations
from projections.engine import Pool, ReadModels, Runner, live_targets, versions_of
from projections.engine import migrate as migrate_projections
from projections.parking import Parked, live_parked, parked_counts
from services.adapters.access_log import AccessLog
from services.adapters.crypto import (
    ClientKeys,
    EncryptingCodec,
    MasterKeys,
    decode_master_key,
    new_master_key,
)
from services.adapters.erasure_notices import ErasureListener
from services.adapters.kafka import TRANSIENT, ingest_consumer, reliable_producer
from services.adapters.logging import configure_logging
from services.adapters.metrics import CacheReading, InProcess, api_registry, kafka_metrics
from services.adapters.positions import Positions, positions
from services.adapters.publish_payloads import DeidentifiedPayloads, SealedPayloads
from services.adapters.store import (
    UNAVAILABLE_ERRORS,
    Database,
    EventStore,
    JsonCodec,
    PayloadCodec,
    open_database,
)
from services.adapters.tokens import issue_token, token_keys
from services.api.app import create_app
from services.api.context import ApiContext
from services.app.audit import Anchor, Anchoring, AuditReport, take_anchors, verify_all
from services.app.authentication import authenticator
from services.app.erasure import Erasures
from services.app.gatekeeper import FactsCache, Gatekeeper
from services.app.privacy import Privacy, PrivacySchema
from services.app.read_side import ProjectionWorker, flag_recorder, rebuild_projection
from services.app.read_side import retry_parked as retry_parked_events
from services.app.record import CareRecordHandler, StateCache
from services.app.record_reads import RecordReads
from services.app.relay import HandlerRecord, StoreLog
from services.settings import Settings, key_bytes

log = structlog.get_logger(__name__)

# The read models' names, tables and DDL (migrations, status, queries); the audit trail in it
# chains under the development key: processes that apply events use `keyed_projections`.
PROJECTIONS: tuple[Projection, ...] = CORE
BY_NAME = {p.name: p for p in PROJECTIONS}


def keyed_projections(settings: Settings) -> tuple[Projection, ...]:
    """The read models as runners apply them: the audit trail chained under CARE_AUDIT_KEY."""
    return (CASELOAD, audit_trail(settings.audit_key_bytes()), EARLY_WARNING)


__all__ = [
    "BY_NAME",
    "PROJECTIONS",
    "KeysRefused",
    "Positions",
    "Runtime",
    "WorkerRole",
    "anchor_audit",
    "api_from_environment",
    "build_api",
    "build_runtime",
    "check_keys",
    "configure_logging",
    "database",
    "development_token",
    "evaluator",
    "keyed_projections",
    "live_runner",
    "migrate",
    "new_master_key",
    "parked",
    "pool_of",
    "producer",
    "projection_lag",
    "read_models",
    "rebuild",
    "retry_parked",
    "roles",
    "store_positions",
    "tune_garbage_collector",
    "verify_audit",
]


def tune_garbage_collector() -> None:
    """Long-running roles allocate many short-lived objects per batch; the default gen-0
    threshold (700) runs the cyclic collector dozens of times per Kafka poll (measured: a
    quarter of ingest time). Objects alive after start-up are frozen out of collection."""
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def utc_now() -> datetime:
    return datetime.now(UTC)


# --- the runtime ----------------------------------------------------------------------------------


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
        self.handler.cache.forget(client_id)
        if self.records is not None:
            self.records.forget(client_id)

    def _forget_all(self) -> None:
        if self.privacy.keys is not None:
            self.privacy.keys.clear()
        self.privacy.gate.cache.clear()
        self.handler.cache.clear()
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
    return Runtime(settings, database_url, store, handler, clock, privacy)


def migrate(runtime: Runtime) -> None:
    """Create or upgrade every table, once, before workers start (`carecircle db migrate`)."""
    runtime.store.migrate()
    runtime.privacy.migrate()
    migrate_read_side(runtime)


# --- privacy --------------------------------------------------------------------------------------


def master_keys(settings: Settings) -> MasterKeys:
    previous = [
        decode_master_key(text)
        for text in settings.previous_master_keys.get_secret_value().split(",")
        if text.strip()
    ]
    return MasterKeys(decode_master_key(settings.master_key.get_secret_value()), previous)


def client_keys(settings: Settings, db: Database, schema: PrivacySchema) -> ClientKeys:
    return ClientKeys(
        db,
        master_keys(settings),
        cache_seconds=settings.key_cache_seconds,
        ensure_schema=schema.ensure,
    )


def payload_codec(settings: Settings, keys: ClientKeys | None) -> PayloadCodec:
    """The codec of the event store: encrypting when encryption at rest is on (the default)."""
    if settings.encrypt_at_rest and keys is not None:
        return EncryptingCodec(keys)
    return JsonCodec()


def deidentifier(settings: Settings) -> Deidentifier:
    return Deidentifier(key_bytes(settings.deidentify_key.get_secret_value()))


class KeysRefused(RuntimeError):
    """A configured key or key file does not load: the process must not start."""


def check_keys(settings: Settings) -> None:
    """Load every key and key file the settings name, once, before anything starts: a missing
    or unreadable `CARE_JWT_PUBLIC_KEY` file would otherwise start, answer ready, then fail
    every request. Names the setting, never the key."""
    checks: list[tuple[str, Callable[[], object]]] = [
        ("CARE_JWT_PUBLIC_KEY / CARE_JWT_JWKS_FILE", lambda: token_keys(settings)),
        ("CARE_MASTER_KEY / CARE_PREVIOUS_MASTER_KEYS", lambda: master_keys(settings)),
        ("CARE_DEIDENTIFY_KEY", lambda: deidentifier(settings)),
    ]
    for name, load in checks:
        try:
            load()
        except Exception as error:
            raise KeysRefused(f"{name} does not load ({type(error).__name__})") from None
    keys = token_keys(settings)
    if settings.environment == "production" and not keys.public_keys:
        raise KeysRefused("CARE_JWT_PUBLIC_KEY / CARE_JWT_JWKS_FILE hold no RSA public key")


def build_privacy(
    settings: Settings,
    store: EventStore,
    handler: CareRecordHandler,
    clock: Callable[[], datetime],
    *,
    keys: ClientKeys | None = None,
    schema: PrivacySchema | None = None,
) -> Privacy:
    db = store.database
    schema = schema or PrivacySchema(db)
    access_log = AccessLog(db, ensure_schema=schema.ensure, key=settings.audit_key_bytes())
    gate = Gatekeeper(
        store,
        handler,
        access_log,
        clock,
        cache=FactsCache(size=settings.facts_cache_size),
        erased=keys.known_erased if keys is not None else lambda _client: False,
    )
    erasures = Erasures(
        db,
        keys,
        gate,
        handler,
        clock,
        confirm_within=timedelta(hours=settings.erasure_confirm_hours),
        ensure_schema=schema.ensure,
    )
    return Privacy(
        settings=settings,
        schema=schema,
        access_log=access_log,
        gate=gate,
        keys=keys,
        erasures=erasures,
        deidentifier=deidentifier(settings),
    )


# --- the API --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ApiMetrics:
    """services.app.ports.MetricsSource: the registry /metrics renders, refreshed per scrape."""

    registry: CollectorRegistry
    refresh: Callable[[], None]


def in_process_metrics(runtime: Runtime, records: RecordReads) -> InProcess:
    """The caches' hit rates and the access log's group commits, read at scrape time."""
    state, facts = runtime.handler.cache, runtime.privacy.gate.cache

    def caches() -> dict[str, CacheReading]:
        return {
            "client_state": CacheReading(state.hits, state.misses, len(state), state.capacity),
            "access_facts": CacheReading(facts.hits, facts.misses, len(facts), facts.capacity),
            "record": CacheReading(records.hits, records.misses, len(records), records.capacity),
        }

    return InProcess(caches, lambda: runtime.privacy.access_log.batches)


def record_reads(runtime: Runtime) -> RecordReads:
    """The API's record snapshots; an erasure anywhere drops the client's (watch_erasures)."""
    if runtime.records is None:
        keys = runtime.privacy.keys
        runtime.records = RecordReads(
            runtime.store,
            size=runtime.settings.record_cache_size,
            erased=keys.known_erased if keys is not None else lambda _client: False,
        )
    return runtime.records


def build_api(runtime: Runtime) -> FastAPI:
    runtime.watch_erasures()
    records = record_reads(runtime)
    registry, positions = api_registry(runtime.store, in_process_metrics(runtime, records))
    context = ApiContext(
        settings=runtime.settings,
        store=runtime.store,
        handler=runtime.handler,
        clock=runtime.clock,
        reads=read_models(runtime),
        privacy=runtime.privacy,
        authenticate=authenticator(runtime.settings),
        metrics=ApiMetrics(registry, positions.refresh),
        records=records,
        unavailable_errors=UNAVAILABLE_ERRORS,
        readiness={"postgres": runtime.ping_database},
        degradation={"projections": partial(parked_summary, runtime)},
        console_key=console_key(runtime.settings),
        mint_token=development_minter(runtime.settings),
        thresholds=thresholds_of(runtime.settings),
    )
    return create_app(context)


def console_key(settings: Settings) -> bytes:
    """The key of the console's CSRF tokens: CARE_CONSOLE_SECRET, else derived from the master
    key (set in production), so every API process of a deployment agrees on it."""
    given = settings.console_secret.get_secret_value()
    source = given.encode() if given else settings.master_key.get_secret_value().encode()
    return hmac.new(source, b"carecircle console csrf v1", hashlib.sha256).digest()


def development_minter(settings: Settings) -> Callable[[str, str, str], str] | None:
    """The console's development sign-in: a token for the chosen person (development only)."""
    if settings.environment != "development":
        return None
    return lambda sub, role, org: development_token(settings, sub=sub, role=role, org=org, hours=12)


def api_from_environment() -> FastAPI:
    """The app for one of several uvicorn worker processes (`carecircle serve --workers N`):
    each process builds its own runtime from CARE_* settings, which must name the database."""
    settings = Settings()
    configure_logging(settings.log_level)
    if not settings.database_url:
        raise RuntimeError("CARE_DATABASE_URL must be set for worker processes")
    return build_api(build_runtime(settings, settings.database_url))


def development_token(settings: Settings, *, sub: str, role: str, org: str, hours: float) -> str:
    """An HS256 token signed with the development secret (`carecircle token`)."""
    return issue_token(
        settings.jwt_secret.get_secret_value(),
        sub=sub,
        role=role,
        org=org,
        ttl=timedelta(hours=hours),
    )


# --- the read side --------------------------------------------------------------------------------


def pool_of(runtime: Runtime) -> Pool:
    pool: Pool = runtime.db.pool
    return pool


def migrate_read_side(runtime: Runtime) -> None:
    """The engine's tables, each projection's first version, the evaluator's bookmarks."""
    pool = pool_of(runtime)
    migrate_projections(pool, PROJECTIONS)
    migrate_evaluations(pool)


def read_models(runtime: Runtime) -> ReadModels:
    return ReadModels(
        pool_of(runtime),
        PROJECTIONS,
        wait_seconds=runtime.settings.read_wait_seconds,
        head=runtime.store.head,
    )


def thresholds_of(settings: Settings) -> Thresholds:
    return thresholds_from(settings.warning_thresholds)


def live_runner(runtime: Runtime, *, batch_size: int | None = None) -> Runner:
    pool = pool_of(runtime)
    keyed = keyed_projections(runtime.settings)
    return Runner(
        runtime.store,
        pool,
        lambda: live_targets(pool, keyed),
        batch_size=batch_size or runtime.settings.projection_batch_size,
    )


def evaluator(runtime: Runtime, *, thresholds: Thresholds | None = None) -> FlagEvaluator:
    return FlagEvaluator(
        pool_of(runtime),
        flag_recorder(runtime.handler),
        runtime.clock,
        thresholds or thresholds_of(runtime.settings),
    )


def run_projections(runtime: Runtime, _bootstrap: str | None, stop: threading.Event) -> None:
    """Worker role `projections`: every projection's live version and the evaluator."""
    migrate_read_side(runtime)
    runtime.watch_erasures()
    rebuild_outdated(runtime)
    worker = ProjectionWorker(live_runner(runtime), evaluator(runtime))
    log.info("projections.following", count=len(PROJECTIONS))
    worker.run(stop)


def projection_lag(runtime: Runtime) -> int:
    """Events between the store's head and the slowest live projection (0: all caught up)."""
    head = runtime.store.head()
    with runtime.db.connection() as conn:
        row = conn.execute(
            "SELECT min(p.position) AS position FROM projection_positions p"
            " JOIN projection_versions v ON v.name = p.name AND v.live = p.version"
        ).fetchone()
    slowest = 0 if row is None or row["position"] is None else int(row["position"])
    return max(0, head - slowest)


def verify_audit(runtime: Runtime, anchors: Sequence[Anchor] = ()) -> AuditReport:
    """Both audit chains, and each anchor against them (`carecircle audit verify`)."""
    return verify_all(
        pool_of(runtime), runtime.privacy.access_log, runtime.settings.audit_key_bytes(), anchors
    )


def anchor_audit(runtime: Runtime) -> Anchoring:
    """Signed checkpoints of both chains' heads (`carecircle audit anchor`)."""
    return take_anchors(
        pool_of(runtime),
        runtime.privacy.access_log,
        runtime.settings.audit_key_bytes(),
        runtime.clock,
    )


def rebuild_outdated(runtime: Runtime, *, grace_seconds: float = 10.0) -> None:
    """A projection whose live tables predate its code (a new version, e.g. the audit trail's
    keyed chain) is rebuilt beside and swapped in before the worker follows: stores made by an
    older release migrate by rebuild. One that cannot be (a v1 audit chain that does not
    verify) stays behind, logged, and the other read models go on."""
    with pool_of(runtime).connection() as conn:
        outdated = [p.name for p in PROJECTIONS if versions_of(conn, p.name).live < p.version]
    for name in outdated:
        log.warning("projections.rebuilding_outdated", projection=name)
        rebuild(runtime, name, grace_seconds=grace_seconds)


def retry_parked(
    runtime: Runtime,
    names: Sequence[str] = (),
    *,
    grace_seconds: float = 10.0,
    projections: Sequence[Projection] = PROJECTIONS,
    **kwargs: Any,
) -> int:
    """Rebuild the projections whose live version parked events (services/app/read_side.py)."""
    chosen = [p for p in projections if not names or p.name in names]
    return retry_parked_events(
        runtime.store,
        pool_of(runtime),
        chosen,
        grace_seconds=grace_seconds,
        batch_size=runtime.settings.projection_batch_size,
        audit_key=runtime.settings.audit_key_bytes(),
        **kwargs,
    )


def parked_summary(runtime: Runtime) -> str | None:
    """`/readyz`'s degradation: how many events projections parked, or None."""
    counts = parked_counts(pool_of(runtime))
    if not counts:
        return None
    return "parked events: " + ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def parked(runtime: Runtime) -> list[Parked]:
    """The events each projection's live version parked (`carecircle projections status`)."""
    with pool_of(runtime).connection() as conn:
        return live_parked(conn)


def rebuild(
    runtime: Runtime,
    name: str,
    *,
    grace_seconds: float = 10.0,
    batch_size: int | None = None,
    **kwargs: Any,
) -> int:
    """Build the next version of a read model beside the live one, then swap (services/app)."""
    keyed = {p.name: p for p in keyed_projections(runtime.settings)}
    return rebuild_projection(
        runtime.store,
        pool_of(runtime),
        keyed[name],
        grace_seconds=grace_seconds,
        batch_size=batch_size or runtime.settings.projection_batch_size,
        audit_key=runtime.settings.audit_key_bytes(),
        **kwargs,
    )


# --- the Kafka edges ------------------------------------------------------------------------------


def producer(bootstrap: str, *, client_id: str) -> Any:
    """A producer acknowledged by every in-sync replica (`deadletter replay` uses it)."""
    return reliable_producer(bootstrap, client_id=client_id)


def store_positions(runtime: Runtime) -> Positions:
    """The store's head and every tracked upstream's position (`carecircle status`)."""
    return positions(runtime.store)


def ensure_topics(settings: Settings, bootstrap: str) -> None:
    """Create the four topics if missing (local brokers; production clusters manage their own)."""
    if not settings.kafka_create_topics:
        return
    names = [
        settings.kafka_inbound_topic,
        settings.kafka_deadletter_topic,
        settings.kafka_events_topic,
        settings.kafka_flags_topic,
    ]
    create_topics(bootstrap, names, partitions=settings.kafka_topic_partitions)


def build_ingest(runtime: Runtime, bootstrap: str) -> tuple[Ingest, Callable[[], None]]:
    """The ingest loop for this process, and how to close its clients."""
    settings = runtime.settings
    consumer = ingest_consumer(settings, bootstrap)
    producer = reliable_producer(bootstrap, client_id="carecircle-deadletter")
    ingest = Ingest(
        consumer,
        topic=settings.kafka_inbound_topic,
        record=HandlerRecord(runtime.handler, runtime.store),
        dead_letters=DeadLetterProducer(producer, settings.kafka_deadletter_topic),
        clock=runtime.clock,
        transient=TRANSIENT,
        metrics=kafka_metrics(),
        backoff=Backoff(),
    )

    def close() -> None:
        consumer.close(autocommit=False)
        producer.close(timeout=10)

    return ingest, close


def publish_payloads(runtime: Runtime) -> Payloads:
    """What `care.events` carries as `data` (CARE_PUBLISH_MODE; sealed needs the client keys)."""
    mode, privacy = runtime.settings.publish_mode, runtime.privacy
    if mode == "sealed":
        if privacy.keys is None:
            raise ValueError(
                "CARE_PUBLISH_MODE=sealed needs client keys (CARE_ENCRYPT_AT_REST=true);"
                " choose deidentified, or clear where it is allowed"
            )
        return SealedPayloads(privacy.keys)
    if mode == "deidentified":
        return DeidentifiedPayloads(privacy.deidentifier)
    return ClearPayloads()


def build_publisher(runtime: Runtime, bootstrap: str) -> tuple[Publisher, Callable[[], None]]:
    """The publish loop for this process, and how to close its producer."""
    settings = runtime.settings
    producer = reliable_producer(bootstrap, client_id="carecircle-publish")
    store_log = StoreLog(runtime.store)
    publisher = Publisher(
        producer,
        events=store_log,
        checkpoint=store_log,
        topic=settings.kafka_events_topic,
        flags_topic=settings.kafka_flags_topic,
        transient=TRANSIENT,
        batch_size=settings.kafka_publish_batch,
        metrics=kafka_metrics(),
        payloads=publish_payloads(runtime),
    )
    return publisher, lambda: producer.close(timeout=10)


def run_ingest(runtime: Runtime, bootstrap: str | None, stop: threading.Event) -> None:
    """`carecircle worker ingest`: consume the inbound topic until stopped."""
    assert bootstrap is not None, "ingest needs a broker"
    serve_worker_metrics(runtime.settings)
    ensure_topics(runtime.settings, bootstrap)
    runtime.watch_erasures()
    ingest, close = build_ingest(runtime, bootstrap)
    try:
        ingest.run(stop)
    finally:
        close()


def run_publish(runtime: Runtime, bootstrap: str | None, stop: threading.Event) -> None:
    """`carecircle worker publish`: relay the store to `care.events` until stopped."""
    assert bootstrap is not None, "publish needs a broker"
    serve_worker_metrics(runtime.settings)
    ensure_topics(runtime.settings, bootstrap)
    runtime.watch_erasures()
    publisher, close = build_publisher(runtime, bootstrap)
    try:
        publisher.run(stop)
    finally:
        close()


_metrics_lock = threading.Lock()
_metrics_served: set[int] = set()


def serve_worker_metrics(settings: Settings) -> None:
    """A worker process's own /metrics, when `CARE_WORKER_METRICS_PORT` is set (once a port)."""
    port = settings.worker_metrics_port
    if port is None:
        return
    from prometheus_client import start_http_server

    with _metrics_lock:
        if port in _metrics_served:
            return
        kafka_metrics()
        start_http_server(port, addr=settings.http_host)
        _metrics_served.add(port)
    log.info("metrics.listening", port=port)


# --- worker roles ---------------------------------------------------------------------------------

RunRole = Callable[[Runtime, str | None, threading.Event], None]


@dataclass(frozen=True, slots=True)
class WorkerRole:
    """`carecircle worker ROLE`, and all of them inside `carecircle up`: a function that runs
    until its stop event is set, given the Runtime and the Kafka bootstrap servers (None when
    the role needs no broker)."""

    name: str
    needs_kafka: bool
    run: RunRole


def roles() -> dict[str, WorkerRole]:
    """Every worker role this build knows, by name."""
    found: list[WorkerRole] = [
        WorkerRole("projections", needs_kafka=False, run=run_projections),
        WorkerRole("ingest", needs_kafka=True, run=run_ingest),
        WorkerRole("publish", needs_kafka=True, run=run_publish),
    ]
    return {role.name: role for role in found}
