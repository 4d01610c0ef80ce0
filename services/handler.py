"""The one command handler: load the client, fold `evolve`, `decide`, append at its version.

cosmicpython's handler plus unit of work in one function, since the append is the transaction.
Writers to the same client race on the version; the loser reloads and decides again (a bounded
number of times), unless the caller pinned a version with If-Match, which then is a 409.

`record_batch` is the same for many commands at once (a Kafka poll): one transaction for all
clients, with the tracking positions of the batch, so a batch is stored whole or not at all.
"""

from __future__ import annotations

import random
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

import structlog
from eventsourcing.persistence import Tracking

from domain.client import ClientState, decide, evolve, initial_state
from domain.commands import RecordCareEvent
from domain.errors import DomainError, EventIdReused, VersionConflict
from domain.recorded import Recorded
from services.store import (
    Append,
    DuplicateEventId,
    EventStore,
    IndexEntry,
    StreamConflict,
)

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a command left in the store: its first event, and whether this call stored it."""

    event_id: UUID
    client_id: UUID
    type: str
    version: int
    position: int
    recorded_at: datetime
    created: bool
    events: tuple[Recorded, ...] = ()


def _outcome_of(entry: IndexEntry) -> Outcome:
    return Outcome(
        event_id=entry.event_id,
        client_id=entry.client_id,
        type=entry.type,
        version=entry.version,
        position=entry.position,
        recorded_at=entry.recorded_at,
        created=False,
    )


class StateCache:
    """Recently decided clients' state and version, so a command reads only the newer events.

    Safe because the store is append-only and every append checks the version: a stale entry
    costs a conflict and a reload, never a wrong decision.
    """

    def __init__(self, size: int = 20_000) -> None:
        self._size = size
        self._items: OrderedDict[UUID, tuple[int, ClientState]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, client_id: UUID) -> tuple[int, ClientState]:
        with self._lock:
            item = self._items.get(client_id)
            if item is not None:
                self._items.move_to_end(client_id)
                return item
        return 0, initial_state()

    def put(self, client_id: UUID, version: int, state: ClientState) -> None:
        with self._lock:
            current = self._items.get(client_id)
            if current is not None and current[0] >= version:
                return
            self._items[client_id] = (version, state)
            self._items.move_to_end(client_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def forget(self, client_id: UUID) -> None:
        with self._lock:
            self._items.pop(client_id, None)


@dataclass(frozen=True, slots=True)
class Refused:
    """A command in a batch that the domain refused, with the refusal."""

    index: int
    error: DomainError


class CareRecordHandler:
    """Runs RecordCareEvent commands against the event store."""

    def __init__(
        self,
        store: EventStore,
        *,
        conflict_retries: int = 20,
        cache: StateCache | None = None,
        after_append: Callable[[Sequence[Recorded]], None] | None = None,
    ) -> None:
        self.store = store
        self.retries = conflict_retries
        self.cache = cache or StateCache()
        self._after_append = after_append
        # Writers to one client in this process take turns instead of racing on the version;
        # writers in other processes still race, and the loser reloads and decides again.
        self._stripes = [threading.Lock() for _ in range(256)]

    def _turn(self, client_id: UUID) -> threading.Lock:
        return self._stripes[client_id.int % len(self._stripes)]

    def state_of(self, client_id: UUID) -> tuple[int, ClientState]:
        """The client's current version and decided state, reading only what the cache lacks."""
        version, state = self.cache.get(client_id)
        for recorded in self.store.load(client_id, after_version=version):
            state = evolve(state, recorded.event)
            version = recorded.version
        self.cache.put(client_id, version, state)
        return version, state

    def record(self, command: RecordCareEvent, *, expected_version: int | None = None) -> Outcome:
        """Record one care event; a re-sent event_id answers as before and stores nothing."""
        with self._turn(command.event.client_id):
            return self._record(command, expected_version)

    def _record(self, command: RecordCareEvent, expected_version: int | None) -> Outcome:
        event = command.event
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311 - jitter
            known = self.store.find([event.event_id]).get(event.event_id)
            if known is not None:
                if known.client_id != event.client_id:
                    raise EventIdReused
                return _outcome_of(known)
            version, state = self.state_of(event.client_id)
            if expected_version is not None and expected_version != version:
                raise VersionConflict
            events = decide(command, state)
            if not events:
                continue  # the state knew it; the index will answer on the next pass
            try:
                recorded = self.store.append([Append(event.client_id, version, events)])
            except (StreamConflict, DuplicateEventId):
                self.cache.forget(event.client_id)
                if expected_version is not None:
                    raise VersionConflict from None
                continue
            self._remember(recorded)
            first = recorded[0]
            return Outcome(
                event_id=first.event.event_id,
                client_id=first.event.client_id,
                type=first.event.type,
                version=first.version,
                position=first.position,
                recorded_at=first.recorded_at,
                created=True,
                events=tuple(recorded),
            )
        log.warning("command.conflict_retries_exhausted", client_id=str(event.client_id))
        raise VersionConflict("The record is busy; retry the request.")

    def record_batch(
        self, commands: Sequence[RecordCareEvent], trackings: Sequence[Tracking] = ()
    ) -> tuple[list[Recorded], list[Refused]]:
        """Decide many commands and store all accepted events with the trackings in one transaction.

        Re-sent event_ids (already stored, or twice in the batch) store nothing; refusals are
        returned, not raised, so one bad message never holds back the others.
        """
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2**attempt)))  # noqa: S311 - jitter
            try:
                return self._try_batch(commands, trackings)
            except (StreamConflict, DuplicateEventId):
                for command in commands:
                    self.cache.forget(command.event.client_id)
        raise VersionConflict("The batch kept conflicting with concurrent writers.")

    def _try_batch(
        self, commands: Sequence[RecordCareEvent], trackings: Sequence[Tracking]
    ) -> tuple[list[Recorded], list[Refused]]:
        known = self.store.find([c.event.event_id for c in commands])
        seen: set[UUID] = set(known)
        states: dict[UUID, tuple[int, int, ClientState]] = {}  # client -> (base, next, state)
        pending: dict[UUID, list[object]] = {}
        refused: list[Refused] = []
        for index, command in enumerate(commands):
            event = command.event
            if event.event_id in seen:
                continue
            client = event.client_id
            if client not in states:
                base, state = self.state_of(client)
                states[client] = (base, base, state)
            base, nxt, state = states[client]
            try:
                events = decide(command, state)
            except DomainError as error:
                refused.append(Refused(index, error))
                continue
            for produced in events:
                state = evolve(state, produced)
                seen.add(produced.event_id)
            seen.add(event.event_id)
            states[client] = (base, nxt + len(events), state)
            pending.setdefault(client, []).extend(events)
        appends = [
            Append(client, states[client][0], events)  # type: ignore[arg-type]  # CareEvents
            for client, events in pending.items()
            if events
        ]
        recorded = self.store.append(appends, trackings) if (appends or trackings) else []
        for client, (_base, nxt, state) in states.items():
            self.cache.put(client, nxt, state)
        if recorded:
            self._notify(recorded)
        return recorded, refused

    def _remember(self, recorded: Sequence[Recorded]) -> None:
        client = recorded[0].event.client_id
        version, state = self.cache.get(client)
        if version == recorded[0].version - 1:
            for r in recorded:
                state = evolve(state, r.event)
            self.cache.put(client, recorded[-1].version, state)
        self._notify(recorded)

    def _notify(self, recorded: Sequence[Recorded]) -> None:
        if self._after_append is not None:
            self._after_append(recorded)
