"""Kafka in: care events from providers' services, through the same command handling as HTTP.

One poll is one batch: every message is parsed against the wire contract, made a
`RecordCareEvent`, and the whole batch — many clients — is decided and stored in ONE PostgreSQL
transaction together with the last offset of each partition in the batch (a tracking row per
partition). PostgreSQL, not the broker, is the record of what was consumed: on assignment each
partition is sought to its tracked offset + 1, and a message at or below it is skipped, so a
crash between the database commit and the Kafka offset commit neither loses nor repeats one.
A re-sent `event_id` stores nothing.

A message that cannot be applied (not JSON, not the contract, refused by the care record) goes
to the dead-letter topic, and the partition moves on; so does a record batch the client cannot
decode at all (kafka-python raises from `poll`), from its raw bytes read beside the consumer.
Dead letters are produced and flushed before the batch's tracking commits
(consumers/deadletter.py). A transient failure — the database or the broker away, the record
busy — is retried with bounded backoff and never dead-lettered: the partitions wait rather than
skip.

The command handler and the positions come in through `CareRecord`, wired in services/.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

import structlog
from kafka import ConsumerRebalanceListener, TopicPartition
from kafka.errors import KafkaError
from kafka.structs import OffsetAndMetadata

from consumers.backoff import Backoff, Stopped, retrying
from consumers.deadletter import Letter
from consumers.wire import SERVICE_HEADER, Rejection, event_from_message
from domain.commands import RecordCareEvent
from domain.errors import DomainError

log = structlog.get_logger(__name__)

Refusals = Sequence[tuple[int, DomainError]]

UNDECODABLE = "undecodable"  # the dead-letter code of a record batch the client cannot decode


def tracking_name(topic: str, partition: int) -> str:
    """The upstream name a partition's offsets are tracked under in the store."""
    return f"kafka:{topic}:{partition}"


class PositionTaken(Exception):
    """Another consumer recorded a later offset for a partition of the batch (a rebalance)."""


class CareRecord(Protocol):
    """The command handler and the tracked positions, as ingest needs them."""

    def record_batch(
        self,
        commands: Sequence[RecordCareEvent],
        positions: Mapping[str, int],
        before_commit: Callable[[Refusals], None],
    ) -> int:
        """Decide the commands and store the accepted events with the positions in one
        transaction; call `before_commit` with the refusals (index, error) first. Returns the
        number of events stored; raises PositionTaken if a position is not ahead of the stored."""
        ...

    def tracked(self, upstream: str) -> int | None:
        """The last offset stored for an upstream partition, None if none."""
        ...

    def rewind(self, upstream: str, position: int) -> None:
        """Forget the stored offset `position` of an upstream partition whose topic began again
        (deleted and created anew: its offsets start at 0)."""
        ...


@dataclass(frozen=True, slots=True)
class RawBatch:
    """A record batch as the broker stores it: the offsets it covers, its bytes, and why the
    client cannot decode it (an error type), or None if it can."""

    first_offset: int
    last_offset: int
    data: bytes
    error: str | None


class RawBatches(Protocol):
    """The broker's record batches, read raw (services/adapters/kafka.py)."""

    def batch_at(self, topic: str, partition: int, offset: int) -> RawBatch | None:
        """The batch holding `offset` (or the first after it); None if the log has none."""
        ...


class DeadLetterSink(Protocol):
    def send(self, letter: Letter) -> None: ...

    def flush(self) -> None: ...


class IngestMetrics(Protocol):
    def batch(self, *, messages: int, stored: int, seconds: float) -> None: ...

    def dead_lettered(self, code: str) -> None: ...

    def lag(self, topic: str, partition: int, lag: int) -> None: ...

    def retried(self, error_type: str) -> None: ...


class NoMetrics:
    def batch(self, *, messages: int, stored: int, seconds: float) -> None:
        return None

    def dead_lettered(self, code: str) -> None:
        return None

    def lag(self, topic: str, partition: int, lag: int) -> None:
        return None

    def retried(self, error_type: str) -> None:
        return None


