"""The API (services/api/) over a runtime: its context, metrics, record snapshots, the console's
key and development sign-in, and the app a uvicorn worker process builds for itself."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import partial

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from services.adapters.logging import configure_logging
from services.adapters.metrics import CacheReading, InProcess, api_registry
from services.adapters.store import UNAVAILABLE_ERRORS
from services.adapters.tokens import issue_token
from services.api.app import create_app
from services.api.context import ApiContext
from services.app.authentication import authenticator
from services.app.record_reads import RecordReads
from services.settings import Settings
from services.wiring.read_parts import parked_summary, read_models, thresholds_of
from services.wiring.runtime import Runtime, build_runtime


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
        workers=runtime.workers.states,
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
