"""Worker roles (`carecircle worker ROLE`, and all of them inside `carecircle up`).

Each role is a function that runs until its stop event is set, given the process's Runtime and
the Kafka bootstrap servers (None when the role needs no broker). Roles are listed here
explicitly, one line each, so the wiring stays readable.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from services.adapters.kafka import run_ingest, run_publish
from services.app.read_side import run_projections
from services.wiring import Runtime

RunRole = Callable[[Runtime, str | None, threading.Event], None]


@dataclass(frozen=True, slots=True)
class WorkerRole:
    name: str
    needs_kafka: bool
    run: RunRole


def roles() -> dict[str, WorkerRole]:
    """Every worker role this build knows, by name."""
    found: list[WorkerRole] = [
        WorkerRole("projections", needs_kafka=False, run=run_projections),
        WorkerRole("ingest", needs_kafka=True, run=run_ingest),
        WorkerRole("publish", needs_kafka=True, run=run_publish),
    ]
    return {role.name: role for role in found}
