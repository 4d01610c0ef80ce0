"""What the Kafka edges ask of the care record, fitted to the ports consumers/ declares.

consumers/ingest.py needs a `CareRecord` (record a poll's commands with the partitions' offsets
in one transaction; where did a partition get to) and consumers/publish.py a `StoredEvents` and a
`Checkpoint` (read the global order; move the relay's position only forward). consumers/ never
imports services/; these small classes fit the command handler and the event store to them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from consumers.ingest import PositionTaken, Refusals
from consumers.publish import CheckpointMoved
from domain.commands import RecordCareEvent
from domain.recorded import Recorded
from services.adapters.store import EventStore, TrackingConflict, UpstreamPosition
from services.app.record import CareRecordHandler, Refused


class HandlerRecord:
    """consumers.ingest.CareRecord over the command handler and the store's tracking."""

    def __init__(self, handler: CareRecordHandler, store: EventStore) -> None:
        self._handler = handler
        self._store = store

    def record_batch(
        self,
        commands: Sequence[RecordCareEvent],
        positions: Mapping[str, int],
        before_commit: Callable[[Refusals], None],
    ) -> int:
        trackings = [UpstreamPosition(name, offset) for name, offset in positions.items()]

        def hook(refused: list[Refused]) -> None:
            before_commit([(r.index, r.error) for r in refused])

        try:
            recorded, _ = self._handler.record_batch(commands, trackings, before_commit=hook)
        except TrackingConflict:
            raise PositionTaken from None
        return len(recorded)

    def tracked(self, upstream: str) -> int | None:
        return self._store.tracked(upstream)

    def rewind(self, upstream: str, position: int) -> None:
        self._store.rewind(upstream, position)


class StoreLog:
    """consumers.publish.StoredEvents and Checkpoint over the event store."""

    def __init__(self, store: EventStore) -> None:
        self._store = store

    def read(self, *, after: int, limit: int) -> Sequence[Recorded]:
        return self._store.read(after=after, limit=limit)

    def tracked(self, upstream: str) -> int | None:
        return self._store.tracked(upstream)

    def advance(self, upstream: str, position: int) -> None:
        try:
            self._store.advance(upstream, position)
        except TrackingConflict:  # the single tracking row is at or past `position` already
            raise CheckpointMoved from None
