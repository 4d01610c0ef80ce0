"""The event store's value and error types: what an append carries, where an event_id was
stored, a tracked upstream position, and why an append was refused. No I/O and no library
import; `services/adapters/store.py` re-exports them beside the store itself."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from domain.catalogue import CareEvent


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """Where an event_id was stored, without decoding its payload."""

    event_id: UUID
    client_id: UUID
    type: str
    version: int
    position: int
    recorded_at: datetime


@dataclass(frozen=True, slots=True)
class Append:
    """Events for one client, to be stored after `expected_version` (0: a new client)."""

    client_id: UUID
    expected_version: int
    events: Sequence[CareEvent]


class UpstreamPosition(NamedTuple):
    """How far an upstream was consumed (a Kafka topic-partition's offset, a relay's position),
    recorded in the same transaction as the events it produced."""

    upstream: str
    position: int


class StreamConflict(Exception):
    """Another writer appended to one of the clients first; reload and decide again."""


class DuplicateEventId(Exception):
    """An event_id in the append is stored already (a concurrent re-send)."""


class TrackingConflict(Exception):
    """A tracked upstream position was already recorded (a redelivered batch)."""


# The message of the index's trigger (services/app/erasure.py) when an append names an erased
# client; its DETAIL lists their ids.
ERASED_CLIENT_MESSAGE = "client_erased"


class ErasedOnAppend(StreamConflict):
    """An append named clients erased since the writer decided (the index's trigger refused it,
    whatever this process had cached). A StreamConflict: the handler decides again on fresh
    state, where those clients read as erased and their commands are refused."""

    def __init__(self, client_ids: frozenset[UUID]) -> None:
        super().__init__(f"{len(client_ids)} erased client(s)")
        self.client_ids = client_ids


def erased_on_append(error: BaseException) -> ErasedOnAppend | None:
    """The trigger's refusal, found on the error or its cause (never any row text but ids)."""
    for candidate in (error, error.__cause__):
        diag = getattr(candidate, "diag", None)
        if diag is not None and diag.message_primary == ERASED_CLIENT_MESSAGE:
            ids = (diag.message_detail or "").split(",")
            return ErasedOnAppend(frozenset(UUID(i) for i in ids if i))
    return None
