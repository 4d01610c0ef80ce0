"""Downstream consumers of `care.events`: which system receives what, and the disclosures a
publish makes to them (42 CFR 2.25 accounting; 2.31 consent; 2.32 notice), the pure half.

A grant names a consumer (the downstream system), its organization and the purpose it receives
the topic for; it is recorded by a person and revoked the same way, never edited (the registry
is append-only: who granted, when). The current registry is the fold of those records.

Publishing a batch to `care.events` discloses, to every consumer granted at that time whose
organization is not the client's program organization, the Part 2 events of each client in the
batch (sealed `data`, opened with the client's key the consumer is entitled to by its grant).
One accounting entry is made per consumer, client and publish batch (not per event: a batch
holds up to thousands), naming the number of events and their data classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal
from uuid import UUID

from domain.envelope import PART2_LABEL
from domain.erasure import ErasedEntry
from domain.recorded import Recorded

# What a consumer receives the topic for (the purposes of use a disclosure may name).
ConsumerPurpose = Literal["treatment", "operations"]
CONSUMER_PURPOSES: tuple[str, ...] = ("treatment", "operations")
# Events about access itself (a disclosure, a grant, an accounting handed over) disclose no care
# data: counting them would make each disclosure record another, for ever.
ACCESS_CLASS = "access"


@dataclass(frozen=True, slots=True)
class RegistryRecord:
    """One line of the registry as recorded: a grant or a revocation, by whom, when."""

    action: Literal["grant", "revoke"]
    name: str
    org: str
    purpose: str
    by: str
    by_role: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ConsumerGrant:
    """A consumer in the registry now: what it receives the topic for, and who granted it."""

    name: str
    org: str
    purpose: str
    granted_by: str
    granted_at: datetime


def registry(records: Iterable[RegistryRecord]) -> dict[str, ConsumerGrant]:
    """The consumers granted after these records, by name (a revocation removes one; a later
    grant of the same name replaces it)."""
    granted: dict[str, ConsumerGrant] = {}
    for record in records:
        if record.action == "grant":
            granted[record.name] = ConsumerGrant(
                record.name, record.org, record.purpose, record.by, record.at
            )
        else:
            granted.pop(record.name, None)
    return granted


@dataclass(frozen=True, slots=True)
class ClientBatch:
    """A Part 2 client's events in one publish batch."""

    client_id: UUID
    first_position: int
    count: int
    data_classes: frozenset[str]


def part2_clients(batch: Sequence[Recorded]) -> list[ClientBatch]:
    """The Part 2 clients of a batch with their care events (access events and erased entries
    left out: the former disclose nothing, the latter hold nothing anyone can open)."""
    found: dict[UUID, tuple[int, int, set[str]]] = {}
    for item in batch:
        event = item.event
        if PART2_LABEL not in event.security_labels or isinstance(event, ErasedEntry):
            continue
        if event.data_class == ACCESS_CLASS:
            continue
        first, count, classes = found.get(event.client_id, (item.position, 0, set()))
        classes.add(event.data_class)
        found[event.client_id] = (first, count + 1, classes)
    return [
        ClientBatch(client, first, count, frozenset(classes))
        for client, (first, count, classes) in found.items()
    ]


@dataclass(frozen=True, slots=True)
class KafkaDisclosure:
    """One accounting entry to record: this consumer got this client's events of this batch."""

    consumer: ConsumerGrant
    client: ClientBatch
    program_org: str


def disclosed(
    clients: Iterable[ClientBatch],
    consumers: Iterable[ConsumerGrant],
    program_org_of: Mapping[UUID, str | None],
) -> list[KafkaDisclosure]:
    """Each granted consumer of another organization than the client's program: a disclosure
    (the program's own systems receive their own records: no disclosure)."""
    out: list[KafkaDisclosure] = []
    granted = list(consumers)
    for client in clients:
        program_org = program_org_of.get(client.client_id)
        if program_org is None:
            continue
        out.extend(
            KafkaDisclosure(consumer, client, program_org)
            for consumer in granted
            if consumer.org != program_org
        )
    return out
