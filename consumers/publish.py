"""Kafka out: every stored event, in position order, to `care.events`, keyed by client id.

The tracked relay of eventsourcing's maintainer (issue #246): read the store after the
checkpoint, send, wait until the broker acknowledged every message (acks=all), and only then
move the checkpoint — a tracking row in the store. At-least-once: after a crash or a broker
error the batch since the checkpoint is sent again, and a duplicate carries the same `event-id`.
One client's events share a key, so a partition, so their order holds (one request in flight per
connection keeps retries from reordering them). When sends keep failing the producer is replaced
(the topics ensured first), so a broker restart that lost the topics is survived. Flags raised,
acknowledged, cleared or resolved go to `care.flags` too.

The value is the stored event: the envelope as on the wire, plus `version`, `position` and
`recorded_at`, with its `data` as the `Payloads` port makes it: sealed under the client's key by
default, de-identified, or clear (services/adapters/publish_payloads.py; CARE_PUBLISH_MODE).
Headers: `event-id`, `type`, `schema-version`, `position`, `data-mode`.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import structlog
from kafka.errors import KafkaError

from consumers.backoff import Backoff, Stopped, retrying
from domain.recorded import Recorded

log = structlog.get_logger(__name__)

T = TypeVar("T")

# A flag's whole lifecycle: a pager downstream stops escalating once a person acknowledged it
FLAG_TYPES = frozenset(
    {"RiskFlagRaised", "RiskFlagAcknowledged", "RiskFlagCleared", "RiskFlagResolved"}
)


def checkpoint_name(topic: str) -> str:
    """The upstream name under which the publisher's checkpoint is tracked in the store."""
    return f"publish:{topic}"


class CheckpointMoved(Exception):
    """Another publisher moved the checkpoint past this one's position; read it again."""


class StoredEvents(Protocol):
    """The store's global order, as the publisher reads it."""

    def read(self, *, after: int, limit: int) -> Sequence[Recorded]: ...


class Checkpoint(Protocol):
    """Where the publisher got to: a tracking row that only moves forward."""

    def tracked(self, upstream: str) -> int | None: ...

    def advance(self, upstream: str, position: int) -> None:
        """Record `position`; raise CheckpointMoved if the stored one is not behind it."""
        ...


class PublishMetrics(Protocol):
    def published(self, *, events: int, seconds: float) -> None: ...


class NoMetrics:
    def published(self, *, events: int, seconds: float) -> None:
        return None


class Payloads(Protocol):
    """What a published event's `data` becomes (sealed, de-identified, or as stored): the
    envelope's fields to replace, given the event's JSON form."""

    mode: str

    def outbound(self, recorded: Recorded, value: dict[str, Any]) -> dict[str, Any]: ...


class ClearPayloads:
    """`data` as stored: every consumer of the topic reads it (CARE_PUBLISH_MODE=clear)."""

    mode = "clear"

    def outbound(self, recorded: Recorded, value: dict[str, Any]) -> dict[str, Any]:
        return value


