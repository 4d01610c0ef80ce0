"""Prometheus metrics of the Kafka edges, and the store's positions read at scrape time.

Labels come from closed sets only — topic, partition, error code — never a client id. The
workers count into the process's default registry (built once per process, on first use, not at
import); the API serves that registry plus the store's head, each tracking position and the
publish lag, read from PostgreSQL when scraped, so a separate API process shows them too.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import psycopg
import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from projections import CORE
from projections.parking import ParkedSummary, parked_summaries
from services.adapters.positions import Positions, positions
from services.adapters.store import UNAVAILABLE_ERRORS, EventStore

log = structlog.get_logger(__name__)

PROJECTION_NAMES = tuple(p.name for p in CORE)


class KafkaMetrics:
    """Counters and gauges the ingest and publish workers report to."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self._batches = Counter(
            "carecircle_ingest_batches", "Poll batches applied by ingest", registry=registry
        )
        self._messages = Counter(
            "carecircle_ingest_messages",
            "Inbound messages applied or dead-lettered",
            registry=registry,
        )
        self._stored = Counter(
            "carecircle_ingest_events_stored", "Events stored by ingest", registry=registry
        )
        self._dead = Counter(
            "carecircle_ingest_dead_letters",
            "Messages sent to the dead-letter topic, by error code",
            ["code"],
            registry=registry,
        )
        self._batch_seconds = Histogram(
            "carecircle_ingest_batch_seconds",
            "Time to apply one poll batch (parse, decide, dead letters, commit)",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )
        self._lag = Gauge(
            "carecircle_ingest_consumer_lag",
            "Messages in the partition after the last one stored",
            ["topic", "partition"],
            registry=registry,
        )
        self._retries = Counter(
            "carecircle_ingest_retries",
            "Transient failures ingest waited out (database or broker away), by error type",
            ["error_type"],
            registry=registry,
        )
        self._published = Counter(
            "carecircle_publish_events", "Events the broker acknowledged", registry=registry
        )
        self._publish_seconds = Histogram(
            "carecircle_publish_batch_seconds",
            "Time to publish one batch and move the checkpoint",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
            registry=registry,
        )

    # consumers.ingest.IngestMetrics
    def batch(self, *, messages: int, stored: int, seconds: float) -> None:
        self._batches.inc()
        self._messages.inc(messages)
        self._stored.inc(stored)
        self._batch_seconds.observe(seconds)

    def dead_lettered(self, code: str) -> None:
        self._dead.labels(code=code).inc()

    def lag(self, topic: str, partition: int, lag: int) -> None:
        self._lag.labels(topic=topic, partition=str(partition)).set(lag)

    def retried(self, error_type: str) -> None:
        self._retries.labels(error_type=error_type).inc()

    # consumers.publish.PublishMetrics
    def published(self, *, events: int, seconds: float) -> None:
        self._published.inc(events)
        self._publish_seconds.observe(seconds)


@functools.cache
def kafka_metrics() -> KafkaMetrics:
    """The process's Kafka metrics in the default registry, registered on first use."""
    return KafkaMetrics(REGISTRY)


