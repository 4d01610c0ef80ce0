"""The wire contract over Kafka: a message becomes a care event with its transport source, or a
rejection with the code an HTTP caller would get and a reason that quotes no value."""

from __future__ import annotations

import contextlib
import json
from types import SimpleNamespace
from typing import Any
from uuid import uuid4

import pytest

from consumers.deadletter import DeadLetter, Letter, letter_headers
from consumers.publish import message_of
from consumers.wire import Rejection, event_from_message
from domain.catalogue import parse_event
from domain.recorded import Recorded

SECRET = "SECRET-NOTE-7731"


def check_in(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "event_id": str(uuid4()),
        "type": "CheckInRecorded",
        "client_id": str(uuid4()),
        "occurred_at": "2026-11-20T08:00:00Z",
        "actor": {"id": "peer-17", "role": "peer_specialist", "org": "harbor-peer"},
        "data": {
            "mood": 6,
            "craving": 3,
            "sleep_hours": 7,
            "used_since_last": False,
            "substances": ["alcohol", "cannabis"],
            "note": SECRET,
        },
    }
    body.update(changes)
    return body


def received(value: bytes | None, service: str | None = None, key: bytes | None = None) -> Any:
    """The message as ingest gets it, keyed by its client_id unless `key` says otherwise."""
    if key is None and value is not None:
        with contextlib.suppress(ValueError, AttributeError, TypeError):
            key = str(json.loads(value).get("client_id")).encode()
    return event_from_message(
        value, topic="care.events.inbound", partition=2, offset=41, key=key, service=service
    )


def test_a_valid_message_becomes_the_event_with_its_kafka_source() -> None:
    body = check_in()

    event = received(json.dumps(body).encode(), service="texting-platform")

    assert not isinstance(event, Rejection)
    assert str(event.event_id) == body["event_id"]
    assert event.source is not None
    assert event.source.model_dump() == {
        "service": "texting-platform",
        "topic": "care.events.inbound",
        "partition": 2,
        "offset": 41,
    }


@pytest.mark.parametrize(
    ("value", "code"),
    [
        (b"{not json", "malformed_json"),
        (b"\xff\xfe", "malformed_json"),
        (b"[1, 2]", "validation_error"),
        (None, "validation_error"),
        (json.dumps(check_in(type="CheckInSent")).encode(), "unknown_event_type"),
        (json.dumps(check_in(type="RiskFlagRaised")).encode(), "event_not_recordable"),
        (json.dumps(check_in(type="EpisodeOpened")).encode(), "event_not_recordable"),
    ],
)
def test_a_message_that_is_not_a_care_event_is_rejected_with_the_http_code(
    value: bytes | None, code: str
) -> None:
    outcome = received(value)

    assert isinstance(outcome, Rejection)
    assert outcome.code == code


@pytest.mark.parametrize("required", ["event_id", "client_id", "actor"])
def test_on_kafka_the_ids_and_the_actor_are_required_in_the_body(required: str) -> None:
    body = check_in()
    del body[required]

    outcome = received(json.dumps(body).encode())

    assert outcome == Rejection("validation_error", f"CheckInRecorded.{required}: Field required")


def test_the_source_comes_from_the_transport_never_from_the_body() -> None:
    body = check_in(source={"topic": "elsewhere", "partition": 0, "offset": 0})

    outcome = received(json.dumps(body).encode())

    assert outcome == Rejection("validation_error", "source: Extra inputs are not permitted")


def test_only_the_early_warning_rules_act_as_kind_rule() -> None:
    body = check_in(actor={"id": "x", "role": "rule", "org": "y", "kind": "rule"})

    outcome = received(json.dumps(body).encode())

    assert isinstance(outcome, Rejection)
    assert outcome.code == "validation_error"


def test_a_rejection_reason_names_places_and_rules_but_quotes_no_submitted_value() -> None:
    body = check_in(event_id=f"{SECRET}-not-a-uuid", occurred_at=f"{SECRET}")
    body["data"] = {**body["data"], "mood": 99, "substances": [SECRET]}

    outcome = received(json.dumps(body).encode())

    assert isinstance(outcome, Rejection)
    assert "CheckInRecorded.data.mood: Input should be less than or equal to 10" in outcome.reason
    assert "CheckInRecorded.event_id: Input should be a valid UUID" in outcome.reason
    assert SECRET not in outcome.reason
    assert "99" not in outcome.reason


