"""The envelope checks HTTP and Kafka share: one refusal, with the same code, whichever the edge."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest

from domain.contract import Fault, Refusal, envelope_refusal, event_of, rule_actor_refusal

SECRET = "SECRET-NOTE-7731"


def check_in(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid4()),
        "type": "CheckInRecorded",
        "client_id": str(uuid4()),
        "occurred_at": "2026-11-20T08:00:00Z",
        "actor": {"id": "peer-17", "role": "peer_specialist", "org": "harbor-peer"},
        "data": {"mood": 6, "craving": 3, "sleep_hours": 7, "used_since_last": False},
    }
    body.update(changes)
    return body


@pytest.mark.parametrize(
    ("event_type", "code"),
    [
        ("CheckInSent", "unknown_event_type"),
        (None, "unknown_event_type"),
        (7, "unknown_event_type"),
        ("RiskFlagRaised", "event_not_recordable"),
        ("ErasedEntry", "event_not_recordable"),
    ],
)
def test_a_type_outside_what_a_caller_may_record_is_refused(event_type: object, code: str) -> None:
    refusal = envelope_refusal(check_in(type=event_type), event_type)

    assert refusal is not None
    assert refusal.code == code


def test_unknown_top_level_keys_are_refused_each_by_its_place() -> None:
    body = check_in(source={"topic": "t"}, notes=SECRET)

    refusal = envelope_refusal(body, body["type"])

    assert refusal == Refusal(
        "validation_error",
        "Unknown top-level fields.",
        (
            Fault(("notes",), "Extra inputs are not permitted"),
            Fault(("source",), "Extra inputs are not permitted"),
        ),
    )


def test_a_body_within_the_contract_passes_the_envelope_checks() -> None:
    body = check_in()

    assert envelope_refusal(body, body["type"]) is None
    assert rule_actor_refusal(body["actor"]) is None


def test_an_actor_from_outside_may_not_be_a_rule() -> None:
    refusal = rule_actor_refusal({"id": "x", "role": "rule", "org": "y", "kind": "rule"})

    assert refusal is not None
    assert (refusal.code, refusal.errors[0].loc) == ("validation_error", ("actor", "kind"))


def test_an_invalid_event_is_refused_with_places_and_kinds_but_no_submitted_value() -> None:
    body = check_in(event_id=f"{SECRET}-not-a-uuid")
    body["data"] = {**body["data"], "mood": 99}

    refusal = event_of(body)

    assert isinstance(refusal, Refusal)
    assert refusal.code == "validation_error"
    places = {fault.loc: fault.kind for fault in refusal.errors}
    assert places[("CheckInRecorded", "data", "mood")] == "less_than_equal"
    assert places[("CheckInRecorded", "event_id")] == "uuid_parsing"
    assert SECRET not in str(refusal)
    assert "99" not in str(refusal)


def test_a_valid_payload_becomes_its_care_event() -> None:
    body = check_in()

    event = event_of(body)

    assert not isinstance(event, Refusal)
    assert str(event.event_id) == body["event_id"]