class StorePositions(Collector):
    """Head, tracking positions and publish lag, as last read from the store.

    `refresh()` reads them (blocking: call it off the event loop, once per scrape); `collect()`
    only reports the last reading, so an unreachable database never stalls a scrape.
    """

    def __init__(self, store: EventStore) -> None:
        self._store = store
        self._last: Positions | None = None
        self._parked: dict[str, ParkedSummary] | None = None

    def refresh(self) -> None:
        try:
            self._last = positions(self._store)
            self._parked = parked_summaries(self._store.database.pool)
        except UNAVAILABLE_ERRORS as error:
            self._last = None
            self._parked = None
            log.warning("metrics.store_unavailable", error_type=type(error).__name__)
        except psycopg.errors.UndefinedTable:
            self._parked = None  # the read side is not migrated yet

    def describe(self) -> list[Metric]:
        return []  # read at scrape time; nothing to check for duplicates up front

    def collect(self) -> Iterator[Metric]:
        found = self._last
        if found is None:
            return
        head = GaugeMetricFamily("carecircle_store_head_position", "Highest stored position")
        head.add_metric([], found.head)
        yield head
        tracked = GaugeMetricFamily(
            "carecircle_tracking_position",
            "Last upstream position stored (Kafka offset, publish or projection position)",
            labels=["upstream"],
        )
        for name, position in found.tracked.items():
            tracked.add_metric([name], position)
        yield tracked
        lag = GaugeMetricFamily(
            "carecircle_publish_lag_events",
            "Stored events the broker has not yet acknowledged (head - publish checkpoint)",
            labels=["topic"],
        )
        for topic, behind in found.publish_lag().items():
            lag.add_metric([topic], behind)
        yield lag
        if self._parked is not None:
            parked = GaugeMetricFamily(
                "carecircle_projection_parked_events",
                "Events a projection's live version could not apply and set aside"
                " (carecircle projections status; retry after a fix)",
                labels=["projection"],
            )
            oldest = GaugeMetricFamily(
                "carecircle_projection_parked_oldest_position",
                "Store position of the oldest event a projection's live version parked"
                " (only projections with parked events)",
                labels=["projection"],
            )
            for name in PROJECTION_NAMES:
                summary = self._parked.get(name)
                parked.add_metric([name], 0 if summary is None else summary.count)
                if summary is not None:
                    oldest.add_metric([name], summary.oldest_position)
            yield parked
            yield oldest


@dataclass(frozen=True, slots=True)
class CacheReading:
    """One in-process cache's counters: hits, misses, entries held, capacity (clients)."""

    hits: int
    misses: int
    entries: int
    capacity: int


class InProcess(Collector):
    """The process's caches (hits, misses, hit ratio, entries) and how many access-log entries
    each group commit carried, read at scrape time from the parts themselves."""

    def __init__(
        self,
        caches: Callable[[], Mapping[str, CacheReading]],
        access_log: Callable[[], tuple[int, int]],
    ) -> None:
        self._caches = caches
        self._access_log = access_log

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        readings = self._caches()
        families = {
            "hits": CounterMetricFamily(
                "carecircle_cache_hits", "Lookups answered from the cache", labels=["cache"]
            ),
            "misses": CounterMetricFamily(
                "carecircle_cache_misses", "Lookups the cache did not hold", labels=["cache"]
            ),
        }
        ratio = GaugeMetricFamily(
            "carecircle_cache_hit_ratio", "Hits / lookups since start", labels=["cache"]
        )
        entries = GaugeMetricFamily(
            "carecircle_cache_entries",
            "Clients held (capacity: CARE_*_CACHE_SIZE)",
            labels=["cache", "of"],
        )
        for name, r in readings.items():
            families["hits"].add_metric([name], r.hits)
            families["misses"].add_metric([name], r.misses)
            lookups = r.hits + r.misses
            ratio.add_metric([name], r.hits / lookups if lookups else 0.0)
            entries.add_metric([name, "held"], r.entries)
            entries.add_metric([name, "capacity"], r.capacity)
        yield from families.values()
        yield ratio
        yield entries
        commits, appended = self._access_log()
        log_commits = CounterMetricFamily(
            "carecircle_access_log_commits", "Access-log transactions (group commits)"
        )
        log_commits.add_metric([], commits)
        yield log_commits
        log_entries = CounterMetricFamily(
            "carecircle_access_log_entries", "Access-log entries appended by this process"
        )
        log_entries.add_metric([], appended)
        yield log_entries


class _Default(Collector):
    """The process's default registry, served beside per-app collectors."""

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def api_registry(
    store: EventStore, in_process: InProcess | None = None
) -> tuple[CollectorRegistry, StorePositions]:
    """What the API's /metrics serves: the process's metrics, the store's positions and, when
    given, the process's caches and access-log group commits."""
    kafka_metrics()  # the families exist (at zero) before the first batch
    store_positions = StorePositions(store)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Default())
    registry.register(store_positions)
    if in_process is not None:
        registry.register(in_process)
    return registry, store_positions
