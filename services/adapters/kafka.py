"""The kafka-python clients of the `ingest` and `publish` roles, built from settings.

services/wiring/ hands them to the loops of consumers/ together with the use cases those loops
call (services/app/relay.py).
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaConsumer, KafkaProducer, errors
from kafka.errors import KafkaError
from kafka.net.compat import KafkaNetClient
from kafka.protocol.consumer import FetchRequest
from kafka.protocol.metadata import MetadataRequest
from kafka.record.memory_records import MemoryRecords

from consumers.ingest import RawBatch
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
        # a broker that lost the topic (a memory broker's restart) must not get it back from a
        # subscription's metadata request with the broker's default partition count
        allow_auto_create_topics=False,
        # partitions added to the topic (or a topic that came back with another count) are
        # assigned within 30 s, not at kafka-python's default refresh of 5 minutes
        metadata_max_age_ms=30_000,
        max_poll_records=settings.kafka_max_poll_records,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        session_timeout_ms=session_ms,
        heartbeat_interval_ms=max(1000, session_ms // 5),
    )


class BrokerBatches:
    """consumers.ingest.RawBatches over the Kafka protocol: the record batch holding an offset,
    fetched raw (as the broker stores it, compressed or not) from the partition's leader, and
    whether kafka-python can decode every record in it.

    The ingest consumer cannot say which bytes it failed on (its fetcher raises from deep inside
    `poll`), so ingest asks this reader for the batch at each partition's position. A client of
    its own, built on first use: a healthy ingest never connects it.
    """

    def __init__(self, bootstrap: str, *, client_id: str = "carecircle-ingest-raw") -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._client: Any = None

    def batch_at(self, topic: str, partition: int, offset: int) -> RawBatch | None:
        """The batch holding `offset` (or the first after it), None if the log has none."""
        client = self._connected()
        leader = self._leader(client, topic, partition)
        request = FetchRequest(
            max_wait_ms=100,
            min_bytes=1,
            max_bytes=RAW_FETCH_BYTES,
            isolation_level=0,
            session_id=0,
            session_epoch=-1,  # no fetch session: a one-off full fetch
            topics=[
                FetchRequest.FetchTopic(
                    topic=topic,
                    partitions=[
                        FetchRequest.FetchTopic.FetchPartition(
                            partition=partition,
                            current_leader_epoch=-1,
                            fetch_offset=offset,
                            last_fetched_epoch=-1,
                            log_start_offset=-1,
                            partition_max_bytes=RAW_FETCH_BYTES,
                        )
                    ],
                )
            ],
            forgotten_topics_data=[],
            rack_id="",
            max_version=11,
        )
        response = client.send_and_receive(leader, request, timeout_ms=30_000)
        for found in response.responses:
            for data in found.partitions:
                if data.partition_index != partition:
                    continue
                error = errors.for_code(data.error_code)
                if error is not errors.NoError:
                    raise error(f"fetching {topic}/{partition}@{offset}")
                return first_batch_from(bytes(data.records or b""), offset)
        return None

    def _connected(self) -> Any:
        if self._client is None:
            self._client = KafkaNetClient(
                bootstrap_servers=self._bootstrap, client_id=self._client_id
            )
            self._client.check_version()
        return self._client

    @staticmethod
    def _leader(client: Any, topic: str, partition: int) -> int:
        request = MetadataRequest(
            topics=[MetadataRequest.MetadataRequestTopic(name=topic)],
            allow_auto_topic_creation=False,
        )
        response = client.send_and_receive(client.least_loaded_node(), request)
        for found in response.topics:
            for part in found.partitions:
                if (
                    found.name == topic
                    and part.partition_index == partition
                    and part.leader_id >= 0
                ):
                    return int(part.leader_id)
        raise errors.LeaderNotAvailableError(f"no leader for {topic}/{partition}")

    def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()


RAW_FETCH_BYTES = 16 * 1024 * 1024


def first_batch_from(records: bytes, offset: int) -> RawBatch | None:
    """The first whole record batch in fetched bytes that reaches `offset`, and whether every
    record in it from `offset` on decodes (kafka-python's own checks: CRC, codec, layout)."""
    memory = MemoryRecords(records)
    while True:
        try:
            batch = memory.next_batch()
        except Exception as error:
            return RawBatch(offset, offset, records, type(error).__name__)
        if batch is None:
            return None
        last = batch.last_offset if batch.magic >= 2 else batch.offset
        if last < offset:
            continue
        first = batch.base_offset if batch.magic >= 2 else last
        raw = bytes(batch._buffer)
        return RawBatch(first, last, raw, _decode_error(batch, offset))


def _decode_error(batch: Any, offset: int) -> str | None:
    """Why kafka-python cannot read the batch's records from `offset` on, or None."""
    try:
        if not batch.validate_crc():
            return "CorruptRecordError"
        for record in batch:
            if record.offset >= offset and not record.validate_crc():
                return "CorruptRecordError"
    except Exception as error:
        return type(error).__name__
    return None
