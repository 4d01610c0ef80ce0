"""The integration fixtures give real parts: a PostgreSQL server and a Kafka-protocol broker."""

from __future__ import annotations

from pathlib import Path
from uuid import UUID

import psycopg
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from psycopg import sql

from infra.embedded import create_topics


def test_given_the_session_database_when_a_table_is_created_then_only_that_postgresql_db_has_it(
    database_url: str, postgres_server_url: str, fresh_id: UUID
) -> None:
    table = f"probe_{fresh_id.hex}"

    with psycopg.connect(database_url) as conn:
        version, database = conn.execute("SELECT version(), current_database()").fetchone() or ()
        conn.execute(sql.SQL("CREATE TABLE {} (id int)").format(sql.Identifier(table)))
    with psycopg.connect(postgres_server_url) as conn:
        elsewhere = conn.execute("SELECT to_regclass(%s)", (table,)).fetchone()

    assert "PostgreSQL" in version
    assert database.startswith("carecircle_test_")
    assert elsewhere == (None,)


def test_given_a_keyed_message_with_a_header_when_read_back_by_offset_then_all_three_survive(
    kafka_bootstrap: str, fresh_id: UUID
) -> None:
    topic = f"test.real-parts.{fresh_id.hex}"
    key, value, headers = fresh_id.bytes, b'{"type": "Probe"}', [("event-type", b"Probe")]
    create_topics(kafka_bootstrap, [topic], partitions=2)

    producer = KafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    try:
        sent = producer.send(topic, key=key, value=value, headers=headers).get(timeout=10)
    finally:
        producer.close()
    consumer = KafkaConsumer(
        bootstrap_servers=kafka_bootstrap, enable_auto_commit=False, consumer_timeout_ms=10_000
    )
    try:
        partition = TopicPartition(topic, sent.partition)
        consumer.assign([partition])
        consumer.seek(partition, sent.offset)
        record = next(iter(consumer), None)
    finally:
        consumer.close()

    assert record is not None
    assert (record.key, record.value, record.headers) == (key, value, headers)


def test_a_local_broker_can_be_found_by_other_commands_while_it_runs(tmp_path: Path) -> None:
    # given a Tansu broker that `carecircle up` would start under its data dir
    from infra.embedded import TansuBroker, running_tansu

    with TansuBroker(tmp_path / "tansu") as broker:
        # when another command looks for it, then it finds the same address
        assert running_tansu(tmp_path / "tansu") == broker.bootstrap
    # and once it stopped, nothing is found
    assert running_tansu(tmp_path / "tansu") is None
