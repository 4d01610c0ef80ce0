"""Old payloads lift to the current schema; every event survives its own JSON round trip."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from domain.catalogue import CARE_EVENT_ADAPTER, EVENT_TYPES, parse_event
from domain.monitoring import CheckInRecorded
from domain.upcasting import upcast
from tests.unit.builders import CLIENT, T0, check_in, enrolled, one_of_each


def check_in_v1(**data: Any) -> dict[str, Any]:
    """A CheckInRecorded as version 1 sent it: the hours slept were called `sleep`."""
    return {
        "event_id": "0b4e7d5c-1f2a-4c3b-9d8e-7f6a5b4c3d2e",
        "type": "CheckInRecorded",
        "schema_version": 1,
        "client_id": str(CLIENT),
        "occurred_at": T0.isoformat(),
        "actor": {"id": "peer-17", "role": "peer_specialist", "org": "harbor-peer"},
        "data": {"mood": 6, "craving": 4, "sleep": 5.5, "used_since_last": False, **data},
    }


def test_a_version_1_check_in_parses_as_the_current_version() -> None:
    event = parse_event(check_in_v1())

    assert isinstance(event, CheckInRecorded)
    assert event.schema_version == 2
    assert event.data.sleep_hours == 5.5
    assert (event.data.mood, event.data.craving, event.data.used_since_last) == (6, 4, False)


def test_upcasting_leaves_the_sent_payload_as_it_was() -> None:
    payload = check_in_v1()
    upcast(payload)
    assert payload["schema_version"] == 1
    assert "sleep" in payload["data"]


def test_a_current_check_in_is_not_upcast() -> None:
    payload = json.loads(check_in(sleep_hours=8).model_dump_json())
    assert upcast(payload) == payload


def test_an_unknown_field_in_an_old_payload_is_refused() -> None:
    with pytest.raises(ValidationError) as refused:
        parse_event(check_in_v1(dreams="vivid"))
    assert [e["type"] for e in refused.value.errors()] == ["extra_forbidden"]


def test_an_unknown_field_in_the_envelope_is_refused() -> None:
    payload = {**check_in_v1(), "priority": "high"}
    with pytest.raises(ValidationError):
        parse_event(payload)


def test_a_version_1_check_in_naming_both_sleep_fields_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_event(check_in_v1(sleep_hours=5.5))


def test_a_version_nobody_published_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_event({**check_in_v1(), "schema_version": 3})


def test_an_unknown_event_type_is_refused() -> None:
    with pytest.raises(ValidationError):
        parse_event({**check_in_v1(), "type": "CheckInForgotten"})


def test_the_round_trip_table_holds_every_event_type() -> None:
    assert sorted(e.type for e in one_of_each()) == sorted(EVENT_TYPES)
    assert len(EVENT_TYPES) == 47


@pytest.mark.parametrize("event", one_of_each(), ids=lambda e: e.type)
def test_every_event_type_survives_a_json_round_trip(event) -> None:
    wire = json.loads(CARE_EVENT_ADAPTER.dump_json(event))

    back = parse_event(wire)

    assert type(back) is type(event)
    assert back.model_dump() == event.model_dump()


def test_a_refused_payload_is_not_quoted_in_the_error() -> None:
    payload = json.loads(enrolled().model_dump_json())
    payload["data"]["phone"] = "call Jane Roe"
    with pytest.raises(ValidationError) as refused:
        parse_event(payload)
    assert "Jane Roe" not in str(refused.value)
