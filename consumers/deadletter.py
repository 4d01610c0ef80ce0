"""The dead-letter topic: messages ingest could not apply, kept whole, with the reason beside them.

A dead letter is the original message — key, bytes and headers untouched — plus headers
`error-code` (the code an HTTP caller would get), `error-reason` (where and what is wrong, never
a value), and `source-topic`, `source-partition`, `source-offset`. A record batch the client
cannot decode at all (a corrupt or undecompressable batch) has no message to keep: its dead
letter (`undecodable`) carries the batch's raw bytes as the broker stores them, with
`source-offset` the first offset not applied and `source-last-offset` the batch's last.
Ingest produces and flushes a batch's dead letters before it commits the batch's offsets to
PostgreSQL, so a crash never loses one; a crash after the flush and before that commit may write
the same dead letter twice, and the source headers say it is the same message. An operator
lists them and, once the cause is fixed (the client enrolled, the sender corrected), re-drives
them to the inbound topic unchanged.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import structlog
from kafka import TopicPartition

ERROR_CODE = "error-code"
ERROR_REASON = "error-reason"
SOURCE_TOPIC = "source-topic"
SOURCE_PARTITION = "source-partition"
SOURCE_OFFSET = "source-offset"
SOURCE_LAST_OFFSET = "source-last-offset"
REPLAYED_FROM = "replayed-from"
OUR_HEADERS = frozenset(
    {
        ERROR_CODE,
        ERROR_REASON,
        SOURCE_TOPIC,
        SOURCE_PARTITION,
        SOURCE_OFFSET,
        SOURCE_LAST_OFFSET,
        REPLAYED_FROM,
    }
)

Headers = list[tuple[str, bytes]]

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Letter:
    """One message to dead-letter: where it came from, its key, bytes and headers, and why."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]]
    code: str
    reason: str
    last_offset: int | None = None  # an undecodable batch: the last offset it covers


def letter_headers(letter: Letter) -> Headers:
    """The original headers (less any of ours from an earlier round) plus the error and source."""
    kept = [(k, v) for k, v in letter.headers if k not in OUR_HEADERS]
    last = [] if letter.last_offset is None else [(SOURCE_LAST_OFFSET, b"%d" % letter.last_offset)]
    return [
        *kept,
        (ERROR_CODE, letter.code.encode()),
        (ERROR_REASON, letter.reason.encode()),
        (SOURCE_TOPIC, letter.topic.encode()),
        (SOURCE_PARTITION, str(letter.partition).encode()),
        (SOURCE_OFFSET, str(letter.offset).encode()),
        *last,
    ]


class DeadLetterProducer:
    """Sends dead letters and waits until the broker acknowledged every one (acks=all)."""

    def __init__(self, producer: Any, topic: str, *, timeout_s: float = 30.0) -> None:
        self._producer = producer
        self.topic = topic
        self._timeout_s = timeout_s
        self._futures: list[Any] = []

    def send(self, letter: Letter) -> None:
        future = self._producer.send(
            self.topic, key=letter.key, value=letter.value, headers=letter_headers(letter)
        )
        self._futures.append(future)

    def flush(self) -> None:
        """Wait for the broker; raise the first failure (a KafkaError) so the caller retries."""
        futures, self._futures = self._futures, []
        if not futures:
            return
        self._producer.flush(timeout=self._timeout_s)
        for future in futures:
            future.get(timeout=self._timeout_s)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A dead letter as read back: its own position, the reason and the source position."""

    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers
    code: str
    reason: str
    source_topic: str
    source_partition: int | None
    source_offset: int | None
    source_last_offset: int | None = None  # an undecodable batch's last offset

    @classmethod
    def of(cls, record: Any) -> DeadLetter:
        headers: Headers = list(record.headers or [])
        found = {k: v.decode("utf-8", "replace") for k, v in headers if k in OUR_HEADERS}
        return cls(
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            value=record.value,
            headers=headers,
            code=found.get(ERROR_CODE, ""),
            reason=found.get(ERROR_REASON, ""),
            source_topic=found.get(SOURCE_TOPIC, ""),
            source_partition=_int(found.get(SOURCE_PARTITION)),
            source_offset=_int(found.get(SOURCE_OFFSET)),
            source_last_offset=_int(found.get(SOURCE_LAST_OFFSET)),
        )

    def original_headers(self) -> Headers:
        return [(k, v) for k, v in self.headers if k not in OUR_HEADERS]


def _int(text: str | None) -> int | None:
    return int(text) if text is not None and text.isdigit() else None


def read_all(consumer: Any, topic: str, *, timeout_s: float = 15.0) -> Iterator[Any]:
    """Every record of `topic` from the beginning up to its end as the broker reports it on fetch.

    The end comes from the high watermark in fetch responses, not from ListOffsets, which Tansu
    answers with the base offset of the last batch.
    """
    numbers = sorted(consumer.partitions_for_topic(topic) or ())
    partitions = [TopicPartition(topic, p) for p in numbers]
    if not partitions:
        return
    consumer.assign(partitions)
    consumer.seek_to_beginning(*partitions)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        polled = consumer.poll(timeout_ms=200)
        for tp in sorted(polled, key=lambda tp: tp.partition):
            yield from polled[tp]
        if not polled and all(_caught_up(consumer, tp) for tp in partitions):
            return
    raise TimeoutError(f"reading {topic} did not reach its end in {timeout_s} s")


def _caught_up(consumer: Any, tp: TopicPartition) -> bool:
    highwater = consumer.highwater(tp)
    return highwater is not None and consumer.position(tp) >= highwater


def list_dead_letters(consumer: Any, topic: str, *, limit: int | None = None) -> list[DeadLetter]:
    """The dead letters in the topic, oldest first per partition (at most `limit`)."""
    letters: list[DeadLetter] = []
    for record in read_all(consumer, topic):
        letters.append(DeadLetter.of(record))
        if limit is not None and len(letters) >= limit:
            break
    return letters


def replay(
    consumer: Any,
    producer: Any,
    *,
    deadletter_topic: str,
    inbound_topic: str,
    chosen: Callable[[DeadLetter], bool],
    timeout_s: float = 30.0,
) -> list[DeadLetter]:
    """Re-drive the chosen dead letters to the inbound topic: original key, bytes and headers,
    plus `replayed-from` (`topic:partition:offset` of the dead letter); return those sent. An
    undecodable batch's letter holds no message to re-send and is never re-driven."""
    sent: list[DeadLetter] = []
    futures = []
    for record in read_all(consumer, deadletter_topic):
        letter = DeadLetter.of(record)
        if letter.source_last_offset is not None or not chosen(letter):
            continue
        origin = f"{deadletter_topic}:{letter.partition}:{letter.offset}".encode()
        headers = [*letter.original_headers(), (REPLAYED_FROM, origin)]
        futures.append(
            producer.send(inbound_topic, key=letter.key, value=letter.value, headers=headers)
        )
        sent.append(letter)
    producer.flush(timeout=timeout_s)
    for future in futures:
        future.get(timeout=timeout_s)
    log.info("deadletter.replayed", topic=inbound_topic, count=len(sent))
    return sent
