"""Kafka ingest survives any compression (issue 10): a librdkafka producer (confluent-kafka, as
most provider services use) sending gzip, snappy, lz4 or zstd batches is ingested like an
uncompressed one. Without the codec libraries, one lz4 message killed the ingest thread
(`UnsupportedCodecError`) and every later message of every partition was never stored."""

from __future__ import annotations

import json
from collections.abc import Iterator
from uuid import uuid4

import pytest
from confluent_kafka import Producer

from services.wiring import Runtime, build_runtime, migrate, run_ingest
from tests.integration.kafka_support import (
    a_client,
    checking_in,
    in_thread,
    kafka_settings,
    stored_ids,
    wait_until,
)

CODECS = ["gzip", "snappy", "lz4", "zstd"]


@pytest.fixture
def runtime(database_url: str, kafka_bootstrap: str) -> Iterator[Runtime]:
    settings = kafka_settings(database_url, kafka_bootstrap)
    runtime = build_runtime(settings, database_url)
    migrate(runtime)
    yield runtime
    runtime.close()


def produce_compressed(
    bootstrap: str, topic: str, bodies: list[dict[str, object]], codec: str
) -> None:
    producer = Producer(
        {
            "bootstrap.servers": bootstrap,
            "compression.type": codec,
            "acks": "all",
            "linger.ms": 20,
            "enable.idempotence": False,
        }
    )
    failures: list[object] = []
    for body in bodies:
        producer.produce(
            topic,
            key=str(body["client_id"]).encode(),
            value=json.dumps(body).encode(),
            headers={"source-service": b"texting-platform"},
            on_delivery=lambda error, _msg: failures.append(error) if error else None,
        )
    assert producer.flush(30) == 0
    assert failures == []


def test_every_compression_codec_a_librdkafka_producer_uses_is_ingested(
    runtime: Runtime,
) -> None:
    settings = runtime.settings
    assert settings.kafka_bootstrap is not None
    # given a provider's service sending an enrollment and check-ins in each codec
    sent: list[str] = []
    for codec in CODECS:
        events = checking_in(a_client(uuid4()), 2).on_kafka()
        produce_compressed(settings.kafka_bootstrap, settings.kafka_inbound_topic, events, codec)
        sent += [str(e["event_id"]) for e in events]
    # when ingest runs
    with in_thread(lambda stop: run_ingest(runtime, settings.kafka_bootstrap, stop)):
        wait_until(
            lambda: len(stored_ids(runtime.store, sent)) == len(sent),
            "every compressed message to be stored",
        )
    # then every event of every codec is stored once
    assert sorted(stored_ids(runtime.store, sent)) == sorted(sent)