class Ingest:
    """The ingest loop of one consumer in the group."""

    def __init__(
        self,
        consumer: Any,
        *,
        topic: str,
        record: CareRecord,
        dead_letters: DeadLetterSink,
        clock: Callable[[], datetime],
        transient: tuple[type[BaseException], ...],
        metrics: IngestMetrics | None = None,
        backoff: Backoff | None = None,
        poll_timeout_ms: int = 500,
        raw: RawBatches | None = None,
    ) -> None:
        self.consumer = consumer
        self.raw = raw
        self.topic = topic
        self.record = record
        self.dead_letters = dead_letters
        self.clock = clock
        self.transient = (*transient, KafkaError)
        self.metrics: IngestMetrics = metrics or NoMetrics()
        self.backoff = backoff or Backoff()
        self.poll_timeout_ms = poll_timeout_ms
        self._tracked: dict[TopicPartition, int] = {}  # last offset stored, -1: none
        self._unresolved: set[TopicPartition] = set()

    # ---------------------------------------------------------------- the loop

    def run(self, stop: threading.Event) -> None:
        """Consume until `stop` is set; a failure that is not transient propagates (crash-only)."""
        self.consumer.subscribe([self.topic], listener=_Rebalance(self))
        log.info("ingest.started", topic=self.topic)
        try:
            while not stop.is_set():
                self._resolve_positions(stop)
                polled = self._poll(stop)
                if polled:
                    self.apply(polled, stop)
                self._report_lag(stop)
        except Stopped:
            pass
        log.info("ingest.stopped", topic=self.topic)

    def apply(self, polled: Mapping[TopicPartition, Sequence[Any]], stop: threading.Event) -> None:
        """Apply one poll: dead letters first, then events and offsets in one transaction."""
        started = time.monotonic()
        self._reset_below_tracked(polled, stop)
        records = [
            record
            for tp in sorted(polled, key=lambda tp: tp.partition)
            if tp not in self._unresolved
            for record in polled[tp]
            if record.offset > self._tracked.get(tp, -1)
        ]
        if not records:
            return
        commands: list[RecordCareEvent] = []
        origins: list[Any] = []
        rejected: list[tuple[Any, Rejection]] = []
        now = self.clock()
        for record in records:
            outcome = event_from_message(
                record.value,
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                service=_header(record, SERVICE_HEADER),
            )
            if isinstance(outcome, Rejection):
                rejected.append((record, outcome))
            else:
                commands.append(RecordCareEvent(outcome, now=now))
                origins.append(record)
        last: dict[TopicPartition, int] = {}
        for record in records:
            last[TopicPartition(record.topic, record.partition)] = record.offset
        positions = {tracking_name(tp.topic, tp.partition): offset for tp, offset in last.items()}
        lettered: set[tuple[int, int]] = set()

        def before_commit(refusals: Refusals) -> None:
            refused = [(origins[i], Rejection(e.code, e.message)) for i, e in refusals]
            letters = [*rejected, *refused]
            fresh = [(r, why) for r, why in letters if (r.partition, r.offset) not in lettered]
            for r, why in fresh:
                self.dead_letters.send(_letter(r, why))
            self.dead_letters.flush()
            for r, why in fresh:
                lettered.add((r.partition, r.offset))
                self.metrics.dead_lettered(why.code)
                log.info(
                    "ingest.dead_lettered",
                    topic=r.topic,
                    partition=r.partition,
                    offset=r.offset,
                    code=why.code,
                )

        try:
            stored = retrying(
                lambda: self.record.record_batch(commands, positions, before_commit),
                transient=self.transient,
                stop=stop,
                backoff=self.backoff,
                what="ingest.batch",
                on_retry=self._retried,
            )
        except PositionTaken:
            log.warning("ingest.position_taken", count=len(records))
            self._unresolve(set(last))
            return
        self._tracked.update(last)
        self._commit_offsets(last)
        seconds = time.monotonic() - started
        self.metrics.batch(messages=len(records), stored=stored, seconds=seconds)
        log.info(
            "ingest.batch",
            topic=self.topic,
            count=len(records),
            refused=len(lettered),
            duration_ms=round(seconds * 1000),
        )

    # ---------------------------------------------------------------- undecodable batches

    def _poll(self, stop: threading.Event) -> Mapping[TopicPartition, Sequence[Any]]:
        """One poll. A batch the client cannot decode (corrupt, an undecompressable codec, a
        record it cannot parse) makes kafka-python raise from inside `poll`, every time: that
        batch is dead-lettered from its raw bytes and passed, instead of ending the loop."""
        try:
            polled: Mapping[TopicPartition, Sequence[Any]] = self.consumer.poll(
                timeout_ms=self.poll_timeout_ms
            )
        except Exception as error:
            if isinstance(error, KafkaError) and error.retriable:
                self._retried(error)
                if stop.wait(self.backoff.first):
                    raise Stopped from None
                return {}
            if not self._pass_undecodable(error, stop):
                raise
            return {}
        return polled

    def _pass_undecodable(self, error: Exception, stop: threading.Event) -> bool:
        """Dead-letter the batch at each fetching partition's position that cannot be decoded;
        whether there was one (else the poll's error was something else)."""
        if self.raw is None:
            return False
        raw = self.raw
        passed = False
        paused = self.consumer.paused()
        for tp in sorted(self.consumer.assignment(), key=lambda tp: tp.partition):
            if tp in self._unresolved or tp in paused:
                continue
            position = int(self.consumer.position(tp))
            batch = retrying(
                functools.partial(raw.batch_at, tp.topic, tp.partition, position),
                transient=self.transient,
                stop=stop,
                backoff=self.backoff,
                what="ingest.raw_fetch",
                on_retry=self._retried,
            )
            if batch is not None and batch.error is not None:
                self._pass_batch(tp, position, batch, stop)
                passed = True
        if not passed:
            log.error("ingest.poll_failed", error_type=type(error).__name__)
        return passed

    def _pass_batch(
        self, tp: TopicPartition, position: int, batch: RawBatch, stop: threading.Event
    ) -> None:
        """Produce the batch's dead letter, then store the partition's offset past the batch."""
        letter = Letter(
            topic=tp.topic,
            partition=tp.partition,
            offset=position,
            key=None,
            value=batch.data,
            headers=[],
            code=UNDECODABLE,
            reason=(
                f"The record batch at offsets {batch.first_offset}-{batch.last_offset} cannot be"
                f" decoded ({batch.error}); the value is the batch's raw bytes; offsets"
                f" {position}-{batch.last_offset} were not applied."
            ),
            last_offset=batch.last_offset,
        )
        sent: list[bool] = []

        def before_commit(_refusals: Refusals) -> None:
            if not sent:
                self.dead_letters.send(letter)
                self.dead_letters.flush()
                sent.append(True)

        positions = {tracking_name(tp.topic, tp.partition): batch.last_offset}
        try:
            retrying(
                lambda: self.record.record_batch([], positions, before_commit),
                transient=self.transient,
                stop=stop,
                backoff=self.backoff,
                what="ingest.undecodable",
                on_retry=self._retried,
            )
        except PositionTaken:
            self._unresolve({tp})
            return
        self.metrics.dead_lettered(UNDECODABLE)
        log.warning(
            "ingest.dead_lettered",
            topic=tp.topic,
            partition=tp.partition,
            offset=position,
            last_offset=batch.last_offset,
            code=UNDECODABLE,
            error_type=batch.error,
        )
        self._tracked[tp] = batch.last_offset
        self._commit_offsets({tp: batch.last_offset})
        self.consumer.seek(tp, batch.last_offset + 1)

    # ---------------------------------------------------------------- positions

    def assigned(self, partitions: Sequence[TopicPartition]) -> None:
        """New partitions wait (paused) until their position is read from the store."""
        self._unresolve(set(partitions))

    def revoked(self, partitions: Sequence[TopicPartition]) -> None:
        for tp in partitions:
            self._tracked.pop(tp, None)
            self._unresolved.discard(tp)

    def _unresolve(self, partitions: set[TopicPartition]) -> None:
        assignment = self.consumer.assignment()
        partitions = {tp for tp in partitions if tp in assignment}
        for tp in partitions:
            self._tracked.pop(tp, None)
        self._unresolved |= partitions
        if partitions:
            self.consumer.pause(*partitions)

    def _resolve_positions(self, stop: threading.Event) -> None:
        """Seek each waiting partition to its tracked offset + 1 (the beginning if none)."""
        for tp in sorted(self._unresolved, key=lambda tp: tp.partition):
            name = tracking_name(tp.topic, tp.partition)
            tracked = retrying(
                functools.partial(self.record.tracked, name),
                transient=self.transient,
                stop=stop,
                backoff=self.backoff,
                what="ingest.position",
                on_retry=self._retried,
            )
            if tracked is None:
                self.consumer.seek_to_beginning(tp)
                self._tracked[tp] = -1
            else:
                self.consumer.seek(tp, tracked + 1)
                self._tracked[tp] = tracked
            self._unresolved.discard(tp)
            self.consumer.resume(tp)
            log.info(
                "ingest.resumed", topic=tp.topic, partition=tp.partition, offset=self._tracked[tp]
            )

    def _retried(self, error: BaseException) -> None:
        self.metrics.retried(type(error).__name__)

    def _commit_offsets(self, last: Mapping[TopicPartition, int]) -> None:
        """Tell the group too (for lag tools); the store's tracking stays the record."""
        offsets = {tp: OffsetAndMetadata(offset + 1, "", -1) for tp, offset in last.items()}
        try:
            self.consumer.commit(offsets)
        except KafkaError as error:
            log.warning("ingest.offset_commit_failed", error_type=type(error).__name__)

    def _report_lag(self, stop: threading.Event) -> None:
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None or tp not in self._tracked or tp in self._unresolved:
                continue
            if highwater <= self._tracked[tp]:
                # the log ends at or before an offset already stored: the topic began again
                # (a broker that lost it, a topic deleted and created anew); a broker that
                # answers a fetch past the end with nothing would otherwise hold the partition
                # there while the new topic's first messages pass under it
                self._began_again(tp, highwater, stop)
                continue
            self.metrics.lag(tp.topic, tp.partition, max(0, highwater - self._tracked[tp] - 1))

    def _reset_below_tracked(
        self, polled: Mapping[TopicPartition, Sequence[Any]], stop: threading.Event
    ) -> None:
        """Sought past what is stored, yet handed an offset at or below it: the client reset its
        position (Kafka's answer to a fetch past the log's end): the topic began again."""
        for tp, found in polled.items():
            tracked = self._tracked.get(tp, -1)
            if found and tp not in self._unresolved and found[0].offset <= tracked:
                self._began_again(tp, None, stop)

    def _began_again(self, tp: TopicPartition, log_end: int | None, stop: threading.Event) -> None:
        """The partition's offsets began again below what is stored: forget the stored offset
        and consume the topic from its beginning. Events already stored are not stored again
        (a re-sent `event_id` stores nothing); the dead letters of messages already refused are
        written again."""
        tracked = self._tracked[tp]
        name = tracking_name(tp.topic, tp.partition)
        retrying(
            functools.partial(self.record.rewind, name, tracked),
            transient=self.transient,
            stop=stop,
            backoff=self.backoff,
            what="ingest.rewind",
            on_retry=self._retried,
        )
        log.warning(
            "ingest.topic_began_again",
            topic=tp.topic,
            partition=tp.partition,
            tracked=tracked,
            log_end=log_end,
        )
        self._tracked[tp] = -1
        if log_end is not None:
            self.consumer.seek_to_beginning(tp)


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # kafka-python is untyped
    def __init__(self, ingest: Ingest) -> None:
        self._ingest = ingest

    def on_partitions_revoked(self, revoked: Sequence[TopicPartition]) -> None:
        self._ingest.revoked(list(revoked))

    def on_partitions_assigned(self, assigned: Sequence[TopicPartition]) -> None:
        self._ingest.assigned(list(assigned))


def _header(record: Any, name: str) -> str | None:
    for key, value in record.headers or ():
        if key == name:
            return bytes(value).decode("utf-8", "replace")
    return None


def _letter(record: Any, why: Rejection) -> Letter:
    return Letter(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        key=record.key,
        value=record.value,
        headers=list(record.headers or ()),
        code=why.code,
        reason=why.reason,
    )