def message_of(
    recorded: Recorded, payloads: Payloads | None = None
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """Key, value and headers of one stored event on `care.events`."""
    event = recorded.event
    value = {
        **_canonical(event.model_dump(), event.model_dump(mode="json")),
        "version": recorded.version,
        "position": recorded.position,
        "recorded_at": recorded.recorded_at.isoformat(),
    }
    if payloads is not None:
        value = payloads.outbound(recorded, value)
    headers = [
        ("event-id", str(value["event_id"]).encode()),
        ("type", event.type.encode()),
        ("schema-version", str(event.schema_version).encode()),
        ("position", str(recorded.position).encode()),
        ("data-mode", (payloads.mode if payloads is not None else "clear").encode()),
    ]
    return str(value["client_id"]).encode(), json.dumps(value).encode(), headers


def _canonical(python: Any, dumped: Any) -> Any:
    """The JSON dump with every set sorted, so a re-sent event has the very same bytes (a set's
    order follows string hashes, which differ from process to process)."""
    if isinstance(python, set | frozenset):
        return sorted(dumped, key=lambda item: json.dumps(item, sort_keys=True))
    if isinstance(python, dict) and isinstance(dumped, dict):
        return {key: _canonical(python.get(key), value) for key, value in dumped.items()}
    if isinstance(python, list | tuple) and isinstance(dumped, list):
        return [_canonical(p, d) for p, d in zip(python, dumped, strict=False)]
    return dumped


class Publisher:
    """The relay loop from the store to the broker."""

    def __init__(
        self,
        producer: Any,
        *,
        events: StoredEvents,
        checkpoint: Checkpoint,
        topic: str,
        flags_topic: str,
        transient: tuple[type[BaseException], ...],
        batch_size: int = 2000,
        idle_s: float = 0.2,
        ack_timeout_s: float = 30.0,
        metrics: PublishMetrics | None = None,
        backoff: Backoff | None = None,
        payloads: Payloads | None = None,
        reconnect: Callable[[], Any] | None = None,
        reconnect_after: int = 3,
        after_publish: Callable[[Sequence[Recorded]], None] | None = None,
    ) -> None:
        self.producer = producer
        # a fresh producer (topics ensured first) when sends keep failing: see _broker_failed
        self.reconnect = reconnect
        self.reconnect_after = reconnect_after
        self._failures = 0
        self._stale = False
        # called once the broker acknowledged a batch, before the checkpoint moves (the
        # accounting of what it disclosed; idempotent, since a failed step is sent again)
        self.after_publish = after_publish
        self.payloads: Payloads = payloads or ClearPayloads()
        self.events = events
        self.checkpoint = checkpoint
        self.topic = topic
        self.flags_topic = flags_topic
        self.name = checkpoint_name(topic)
        self.transient = (*transient, KafkaError)
        self.batch_size = batch_size
        self.idle_s = idle_s
        self.ack_timeout_s = ack_timeout_s
        self.metrics: PublishMetrics = metrics or NoMetrics()
        self.backoff = backoff or Backoff()

    def run(self, stop: threading.Event) -> None:
        """Publish until `stop` is set, following new events by a short poll when idle."""
        log.info("publish.started", topic=self.topic)
        try:
            position = self._checkpoint(stop)
            while not stop.is_set():
                try:
                    published = self._retry(functools.partial(self.step, position), stop)
                except CheckpointMoved:
                    log.warning("publish.checkpoint_moved", topic=self.topic, position=position)
                    position = self._checkpoint(stop)
                    continue
                if published is None:
                    stop.wait(self.idle_s)
                else:
                    position = published
        except Stopped:
            pass
        log.info("publish.stopped", topic=self.topic)

    def step(self, after: int) -> int | None:
        """Publish the next batch after `after`; return the new checkpoint (None: nothing new)."""
        started = time.monotonic()
        batch = self.events.read(after=after, limit=self.batch_size)
        if not batch:
            return None
        self._fresh_producer()
        futures = []
        for recorded in batch:
            key, value, headers = message_of(recorded, self.payloads)
            futures.append(self.producer.send(self.topic, key=key, value=value, headers=headers))
            if recorded.event.type in FLAG_TYPES:
                futures.append(
                    self.producer.send(self.flags_topic, key=key, value=value, headers=headers)
                )
        self.producer.flush(timeout=self.ack_timeout_s)
        for future in futures:
            future.get(timeout=self.ack_timeout_s)  # raises the broker's error: send again
        if self.after_publish is not None:
            self.after_publish(batch)
        position = batch[-1].position
        self._failures = 0
        self.checkpoint.advance(self.name, position)
        seconds = time.monotonic() - started
        self.metrics.published(events=len(batch), seconds=seconds)
        log.info(
            "publish.batch",
            topic=self.topic,
            count=len(batch),
            position=position,
            duration_ms=round(seconds * 1000),
        )
        return position

    def _checkpoint(self, stop: threading.Event) -> int:
        return self._retry(lambda: self.checkpoint.tracked(self.name) or 0, stop)

    def _retry(self, action: Callable[[], T], stop: threading.Event) -> T:
        return retrying(
            action,
            transient=self.transient,
            stop=stop,
            backoff=self.backoff,
            what="publish",
            on_retry=self._broker_failed,
        )

    def _broker_failed(self, error: BaseException) -> None:
        """After `reconnect_after` broker failures in a row, the next batch goes through a fresh
        producer. A kafka-python producer that lost its broker can keep failing after the broker
        is back (a restarted broker that lost the topic: the producer's metadata and connections
        stay stale), so the batch since the checkpoint is sent again on a new one."""
        if not isinstance(error, KafkaError) or self.reconnect is None:
            return
        self._failures += 1
        if self._failures >= self.reconnect_after and not self._stale:
            self._stale = True
            stale, self.producer = self.producer, None
            log.warning("publish.reconnecting", topic=self.topic, failures=self._failures)
            try:
                stale.close(timeout=0)
            except Exception as failure:
                log.warning("publish.close_failed", error_type=type(failure).__name__)

    def _fresh_producer(self) -> None:
        """Build the fresh producer `_broker_failed` asked for (a failure here is retried)."""
        if not self._stale or self.reconnect is None:
            return
        self.producer = self.reconnect()
        self._stale = False
        self._failures = 0
        log.info("publish.reconnected", topic=self.topic)
