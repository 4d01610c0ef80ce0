"""The kafka-python clients of the `ingest` and `publish` roles, built from settings.

services/wiring/ hands them to the loops of consumers/ together with the use cases those loops
call (services/app/relay.py).
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, KafkaProducer
from kafka.errors import KafkaError

from domain.errors import VersionConflict
from services.adapters.store import UNAVAILABLE_ERRORS
from services.settings import Settings

# Worth waiting out: the database or broker away, or the record busy with other writers.
TRANSIENT: tuple[type[BaseException], ...] = (*UNAVAILABLE_ERRORS, KafkaError, VersionConflict)


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
