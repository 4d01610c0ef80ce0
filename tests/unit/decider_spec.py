"""Given / when / then over the client decider, after Emmett's DeciderSpecification.

given(enrolled(), check_in()).when(record(discharged())).then(...)
given().when(check_in()).then_refused("client_not_enrolled")
given(enrolled(), first).when(first).then_nothing()
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import pytest

from domain.catalogue import CareEvent
from domain.client import ClientState, decide, evolve, fold, recorded_ids
from domain.commands import RecordCareEvent
from domain.enrollment import EpisodeOpened
from domain.errors import DomainError
from tests.unit.builders import record


def given(*history: CareEvent) -> DeciderSpecification:
    """The client's stored history, folded into the decider's state, and its event ids."""
    return DeciderSpecification(fold(history), recorded_ids(history))


@dataclass(frozen=True)
class DeciderSpecification:
    state: ClientState
    recorded: frozenset[UUID]

    def when(self, command: RecordCareEvent | CareEvent) -> Decision:
        """A command, or an event to record at the builders' fixed `now`."""
        if not isinstance(command, RecordCareEvent):
            command = record(command)
        return Decision(self.state, self.recorded, command)


@dataclass(frozen=True)
class Decision:
    state: ClientState
    recorded: frozenset[UUID]
    command: RecordCareEvent

    def then(self, *expected: CareEvent) -> list[CareEvent]:
        """The events recorded, field by field; a derived EpisodeOpened by its type and data."""
        try:
            produced = decide(self.command, self.state, self.recorded)
        except DomainError as refusal:
            pytest.fail(f"expected {len(expected)} event(s), the decider refused: {refusal.code}")
        assert [_comparable(e) for e in produced] == [_comparable(e) for e in expected]
        state = self.state
        for event in produced:  # what was decided must fold
            state = evolve(state, event)
        return produced

    def then_refused(self, code: str) -> DomainError:
        """The decider refuses with this stable code."""
        with pytest.raises(DomainError) as refused:
            decide(self.command, self.state, self.recorded)
        assert refused.value.code == code
        return refused.value

    def then_nothing(self) -> None:
        """Accepted as already recorded: no new event."""
        assert decide(self.command, self.state, self.recorded) == []


def _comparable(event: CareEvent) -> dict[str, Any]:
    if isinstance(event, EpisodeOpened):
        return {"type": event.type, "data": event.data.model_dump()}
    return event.model_dump()
