"""The health of the worker threads of this process (`carecircle up` runs the projections,
ingest and publish loops as threads beside the API): which run, which stopped, which died and of
what. `/readyz` fails while one is dead, and `carecircle status` asks `/readyz`.

A worker that dies is not restarted in place: its loop is crash-only (it resumes from its
tracked position when started again), so the process is made not ready and the orchestrator (or
the operator) restarts it. Only the error's type and where it was raised are kept, never its
message, which may quote a value (no PHI in logs or answers).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import structlog

log = structlog.get_logger(__name__)

State = Literal["running", "stopped", "died"]


@dataclass(frozen=True, slots=True)
class WorkerState:
    """One worker thread: running, stopped (asked to), or died (of `error_type`, at `where`)."""

    name: str
    state: State
    since: datetime
    error_type: str | None = None
    where: str | None = None  # `file:line in function` of the raise: code, never data

    @property
    def healthy(self) -> bool:
        return self.state == "running"

    def describe(self) -> str:
        """`running`, `stopped`, or `died: ErrorType at file:line in function`."""
        if self.state != "died":
            return self.state
        return f"died: {self.error_type}" + (f" at {self.where}" if self.where else "")


class WorkerHealth:
    """The worker threads of one process, by name (thread-safe)."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._states: dict[str, WorkerState] = {}

    def started(self, name: str) -> None:
        self._set(WorkerState(name, "running", self._clock()))

    def stopped(self, name: str) -> None:
        self._set(WorkerState(name, "stopped", self._clock()))

    def died(self, name: str, error: BaseException) -> WorkerState:
        state = WorkerState(name, "died", self._clock(), type(error).__name__, raised_at(error))
        self._set(state)
        return state

    def states(self) -> dict[str, WorkerState]:
        with self._lock:
            return dict(self._states)

    def _set(self, state: WorkerState) -> None:
        with self._lock:
            self._states[state.name] = state


class WorkerReturned(Exception):
    """A worker loop returned while the process was not stopping."""


def raised_at(error: BaseException) -> str | None:
    """Where the error was raised: the innermost frame's file (its package and name), line and
    function. Code locations only."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return None
    frame = frames[-1]
    parts = frame.filename.replace("\\", "/").split("/")
    start = parts.index("site-packages") + 1 if "site-packages" in parts else len(parts) - 2
    return f"{'/'.join(parts[start:])}:{frame.lineno} in {frame.name}"


def supervised(
    name: str, run: Callable[[threading.Event], None], health: WorkerHealth
) -> Callable[[threading.Event], None]:
    """`run` reporting to `health`: running, then stopped when it returns, or died (logged with
    its error type and place, the traceback not printed) when it raises."""

    def target(stop: threading.Event) -> None:
        health.started(name)
        try:
            run(stop)
        except Exception as error:
            state = health.died(name, error)
            log.error("worker.died", worker=name, error_type=state.error_type, where=state.where)
            return
        if stop.is_set():
            health.stopped(name)
        else:  # a loop that returns without being asked to has stopped working all the same
            health.died(name, WorkerReturned())
            log.error("worker.died", worker=name, error_type=WorkerReturned.__name__)

    return target
