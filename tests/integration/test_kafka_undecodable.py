"""Kafka ingest survives a record batch it cannot decode at all (issue 10): a batch whose gzip
payload is not gzip, or a record whose header the client cannot parse, made kafka-python raise
from inside `poll` and ended the ingest thread (a restarted worker died on the same batch, and
no later message of the partition was ever stored). Now the batch is dead-lettered from its raw
bytes with its source offsets and a reason, its offsets are stored as passed once the dead
letter is acknowledged, and the partition moves on; nothing is lost or applied twice."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from kafka import KafkaConsumer, KafkaProducer
from kafka.record import default_records
from kafka.record.memory_records import MemoryRecords

from consumers.deadletter import DeadLetter, replay
from consumers.ingest import tracking_name
from services.wiring import Runtime, build_runtime, migrate, run_ingest
from tests.integration.kafka_support import (
    a_client,
    in_thread,
    kafka_settings,
    message,
    one_check_in,
    produce,
    read_topic,
    stored_ids,
    wait_until,
)


@pytest.fixture
def runtime(database_url: str, kafka_bootstrap: str) -> Iterator[Runtime]:
    settings = kafka_settings(database_url, kafka_bootstrap, partitions=1)
    runtime = build_runtime(settings, database_url)
    migrate(runtime)
    yield runtime
    runtime.close()


class UndecodableKey(str):
    """A header key that reaches the wire as bytes that are not UTF-8 (kafka-python's record
    parser decodes header keys as UTF-8 and raises)."""

    def encode(self, encoding: str = "utf-8", errors: str = "strict") -> bytes:
        return b"\xff\xfe-not-utf-8"


def produce_batch(
    bootstrap: str,
    topic: str,
    bodies: list[dict[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
    *,
    broken_gzip: bool = False,
    bad_header: bool = False,
) -> list[int]:
    """Send `bodies` as ONE record batch from a producer whose gzip writes garbage, or whose
    first record carries an unparseable header key; the offsets the broker gave them."""
    with monkeypatch.context() as patch:
        if broken_gzip:  # the batch says gzip; its payload is not (its CRC is right)
            patch.setattr(default_records, "gzip_encode", lambda _data: b"not gzip")
        producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            linger_ms=200,
            compression_type="gzip" if broken_gzip else None,
        )
        try:
            futures = []
            for n, body in enumerate(bodies):
                key, value, headers = message(body)
                if bad_header and n == 0:
                    headers = [(UndecodableKey("x"), b"1")]
                futures.append(producer.send(topic, key=key, value=value, headers=headers))
            producer.flush(timeout=30)
            return [future.get(timeout=30).offset for future in futures]
        finally:
            producer.close(timeout=10)


def test_a_batch_the_client_cannot_decode_is_dead_lettered_raw_and_the_partition_moves_on(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = runtime.settings
    bootstrap, topic = settings.kafka_bootstrap, settings.kafka_inbound_topic
    assert bootstrap is not None
    client = uuid4()
    # given a client enrolled over Kafka
    before = a_client(client).on_kafka()
    produce(bootstrap, topic, [message(body) for body in before])
    # and then a batch of two check-ins whose gzip payload is not gzip
    gzipped = [one_check_in(client, 1), one_check_in(client, 2)]
    gzip_offsets = produce_batch(bootstrap, topic, gzipped, monkeypatch, broken_gzip=True)
    assert gzip_offsets == [2, 3]
    # and a batch whose first record's header key is not UTF-8, then one good check-in
    headed = [one_check_in(client, 3), one_check_in(client, 4)]
    header_offsets = produce_batch(bootstrap, topic, headed, monkeypatch, bad_header=True)
    after = [one_check_in(client, 5)]
    [last_sent] = produce(bootstrap, topic, [message(body) for body in after])
    last = last_sent.offset
    good = [str(body["event_id"]) for body in [*before, *after]]
    lost = [str(body["event_id"]) for body in [*gzipped, *headed]]
    # when ingest runs
    name = tracking_name(topic, 0)
    with in_thread(lambda stop: run_ingest(runtime, bootstrap, stop)) as worker:
        wait_until(lambda: (runtime.store.tracked(name) or -1) >= last, "ingest past the batches")
        assert worker.is_alive()
    # then every decodable event is stored once, and none of the undecodable batches'
    assert sorted(stored_ids(runtime.store, good)) == sorted(good)
    assert stored_ids(runtime.store, lost) == []
    # and each undecodable batch is one dead letter: its raw bytes, source offsets and reason
    letters = [DeadLetter.of(r) for r in read_topic(bootstrap, settings.kafka_deadletter_topic)]
    assert [(d.code, d.source_topic, d.source_partition) for d in letters] == [
        ("undecodable", topic, 0),
        ("undecodable", topic, 0),
    ]
    assert [(d.source_offset, d.source_last_offset) for d in letters] == [
        (gzip_offsets[0], gzip_offsets[-1]),
        (header_offsets[0], header_offsets[-1]),
    ]
    assert "cannot be decoded (BadGzipFile)" in letters[0].reason
    assert "cannot be decoded" in letters[1].reason
    for letter, offsets in zip(letters, [gzip_offsets, header_offsets], strict=True):
        assert letter.value is not None
        batch = MemoryRecords(letter.value).next_batch()
        assert batch is not None
        assert (batch.base_offset, batch.last_offset) == (offsets[0], offsets[-1])
        assert str(client) not in letter.reason
    assert b"not gzip" in (letters[0].value or b"")


def test_a_restarted_ingest_applies_nothing_twice_after_an_undecodable_batch(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = runtime.settings
    bootstrap, topic = settings.kafka_bootstrap, settings.kafka_inbound_topic
    assert bootstrap is not None
    client = uuid4()
    # given an enrollment, an undecodable batch and a check-in, all ingested once
    enrolled = a_client(client).on_kafka()
    produce(bootstrap, topic, [message(body) for body in enrolled])
    produce_batch(bootstrap, topic, [one_check_in(client, 1)], monkeypatch, broken_gzip=True)
    [sent] = produce(bootstrap, topic, [message(one_check_in(client, 2))])
    name = tracking_name(topic, 0)
    with in_thread(lambda stop: run_ingest(runtime, bootstrap, stop)):
        wait_until(lambda: (runtime.store.tracked(name) or -1) >= sent.offset, "first ingest")
    head = runtime.store.head()
    # when ingest starts again and one more check-in arrives
    [more] = produce(bootstrap, topic, [message(one_check_in(client, 3))])
    with in_thread(lambda stop: run_ingest(runtime, bootstrap, stop)):
        wait_until(lambda: (runtime.store.tracked(name) or -1) >= more.offset, "second ingest")
    # then only that check-in is stored, and the batch was dead-lettered once
    assert runtime.store.head() == head + 1
    letters = [DeadLetter.of(r) for r in read_topic(bootstrap, settings.kafka_deadletter_topic)]
    assert [d.code for d in letters] == ["undecodable"]
    # and `deadletter replay --all` re-drives nothing from it (it holds no message to re-send)
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all")
    try:
        sent_again = replay(
            consumer,
            producer,
            deadletter_topic=settings.kafka_deadletter_topic,
            inbound_topic=topic,
            chosen=lambda _letter: True,
        )
    finally:
        consumer.close()
        producer.close(timeout=10)
    assert sent_again == []
