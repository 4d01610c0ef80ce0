"""Property: any sequence of commands keeps the care record's invariants, and folding the events
the decider stored gives back exactly the state the commands were decided against.

Hypothesis draws sequences of care-event commands for one client — enrollments, check-ins,
team changes, discharges and readmissions, crises and their postvention reviews, flags raised
by the rules and handled by staff, entries marked in error (of something stored or not),
handoffs, and re-sends of anything sent before — at random instants. Each is decided against
the state so far; a refusal stores nothing, an acceptance stores what the decider produced.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain.catalogue import CareEvent
from domain.client import (
    AFTER_DISCHARGE,
    ClientState,
    Discharged,
    InCare,
    NotEnrolled,
    decide,
    evolve,
    fold,
    initial_state,
)
from domain.errors import DomainError
from tests.unit import builders as b

Make = Callable[[list[CareEvent], int], CareEvent]


def _at(step: int) -> dict[str, Any]:
    return {"occurred_at": b.T0 + timedelta(hours=step)}


def _target(sent: list[CareEvent], step: int) -> UUID:
    """Some event sent before (stored or refused), or one never seen."""
    return sent[step % len(sent)].event_id if sent and step % 5 else uuid4()


MAKERS: dict[str, Make] = {
    "enroll": lambda _s, n: b.enrolled(**_at(n)),
    "check_in": lambda _s, n: b.check_in(craving=n % 11, **_at(n)),
    "assign": lambda _s, n: b.assigned(member_id=f"counselor-{n % 3}", **_at(n)),
    "release": lambda _s, n: b.released(member_id=f"counselor-{n % 3}", **_at(n)),
    "discharge": lambda _s, n: b.discharged(**_at(n)),
    "readmit": lambda _s, n: b.readmitted(**_at(n)),
    "crisis": lambda _s, n: b.crisis(f"crisis-{n % 2}", **_at(n)),
    "postvention": lambda _s, n: b.postvention(f"crisis-{n % 3}", **_at(n)),
    "flag": lambda _s, n: b.flag_raised(f"flag-{n % 2}", **_at(n)),
    "acknowledge": lambda _s, n: b.flag_acknowledged(f"flag-{n % 3}", **_at(n)),
    "resolve": lambda _s, n: b.flag_resolved(f"flag-{n % 3}", **_at(n)),
    "in_error": lambda s, n: b.entered_in_error(_target(s, n), **_at(n)),
    "handoff": lambda _s, n: b.handoff_initiated(f"handoff-{n % 2}", **_at(n)),
    "handoff_accepted": lambda _s, n: b.handoff_accepted(f"handoff-{n % 2}", **_at(n)),
    "future": lambda _s, n: b.check_in(occurred_at=b.NOW + timedelta(days=1 + n)),
    "resend": lambda s, n: s[n % len(s)] if s else b.check_in(**_at(n)),
}

commands = st.lists(
    st.tuples(st.sampled_from(sorted(MAKERS)), st.integers(min_value=0, max_value=10_000)),
    max_size=40,
)


def _run(script: list[tuple[str, int]]) -> tuple[list[CareEvent], ClientState]:
    """Decide each command against the state so far; what was stored, and the last state."""
    sent: list[CareEvent] = []
    stored: list[CareEvent] = []
    state = initial_state()
    ids: set[UUID] = set()
    for name, n in script:
        event = MAKERS[name](sent, n)
        sent.append(event)
        try:
            produced = decide(b.record(event), state, ids)
        except DomainError:
            continue
        for recorded in produced:
            state = evolve(state, recorded)
            stored.append(recorded)
            ids.add(recorded.event_id)
    return stored, state


@settings(max_examples=200, deadline=None)
@given(commands)
def test_folding_the_stored_events_gives_the_state_the_commands_saw(
    script: list[tuple[str, int]],
) -> None:
    stored, state = _run(script)

    assert fold(stored) == state


@settings(max_examples=200, deadline=None)
@given(commands)
def test_any_sequence_of_commands_keeps_the_records_invariants(
    script: list[tuple[str, int]],
) -> None:
    stored, state = _run(script)
    ids = [event.event_id for event in stored]

    # every stored event has its own id: a re-send stores nothing
    assert len(ids) == len(set(ids))
    # nothing is stored before the enrollment, and it is stored once
    assert not stored or stored[0].type == "ClientEnrolled"
    assert [e.type for e in stored].count("ClientEnrolled") <= 1
    # nothing in the future of the edge's clock
    assert all(e.occurred_at <= b.NOW + b.DEFAULT_CLOCK_SKEW for e in stored)
    # flags are raised by rules only
    assert all(e.actor.kind == "rule" for e in stored if e.type == "RiskFlagRaised")
    # an entry in error names something stored before it
    for index, event in enumerate(stored):
        if event.type == "EntryEnteredInError":
            assert event.data.target_event_id in ids[:index]  # type: ignore[attr-defined]
    # after a discharge, only what may follow one until a readmission
    discharged = False
    for event in stored:
        if event.type == "EpisodeClosed":
            discharged = True
        elif event.type == "ClientReadmitted":
            discharged = False
        elif discharged:
            assert event.type in AFTER_DISCHARGE | {"EpisodeOpened"}, event.type
    # the state is the stored client's once something is stored (its ids live beside it)
    match state:
        case NotEnrolled():
            assert stored == []
        case InCare(chart) | Discharged(chart):
            assert stored
            assert chart.client_id == stored[0].client_id
        case _:
            raise AssertionError(f"unexpected state {type(state).__name__}")
