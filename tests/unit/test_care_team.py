"""One fold decides who is on the care team (domain/care_team.py): authorization's facts, the
decider's chart and the record name the same members, the enrolling clinician among them."""

from __future__ import annotations

import pytest

from domain.access import access_facts
from domain.catalogue import CareEvent
from domain.client import InCare, fold
from domain.record import client_record
from tests.unit.builders import (
    CLIENT,
    HOME_ORG,
    PEER_ORG,
    T0,
    a_counselor,
    a_service,
    assigned,
    enrolled,
    released,
    stored,
)

Member = tuple[str, str, str]


def teams(*events: CareEvent) -> tuple[list[Member], list[Member], list[Member]]:
    """The team as authorization, the decider and the record each fold it from the history."""
    history = stored(*events)
    facts = access_facts(CLIENT, [r.event for r in history])
    state = fold(r.event for r in history)
    assert isinstance(state, InCare)
    record = client_record(history)
    assert record is not None
    return (
        [(m.member_id, m.role, m.org) for m in facts.care_team],
        [(m.member_id, m.role, m.org) for m in state.chart.care_team],
        [(m.member_id, m.role, m.org) for m in record.care_team],
    )


COUNSELOR_1: Member = ("counselor-1", "counselor", HOME_ORG)
PEER_17: Member = ("peer-17", "peer_specialist", PEER_ORG)


@pytest.mark.parametrize(
    ("history", "team"),
    [
        pytest.param((enrolled(actor=a_counselor()),), [COUNSELOR_1], id="enrolled-by-counselor"),
        pytest.param((enrolled(actor=a_service()),), [], id="enrolled-by-a-service"),
        pytest.param(
            (enrolled(actor=a_counselor()), assigned("peer-17", "peer_specialist", PEER_ORG)),
            [COUNSELOR_1, PEER_17],
            id="enroller-and-assigned-peer",
        ),
        pytest.param(
            (enrolled(actor=a_counselor()), assigned("counselor-1", "counselor", HOME_ORG)),
            [COUNSELOR_1],
            id="enroller-assigned-again",
        ),
        pytest.param(
            (enrolled(actor=a_counselor()), assigned("counselor-1", "counselor", PEER_ORG)),
            [COUNSELOR_1],
            id="assigned-again-from-another-org-changes-nothing",
        ),
        pytest.param(
            (enrolled(actor=a_counselor()), released("counselor-1")),
            [],
            id="enroller-released",
        ),
        pytest.param(
            (
                enrolled(actor=a_counselor()),
                released("counselor-1"),
                assigned("counselor-1", "counselor", PEER_ORG),
            ),
            [("counselor-1", "counselor", PEER_ORG)],
            id="released-then-assigned-elsewhere",
        ),
        pytest.param(
            (enrolled(actor=a_counselor()), assigned("counselor-1", "case_manager", HOME_ORG)),
            [COUNSELOR_1, ("counselor-1", "case_manager", HOME_ORG)],
            id="a-second-role",
        ),
    ],
)
def test_authorization_the_decider_and_the_record_fold_the_same_team(
    history: tuple[CareEvent, ...], team: list[Member]
) -> None:
    # given a client's history; when each fold reads it; then all name the same members
    assert teams(*history) == (team, team, team)


def test_the_enrolling_clinician_joins_at_the_enrollments_time_and_may_read() -> None:
    history = stored(enrolled(actor=a_counselor(), occurred_at=T0))
    facts = access_facts(CLIENT, [r.event for r in history])
    record = client_record(history)

    assert record is not None
    assert [m.assigned_at for m in record.care_team] == [T0]
    assert facts.is_on_team("counselor-1", HOME_ORG, "counselor")
    assert not facts.is_on_team("counselor-1", PEER_ORG, "counselor")
