"""Demo data: the seeded stream is reproducible, realistic and valid for the client decider."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from statistics import mean
from typing import Any
from uuid import UUID

import pytest
from structlog.testing import capture_logs

from demo.simulate import (
    FAMILY_NAMES,
    GIVEN_NAMES,
    SimulationSummary,
    care_events,
    run_simulation,
    simulate,
    staff_for,
)
from domain.catalogue import CareEvent, parse_event
from domain.client import ClientState, decide, evolve, initial_state
from domain.commands import RecordCareEvent
from domain.errors import DomainError, UnknownCrisis

START = datetime(2026, 3, 2, tzinfo=UTC)
CLIENTS, DAYS, SEED = 30, 60, 11

REQUIRED_TYPES = {
    "ClientEnrolled",
    "CareTeamMemberAssigned",
    "CheckInPlanSet",
    "CheckInRecorded",
    "CheckInMissed",
    "AssessmentRecorded",
    "SessionHeld",
    "AppointmentScheduled",
    "AppointmentAttended",
    "AppointmentMissed",
    "CarePlanGoalSet",
    "CrisisContactRecorded",
    "SafetyPlanRecorded",
    "PostventionReviewRecorded",
    "HandoffInitiated",
    "HandoffAccepted",
    "HandoffCompleted",
    "NaloxoneDistributed",
    "MedicationStarted",
    "MedicationStopped",
    "ConsentGranted",
    "EpisodeClosed",
}


@pytest.fixture(scope="module")
def payloads() -> list[dict[str, Any]]:
    return list(care_events(clients=CLIENTS, days=DAYS, seed=SEED, start=START))


@pytest.fixture(scope="module")
def events(payloads: list[dict[str, Any]]) -> list[CareEvent]:
    return [parse_event(payload) for payload in payloads]


def by_client(events: Sequence[CareEvent]) -> dict[UUID, list[CareEvent]]:
    streams: dict[UUID, list[CareEvent]] = defaultdict(list)
    for event in events:
        streams[event.client_id].append(event)
    return streams


# --- reproducible by seed -------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_events_and_ids() -> None:
    first = list(care_events(clients=8, days=21, seed=5, start=START))
    again = list(care_events(clients=8, days=21, seed=5, start=START))

    assert [(p["event_id"], p["type"]) for p in first] == [
        (p["event_id"], p["type"]) for p in again
    ]
    assert first == again


def test_a_different_seed_gives_different_events() -> None:
    one = list(care_events(clients=8, days=21, seed=5, start=START))
    other = list(care_events(clients=8, days=21, seed=6, start=START))

    assert {p["event_id"] for p in one}.isdisjoint({p["event_id"] for p in other})
    assert {p["client_id"] for p in one}.isdisjoint({p["client_id"] for p in other})
    assert [p["type"] for p in one] != [p["type"] for p in other]


def test_a_start_without_a_timezone_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone"):
        next(care_events(clients=1, days=1, seed=1, start=datetime(2026, 3, 2)))


# --- valid for the domain -------------------------------------------------------------------------


def test_every_payload_parses_as_a_care_event(
    payloads: list[dict[str, Any]], events: list[CareEvent]
) -> None:
    assert len(events) == len(payloads) > CLIENTS * DAYS
    assert len({event.event_id for event in events}) == len(events)


def test_folding_each_clients_events_through_the_decider_never_refuses(
    events: list[CareEvent],
) -> None:
    states: dict[UUID, ClientState] = {}
    ids: dict[UUID, set[UUID]] = {}

    for position, event in enumerate(events):
        state = states.get(event.client_id, initial_state())
        command = RecordCareEvent(event, now=event.occurred_at + timedelta(seconds=5))
        recorded_ids = ids.setdefault(event.client_id, set())
        try:
            produced = decide(command, state, recorded_ids)
        except DomainError as error:  # pragma: no cover - the failure message is the point
            pytest.fail(f"#{position} {event.type} refused: {error.code}")
        assert produced, f"#{position} {event.type} was taken for a re-sent event"
        for recorded in produced:
            state = evolve(state, recorded)
            recorded_ids.add(recorded.event_id)
        states[event.client_id] = state

    assert len(states) == CLIENTS


def test_a_review_of_an_unrecorded_crisis_would_be_refused_so_the_check_above_has_teeth(
    events: list[CareEvent],
) -> None:
    review = next(e for e in events if e.type == "PostventionReviewRecorded")
    earlier = [
        e
        for e in events
        if e.client_id == review.client_id
        and e.occurred_at < review.occurred_at
        and e.type != "CrisisContactRecorded"
    ]
    state = initial_state()
    ids: set[UUID] = set()
    for event in earlier:
        for recorded in decide(RecordCareEvent(event, now=event.occurred_at), state, ids):
            state = evolve(state, recorded)
            ids.add(recorded.event_id)

    with pytest.raises(UnknownCrisis):
        decide(RecordCareEvent(review, now=review.occurred_at), state, ids)


def test_events_stay_in_the_window_and_each_clients_come_in_time_order(
    events: list[CareEvent],
) -> None:
    assert all(START <= e.occurred_at <= START + timedelta(days=DAYS) for e in events)
    assert [e.occurred_at for e in events] == sorted(e.occurred_at for e in events)
    for stream in by_client(events).values():
        assert stream[0].type == "ClientEnrolled"


# --- realistic circles of care --------------------------------------------------------------------


def test_the_stream_holds_every_kind_of_care_event(events: list[CareEvent]) -> None:
    types = Counter(e.type for e in events)
    instruments = {e.data.instrument for e in events if e.type == "AssessmentRecorded"}

    assert set(types) >= REQUIRED_TYPES, sorted(REQUIRED_TYPES - set(types))
    assert {"PHQ-9", "GAD-7", "AUDIT-C", "DAST-10", "C-SSRS-SCREEN", "BAM"} <= instruments


def test_every_actor_is_a_member_of_the_staff_in_their_role_and_org(
    events: list[CareEvent],
) -> None:
    staff = staff_for(CLIENTS)
    members = {
        (m.id, m.role, m.org)
        for pool in (
            staff.counselors,
            staff.peers,
            staff.case_managers,
            staff.prescribers,
            staff.crisis_clinicians,
            *staff.receiving.values(),
        )
        for m in pool
    }

    assert {(e.actor.id, e.actor.role, e.actor.org) for e in events} <= members
    assert {e.actor.role for e in events if e.type == "ClientEnrolled"} == {"counselor"}
    assert {e.actor.role for e in events if e.type == "CrisisContactRecorded"} == {
        "crisis_clinician"
    }
    assert {e.actor.role for e in events if e.type == "HandoffInitiated"} == {"case_manager"}


def test_caseloads_overlap_across_a_small_staff_pool(events: list[CareEvent]) -> None:
    caseloads: dict[str, set[UUID]] = defaultdict(set)
    for e in events:
        if e.type == "CareTeamMemberAssigned":
            caseloads[e.data.member_id].add(e.client_id)

    counselors = {m: c for m, c in caseloads.items() if m.startswith("counselor-")}
    assert len(counselors) <= len(staff_for(CLIENTS).counselors)
    assert max(len(clients) for clients in counselors.values()) >= 3


def test_handoffs_are_accepted_or_declined_by_the_receiving_organization(
    events: list[CareEvent],
) -> None:
    to_org = {e.data.handoff_id: e.data.to_org for e in events if e.type == "HandoffInitiated"}
    decisions = [e for e in events if e.type in ("HandoffAccepted", "HandoffDeclined")]

    assert decisions
    assert all(e.actor.org == to_org[e.data.handoff_id] for e in decisions)
    assert all(e.actor.org != "northside-case-mgmt" for e in decisions)


def test_each_crisis_is_followed_by_a_safety_plan_and_a_review_usually_within_72_hours(
    events: list[CareEvent],
) -> None:
    crises = [e for e in events if e.type == "CrisisContactRecorded"]
    delays = []
    for crisis in crises:
        later = [
            e
            for e in events
            if e.client_id == crisis.client_id and e.occurred_at >= crisis.occurred_at
        ]
        near_the_end = crisis.occurred_at > START + timedelta(days=DAYS - 6)
        plans = [e for e in later if e.type in ("SafetyPlanRecorded", "SafetyPlanRevised")]
        reviews = [
            e
            for e in later
            if e.type == "PostventionReviewRecorded" and e.data.crisis_id == crisis.data.crisis_id
        ]
        assert (plans and reviews) or near_the_end
        delays += [reviews[0].occurred_at - crisis.occurred_at] if reviews else []

    assert crises
    assert all(delay <= timedelta(days=6) for delay in delays)
    assert any(delay <= timedelta(hours=72) for delay in delays)


def test_check_ins_drift_and_some_clients_deteriorate() -> None:
    check_ins: dict[object, list[dict[str, Any]]] = defaultdict(list)
    for payload in care_events(clients=80, days=DAYS, seed=SEED, start=START):
        if payload["type"] == "CheckInRecorded":
            check_ins[payload["client_id"]].append(payload["data"])

    sliding = 0
    for series in check_ins.values():
        if len(series) >= 20:
            first, last = series[:7], series[-7:]
            craving_rose = mean(c["craving"] for c in last) >= mean(c["craving"] for c in first) + 2
            sleep_fell = mean(c["sleep_hours"] for c in last) < mean(
                c["sleep_hours"] for c in first
            )
            sliding += craving_rose and sleep_fell

    assert len({tuple(c["craving"] for c in series) for series in check_ins.values()}) > 1
    assert sliding >= 1


def test_about_a_third_of_clients_are_in_a_part2_program_and_consent_to_share(
    events: list[CareEvent],
) -> None:
    enrolled = [e for e in events if e.type == "ClientEnrolled"]
    part2 = {e.client_id for e in enrolled if e.data.part2}
    consenting = {e.client_id for e in events if e.type == "ConsentGranted"}

    assert 0.1 <= len(part2) / len(enrolled) <= 0.5
    assert consenting == part2


def test_identities_are_invented_and_phones_are_fictional(events: list[CareEvent]) -> None:
    for e in events:
        if e.type == "ClientEnrolled":
            assert e.data.given_name in GIVEN_NAMES
            assert e.data.family_name in FAMILY_NAMES
            assert e.data.phone is None or e.data.phone.startswith("555-01")


def test_nothing_but_a_readmission_follows_a_discharge(events: list[CareEvent]) -> None:
    for stream in by_client(events).values():
        closed = False
        for e in stream:
            if closed:
                assert e.type in ("ClientReadmitted", "PostventionReviewRecorded")
            if e.type == "EpisodeClosed":
                closed = True
            elif e.type == "ClientReadmitted":
                closed = False


# --- through the port -----------------------------------------------------------------------------


class RecordingPort:
    """A port that keeps every batch and says each command stored one event."""

    def __init__(self) -> None:
        self.batches: list[list[RecordCareEvent]] = []

    def __call__(self, commands: Sequence[RecordCareEvent]) -> int:
        self.batches.append(list(commands))
        return len(commands)


def test_simulate_sends_the_stream_in_batches_with_now_a_few_seconds_after_each_event() -> None:
    port = RecordingPort()

    summary = simulate(port, clients=6, days=14, seed=3, start=START, batch_size=50)

    sent = [c for batch in port.batches for c in batch]
    stream = list(care_events(clients=6, days=14, seed=3, start=START))
    assert [str(c.event.event_id) for c in sent] == [p["event_id"] for p in stream]
    assert all(len(batch) <= 50 for batch in port.batches)
    assert all(timedelta(0) < c.now - c.event.occurred_at <= timedelta(seconds=15) for c in sent)
    assert summary == SimulationSummary(
        clients=6,
        events=len(sent),
        commands=len(sent),
        by_type=dict(Counter(p["type"] for p in stream)),
    )


def test_the_summary_log_carries_counts_and_never_names() -> None:
    names = set(GIVEN_NAMES) | set(FAMILY_NAMES)

    with capture_logs() as logs:
        simulate(RecordingPort(), clients=4, days=7, seed=9, start=START)

    finished = [entry for entry in logs if entry["event"] == "simulation.finished"]
    assert len(finished) == 1
    assert finished[0]["count"] > 0
    assert not any(name in str(entry) for entry in logs for name in names)


class FakeHandler:
    """Stands in for CareRecordHandler.record_batch: stores all but ClientReadmitted twice."""

    def __init__(self) -> None:
        self.commands = 0

    def record_batch(
        self, commands: Sequence[RecordCareEvent]
    ) -> tuple[list[object], list[object]]:
        self.commands += len(commands)
        stored: list[object] = []
        for command in commands:
            stored.append(command.event)
            if command.event.type in ("ClientEnrolled", "ClientReadmitted"):
                stored.append("EpisodeOpened")
        return stored, []


def test_run_simulation_counts_what_the_handler_stored() -> None:
    handler = FakeHandler()

    summary = run_simulation(handler, clients=5, days=10, seed=2, start=START)  # type: ignore[arg-type]

    openings = summary.by_type.get("ClientEnrolled", 0) + summary.by_type.get("ClientReadmitted", 0)
    assert summary.commands == handler.commands == sum(summary.by_type.values())
    assert summary.events == summary.commands + openings
