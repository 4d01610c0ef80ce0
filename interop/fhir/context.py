"""The state a Bundle is built in: its entries, the client's history with corrections applied,
and the ids and security labels every resource gets.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID, uuid5

from domain.catalogue import CareEvent
from domain.corrections import EntryCorrected, EntryEnteredInError
from domain.record import CORRECTABLE, ClientRecord
from domain.recorded import Recorded
from interop import fhir_codes as codes
from interop.fhir.datatypes import (
    Json,
    build,
    security,
)

E = TypeVar("E")


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of the Bundle, the data class it shows and the events it was made from."""

    full_url: str
    resource: Any
    data_class: str
    sources: tuple[UUID, ...] = ()

    @property
    def reference(self) -> Json:
        return {"reference": self.full_url}


@dataclass
class History:
    """The client's events, indexed the ways the resources need, corrections applied."""

    events: dict[UUID, CareEvent] = field(default_factory=dict)
    recorded_at: dict[UUID, datetime] = field(default_factory=dict)
    kept: list[Recorded] = field(default_factory=list)

    @classmethod
    def of(cls, history: Sequence[Recorded]) -> History:
        voided = {
            item.event.data.target_event_id
            for item in history
            if isinstance(item.event, EntryEnteredInError | EntryCorrected)
        }
        out = cls()
        for item in history:
            event = item.event
            out.events[event.event_id] = event
            out.recorded_at[event.event_id] = item.recorded_at
            if event.type in CORRECTABLE and event.event_id in voided:
                continue
            out.kept.append(item)
        return out

    def of_type(self, *types: type[Any]) -> list[Recorded]:
        """The kept items whose event is of one of these types."""
        return [item for item in self.kept if isinstance(item.event, types)]

    def pairs_of(self, kind: type[E]) -> list[tuple[Recorded, E]]:
        """The kept events of one type, typed as such, each with its stored item."""
        return [(item, item.event) for item in self.kept if isinstance(item.event, kind)]


class Builder:
    """The state one Bundle is built in: the record, the history, the entries made so far."""

    def __init__(self, record: ClientRecord, history: Sequence[Recorded], now: datetime) -> None:
        self.record = record
        self.history = History.of(history)
        self.now = now
        self.client_id = record.client_id
        self.entries: list[Entry] = []
        self.by_event: dict[UUID, Entry] = {}  # an event → the resource standing for it
        self.labels: set[str] = {codes.PART2_LABEL} if record.part2 else set()

    def url(self, kind: str, key: object) -> tuple[str, str]:
        """A resource's id and full URL, derived from the client, its kind and its key."""
        resource_id = str(uuid5(self.client_id, f"{kind}/{key}"))
        return resource_id, f"urn:uuid:{resource_id}"

    def labels_of(self, sources: Iterable[UUID]) -> set[str]:
        """The security labels the events a resource was made from carry."""
        labels: set[str] = set()
        for event_id in sources:
            event = self.history.events.get(event_id)
            if event is not None:
                labels.update(event.security_labels)
        return labels

    def meta(self, sources: Iterable[UUID]) -> Json:
        """A resource's meta: the security labels of the record and of its events, if any."""
        tags = security(self.labels | self.labels_of(sources))
        return {"security": tags} if tags else {}

    def add(
        self,
        cls: Any,
        kind: str,
        key: object,
        data_class: str,
        sources: Sequence[UUID],
        **fields: Any,
    ) -> Entry:
        """Build a resource, validated now, and add it to the Bundle's entries."""
        resource_id, url = self.url(kind, key)
        meta = self.meta(sources)
        if meta:
            fields["meta"] = meta
        resource = build(cls, id=resource_id, **fields)
        entry = Entry(url, resource, data_class, tuple(sources))
        self.entries.append(entry)
        return entry

    @property
    def subject(self) -> Json:
        """The reference to the client's Patient resource."""
        return {"reference": self.url("Patient", self.client_id)[1]}
