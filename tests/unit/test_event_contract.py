"""The event contract is checked in: a change to an event's shape shows up in review."""

from __future__ import annotations

import json
from pathlib import Path

from domain.catalogue import EVENT_TYPES, SYSTEM_EVENT_TYPES

SCHEMAS = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def _types(name: str) -> set[str]:
    schema = json.loads((SCHEMAS / name).read_text())
    return {
        schema["$defs"][ref["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["const"]
        for ref in schema["oneOf"]
    }


def test_every_event_type_of_the_catalogue_is_in_the_stored_schema() -> None:
    assert _types("care-event.stored.schema.json") == set(EVENT_TYPES)


def test_the_inbound_schema_offers_every_type_a_provider_may_record_and_no_other() -> None:
    assert _types("care-event.inbound.schema.json") == set(EVENT_TYPES) - SYSTEM_EVENT_TYPES
