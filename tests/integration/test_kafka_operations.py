"""What an operator sees of the Kafka edges: the API's /metrics and `carecircle status`, both
with positions and counts only — never a client id or a message's value."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from consumers.publish import checkpoint_name
from infra.embedded import create_database, drop_database
from services.cli.kafka import cmd_status
from services.wiring import build_api, build_runtime, migrate, run_ingest, run_publish
from tests.integration.kafka_support import (
    enrollment,
    in_thread,
    ingested_through,
    kafka_settings,
    last_offsets,
    message,
    one_check_in,
    produce,
    wait_until,
)


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    name = f"carecircle_operations_{uuid4().hex[:12]}"
    yield create_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)


def test_given_ingest_and_publish_ran_then_metrics_and_status_show_positions_and_no_ids(
    fresh_database: str, kafka_bootstrap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = kafka_settings(fresh_database, kafka_bootstrap, partitions=2)
    runtime = build_runtime(settings, fresh_database)
    migrate(runtime)
    client = uuid4()
    topic = settings.kafka_inbound_topic
    try:
        sent = produce(
            kafka_bootstrap,
            topic,
            [message(enrollment(client)), message(one_check_in(client, 1)), (None, b"{oops", [])],
        )
        with (
            in_thread(lambda stop: run_ingest(runtime, kafka_bootstrap, stop)),
            in_thread(lambda stop: run_publish(runtime, kafka_bootstrap, stop)),
        ):
            wait_until(ingested_through(runtime.store, topic, last_offsets(sent)), "ingest")
            head = runtime.store.head()
            name = checkpoint_name(settings.kafka_events_topic)
            wait_until(lambda: (runtime.store.tracked(name) or 0) >= head, "publish")
            with TestClient(build_api(runtime)) as api:
                scraped = api.get("/metrics")
        cmd_status(argparse.Namespace(), settings)
        status = capsys.readouterr().out
    finally:
        runtime.close()

    assert scraped.status_code == 200
    text = scraped.text
    assert f"carecircle_store_head_position {float(head)}" in text
    assert f'carecircle_publish_lag_events{{topic="{settings.kafka_events_topic}"}} 0.0' in text
    for meta in sent:
        upstream = f"kafka:{topic}:{meta.partition}"
        assert f'carecircle_tracking_position{{upstream="{upstream}"}}' in text
    assert 'carecircle_ingest_dead_letters_total{code="malformed_json"}' in text
    assert "carecircle_ingest_batches_total" in text
    assert (
        f'carecircle_ingest_consumer_lag{{partition="{sent[0].partition}",topic="{topic}"}}' in text
    )
    assert str(client) not in text

    assert f"store head position: {head}" in status
    assert f"publish lag ({settings.kafka_events_topic}): 0 event(s)" in status
    assert f"consumer lag ({topic}): 0 message(s)" in status
    for meta in sent:
        assert f"kafka:{topic}:{meta.partition}" in status
    assert str(client) not in status
