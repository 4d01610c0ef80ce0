"""The audit's anchors outside the database: where they are kept (a JSON-lines file, the anchors
topic), reading them back from the topic, and the `anchor` worker role that takes them
periodically (services/app/audit.py)."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog
from kafka import KafkaConsumer

from consumers.deadletter import read_all
from infra.embedded import create_topics
from services.adapters.kafka import TRANSIENT, reliable_producer
from services.app.audit import Anchor, anchor_every, read_anchors
from services.settings import Settings
from services.wiring.read_parts import anchor_audit
from services.wiring.runtime import Runtime

log = structlog.get_logger(__name__)

Keep = Callable[[Sequence[Anchor]], None]


def anchor_sink(
    settings: Settings, bootstrap: str | None, *, file: Path | None, topic: bool
) -> tuple[Keep, Callable[[], None]]:
    """Where anchors go: appended to a JSON-lines file (fsynced), and/or published to
    CARE_AUDIT_ANCHOR_TOPIC and acknowledged by the broker (acks=all); how to close it. The
    producer is built on first use, so a broker away at start is a failed round, not a crash."""
    if topic and bootstrap is None:
        raise ValueError("anchoring to the topic needs CARE_KAFKA_BOOTSTRAP")
    held: list[Any] = []

    def publish(anchors: Sequence[Anchor]) -> None:
        assert bootstrap is not None
        if not held:
            if settings.kafka_create_topics:
                create_topics(bootstrap, [settings.audit_anchor_topic], partitions=1)
            held.append(reliable_producer(bootstrap, client_id="carecircle-audit-anchor"))
        producer = held[0]
        futures = [
            producer.send(
                settings.audit_anchor_topic,
                key=anchor.chain.encode(),
                value=anchor.line().encode(),
            )
            for anchor in anchors
        ]
        producer.flush(timeout=30)
        for future in futures:
            future.get(timeout=30)

    def keep(anchors: Sequence[Anchor]) -> None:
        if file is not None:
            with file.open("a") as out:
                out.write("".join(anchor.line() + "\n" for anchor in anchors))
                out.flush()
                os.fsync(out.fileno())
        if topic:
            publish(anchors)

    def close() -> None:
        for producer in held:
            producer.close(timeout=10)

    return keep, close


def topic_anchors(settings: Settings, bootstrap: str) -> list[Anchor]:
    """Every anchor published to CARE_AUDIT_ANCHOR_TOPIC (`audit verify --anchors-from-topic`)."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="carecircle-audit"
    )
    try:
        lines = [
            bytes(record.value).decode()
            for record in read_all(consumer, settings.audit_anchor_topic)
            if record.value is not None
        ]
    finally:
        consumer.close()
    return read_anchors(lines)


def run_audit_anchors(runtime: Runtime, bootstrap: str | None, stop: threading.Event) -> None:
    """Worker role `anchor`: both chains anchored every CARE_AUDIT_ANCHOR_EVERY_S seconds, to
    CARE_AUDIT_ANCHOR_FILE and/or the anchors topic (where a broker is known). Off (idle until
    stopped) when the interval is 0 or the anchors have nowhere to go."""
    settings = runtime.settings
    broker = bootstrap or settings.kafka_bootstrap
    to_topic = settings.audit_anchor_to_topic and broker is not None
    file = settings.audit_anchor_file
    if settings.audit_anchor_every_s == 0 or not (to_topic or file):
        log.warning(
            "audit.anchoring_off",
            every_s=settings.audit_anchor_every_s,
            file=file is not None,
            topic=to_topic,
        )
        stop.wait()
        return
    keep, close = anchor_sink(settings, broker, file=file, topic=to_topic)
    log.info("audit.anchoring", every_s=settings.audit_anchor_every_s, topic=to_topic)
    try:
        anchor_every(
            settings.audit_anchor_every_s,
            lambda: anchor_audit(runtime),
            keep,
            stop,
            transient=TRANSIENT,
        )
    finally:
        close()
