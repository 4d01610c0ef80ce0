"""The one command handler: load the clients, fold `evolve`, `decide`, append at their versions.

cosmicpython's handler plus unit of work in one function, since the append is the transaction.
Every path goes through `_process`, which decides a list of commands (of one or many clients)
in order and stores all accepted events in ONE transaction:

- `record(command)` (HTTP) hands the command to a group-commit writer: concurrent requests are
  decided together and share one commit, so 32 callers cost a few fsyncs, not 32;
- `record_batch(commands, trackings)` (a Kafka poll) runs a whole batch with its tracking rows.

A re-sent event_id (of the same client) stores nothing and answers as the first time; an
event_id another client holds is 409 only for a writer who may know that client (`sees_client`).
The decider sees the ids of the client's stored events, kept beside its state in the cache (a
set grown in place as events are loaded or stored, not copied per event). Writers in other
processes race on client versions; the loser reloads and decides again, a bounded number of
times, unless the caller pinned a version with If-Match, which then is a version conflict (409).
"""

from __future__ import annotations

import asyncio
import queue
import random
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field, fields
from typing import NamedTuple
from uuid import UUID

import structlog

from domain.catalogue import CareEvent
from domain.client import ClientState, decide, evolve, initial_state
from domain.commands import RecordCareEvent
from domain.errors import DomainError, EventIdReused, VersionConflict
from domain.recorded import Recorded
from services.adapters.store import (
    Append,
    DuplicateEventId,
    EventStore,
    IndexEntry,
    StreamConflict,
    UpstreamPosition,
)
from services.app.client_lru import ClientLru

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class Outcome(IndexEntry):
    """What a command left in the store: where its first event stands (the event_id index's
    entry), and whether this call stored it."""

    created: bool
    events: tuple[Recorded, ...] = ()


@dataclass(frozen=True, slots=True)
class Refused:
    """A command in a batch that the domain refused, with the refusal."""

    index: int
    error: DomainError


def _outcome_of(entry: IndexEntry) -> Outcome:
    """A command stored before (`created` False): where its first event stands."""
    return Outcome(**{f.name: getattr(entry, f.name) for f in fields(IndexEntry)}, created=False)


class Decided(NamedTuple):
    """A client as the decider sees it: its version, its folded state and the ids of its stored
    events (`decide`'s `recorded`). The set is grown in place when events are loaded or stored;
    it may run ahead of the state when another writer stored more meanwhile, which costs a
    conflict or a fresh decision, never a wrong one (every append checks the version)."""

    version: int
    state: ClientState
    recorded: set[UUID]


class StateCache(ClientLru[Decided]):
    """Recently decided clients' state, version and event ids, so a command reads only the newer
    events.

    Safe because the store is append-only and every append checks the version: a stale entry
    costs a conflict and a reload, never a wrong decision.
    """

    def __init__(self, size: int = 100_000) -> None:
        super().__init__(size, stays=lambda current, given: current.version >= given.version)

    def get(self, client_id: UUID) -> Decided:
        item = self.lookup(client_id)
        return item if item is not None else Decided(0, initial_state(), set())

    def put(self, client: Decided, client_id: UUID) -> None:
        self.keep(client_id, client)


class _Known:
    """The client's stored event ids and those decided earlier in the same batch."""

    __slots__ = ("new", "stored")

    def __init__(self, stored: set[UUID], new: set[UUID]) -> None:
        self.stored = stored
        self.new = new

    def __contains__(self, event_id: object) -> bool:
        return event_id in self.stored or event_id in self.new


@dataclass(slots=True)
class _Item:
    """One command on its way through `_process`, and what became of it."""

    command: RecordCareEvent
    expected_version: int | None = None
    result: Outcome | DomainError | None = None
    events: list[CareEvent] = field(default_factory=list)
    same_as: int | None = None  # index of an earlier item in the batch with this event_id


@dataclass(slots=True)
class _Pending:
    command: RecordCareEvent
    expected_version: int | None
    future: Future[Outcome]


class _Retry(Exception):
    """Another writer got there first; decide the batch again on fresh state."""


class _Verify(Exception):
    """A refusal or re-send seen on cached state: confirm it on state read fresh."""


def _refused(items: list[_Item]) -> list[Refused]:
    """The refused commands; a repeat of a refused event_id in the batch is refused alike."""
    out = []
    for index, item in enumerate(items):
        result = items[item.same_as].result if item.same_as is not None else item.result
        if isinstance(result, DomainError):
            out.append(Refused(index, result))
    return out


