"""Recovery (issue 10): when the database goes away the projection worker resets its pool at
once (not one stale connection per retry) and its pause is capped at a few seconds, so it is
back within seconds of the database's return."""

from __future__ import annotations

import threading
from typing import Any

import psycopg

from services.app.read_side import MAX_PAUSE, ProjectionWorker


class FakePool:
    def __init__(self) -> None:
        self.checks = 0

    def check(self) -> None:
        self.checks += 1


class OutageRunner:
    """A runner whose database is away for `failures` attempts, then back."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.pool = FakePool()
        self.failures = failures
        self.error = error
        self.followed = 0
        self.drained = 0

    def step(self) -> None:
        self.drained += 1

    def follow(self, stop: threading.Event, **_: Any) -> None:
        self.followed += 1
        if self.followed <= self.failures:
            raise self.error
        stop.set()


class RecordingStop(threading.Event):
    def __init__(self) -> None:
        super().__init__()
        self.waits: list[float] = []

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        return False


def test_an_outage_resets_the_pool_on_every_failure_and_pauses_at_most_the_cap() -> None:
    # given the database away for twelve attempts of the worker
    runner = OutageRunner(12, psycopg.OperationalError("server closed the connection"))
    stop = RecordingStop()
    # when the worker runs through the outage
    ProjectionWorker(runner, None).run(stop)  # type: ignore[arg-type]
    # then each failure checked the whole pool at once, and no pause exceeded the cap
    assert runner.pool.checks == 12
    assert max(stop.waits) == MAX_PAUSE <= 2.0
    assert sum(stop.waits) < 12 * MAX_PAUSE
    assert runner.followed == 13


def test_a_bug_is_retried_without_resetting_the_pool() -> None:
    runner = OutageRunner(2, KeyError("a bug"))
    stop = RecordingStop()

    ProjectionWorker(runner, None).run(stop)  # type: ignore[arg-type]

    assert runner.pool.checks == 0
    assert runner.followed == 3


def test_a_graceful_stop_projects_what_the_last_sweep_recorded() -> None:
    # given a worker that stops right after its rules recorded flags
    runner = OutageRunner(0, KeyError("unused"))
    # when it stops
    ProjectionWorker(runner, None).run(RecordingStop())  # type: ignore[arg-type]
    # then it projected one more batch before exiting
    assert runner.drained == 1
