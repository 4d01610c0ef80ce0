"""Demo data: seeded circles of care recorded through the command path (`carecircle simulate`).

Every client is a small course of care, told day by day: intake by a counselor with a peer
specialist, a case manager and often a prescriber from a small shared staff pool (so caseloads
overlap); a check-in plan and check-ins whose mood, craving and sleep drift as a random walk with
a per-client trend (some clients improve, some deteriorate, some drift away); instruments at
intake and every few weeks, answered consistently with that state; weekly sessions and booked
appointments, attended or missed; care-plan goals; crises followed by a safety plan and,
usually within 72 h, a postvention review; warm handoffs to other organizations, accepted or
declined by the receiving organization; naloxone, medications for opioid and alcohol use
disorder, transitions, non-fatal overdoses, consents for Part 2 programs, discharges and
readmissions.

The stream is the wire contract (docs/domain.md), each client's events in time order, clients
interleaved by time, all inside [start, start + days], and valid for the domain: the same seed
gives the same events and ids. Names, birth dates and phones are invented (555-01xx numbers
are reserved for fiction). The only I/O is the port `simulate` is given.
"""

from __future__ import annotations

import heapq
import random
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import structlog

from demo.client import DAY, MINUTE, Payload, Scheduled
from demo.course import FAMILY_NAMES, GIVEN_NAMES
from demo.crises import Crises
from demo.handoffs import Handoffs
from demo.staff import staff_for
from domain.catalogue import parse_event
from domain.commands import RecordCareEvent
from domain.errors import DomainError

__all__ = [
    "FAMILY_NAMES",
    "GIVEN_NAMES",
    "BatchRecorder",
    "RecordPort",
    "SimulationSummary",
    "care_events",
    "command_for",
    "default_start",
    "run_simulation",
    "simulate",
    "staff_for",
]

log = structlog.get_logger(__name__)


class RecordPort(Protocol):
    """Where the simulated commands go; answers how many events were stored."""

    def __call__(self, commands: Sequence[RecordCareEvent]) -> int: ...


class Refusal(Protocol):
    """A command of a batch the domain refused: its place in the batch and why."""

    @property
    def index(self) -> int: ...

    @property
    def error(self) -> DomainError: ...


class BatchRecorder(Protocol):
    """What `run_simulation` records through (the command handler): one transaction a batch."""

    def record_batch(
        self, commands: Sequence[RecordCareEvent]
    ) -> tuple[Sequence[object], Sequence[Refusal]]: ...


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """Counts only: clients simulated, events stored, commands sent, and commands by type."""

    clients: int
    events: int
    commands: int
    by_type: Mapping[str, int]


# ------------------------------------------------------------------------------ one client


class _Course(Handoffs, Crises):
    """One client's course of care, told day by day into a time-ordered stream of payloads."""

    def run(self) -> Iterator[Scheduled]:
        """The client's events in time order, produced a day at a time."""
        for day in range(self.days):
            self.day = day
            self.day_start = self.start + day * DAY
            if self.status == "waiting" and day == self.enroll_day:
                self._enroll()
            elif self.status == "in_care":
                self._live_day()
            elif self.status == "discharged" and day == self.readmit_day:
                self._readmit()
                self._book()
            yield from self._due(self.day_start + DAY)
        yield from self._due(self.end + MINUTE)

    def _live_day(self) -> None:
        if self._maybe_discharge():
            return
        self._drift()
        self._after_handoff()
        self._medication_course()
        self._check_ins()
        self._appointments()
        self._book()
        self._sessions()
        self._assessments_due()
        self._goal_reviews()
        self._maybe_crisis()
        self._maybe_overdose()
        self._maybe_handoff()
        self._naloxone()
        self._maybe_reassign()


# ------------------------------------------------------------------------------ the stream


def care_events(
    *, clients: int, days: int, seed: int, start: datetime
) -> Iterator[dict[str, object]]:
    """The simulated care events as wire-contract dicts, in an order the domain accepts.

    Each client's events come in time order; clients interleave by time. Lazy: a client holds
    only its scheduled-but-not-yet-due events, so a long run never builds the whole stream.
    """
    if clients < 0 or days < 1:
        raise ValueError("clients must be >= 0 and days >= 1")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC)
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    staff = staff_for(clients)
    courses = []
    for index in range(clients):
        client_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        course_rng = random.Random(rng.getrandbits(64))  # noqa: S311 - as above
        courses.append(_Course(index, client_id, course_rng, staff, start, days))
    for _at, _index, _seq, payload in heapq.merge(*(course.run() for course in courses)):
        yield payload


def command_for(payload: Payload) -> RecordCareEvent:
    """The command recording one simulated event, a few seconds after it happened."""
    event = parse_event(payload)
    delay = timedelta(seconds=2 + event.event_id.int % 9)
    return RecordCareEvent(event, now=event.occurred_at + delay)


def simulate(
    record: RecordPort,
    *,
    clients: int,
    days: int,
    seed: int,
    start: datetime,
    batch_size: int = 500,
) -> SimulationSummary:
    """Send the simulated stream to `record` in batches; summarize what was sent and stored."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    started = time.perf_counter()
    by_type: Counter[str] = Counter()
    stored = sent = 0
    batch: list[RecordCareEvent] = []
    for payload in care_events(clients=clients, days=days, seed=seed, start=start):
        command = command_for(payload)
        by_type[command.event.type] += 1
        batch.append(command)
        if len(batch) >= batch_size:
            stored += record(batch)
            sent += len(batch)
            batch = []
    if batch:
        stored += record(batch)
        sent += len(batch)
    log.info(
        "simulation.finished",
        count=stored,
        commands=sent,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    return SimulationSummary(clients=clients, events=stored, commands=sent, by_type=dict(by_type))


def run_simulation(
    handler: BatchRecorder, *, clients: int, days: int, seed: int, start: datetime
) -> SimulationSummary:
    """Record the simulated stream through the command handler, a batch per transaction."""

    def record(commands: Sequence[RecordCareEvent]) -> int:
        recorded, refused = handler.record_batch(commands)
        for refusal in refused:
            log.warning(
                "simulation.refused",
                code=refusal.error.code,
                event_type=commands[refusal.index].event.type,
            )
        return len(recorded)

    return simulate(record, clients=clients, days=days, seed=seed, start=start)


def default_start(days: int, now: datetime) -> datetime:
    """Midnight UTC `days` days before today, so a demo's history ends today."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - days * DAY
