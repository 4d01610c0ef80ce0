"""Operator commands for the Kafka edges: `carecircle deadletter list|replay` and `status`.

They print positions, codes and reasons only — never a message's value, which may hold PHI.
The dead-letter commands need a broker that outlives the command: `CARE_KAFKA_BOOTSTRAP`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from consumers.deadletter import DeadLetter, list_dead_letters, replay
from consumers.ingest import tracking_name
from infra.embedded import running_tansu
from projections.parking import ParkedSummary
from services import wiring
from services.cli import instance
from services.settings import Settings
from services.wiring import build_runtime, database


def add_kafka_commands(sub: Any) -> None:
    """Register `deadletter list|replay` and `status` on the CLI's subparsers."""
    deadletter = sub.add_parser("deadletter", help="inspect and re-drive dead letters")
    actions = deadletter.add_subparsers(dest="deadletter", required=True)
    listing = actions.add_parser("list", help="offset, error code, reason, source position")
    listing.add_argument(
        "--limit", type=int, default=None, help="show at most this many (default: all)"
    )
    listing.set_defaults(run=cmd_deadletter_list)
    again = actions.add_parser("replay", help="re-drive dead letters to the inbound topic")
    which = again.add_mutually_exclusive_group(required=True)
    which.add_argument("--offset", type=int, help="the dead letter at this offset")
    which.add_argument("--all", action="store_true", help="every dead letter in the topic")
    again.add_argument("--partition", type=int, default=0, help="with --offset (default 0)")
    again.set_defaults(run=cmd_deadletter_replay)
    sub.add_parser(
        "status", help="store head, tracking positions, publish lag, consumer-group lag"
    ).set_defaults(run=cmd_status)


# ---------------------------------------------------------------- dead letters


