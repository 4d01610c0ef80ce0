"""Text PostgreSQL cannot store never reaches the store (issue 10, the poison pill): the wire
contract refuses it at both edges, and the decider refuses it on every other way in."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import BaseModel

from demo.simulate import care_events, command_for
from domain.client import decide, fold, recorded_ids
from domain.contract import Refusal, event_of
from domain.errors import UnstorableText
from domain.storable import holds_unstorable, storable, unstorable_places
from tests.unit.builders import assigned, enrolled, record, stored


@pytest.mark.parametrize(
    ("text", "expected"),
    [("counselor-1", True), ("Inés", True), ("m\u0000x", False), ("o\ud800", False), ("", True)],
)
def test_text_is_storable_without_nul_or_a_lone_surrogate(text: str, expected: bool) -> None:
    assert storable(text) is expected


def test_the_places_of_unstorable_text_are_the_models_field_names() -> None:
    event = assigned(member_id="peer\u0000kai")

    assert list(unstorable_places(event)) == [("data", "member_id")]


def test_the_contract_refuses_a_nul_by_its_place_without_quoting_it() -> None:
    payload = assigned(org="harbor\u0000peer").model_dump(mode="json")

    refusal = event_of(payload)

    assert isinstance(refusal, Refusal)
    assert refusal.code == "validation_error"
    assert [fault.loc for fault in refusal.errors] == [("CareTeamMemberAssigned", "data", "org")]
    assert "harbor" not in repr(refusal)


def test_the_decider_refuses_an_event_built_in_process_with_a_nul() -> None:
    # given an enrolled client
    history = [recorded.event for recorded in stored(enrolled())]
    current = fold(history)
    # when a use case builds an assignment around the contract, with a NUL in the member id
    command = record(assigned(member_id="m\u0000x"))
    # then the care record refuses it: nothing to store
    with pytest.raises(UnstorableText):
        decide(command, current, recorded_ids(history))


class Note(BaseModel):
    lines: list[str]
    tags: frozenset[str] = frozenset()
    labels: dict[str, Any] = {}
    pair: tuple[str, int] = ("", 0)


@pytest.mark.parametrize(
    "note",
    [
        Note(lines=["ok", "fine"]),
        Note(lines=["ok", "bad\u0000"]),
        Note(lines=[], tags=frozenset({"o\ud800"})),
        Note(lines=[], labels={"k\u0000": 1}),
        Note(lines=[], labels={"k": ["deep", {"deeper": "x\u0000"}]}),
        Note(lines=[], pair=("\ud800", 1)),
        Note(lines=["Inés"], labels={"when": datetime(2026, 1, 1, tzinfo=UTC)}),
    ],
)
def test_the_quick_check_finds_unstorable_text_wherever_the_places_walk_does(note: Note) -> None:
    assert holds_unstorable(note) == any(unstorable_places(note))


def test_the_quick_check_agrees_with_the_places_walk_on_simulated_care() -> None:
    # given a month of simulated care events of every kind, one of them given a NUL
    start = datetime(2026, 1, 1, tzinfo=UTC)
    payloads = itertools.islice(care_events(clients=12, days=30, seed=5, start=start), 2000)
    events = [command_for(p).event for p in payloads]
    events.append(assigned(member_id="peer\u0000kai"))
    # then the quick check answers as the walk that names places, event for event
    assert [holds_unstorable(e) for e in events] == [any(unstorable_places(e)) for e in events]
    assert sum(map(holds_unstorable, events)) == 1
