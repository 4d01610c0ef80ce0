"""One Provenance per event that shaped a shown resource: who, in which role and organization,
when, for what purpose.
"""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from fhir.resources.R4B.provenance import Provenance

from interop import fhir_codes as codes
from interop.fhir.context import Builder, Entry
from interop.fhir.datatypes import (
    Json,
    actor_reference,
    build,
    concept,
    event_reference,
    org_reference,
    purpose_concept,
    role_concept,
)


def provenance(builder: Builder, shown: Sequence[Entry]) -> list[Entry]:
    """A Provenance per event a shown resource was made from, targeting those resources."""
    targets: dict[UUID, list[Entry]] = {}
    for entry in shown:
        for event_id in entry.sources:
            targets.setdefault(event_id, []).append(entry)
    out: list[Entry] = []
    for event_id, entries in targets.items():
        event = builder.history.events.get(event_id)
        if event is None:
            continue
        agent: Json = {
            "type": concept(codes.PROVENANCE_AGENT, "author", "Author"),
            "role": [role_concept(event.actor.role)],
            "who": actor_reference(event.actor),
            "onBehalfOf": org_reference(event.actor.org),
        }
        resource_id, url = builder.url("Provenance", event_id)
        fields: Json = {
            "id": resource_id,
            "target": [entry.reference for entry in entries],
            "occurredDateTime": event.occurred_at,
            "recorded": builder.history.recorded_at[event_id],
            "reason": [purpose_concept(event.purpose_of_use)],
            "activity": concept(codes.DATA_OPERATION, "CREATE", "create"),
            "agent": [agent],
            "entity": [{"role": "source", "what": event_reference(event_id, event.type)}],
        }
        meta = builder.meta([event_id])
        if meta:
            fields["meta"] = meta
        resource = build(Provenance, **fields)
        out.append(Entry(url, resource, entries[0].data_class, (event_id,)))
    return out