def cmd_deadletter_list(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap = _bootstrap(settings)
    if bootstrap is None:
        return 2
    with _consumer(bootstrap) as consumer:
        letters = list_dead_letters(consumer, settings.kafka_deadletter_topic, limit=args.limit)
    out = sys.stdout
    out.write(f"{len(letters)} dead letter(s) in {settings.kafka_deadletter_topic}\n")
    for letter in letters:
        out.write(_describe(letter) + "\n")
    return 0


def cmd_deadletter_replay(args: argparse.Namespace, settings: Settings) -> int:
    bootstrap = _bootstrap(settings)
    if bootstrap is None:
        return 2

    def chosen(letter: DeadLetter) -> bool:
        return bool(args.all) or (letter.partition, letter.offset) == (args.partition, args.offset)

    producer = wiring.producer(bootstrap, client_id="carecircle-replay")
    try:
        with _consumer(bootstrap) as consumer:
            sent = replay(
                consumer,
                producer,
                deadletter_topic=settings.kafka_deadletter_topic,
                inbound_topic=settings.kafka_inbound_topic,
                chosen=chosen,
            )
    finally:
        producer.close(timeout=10)
    for letter in sent:
        sys.stdout.write("replayed " + _describe(letter) + "\n")
    sys.stdout.write(f"{len(sent)} dead letter(s) re-driven to {settings.kafka_inbound_topic}\n")
    return 0 if sent or args.all else 1


def _describe(letter: DeadLetter) -> str:
    source = f"{letter.source_topic}/{letter.source_partition}@{letter.source_offset}"
    return (
        f"{letter.partition}@{letter.offset}  {letter.code}  source={source}  "
        f"reason={letter.reason}"
    )


# ---------------------------------------------------------------- status


def cmd_status(args: argparse.Namespace, settings: Settings) -> int:
    with database(settings) as url:
        runtime = build_runtime(settings, url)
        try:
            found = wiring.store_positions(runtime)
            parked = _parked(runtime)
        finally:
            runtime.close()
    out = sys.stdout
    out.write(f"store head position: {found.head}\n")
    _write_parked(parked)
    _write_workers(settings)
    out.write("tracking positions:\n")
    for name, position in found.tracked.items():
        out.write(f"  {name:<48} {position}\n")
    for topic, lag in found.publish_lag().items():
        out.write(f"publish lag ({topic}): {lag} event(s)\n")
    if settings.kafka_events_topic not in found.publish_lag():
        out.write(f"publish lag ({settings.kafka_events_topic}): {found.head} (never published)\n")
    bootstrap = settings.kafka_bootstrap or running_tansu(settings.data_dir / "tansu")
    if bootstrap is None:
        out.write("consumer group: no broker configured (CARE_KAFKA_BOOTSTRAP unset)\n")
        return 0
    try:
        _group_lag(settings, bootstrap, found)
    except KafkaError as error:
        out.write(f"consumer group: broker not reachable ({type(error).__name__})\n")
    return 0


def _parked(runtime: wiring.Runtime) -> dict[str, ParkedSummary] | None:
    """Parked events per projection; None when the read side is not migrated yet."""
    try:
        return wiring.parked_by_projection(runtime)
    except psycopg.errors.UndefinedTable:
        return None


def _write_parked(parked: dict[str, ParkedSummary] | None) -> None:
    out = sys.stdout
    if parked is None:
        out.write("parked events: none (the read side is not migrated yet)\n")
        return
    if not parked:
        out.write("parked events: none\n")
        return
    total = sum(summary.count for summary in parked.values())
    out.write(
        f"parked events: {total} (carecircle projections status lists them;"
        " carecircle projections retry after a fix)\n"
    )
    for name, summary in sorted(parked.items()):
        out.write(
            f"  {name:<48} {summary.count} event(s), oldest at position {summary.oldest_position}\n"
        )


def _write_workers(settings: Settings) -> None:
    """The worker threads of the `carecircle up` holding the data directory, from its /readyz:
    which run, which died and of what (error type and place, never a message)."""
    out = sys.stdout
    data_dir = Path(settings.data_dir).resolve()
    holder = instance.running(data_dir)
    if holder is None or not holder.get("api"):
        out.write(
            f"workers: no carecircle up holds {data_dir} (a `carecircle worker` process"
            " exits when its loop dies: its supervisor shows it)\n"
        )
        return
    api = str(holder["api"])
    try:
        ready = _get_json(f"{api}/readyz")
    except (OSError, ValueError) as error:
        out.write(
            f"workers: the API of carecircle up at {api} did not answer ({type(error).__name__})\n"
        )
        return
    workers = ready.get("workers") or {}
    out.write(
        f"workers (carecircle up, pid {holder.get('pid')}, API at {api}: {ready.get('status')}):\n"
    )
    for name, worker in sorted(workers.items()):
        status = str(worker.get("status"))
        if status == "died":
            status += f": {worker.get('error_type')}"
            if worker.get("where"):
                status += f" at {worker['where']}"
        out.write(f"  {name:<12} {status} (since {worker.get('since')})\n")


def _get_json(url: str) -> dict[str, Any]:
    """GET a JSON body, whatever the status (/readyz answers 503 with one)."""
    try:
        with urllib.request.urlopen(url, timeout=5) as answer:  # noqa: S310 - our own API
            body = answer.read()
    except urllib.error.HTTPError as error:
        body = error.read()
    found = json.loads(body)
    if not isinstance(found, dict):
        raise ValueError("not a JSON object")
    return found


def _group_lag(settings: Settings, bootstrap: str, found: wiring.Positions) -> None:
    topic, group = settings.kafka_inbound_topic, settings.kafka_ingest_group
    admin = KafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=5000)
    try:
        committed = admin.list_group_offsets(group).get(group, {})
    finally:
        admin.close()
    with _consumer(bootstrap) as consumer:
        ends = end_offsets(consumer, topic)
    out = sys.stdout
    out.write(f"consumer group {group} on {topic}:\n")
    out.write(f"  {'partition':>9} {'end':>10} {'stored':>10} {'committed':>10} {'lag':>8}\n")
    total = 0
    for partition, end in sorted(ends.items()):
        stored = found.tracked.get(tracking_name(topic, partition))
        offset = committed.get(TopicPartition(topic, partition))
        done = -1 if stored is None else stored
        lag = max(0, end - done - 1)
        total += lag
        shown_stored = "-" if stored is None else str(stored)
        shown_committed = "-" if offset is None else str(offset.offset)
        out.write(f"  {partition:>9} {end:>10} {shown_stored:>10} {shown_committed:>10} {lag:>8}\n")
    out.write(f"consumer lag ({topic}): {total} message(s)\n")


def end_offsets(consumer: Any, topic: str, *, timeout_s: float = 5.0) -> dict[int, int]:
    """Each partition's end offset, from the high watermark of a fetch near the end (Tansu
    answers ListOffsets with the base offset of the last batch, which may fall short)."""
    numbers = sorted(consumer.partitions_for_topic(topic) or ())
    parts = [TopicPartition(topic, p) for p in numbers]
    if not parts:
        return {}
    listed: dict[Any, int] = consumer.end_offsets(parts)
    consumer.assign(parts)
    for tp in parts:
        consumer.seek(tp, max(0, listed[tp] - 1))
    deadline = time.monotonic() + timeout_s
    while any(consumer.highwater(tp) is None for tp in parts) and time.monotonic() < deadline:
        consumer.poll(timeout_ms=200, max_records=1)
    return {tp.partition: max(listed[tp], consumer.highwater(tp) or 0) for tp in parts}


# ---------------------------------------------------------------- helpers


def _bootstrap(settings: Settings) -> str | None:
    if settings.kafka_bootstrap is None and (local := running_tansu(settings.data_dir / "tansu")):
        return local
    if settings.kafka_bootstrap is None:
        sys.stderr.write(
            "carecircle: set CARE_KAFKA_BOOTSTRAP to the cluster's bootstrap servers\n"
        )
    return settings.kafka_bootstrap


@contextlib.contextmanager
def _consumer(bootstrap: str) -> Iterator[Any]:
    """A consumer outside any group: it reads by assignment and commits nothing."""
    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, client_id="carecircle-cli"
    )
    try:
        yield consumer
    finally:
        consumer.close()