def test_a_dead_letter_keeps_the_original_headers_and_adds_the_reason_and_source() -> None:
    letter = Letter(
        topic="care.events.inbound",
        partition=1,
        offset=7,
        key=b"k",
        value=b"v",
        headers=[("trace", b"t-1"), ("error-code", b"stale-from-an-earlier-round")],
        code="client_not_enrolled",
        reason="The client is not enrolled.",
    )

    headers = letter_headers(letter)

    assert headers == [
        ("trace", b"t-1"),
        ("error-code", b"client_not_enrolled"),
        ("error-reason", b"The client is not enrolled."),
        ("source-topic", b"care.events.inbound"),
        ("source-partition", b"1"),
        ("source-offset", b"7"),
    ]


def test_a_dead_letter_read_back_gives_its_reason_source_and_original_headers() -> None:
    record = SimpleNamespace(
        partition=0,
        offset=3,
        key=b"k",
        value=b"v",
        headers=[("trace", b"t-1"), ("error-code", b"malformed_json"), ("source-offset", b"9")],
    )

    letter = DeadLetter.of(record)

    assert (letter.code, letter.source_offset, letter.source_partition) == (
        "malformed_json",
        9,
        None,
    )
    assert letter.original_headers() == [("trace", b"t-1")]


def test_a_published_event_has_the_same_bytes_whatever_the_order_of_its_sets() -> None:
    from datetime import UTC, datetime

    event = parse_event(check_in())
    reordered = event.model_copy(
        update={
            "data": event.data.model_copy(update={"substances": frozenset(["cannabis", "alcohol"])})
        }
    )
    recorded_at = datetime(2026, 11, 20, 8, 0, 1, tzinfo=UTC)

    first = message_of(Recorded(event, 4, 99, recorded_at))
    again = message_of(Recorded(reordered, 4, 99, recorded_at))

    assert first == again
    key, value, headers = first
    assert key == str(event.client_id).encode()
    assert json.loads(value)["data"]["substances"] == ["alcohol", "cannabis"]
    assert (json.loads(value)["version"], json.loads(value)["position"]) == (4, 99)
    assert dict(headers) == {
        "event-id": str(event.event_id).encode(),
        "type": b"CheckInRecorded",
        "schema-version": b"2",
        "position": b"99",
        "data-mode": b"clear",  # no payloads port given: data as stored
    }


@pytest.mark.parametrize(
    ("place", "text"), [("member_id", "m\u0000x"), ("org", "o\ud800")], ids=["nul", "surrogate"]
)
def test_text_postgresql_cannot_store_is_dead_lettered_not_stored(place: str, text: str) -> None:
    # given a provider's assignment whose member id or org holds a NUL or a lone surrogate
    body = check_in()
    body |= {
        "type": "CareTeamMemberAssigned",
        "data": {"member_id": "peer-kai", "role": "peer_specialist", "org": "harbor-peer"},
    }
    body["data"][place] = text
    # when it arrives (json.loads accepts both escapes)
    outcome = received(json.dumps(body).encode())
    # then it is rejected by its place, never quoting the text
    assert isinstance(outcome, Rejection)
    assert outcome.code == "validation_error"
    assert outcome.reason.startswith(f"CareTeamMemberAssigned.data.{place}: ")
    assert text not in outcome.reason


@pytest.mark.parametrize("key", [b"not-the-client-id", str(uuid4()).encode(), b"\xff", None])
def test_a_message_keyed_by_anything_but_its_client_is_refused_as_a_key_mismatch(
    key: bytes | None,
) -> None:
    # given a valid check-in whose key is not its client's id (or no key at all)
    body = check_in()
    # when it is received
    outcome = event_from_message(
        json.dumps(body).encode(), topic="care.events.inbound", partition=0, offset=1, key=key
    )
    # then it is refused with key_mismatch, and the reason says how to key it
    assert isinstance(outcome, Rejection)
    assert outcome.code == "key_mismatch"
    assert "key every message by its client_id" in outcome.reason


def test_a_message_keyed_by_its_client_id_in_capitals_is_the_same_client() -> None:
    body = check_in()
    outcome = received(json.dumps(body).encode(), key=body["client_id"].upper().encode())
    assert not isinstance(outcome, Rejection)
