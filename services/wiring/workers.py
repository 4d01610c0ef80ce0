"""The worker roles the CLI starts (`carecircle worker ROLE`, `carecircle up`), and the
migration that runs once before them."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from services.app.workers import supervised
from services.wiring.audit_parts import run_audit_anchors
from services.wiring.kafka_parts import run_ingest, run_publish
from services.wiring.read_parts import migrate_read_side, run_projections
from services.wiring.runtime import Runtime


def migrate(runtime: Runtime) -> None:
    """Create or upgrade every table, once, before workers start (`carecircle db migrate`)."""
    runtime.store.migrate()
    runtime.privacy.migrate()
    migrate_read_side(runtime)


RunRole = Callable[[Runtime, str | None, threading.Event], None]


@dataclass(frozen=True, slots=True)
class WorkerRole:
    """`carecircle worker ROLE`, and all of them inside `carecircle up`: a function that runs
    until its stop event is set, given the Runtime and the Kafka bootstrap servers (None when
    the role needs no broker)."""

    name: str
    needs_kafka: bool
    run: RunRole


def run_supervised(
    role: WorkerRole, runtime: Runtime, bootstrap: str | None, stop: threading.Event
) -> None:
    """A role as a thread of `carecircle up`: its health reported to the runtime's
    WorkerHealth (/readyz fails while it is dead; `carecircle status` shows why)."""
    run = supervised(role.name, lambda halt: role.run(runtime, bootstrap, halt), runtime.workers)
    run(stop)


def roles() -> dict[str, WorkerRole]:
    """Every worker role this build knows, by name."""
    found: list[WorkerRole] = [
        WorkerRole("projections", needs_kafka=False, run=run_projections),
        WorkerRole("ingest", needs_kafka=True, run=run_ingest),
        WorkerRole("publish", needs_kafka=True, run=run_publish),
        WorkerRole("anchor", needs_kafka=False, run=run_audit_anchors),
    ]
    return {role.name: role for role in found}
