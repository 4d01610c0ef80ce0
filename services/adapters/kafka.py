"""The Kafka edges wired to this process's store and handler: the `ingest` and `publish` roles.

consumers/ declares the ports it needs as small Protocols and never imports services/; the
adapters here fit the command handler and the event store to them, and build the kafka-python
clients from settings (DESIGN.md §7 topic names by default).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import structlog
from eventsourcing.persistence import IntegrityError, Tracking
from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from consumers.backoff import Backoff
from consumers.deadletter import DeadLetterProducer
from consumers.ingest import Ingest, PositionTaken, Refusals
from consumers.publish import CheckpointMoved, Publisher
from domain.commands import RecordCareEvent
from domain.errors import VersionConflict
from domain.recorded import Recorded
from infra.embedded import create_topics
from services.adapters.metrics import kafka_metrics
from services.adapters.store import UNAVAILABLE_ERRORS, EventStore, TrackingConflict
from services.app.record import CareRecordHandler, Refused
from services.settings import Settings
from services.wiring import Runtime

log = structlog.get_logger(__name__)

# Worth waiting out: the database or broker away, or the record busy with other writers.
TRANSIENT: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, KafkaError, VersionConflict)


class HandlerRecord:
    """consumers.ingest.CareRecord over the command handler and the store's tracking."""

    def __init__(self, handler: CareRecordHandler, store: EventStore) -> None:
        self._handler = handler
        self._store = store

    def record_batch(
        self,
        commands: Sequence[RecordCareEvent],
        positions: Mapping[str, int],
        before_commit: Callable[[Refusals], None],
    ) -> int:
        trackings = [Tracking(name, offset) for name, offset in positions.items()]

        def hook(refused: list[Refused]) -> None:
            before_commit([(r.index, r.error) for r in refused])

        try:
            recorded, _ = self._handler.record_batch(commands, trackings, before_commit=hook)
        except TrackingConflict:
            raise PositionTaken from None
        return len(recorded)

    def tracked(self, upstream: str) -> int | None:
        return self._store.tracked(upstream)


class StoreLog:
    """consumers.publish.StoredEvents and Checkpoint over the event store."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def read(self, *, after: int, limit: int) -> Sequence[Recorded]:
        return self._store.read(after=after, limit=limit)

    def tracked(self, upstream: str) -> int | None:
        return self._store.tracked(upstream)

    def advance(self, upstream: str, position: int) -> None:
        try:
            self._store.recorder.insert_tracking(Tracking(upstream, position))
        except IntegrityError:  # the single tracking row is at or past `position` already
            raise CheckpointMoved from None


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


def reliable_producer(bootstrap: str, *, client_id: str) -> Any:
    """A producer whose acknowledgement means every in-sync replica has the message, and
    whose retries cannot reorder messages of one partition (one request in flight)."""
    return KafkaProducer(
        bootstrap_servers=bootstrap,
        client_id=client_id,
        acks="all",
        retries=5,
        max_in_flight_requests_per_connection=1,
        linger_ms=5,
        batch_size=256 * 1024,
        max_request_size=8 * 1024 * 1024,
    )


def ingest_consumer(settings: Settings, bootstrap: str) -> Any:
    """The group consumer: offsets are committed by hand, after the database commit."""
    session_ms = settings.kafka_session_timeout_ms
    return KafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id="carecircle-ingest",
        group_id=settings.kafka_ingest_group,
        group_instance_id=settings.kafka_ingest_instance_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=settings.kafka_max_poll_records,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=max(1000, session_ms // 5),
    )


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
    )
    return publisher, lambda: producer.close(timeout=10)


def run_ingest(runtime: Runtime, bootstrap: str | None, stop: threading.Event) -> None:
    """`carecircle worker ingest`: consume the inbound topic until stopped."""
    assert bootstrap is not None, "ingest needs a broker"
    _serve_worker_metrics(runtime.settings)
    ensure_topics(runtime.settings, bootstrap)
    ingest, close = build_ingest(runtime, bootstrap)
    try:
        ingest.run(stop)
    finally:
        close()


def run_publish(runtime: Runtime, bootstrap: str | None, stop: threading.Event) -> None:
    """`carecircle worker publish`: relay the store to `care.events` until stopped."""
    assert bootstrap is not None, "publish needs a broker"
    _serve_worker_metrics(runtime.settings)
    ensure_topics(runtime.settings, bootstrap)
    publisher, close = build_publisher(runtime, bootstrap)
    try:
        publisher.run(stop)
    finally:
        close()


_metrics_lock = threading.Lock()
_metrics_served: set[int] = set()


def _serve_worker_metrics(settings: Settings) -> None:
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