class CareRecordHandler:
    """Runs RecordCareEvent commands against the event store."""

    def __init__(
        self,
        store: EventStore,
        *,
        conflict_retries: int = 20,
        cache: StateCache | None = None,
        after_append: Callable[[Sequence[Recorded]], None] | None = None,
        max_group: int = 256,
    ) -> None:
        self.store = store
        # Whether the writer of `event` may know of `client` (a relationship with them): an
        # event_id held by another client is a 409 for such a writer (the same event sent to the
        # wrong record), and a new event of this client for anyone else, so the answer never
        # tells a stranger that another client's event exists (42 CFR 2.13(c)). Every writer
        # counts as related until the wiring gives the gatekeeper's answer.
        self.sees_client: Callable[[CareEvent, UUID], bool] = lambda _event, _client: True
        self.retries = conflict_retries
        self.cache = cache or StateCache()
        self._after_append = after_append
        self._max_group = max_group
        self._queue: queue.SimpleQueue[_Pending | None] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._writer_lock = threading.Lock()

    # ---------------------------------------------------------------- entry points

    def record(self, command: RecordCareEvent, *, expected_version: int | None = None) -> Outcome:
        """Record one care event (group-committed with concurrent ones); raises a DomainError."""
        self._ensure_writer()
        pending = _Pending(command, expected_version, Future())
        self._queue.put(pending)
        return pending.future.result()

    async def record_async(
        self, command: RecordCareEvent, *, expected_version: int | None = None
    ) -> Outcome:
        """`record` for the event loop: waits for the group commit without a threadpool hop."""
        self._ensure_writer()
        pending = _Pending(command, expected_version, Future())
        self._queue.put(pending)
        return await asyncio.wrap_future(pending.future)

    def record_batch(
        self,
        commands: Sequence[RecordCareEvent],
        trackings: Sequence[UpstreamPosition] = (),
        *,
        before_commit: Callable[[list[Refused]], None] | None = None,
    ) -> tuple[list[Recorded], list[Refused]]:
        """Decide many commands and store all accepted events with the trackings in one transaction.

        Re-sent event_ids (already stored, or twice in the batch) store nothing; refusals are
        returned, not raised, so one bad message never holds back the others. `before_commit`
        gets the refusals (decided on fresh state) before the transaction, e.g. to dead-letter
        them first; if it raises, nothing is stored.
        """
        items = [_Item(command) for command in commands]
        recorded = self._process(items, trackings, before_commit)
        return recorded, _refused(items)

    def state_of(self, client_id: UUID) -> Decided:
        """The client's current version, decided state and event ids, reading only what the
        cache lacks."""
        return self._states([client_id])[client_id]

    def close(self) -> None:
        if self._writer is not None:
            self._queue.put(None)
            self._writer.join(timeout=5)
            self._writer = None

    # ---------------------------------------------------------------- group commit

    def _ensure_writer(self) -> None:
        if self._writer is not None:
            return
        with self._writer_lock:
            if self._writer is None:
                self._writer = threading.Thread(
                    target=self._write_loop, name="care-record-writer", daemon=True
                )
                self._writer.start()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            group = [first]
            while len(group) < self._max_group:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._queue.put(None)
                    break
                group.append(more)
            self._commit_group(group)

    def _commit_group(self, group: list[_Pending]) -> None:
        items = [_Item(p.command, p.expected_version) for p in group]
        try:
            self._process(items, ())
        except Exception as error:  # the transaction failed: every waiter gets the failure
            for pending in group:
                pending.future.set_exception(error)
            return
        for pending, item in zip(group, items, strict=True):
            if isinstance(item.result, DomainError):
                pending.future.set_exception(item.result)
            elif item.result is None:
                pending.future.set_exception(VersionConflict("The record is busy; retry."))
            else:
                pending.future.set_result(item.result)

    # ---------------------------------------------------------------- the core

    def _process(
        self,
        items: list[_Item],
        trackings: Sequence[UpstreamPosition],
        before_commit: Callable[[list[Refused]], None] | None = None,
    ) -> list[Recorded]:
        """Decide on cached state first; refusals, re-sends and conflicts are re-decided on
        state read fresh from the store, so the cache only ever saves reads, never decides."""
        fresh = False
        conflicts = 0
        while conflicts <= self.retries:
            try:
                return self._try(items, trackings, fresh=fresh, before_commit=before_commit)
            except _Verify:
                fresh = True
            except _Retry:
                conflicts += 1
                fresh = True
                for item in items:
                    self.cache.forget(item.command.event.client_id)
                time.sleep(random.uniform(0, min(0.2, 0.005 * 2**conflicts)))  # noqa: S311 - jitter
        log.warning("command.conflict_retries_exhausted", count=len(items))
        raise VersionConflict("The record kept changing under concurrent writers; retry.")

    def _try(
        self,
        items: list[_Item],
        trackings: Sequence[UpstreamPosition],
        *,
        fresh: bool,
        before_commit: Callable[[list[Refused]], None] | None = None,
    ) -> list[Recorded]:
        for item in items:
            item.result, item.events, item.same_as = None, [], None
        ids = [item.command.event.event_id for item in items]
        known: dict[tuple[UUID, UUID], IndexEntry] = {}
        elsewhere: dict[UUID, list[UUID]] = {}  # event_id -> the other clients that hold it
        for found in self.store.find(ids):
            known[(found.client_id, found.event_id)] = found
            elsewhere.setdefault(found.event_id, []).append(found.client_id)
        states = self._states({item.command.event.client_id for item in items}, fresh=fresh)
        current = {client: decided.version for client, decided in states.items()}
        added: dict[UUID, set[UUID]] = {client: set() for client in states}
        first_seen: dict[UUID, int] = {}
        for index, item in enumerate(items):
            event = item.command.event
            entry = known.get((event.client_id, event.event_id))
            if entry is not None:
                item.result = _outcome_of(entry)
                continue
            others = [c for c in elsewhere.get(event.event_id, ()) if c != event.client_id]
            if any(self.sees_client(event, other) for other in others):
                item.result = EventIdReused()
                continue
            if event.event_id in first_seen:
                item.same_as = first_seen[event.event_id]
                continue
            first_seen[event.event_id] = index
            version, state, ids_stored = states[event.client_id]
            if item.expected_version is not None and item.expected_version != version:
                if not fresh:
                    raise _Verify
                item.result = VersionConflict(
                    current_version=version, expected_version=item.expected_version
                )
                continue
            try:
                new = added[event.client_id]
                produced = decide(item.command, state, _Known(ids_stored, new))
            except DomainError as error:
                if not fresh:
                    raise _Verify from None
                item.result = error
                continue
            if not produced and not fresh:
                raise _Verify  # a re-send: answer it from the index
            for made in produced:
                state = evolve(state, made)
                new.add(made.event_id)
            item.events = produced
            states[event.client_id] = Decided(version + len(produced), state, ids_stored)
        appends = self._appends(items, current)
        if before_commit is not None:
            before_commit(_refused(items))
        if not appends and not trackings:
            self._resolve(items, [])
            return []
        try:
            recorded = self.store.append(appends, trackings)
        except (StreamConflict, DuplicateEventId):
            raise _Retry from None
        for client, decided in states.items():
            decided.recorded.update(added[client])
            self.cache.put(decided, client)
        self._resolve(items, recorded)
        if recorded and self._after_append is not None:
            self._after_append(recorded)
        return recorded

    def _states(
        self, clients: Sequence[UUID] | set[UUID], *, fresh: bool = True
    ) -> dict[UUID, Decided]:
        """Each client's version, state and event ids: cached ones as cached unless `fresh`, the
        others (and all when fresh) caught up from the store in one query."""
        cached = {client: self.cache.get(client) for client in clients}
        stale = {c: d.version for c, d in cached.items() if fresh or d.version == 0}
        newer = self.store.load_many(stale) if stale else {}
        states = {}
        for client, (version, state, ids) in cached.items():
            for loaded in newer.get(client, ()):
                state = evolve(state, loaded.event)
                ids.add(loaded.event.event_id)
                version = loaded.version
            states[client] = Decided(version, state, ids)
            if client in stale:
                self.cache.put(states[client], client)
        return states

    @staticmethod
    def _appends(items: list[_Item], base: dict[UUID, int]) -> list[Append]:
        by_client: dict[UUID, list[CareEvent]] = {}
        for item in items:
            if item.events:
                by_client.setdefault(item.command.event.client_id, []).extend(item.events)
        return [Append(client, base[client], events) for client, events in by_client.items()]

    @staticmethod
    def _resolve(items: list[_Item], recorded: list[Recorded]) -> None:
        by_id = {r.event.event_id: r for r in recorded}
        for item in items:
            if not item.events:
                continue
            stored = tuple(by_id[e.event_id] for e in item.events)
            first = stored[0]
            item.result = Outcome(
                event_id=first.event.event_id,
                client_id=first.event.client_id,
                type=first.event.type,
                version=first.version,
                position=first.position,
                recorded_at=first.recorded_at,
                created=True,
                events=stored,
            )
        for item in items:
            if item.same_as is not None:
                earlier = items[item.same_as].result
                if isinstance(earlier, Outcome):
                    item.result = _outcome_of(earlier)
                else:
                    item.result = earlier
