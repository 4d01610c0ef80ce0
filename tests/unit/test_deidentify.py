"""Analysts' rows: stable keyed pseudonyms, one date shift per client, no identifier, no text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from uuid import uuid4

import orjson
import pytest
from pydantic import BaseModel

from domain.catalogue import EVENT_CLASSES
from domain.deidentify import FIELD_POLICY, Deidentifier
from domain.recorded import Recorded
from tests.unit.builders import (
    after,
    appointment_scheduled,
    assigned,
    crisis,
    enrolled,
    one_of_each,
    safety_plan_recorded,
    session_held,
)

KEY = b"k" * 32


def row(event, *, position: int = 1, recorded_at: datetime | None = None):
    item = Recorded(event, 1, position, recorded_at or event.occurred_at + timedelta(seconds=1))
    return Deidentifier(KEY).recorded(item)


def _data_fields(model: type[BaseModel]) -> set[str]:
    annotation = model.model_fields["data"].annotation
    assert isinstance(annotation, type)
    assert issubclass(annotation, BaseModel)
    return set(annotation.model_fields)


@pytest.mark.parametrize("event_type", sorted(EVENT_CLASSES))
def test_every_data_field_of_every_event_type_has_a_decided_treatment(event_type) -> None:
    undecided = _data_fields(EVENT_CLASSES[event_type]) - set(FIELD_POLICY)

    assert undecided == set(), f"decide how analysts see {sorted(undecided)}"


def test_direct_identifiers_and_free_text_never_reach_an_analyst() -> None:
    person = enrolled(
        given_name="Quinlan", family_name="Marrow", phone="555-0199", birth_date=date(1984, 2, 29)
    )
    note = session_held(note="talked about Quinlan's brother")
    card = crisis()
    plan = safety_plan_recorded(reasons_for_living=("my daughter Tamsin",))

    text = b"".join(orjson.dumps(row(e)) for e in (person, note, card, plan))

    for secret in (b"Quinlan", b"Marrow", b"555-0199", b"1984-02-29", b"Tamsin"):
        assert secret not in text
    assert row(card)["data"]["interventions_count"] == len(card.data.interventions)
    assert "disposition" not in row(card)["data"]


def test_pseudonyms_are_stable_and_join_across_events() -> None:
    client = uuid4()
    first = row(enrolled(client_id=client))
    second = row(assigned("peer-17", client_id=client))
    third = row(session_held(client_id=client))

    assert first["client_id"] == second["client_id"] == third["client_id"]
    assert str(client) not in orjson.dumps([first, second, third]).decode()
    assert second["data"]["member_id"] == Deidentifier(KEY).staff("peer-17")


def test_another_key_gives_other_pseudonyms() -> None:
    client = uuid4()
    event = enrolled(client_id=client)
    item = Recorded(event, 1, 1, event.occurred_at)

    assert (
        Deidentifier(KEY).recorded(item)["client_id"]
        != Deidentifier(b"z" * 32).recorded(item)["client_id"]
    )


def test_every_date_of_a_client_moves_by_the_same_offset_so_intervals_hold() -> None:
    client = uuid4()
    shift = Deidentifier(KEY).shift_of(client)
    slot = appointment_scheduled(
        client_id=client, occurred_at=after(days=2), scheduled_for=after(days=9)
    )
    shown = row(slot, recorded_at=after(days=2, hours=1))

    assert timedelta(days=-30) <= shift <= timedelta(days=-1)
    assert datetime.fromisoformat(str(shown["occurred_at"])) == after(days=2) + shift
    assert datetime.fromisoformat(str(shown["recorded_at"])) == after(days=2, hours=1) + shift
    assert datetime.fromisoformat(str(shown["data"]["scheduled_for"])) == after(days=9) + shift


def test_clients_get_different_offsets() -> None:
    pseudonymizer = Deidentifier(KEY)
    shifts = {pseudonymizer.shift_of(uuid4()) for _ in range(50)}

    assert len(shifts) > 10
    # and every shift moves dates back, never past the real date (nor past the export's time)
    assert all(timedelta(days=-30) <= s <= timedelta(days=-1) for s in shifts)


@pytest.mark.parametrize("event", one_of_each(), ids=lambda e: e.type)
def test_every_event_type_deidentifies_to_json(event) -> None:
    shown = row(event, recorded_at=datetime(2026, 2, 1, tzinfo=UTC))

    orjson.dumps(shown)
    assert shown["type"] == event.type
    assert shown["client_id"].startswith("c-")
    assert shown["actor"]["id"].startswith("s-")
