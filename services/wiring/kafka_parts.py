"""The Kafka edges: the `ingest` and `publish` loops of consumers/, with the kafka-python clients
of services/adapters/kafka.py and the use cases they call (services/app/relay.py), the topics,
and a worker's own /metrics."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import structlog

from consumers.backoff import Backoff
from consumers.deadletter import DeadLetterProducer
from consumers.ingest import Ingest
from consumers.publish import ClearPayloads, Payloads, Publisher
from domain.recorded import Recorded
from infra.embedded import create_topics
from services.adapters.kafka import (
    TRANSIENT,
    BrokerBatches,
    ingest_consumer,
    reliable_producer,
)
from services.adapters.metrics import kafka_metrics
from services.adapters.positions import Positions, positions
from services.adapters.publish_payloads import DeidentifiedPayloads, SealedPayloads
from services.app.kafka_disclosures import Consumers
from services.app.relay import HandlerRecord, StoreLog
from services.settings import Settings
from services.wiring.runtime import Runtime

log = structlog.get_logger(__name__)


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
    raw = BrokerBatches(bootstrap)
    ingest = Ingest(
        consumer,
        topic=settings.kafka_inbound_topic,
        record=HandlerRecord(runtime.handler, runtime.store),
        dead_letters=DeadLetterProducer(producer, settings.kafka_deadletter_topic),
        clock=runtime.clock,
        transient=TRANSIENT,
        metrics=kafka_metrics(),
        backoff=Backoff(),
        raw=raw,
    )

    def close() -> None:
        consumer.close(autocommit=False)
        producer.close(timeout=10)
        raw.close()

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


def consumers_of(runtime: Runtime) -> Consumers | None:
    """The registry of downstream consumers and the publish's accounting hook."""
    privacy = runtime.privacy
    if privacy is None:
        return None
    return Consumers(privacy.gate, runtime.handler, privacy.consumers, runtime.clock)


def publish_accounting(runtime: Runtime) -> Callable[[Sequence[Recorded]], None] | None:
    """What the publisher calls once a batch is acknowledged: the disclosures it made to granted
    consumers (none in de-identified mode: nothing identifiable leaves)."""
    consumers = consumers_of(runtime)
    if consumers is None or runtime.settings.publish_mode == "deidentified":
        return None
    return consumers.after_publish


def build_publisher(runtime: Runtime, bootstrap: str) -> tuple[Publisher, Callable[[], None]]:
    """The publish loop for this process, and how to close its producer."""
    settings = runtime.settings
    producer = reliable_producer(bootstrap, client_id="carecircle-publish")
    store_log = StoreLog(runtime.store)

    def reconnect() -> Any:
        """A fresh producer after the broker failed sends in a row: the topics created again
        first where this process creates them (a memory broker's restart loses them)."""
        ensure_topics(settings, bootstrap)
        return reliable_producer(bootstrap, client_id="carecircle-publish")

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
        reconnect=reconnect,
        after_publish=publish_accounting(runtime),
    )

    def close() -> None:
        if publisher.producer is not None:
            publisher.producer.close(timeout=10)

    return publisher, close


class _Loop(Protocol):
    def run(self, stop: threading.Event) -> None: ...


def _run_loop(
    name: str,
    build: Callable[[Runtime, str], tuple[_Loop, Callable[[], None]]],
    runtime: Runtime,
    bootstrap: str | None,
    stop: threading.Event,
) -> None:
    """A Kafka worker role: its metrics, the topics, erasure notices, then its loop until
    stopped, its clients closed however the loop ends."""
    assert bootstrap is not None, f"{name} needs a broker"
    serve_worker_metrics(runtime.settings)
    ensure_topics(runtime.settings, bootstrap)
    runtime.watch_erasures()
    loop, close = build(runtime, bootstrap)
    try:
        loop.run(stop)
    finally:
        close()


def run_ingest(runtime: Runtime, bootstrap: str | None, stop: threading.Event) -> None:
    """`carecircle worker ingest`: consume the inbound topic until stopped."""
    _run_loop("ingest", build_ingest, runtime, bootstrap, stop)


def run_publish(runtime: Runtime, bootstrap: str | None, stop: threading.Event) -> None:
    """`carecircle worker publish`: relay the store to `care.events` until stopped."""
    _run_loop("publish", build_publisher, runtime, bootstrap, stop)


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
