"""Waiting out a transient failure: the database or the broker is away, so wait and try again.

Delays double from `first` up to `cap` (bounded), with jitter so that restarted workers do not
retry in step; attempts are not bounded, because giving up would mean skipping a message or
dead-lettering it for a failure that is not its fault. A set stop event ends the wait.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import structlog

T = TypeVar("T")

log = structlog.get_logger(__name__)


class Stopped(Exception):
    """The worker was asked to stop while it waited for a failure to pass."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Doubling delays between `first` and `cap` seconds, each jittered down by up to half."""

    first: float = 0.1
    cap: float = 5.0

    def delays(self) -> Iterator[float]:
        delay = self.first
        while True:
            yield delay * random.uniform(0.5, 1.0)  # noqa: S311 - jitter, not a secret
            delay = min(delay * 2, self.cap)


def retrying(
    action: Callable[[], T],
    *,
    transient: tuple[type[BaseException], ...],
    stop: threading.Event,
    backoff: Backoff,
    what: str,
    on_retry: Callable[[BaseException], None] | None = None,
) -> T:
    """Run `action` until it succeeds, waiting between transient failures; others propagate."""
    for attempt, delay in enumerate(backoff.delays(), start=1):
        if stop.is_set():
            raise Stopped
        try:
            return action()
        except transient as error:
            log.warning(
                f"{what}.retrying",
                attempt=attempt,
                error_type=type(error).__name__,
                sqlstate=getattr(error, "sqlstate", None),
                duration_ms=round(delay * 1000),
            )
            if on_retry is not None:
                on_retry(error)
            if stop.wait(delay):
                raise Stopped from None
    raise AssertionError("unreachable: delays() never ends")  # pragma: no cover
