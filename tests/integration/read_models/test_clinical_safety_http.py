"""Clinical safety over HTTP on the real stack: each failure a clinician found in the early
warnings, told as a story and shown fixed. The read side runs step by step on the test's clock
(`ReadSide.settle`), so time-based rules fire when the story moves the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.wiring import Runtime, build_api
from tests.integration.read_models.support import ReadSide
from tests.stories import CASE_MANAGER, COUNSELOR, PEER, Person, Story

SUPERVISOR = Person("sup-ana", "supervisor", COUNSELOR.org)
NO, YES = False, True


@pytest.fixture(scope="module")
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(build_api(runtime), raise_server_exceptions=False) as client:
        yield client


def told(story: Story, api: TestClient, runtime: Runtime) -> Story:
    story.over_http(api, runtime.settings)
    return story


def a_client(read_side: ReadSide, api: TestClient, runtime: Runtime) -> Story:
    """Enrolled by the counselor, with the counselor and a peer specialist on the team."""
    story = Story(clock=read_side.clock).by(COUNSELOR).at().enrolled().team(COUNSELOR, PEER)
    return told(story, api, runtime)


def flags(read_side: ReadSide, story: Story, rule_id: str) -> list[Any]:
    read_side.settle()
    assert story.client_id is not None
    return [f for f in read_side.flags_of(story.client_id) if f.rule_id == rule_id]


def post(api: TestClient, runtime: Runtime, path: str, who: Person, **body: Any) -> Any:
    return api.post(path, json=body, headers=who.headers(runtime.settings))


def test_a_negative_screen_ten_minutes_later_clears_sui_2_and_only_a_clinician_resolves_it(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a high C-SSRS screen, and a negative one ten minutes later
    story = a_client(read_side, api, runtime)
    told(story.at().assessment("C-SSRS-SCREEN", [YES, YES, NO, YES, NO, NO]), api, runtime)
    (raised,) = flags(read_side, story, "SUI-2")
    assert (raised.severity, raised.status) == ("high", "open")
    read_side.clock.advance(minutes=10)
    told(story.at().assessment("C-SSRS-SCREEN", [NO, NO, NO, NO, NO, NO]), api, runtime)

    # then the flag is cleared, not resolved: a person still has to look
    (cleared,) = flags(read_side, story, "SUI-2")
    assert cleared.status == "cleared"
    path = f"/v1/flags/{cleared.flag_id}/resolve"

    # when a peer specialist resolves it: 403; without a note: 422
    by_peer = post(api, runtime, path, PEER, note="talked it through")
    assert (by_peer.status_code, by_peer.json()["code"]) == (403, "forbidden")
    no_note = post(api, runtime, path, COUNSELOR)
    assert (no_note.status_code, no_note.json()["code"]) == (422, "validation_error")
    blank = post(api, runtime, path, COUNSELOR, note="   ")
    assert blank.status_code == 422

    # when the counselor resolves it with a note, it is resolved by the counselor
    resolved = post(api, runtime, path, COUNSELOR, note="Seen in person; plan reviewed")
    assert resolved.status_code == 201, resolved.text
    (closed,) = flags(read_side, story, "SUI-2")
    assert (closed.status, closed.resolved_by) == ("resolved", COUNSELOR.sub)
    again = post(api, runtime, path, COUNSELOR, note="again")
    assert (again.status_code, again.json()["code"]) == (409, "flag_already_closed")


def test_acknowledging_twice_stores_nothing_the_second_time(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    told(story.at().assessment("PHQ-9", [1, 1, 1, 1, 1, 1, 1, 1, 2]), api, runtime)
    (flag,) = flags(read_side, story, "SUI-1")
    path = f"/v1/flags/{flag.flag_id}/acknowledge"
    head = runtime.store.head()

    first = post(api, runtime, path, COUNSELOR, note="calling now")
    second = post(api, runtime, path, PEER)

    assert (first.status_code, second.status_code) == (201, 200)
    assert second.json()["event_id"] == first.json()["event_id"]
    assert runtime.store.head() == head + 1
    (acknowledged,) = flags(read_side, story, "SUI-1")
    assert (acknowledged.status, acknowledged.acknowledged_by) == ("acknowledged", COUNSELOR.sub)


def test_a_low_or_moderate_flag_still_resolves_itself_when_its_condition_clears(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    told(story.at().assessment("C-SSRS-SCREEN", [YES, YES, YES, NO, NO, NO]), api, runtime)
    (moderate,) = flags(read_side, story, "SUI-2")
    assert moderate.severity == "moderate"
    read_side.clock.advance(hours=1)
    told(story.at().assessment("C-SSRS-SCREEN", [NO, NO, NO, NO, NO, NO]), api, runtime)
    assert [f.status for f in flags(read_side, story, "SUI-2")] == ["resolved"]


def test_flags_survive_discharge_and_raise_dis_1_and_an_overdose_after_discharge_raises_od_1(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given an imminent-risk crisis whose flags are open after three days
    story = a_client(read_side, api, runtime)
    crisis = {
        "channel": "call",
        "risk_level": "imminent",
        "suicidality": True,
        "overdose_danger": False,
        "disposition": "mobile team sent",
    }
    told(story.by(COUNSELOR).at().crisis("crisis-1", **crisis), api, runtime)
    read_side.clock.advance(days=3, hours=1)
    read_side.settle()
    assert story.client_id is not None
    before = {f.rule_id: f.status for f in read_side.flags_of(story.client_id)}
    assert before.get("SUI-3") == "open"
    assert before.get("CRS-1") == "open"

    # when the episode is closed the same day
    told(story.at().discharged("moved away"), api, runtime)
    read_side.settle()

    # then no flag is resolved, and the supervisors hear of the open risk
    after = {f.rule_id: f.status for f in read_side.flags_of(story.client_id)}
    for rule_id, status in before.items():
        assert after[rule_id] == status, rule_id
    (dis_1,) = flags(read_side, story, "DIS-1")
    assert (dis_1.severity, dis_1.status) == ("high", "open")
    seen = api.get(
        "/v1/flags",
        params={"org": SUPERVISOR.org, "severity": "high"},
        headers=SUPERVISOR.headers(runtime.settings),
    )
    assert dis_1.flag_id in [f["flag_id"] for f in seen.json()["items"]]

    # and an overdose after discharge raises OD-1 as before
    read_side.clock.advance(days=2)
    overdose = {"fatal": False, "naloxone_used": True, "ed_visit": True}
    told(story.at().event("OverdoseReported", **overdose), api, runtime)
    assert [f.status for f in flags(read_side, story, "OD-1")] == ["open"]
    assert UUID(dis_1.flag_id)


def test_a_withdrawn_safety_plan_reopens_sui_3(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a moderate screen, SUI-3 a day later, and then a safety plan
    story = a_client(read_side, api, runtime)
    told(story.at().assessment("C-SSRS-SCREEN", [YES, YES, YES, NO, NO, NO]), api, runtime)
    read_side.clock.advance(hours=24)
    assert [f.status for f in flags(read_side, story, "SUI-3")] == ["open"]
    plan = {
        "warning_signs": ["not sleeping"],
        "coping_strategies": ["walk"],
        "crisis_lines": ["988"],
    }
    told(story.at().safety_plan(**plan), api, runtime)
    plan_id = story.last["event_id"]
    assert [f.status for f in flags(read_side, story, "SUI-3")] == ["cleared"]

    # when the plan is marked entered in error (it was another client's)
    read_side.clock.advance(hours=1)
    story.at().event("EntryEnteredInError", target_event_id=plan_id, reason="wrong client")
    told(story, api, runtime)

    # then SUI-3 is open again
    assert [f.status for f in flags(read_side, story, "SUI-3")] == ["open"]


def test_an_unacknowledged_critical_flag_raises_esc_1_after_the_hour(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    crisis = {
        "channel": "call",
        "risk_level": "imminent",
        "suicidality": False,
        "overdose_danger": False,
        "disposition": "mobile team sent",
    }
    told(story.by(COUNSELOR).at().crisis("crisis-9", **crisis), api, runtime)
    (critical,) = [f for f in flags(read_side, story, "CRS-2") if f.severity == "critical"]
    start = critical.raised_at

    read_side.clock.now = start + timedelta(hours=1) - timedelta(seconds=1)
    assert flags(read_side, story, "ESC-1") == []
    read_side.clock.now = start + timedelta(hours=1)
    (escalated,) = flags(read_side, story, "ESC-1")
    assert critical.flag_id in escalated.reason
    seen = api.get(
        "/v1/flags",
        params={"org": SUPERVISOR.org, "status": "open"},
        headers=SUPERVISOR.headers(runtime.settings),
    )
    assert escalated.flag_id in [f["flag_id"] for f in seen.json()["items"]]


def test_crs_2_fires_at_the_follow_up_time_the_clinician_set(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    due = read_side.clock() + timedelta(hours=24)
    crisis = {
        "channel": "call",
        "risk_level": "moderate",
        "suicidality": False,
        "overdose_danger": False,
        "disposition": "stabilized at home",
        "follow_up_due_at": due.isoformat(),
    }
    told(story.by(COUNSELOR).at().crisis("crisis-2", **crisis), api, runtime)

    read_side.clock.now = due - timedelta(seconds=1)
    assert flags(read_side, story, "CRS-2") == []
    read_side.clock.now = due
    (late,) = flags(read_side, story, "CRS-2")
    assert (late.severity, late.status) == ("high", "open")


def test_the_case_managers_sleep_clinic_appointment_is_recorded(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    story.by(COUNSELOR).at().team(CASE_MANAGER)
    story.by(CASE_MANAGER).appointment_scheduled("sleep-eval", "sleep_clinic", story.when(days=2))
    answers = told_answers(story, api, runtime)  # each answered 201, or the story fails
    assert answers[-1]["event_id"] == story.last["event_id"]
    other = post(
        api,
        runtime,
        f"/v1/clients/{story.client_id}/events",
        CASE_MANAGER,
        type="AppointmentScheduled",
        occurred_at=read_side.clock().isoformat(),
        data={
            "appointment_id": "x",
            "kind": "other",
            "scheduled_for": story.when(days=3).isoformat(),
        },
    )
    assert (other.status_code, other.json()["code"]) == (422, "validation_error")


def told_answers(story: Story, api: TestClient, runtime: Runtime) -> list[Any]:
    return story.over_http(api, runtime.settings)


def test_an_empty_safety_plan_is_refused(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    answer = post(
        api,
        runtime,
        f"/v1/clients/{story.client_id}/events",
        COUNSELOR,
        type="SafetyPlanRecorded",
        occurred_at=read_side.clock().isoformat(),
        data={"warning_signs": [], "coping_strategies": [], "crisis_lines": []},
    )
    assert (answer.status_code, answer.json()["code"]) == (422, "incomplete_safety_plan")


def test_a_clients_death_raises_pv_1_for_the_supervisors_and_a_death_review_clears_it(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    died_on = read_side.clock().date().isoformat()
    story.by(COUNSELOR).at().event("ClientDied", died_on=died_on, cause="overdose", source="ED")
    told(story, api, runtime)
    (pv_1,) = flags(read_side, story, "PV-1")
    assert (pv_1.severity, pv_1.status) == ("critical", "open")

    read_side.clock.advance(hours=30)
    review = {"kind": "death", "reviewers": [SUPERVISOR.sub, COUNSELOR.sub]}
    told(story.by(COUNSELOR).at().event("PostventionReviewRecorded", **review), api, runtime)
    assert [f.status for f in flags(read_side, story, "PV-1")] == ["cleared"]
