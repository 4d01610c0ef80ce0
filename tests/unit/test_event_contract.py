"""The event contract is checked in: a change to an event's shape shows up in review."""

from __future__ import annotations

import json
from pathlib import Path

from domain.catalogue import EVENT_TYPES, event_json_schema

CHECKED_IN = Path(__file__).resolve().parents[2] / "docs" / "care-event.schema.json"


def test_the_checked_in_json_schema_is_the_contract_the_code_validates() -> None:
    # given the schema in docs/, when the code's schema is generated, then they are the same
    assert json.loads(CHECKED_IN.read_text()) == json.loads(json.dumps(event_json_schema()))


def test_every_event_type_of_the_catalogue_is_in_the_schema() -> None:
    schema = json.loads(CHECKED_IN.read_text())
    assert set(schema["discriminator"]["mapping"]) == set(EVENT_TYPES)
