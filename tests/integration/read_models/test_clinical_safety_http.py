"""Clinical safety over HTTP on the real stack: each failure a clinician found in the early
warnings, told as a story and shown fixed. The read side runs step by step on the test's clock
(`ReadSide.settle`), so time-based rules fire when the story moves the clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from fastapi.testclient import TestClient

from services.wiring import Runtime, build_api
from tests.integration.read_models.support import ReadSide
from tests.stories import CASE_MANAGER, COUNSELOR, PEER, PRESCRIBER, Person, Story

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


# ---------------------------------------------------------------- scoring as published, over HTTP


def record_of(api: TestClient, runtime: Runtime, story: Story) -> Any:
    answer = api.get(f"/v1/clients/{story.client_id}", headers=COUNSELOR.headers(runtime.settings))
    assert answer.status_code == 200, answer.text
    return answer.json()


def latest(api: TestClient, runtime: Runtime, story: Story, instrument: str) -> Any:
    """The record's latest administration of the instrument (total and band as scored)."""
    (found,) = [
        a for a in record_of(api, runtime, story)["assessments"] if a["instrument"] == instrument
    ]
    return found


def refused(
    api: TestClient, runtime: Runtime, story: Story, type_: str, **data: Any
) -> tuple[int, str, str]:
    """Post one event the record should refuse: its status, code and detail."""
    answer = post(
        api,
        runtime,
        f"/v1/clients/{story.client_id}/events",
        COUNSELOR,
        type=type_,
        occurred_at=story.clock().isoformat(),
        data=data,
    )
    problem = answer.json()
    return answer.status_code, problem["code"], problem.get("detail", "")


def test_a_phq9_with_a_blank_item_is_stored_as_incomplete_and_item_9_still_raises_sui_1(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a PHQ-9 whose second item was left blank and whose item 9 is 2
    story = a_client(read_side, api, runtime)

    # when it is recorded, it is stored (201, or the story fails)
    told(story.at().assessment("PHQ-9", [1, None, 1, 1, 1, 1, 1, 1, 2]), api, runtime)

    # then the record keeps the answered items, never prorates, and says the total is incomplete
    phq9 = latest(api, runtime, story, "PHQ-9")
    assert (phq9["total"], phq9["band"]) == (9, "incomplete")
    # and the positive item 9 still raises SUI-1: a C-SSRS is due the same day
    (sui_1,) = flags(read_side, story, "SUI-1")
    assert (sui_1.severity, sui_1.status) == ("high", "open")


def test_item_9_answered_0_the_next_day_clears_sui_1_and_only_a_person_resolves_it(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a PHQ-9 with item 9 = 2, and the next day one with item 9 = 0 (no C-SSRS done)
    story = a_client(read_side, api, runtime)
    told(story.at().assessment("PHQ-9", [1, 1, 1, 1, 0, 0, 0, 0, 2]), api, runtime)
    (raised,) = flags(read_side, story, "SUI-1")
    assert (raised.severity, raised.status) == ("high", "open")
    read_side.clock.advance(days=1)
    told(story.at().assessment("PHQ-9", [1, 1, 1, 1, 0, 0, 0, 0, 0]), api, runtime)

    # then SUI-1 is cleared, not resolved: nobody has looked yet
    (cleared,) = flags(read_side, story, "SUI-1")
    assert (cleared.status, cleared.resolved_by) == ("cleared", None)

    # and the C-SSRS the rule waited for does not resolve it either
    told(story.at().assessment("C-SSRS-SCREEN", [NO, NO, NO, NO, NO, NO]), api, runtime)
    assert [f.status for f in flags(read_side, story, "SUI-1")] == ["cleared"]

    # when the counselor who did the screen resolves it with a note, it is resolved by them
    path = f"/v1/flags/{cleared.flag_id}/resolve"
    resolved = post(api, runtime, path, COUNSELOR, note="C-SSRS negative; seen in person")
    assert resolved.status_code == 201, resolved.text
    (closed,) = flags(read_side, story, "SUI-1")
    assert (closed.status, closed.resolved_by) == ("resolved", COUNSELOR.sub)


@pytest.mark.parametrize(
    ("sex_at_birth", "sheets"),
    [
        # Bush et al. 1998 / Bradley et al. 2007: positive from 4 for men, from 3 for women
        (
            "male",
            [([1, 1, 1], "negative"), ([1, 2, 1], "positive"), ([4, 0, 0], "within_limits_review")],
        ),
        (
            "female",
            [([1, 1, 0], "negative"), ([1, 1, 1], "positive"), ([3, 0, 0], "within_limits_review")],
        ),
        # sex at birth not told at enrollment: the lower cut-off of 3, so nobody is missed
        (None, [([1, 1, 0], "negative"), ([1, 1, 1], "positive")]),
    ],
)
def test_audit_c_takes_the_cut_off_of_the_sex_at_birth_told_at_enrollment(
    read_side: ReadSide,
    api: TestClient,
    runtime: Runtime,
    sex_at_birth: str | None,
    sheets: list[tuple[list[int], str]],
) -> None:
    # given a client enrolled with (or without) their sex at birth
    story = Story(clock=read_side.clock).by(COUNSELOR).at().enrolled(sex_at_birth=sex_at_birth)
    told(story.team(COUNSELOR), api, runtime)
    for answers, band in sheets:
        # when an AUDIT-C is recorded, then the record scores it with that cut-off
        told(story.at().assessment("AUDIT-C", answers), api, runtime)
        scored = latest(api, runtime, story, "AUDIT-C")
        assert (scored["total"], scored["band"]) == (sum(answers), band), answers


def test_a_cssrs_screen_its_skip_logic_excludes_is_refused_naming_the_item(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a client whose screener answers Q2 (non-specific active thoughts) "no"
    story = a_client(read_side, api, runtime)
    head = runtime.store.head()

    # when Q3 (a method) is answered "yes" anyway, which the screener's skip logic excludes
    skipped = [YES, NO, YES, NO, NO, NO]
    status, code, detail = refused(
        api, runtime, story, "AssessmentRecorded", instrument="C-SSRS-SCREEN", answers=skipped
    )

    # then it is refused naming the item, and nothing is stored
    assert (status, code) == (422, "invalid_answers")
    assert "item 3" in detail
    assert runtime.store.head() == head
    # and the same screen with Q3-5 left blank is recorded
    told(story.at().assessment("C-SSRS-SCREEN", [YES, NO, None, None, None, NO]), api, runtime)
    assert latest(api, runtime, story, "C-SSRS-SCREEN")["band"] == "low"


@pytest.mark.parametrize("income", [1, 2, 3])
def test_a_bam_whose_item_14_is_not_0_or_4_is_refused(
    read_side: ReadSide, api: TestClient, runtime: Runtime, income: int
) -> None:
    # given a BAM whose item 14 (income from work) takes a value other than 0 or 4
    story = a_client(read_side, api, runtime)
    sheet = [1, 1, 1, 0, 0, 0, 0, 1, 3, 3, 1, 3, 3, income, 1, 2, 0]

    # when it is recorded, then it is refused naming item 14 (VA BAM manual: 0 or 4 only)
    status, code, detail = refused(
        api, runtime, story, "AssessmentRecorded", instrument="BAM", answers=sheet
    )
    assert (status, code) == (422, "invalid_answers")
    assert "item 14" in detail


# ---------------------------------------------------------------- the missing rules, over HTTP


def crisis_details(risk_level: str, **more: Any) -> dict[str, Any]:
    """A crisis contact's data: by phone, neither suicidal nor an overdose danger unless told."""
    return {
        "channel": "call",
        "risk_level": risk_level,
        "suicidality": False,
        "overdose_danger": False,
        "disposition": "stabilized at home",
        **more,
    }


FULL_PLAN: dict[str, list[str]] = {
    "warning_signs": ["not sleeping"],
    "coping_strategies": ["walk"],
    "crisis_lines": ["988"],
}


def enrolled_days_ago(read_side: ReadSide, api: TestClient, runtime: Runtime, days: float) -> Story:
    story = Story(clock=read_side.clock).by(COUNSELOR).at(days=-days).enrolled()
    return told(story.team(COUNSELOR, PEER), api, runtime)


def test_use_after_30_days_without_use_raises_use_1_high_for_opioids_and_moderate_otherwise(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given clients enrolled 31 and 29 days ago who have reported no use since
    back_on_fentanyl = enrolled_days_ago(read_side, api, runtime, 31)
    back_on_alcohol = enrolled_days_ago(read_side, api, runtime, 31)
    too_soon = enrolled_days_ago(read_side, api, runtime, 29)

    # when each reports use at a check-in
    for story, substance in (
        (back_on_fentanyl, "fentanyl"),
        (back_on_alcohol, "alcohol"),
        (too_soon, "alcohol"),
    ):
        story.by(PEER).at().check_in(4, 8, 5, used=True, substances=[substance])
        told(story, api, runtime)

    # then return to use after 30 days raises USE-1: high for an opioid (lost tolerance)
    (opioid,) = flags(read_side, back_on_fentanyl, "USE-1")
    assert (opioid.severity, opioid.status) == ("high", "open")
    (alcohol,) = flags(read_side, back_on_alcohol, "USE-1")
    assert (alcohol.severity, alcohol.status) == ("moderate", "open")
    # and after 29 days it does not
    assert flags(read_side, too_soon, "USE-1") == []

    # when the 14 days the flag is held have passed
    read_side.clock.advance(days=14)

    # then the moderate flag resolves itself and the high one waits for a person
    assert [f.status for f in flags(read_side, back_on_alcohol, "USE-1")] == ["resolved"]
    assert [f.status for f in flags(read_side, back_on_fentanyl, "USE-1")] == ["cleared"]


def test_spr_1_a_high_risk_crisis_without_a_plan_revision_in_72_hours(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a high-risk crisis and, at the same time, a moderate one
    story = a_client(read_side, api, runtime)
    start = read_side.clock()
    told(story.by(COUNSELOR).on(start).crisis("spr-high", **crisis_details("high")), api, runtime)
    high_id = story.last["event_id"]
    told(story.crisis("spr-moderate", **crisis_details("moderate")), api, runtime)

    # when 72 hours pass without a safety plan recorded or revised
    read_side.clock.now = start + timedelta(hours=72) - timedelta(seconds=1)
    assert flags(read_side, story, "SPR-1") == []
    read_side.clock.now = start + timedelta(hours=72)

    # then SPR-1 is raised for the high-risk crisis only
    (spr_1,) = flags(read_side, story, "SPR-1")
    assert (spr_1.severity, spr_1.status) == ("moderate", "open")
    assert [str(e) for e in spr_1.evidence_event_ids] == [high_id]

    # when the plan is revised, then SPR-1 (moderate) resolves itself
    told(story.at().event("SafetyPlanRevised", **FULL_PLAN), api, runtime)
    assert [f.status for f in flags(read_side, story, "SPR-1")] == ["resolved"]


def test_cc_1_caring_contacts_weekly_in_the_first_month_after_discharge(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a client discharged after completing treatment
    story = a_client(read_side, api, runtime)
    discharged = read_side.clock()
    told(story.on(discharged).discharged("completed treatment"), api, runtime)
    week = timedelta(days=7)

    # when a week passes without a caring contact, then CC-1 is raised at the 7th day
    read_side.clock.now = discharged + week - timedelta(seconds=1)
    assert flags(read_side, story, "CC-1") == []
    read_side.clock.now = discharged + week
    (first,) = flags(read_side, story, "CC-1")
    assert (first.severity, first.status) == ("moderate", "open")

    # when the peer sends a caring text, then the flag resolves itself
    told(story.by(PEER).at().caring_contact("text"), api, runtime)
    assert [f.status for f in flags(read_side, story, "CC-1")] == ["resolved"]

    # and another week of silence raises it again
    read_side.clock.now = discharged + 2 * week
    statuses = sorted(f.status for f in flags(read_side, story, "CC-1"))
    assert statuses == ["open", "resolved"]

    # when the last contact of the month goes out on day 24, then nothing is due after the month
    read_side.clock.now = discharged + timedelta(days=24)
    told(story.at().caring_contact("letter", "check_in_invitation"), api, runtime)
    read_side.clock.now = discharged + timedelta(days=32)
    assert sorted(f.status for f in flags(read_side, story, "CC-1")) == ["resolved", "resolved"]


# ---------------------------------------------------------------- crisis follow-up, over HTTP


def test_an_imminent_risk_crisis_is_critical_at_once_until_a_plan_and_a_follow_up_exist(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given an imminent-risk crisis contact
    story = a_client(read_side, api, runtime)
    start = read_side.clock()
    told(story.on(start).crisis("imminent-1", **crisis_details("imminent")), api, runtime)

    # then CRS-2 is critical at once, not 24 hours later
    (critical,) = [f for f in flags(read_side, story, "CRS-2") if f.severity == "critical"]
    assert (critical.status, critical.raised_at) == ("open", start)

    # when a safety plan is recorded it is still open (no follow-up scheduled yet)
    told(story.at().safety_plan(**FULL_PLAN), api, runtime)
    assert [f.status for f in flags(read_side, story, "CRS-2")] == ["open"]

    # when the follow-up is scheduled, then it is cleared: a person resolves a critical flag
    told(story.appointment_scheduled("follow-1", "counseling", story.when(days=1)), api, runtime)
    assert [f.status for f in flags(read_side, story, "CRS-2")] == ["cleared"]


def test_a_crisis_with_overdose_danger_opens_the_od_1_window(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a moderate crisis in which the client was in danger of overdose
    story = a_client(read_side, api, runtime)
    details = crisis_details("moderate", overdose_danger=True)
    told(story.at().crisis("od-danger-1", **details), api, runtime)

    # then OD-1 is raised at once: no naloxone distributed in the window
    (od_1,) = flags(read_side, story, "OD-1")
    assert (od_1.severity, od_1.status) == ("high", "open")

    # when naloxone goes to the client with training, then it is cleared for a person
    told(
        story.by(PEER).at().naloxone(kits=2, recipient="client", training_given=True), api, runtime
    )
    assert [f.status for f in flags(read_side, story, "OD-1")] == ["cleared"]


@pytest.mark.parametrize(
    "discharge",
    [
        pytest.param(lambda s: s.transition("inpatient_discharge"), id="inpatient transition"),
        pytest.param(lambda s: s.transition("ed_discharge"), id="ED transition"),
        pytest.param(
            lambda s: s.overdose(fatal=False, naloxone_used=True, ed_visit=True),
            id="non-fatal overdose with an ED visit",
        ),
        pytest.param(
            lambda s: s.discharged("discharged from the inpatient detox unit"),
            id="episode closed from inpatient care",
        ),
    ],
)
def test_dis_2_a_discharge_from_acute_care_starts_the_48_hour_follow_up_clock(
    read_side: ReadSide, api: TestClient, runtime: Runtime, discharge: Any
) -> None:
    # given a client leaving inpatient or emergency care
    story = a_client(read_side, api, runtime)
    start = read_side.clock()
    told(discharge(story.by(COUNSELOR).on(start)), api, runtime)

    # when 48 hours pass without a follow-up contact, then DIS-2 is raised (high)
    read_side.clock.now = start + timedelta(hours=48) - timedelta(seconds=1)
    assert flags(read_side, story, "DIS-2") == []
    read_side.clock.now = start + timedelta(hours=48)
    (dis_2,) = flags(read_side, story, "DIS-2")
    assert (dis_2.severity, dis_2.status) == ("high", "open")

    # when the counselor reaches them, then it is cleared, waiting for a person to resolve it
    told(story.at().session("counseling", "phone", 20), api, runtime)
    assert [f.status for f in flags(read_side, story, "DIS-2")] == ["cleared"]


def test_an_overdose_without_an_ed_visit_starts_no_discharge_clock(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    start = read_side.clock()
    overdose = story.on(start).overdose(fatal=False, naloxone_used=True, ed_visit=False)
    told(overdose, api, runtime)
    read_side.clock.now = start + timedelta(hours=49)
    assert flags(read_side, story, "DIS-2") == []
    assert [f.status for f in flags(read_side, story, "OD-1")] == ["open"]


# ---------------------------------------------------------------- postvention, over HTTP


def history_data(api: TestClient, runtime: Runtime, story: Story, event_id: str) -> Any:
    answer = api.get(
        f"/v1/clients/{story.client_id}/events",
        params={"limit": 1000},
        headers=COUNSELOR.headers(runtime.settings),
    )
    assert answer.status_code == 200, answer.text
    (item,) = [i for i in answer.json()["items"] if i["event_id"] == event_id]
    return item["data"]


def test_a_crisis_review_names_its_reviewers_and_the_plan_change_it_decided(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a crisis contact, and the safety plan revised the next day
    story = a_client(read_side, api, runtime)
    start = read_side.clock()
    told(story.on(start).crisis("reviewed-1", **crisis_details("moderate")), api, runtime)
    read_side.clock.advance(hours=20)
    told(story.at().event("SafetyPlanRevised", **FULL_PLAN), api, runtime)
    revision = story.last["event_id"]

    # when a review is dated before the crisis it reviews, then it is refused
    before = post(
        api,
        runtime,
        f"/v1/clients/{story.client_id}/events",
        COUNSELOR,
        type="PostventionReviewRecorded",
        occurred_at=(start - timedelta(hours=1)).isoformat(),
        data={"kind": "crisis", "crisis_id": "reviewed-1", "reviewers": [COUNSELOR.sub]},
    )
    assert (before.status_code, before.json()["code"]) == (422, "review_before_crisis")
    # and a review naming a plan change that is not recorded for the client is refused
    status, code, _ = refused(
        api,
        runtime,
        story,
        "PostventionReviewRecorded",
        kind="crisis",
        crisis_id="reviewed-1",
        plan_change_event_ids=[str(uuid4())],
    )
    assert (status, code) == (422, "unknown_event")

    # when the counselor and the supervisor review it, naming the revision they decided
    story.at().postvention_review(
        "crisis",
        COUNSELOR,
        SUPERVISOR,
        crisis_id="reviewed-1",
        plan_change_event_ids=[revision],
        plan_changes=["add the sister as a contact"],
    )
    told(story, api, runtime)

    # then the review is stored as told, and CRS-1 never fires for that crisis
    data = history_data(api, runtime, story, story.last["event_id"])
    assert (data["kind"], data["reviewers"]) == ("crisis", [COUNSELOR.sub, SUPERVISOR.sub])
    assert data["plan_change_event_ids"] == [revision]
    read_side.clock.now = start + timedelta(hours=73)
    assert flags(read_side, story, "CRS-1") == []


def test_a_death_review_before_the_death_is_refused_and_one_after_clears_pv_1(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given the program learns a client died
    story = a_client(read_side, api, runtime)
    died = read_side.clock()
    told(story.on(died).died(died.date(), "suicide", "family"), api, runtime)
    (pv_1,) = flags(read_side, story, "PV-1")
    assert (pv_1.severity, pv_1.status) == ("critical", "open")

    # when a death review is dated the day before the date of death, then it is refused
    # (the date of death is a date: a review that day may precede the recording of the death)
    before = post(
        api,
        runtime,
        f"/v1/clients/{story.client_id}/events",
        COUNSELOR,
        type="PostventionReviewRecorded",
        occurred_at=(died - timedelta(days=1)).isoformat(),
        data={"kind": "death", "reviewers": [SUPERVISOR.sub]},
    )
    assert (before.status_code, before.json()["code"]) == (422, "review_before_crisis")

    # when the supervisors' review follows within 72 h, then PV-1 is cleared for a person
    read_side.clock.advance(hours=48)
    told(story.at().postvention_review("death", SUPERVISOR, COUNSELOR), api, runtime)
    data = history_data(api, runtime, story, story.last["event_id"])
    assert (data["kind"], data["reviewers"]) == ("death", [SUPERVISOR.sub, COUNSELOR.sub])
    assert [f.status for f in flags(read_side, story, "PV-1")] == ["cleared"]


# ---------------------------------------------------------------- the caseload and flag statuses


def caseload_row(api: TestClient, runtime: Runtime, read_side: ReadSide, story: Story) -> Any:
    """The story's client on the counselor's caseload (None: not on it)."""
    read_side.settle()
    answer = api.get(
        f"/v1/caseloads/{COUNSELOR.sub}",
        params={"min_position": runtime.store.head()},
        headers=COUNSELOR.headers(runtime.settings),
    )
    assert answer.status_code == 200, answer.text
    rows = [r for r in answer.json()["clients"] if r["client_id"] == str(story.client_id)]
    return rows[0] if rows else None


def flag_counts(row: Any) -> tuple[int, int, int, str | None]:
    return (
        row["open_flags"],
        row["unacknowledged_flags"],
        row["cleared_flags"],
        row["highest_severity"],
    )


def test_a_cleared_flag_stays_on_the_caseload_until_a_person_resolves_it_even_after_discharge(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a high C-SSRS screen: SUI-2 high, nobody has acted yet
    story = a_client(read_side, api, runtime)
    told(story.at().assessment("C-SSRS-SCREEN", [YES, YES, NO, YES, NO, NO]), api, runtime)
    row = caseload_row(api, runtime, read_side, story)
    assert (row["in_care"], *flag_counts(row)) == (True, 1, 1, 0, "high")

    # when a negative screen clears it, then it still counts (a person must resolve it), no
    # longer as unacknowledged but as cleared, and keeps its severity
    read_side.clock.advance(minutes=10)
    told(story.at().assessment("C-SSRS-SCREEN", [NO] * 6), api, runtime)
    row = caseload_row(api, runtime, read_side, story)
    assert flag_counts(row) == (1, 0, 1, "high")

    # when the client is discharged, then the client stays on the caseload, out of care, with
    # the cleared SUI-2 and the DIS-1 the discharge raised
    told(story.at().discharged("moved away"), api, runtime)
    row = caseload_row(api, runtime, read_side, story)
    assert (row["in_care"], *flag_counts(row)) == (False, 2, 1, 1, "high")
    assert row["next_due_at"] is None

    # when the counselor resolves SUI-2 and the supervisor the DIS-1 it cleared
    (sui_2,) = flags(read_side, story, "SUI-2")
    resolve = post(api, runtime, f"/v1/flags/{sui_2.flag_id}/resolve", COUNSELOR, note="seen")
    assert resolve.status_code == 201, resolve.text
    (dis_1,) = flags(read_side, story, "DIS-1")
    assert dis_1.status == "cleared"
    resolve = post(api, runtime, f"/v1/flags/{dis_1.flag_id}/resolve", SUPERVISOR, note="ok")
    assert resolve.status_code == 201, resolve.text

    # then nothing is left open and the discharged client leaves the caseload
    assert caseload_row(api, runtime, read_side, story) is None


CRISIS_CLINICIAN = Person("crisis-omar", "crisis_clinician", "county-crisis-line")
STRANGER = Person("counselor-far", "counselor", "elsewhere-counseling")


def test_who_may_resolve_a_high_flag_the_clinical_roles_with_a_relationship(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given two clients with a high C-SSRS screen each: SUI-2 high, then cleared
    first, second = a_client(read_side, api, runtime), a_client(read_side, api, runtime)
    told(first.by(COUNSELOR).at().team(CASE_MANAGER, PRESCRIBER), api, runtime)
    told(second.by(COUNSELOR).at().team(CRISIS_CLINICIAN), api, runtime)
    for story in (first, second):
        told(story.at().assessment("C-SSRS-SCREEN", [YES, YES, NO, YES, NO, NO]), api, runtime)
    read_side.settle()  # the rules see the high screens
    read_side.clock.advance(minutes=10)
    for story in (first, second):
        told(story.at().assessment("C-SSRS-SCREEN", [NO] * 6), api, runtime)
    (high,) = flags(read_side, first, "SUI-2")
    (other,) = flags(read_side, second, "SUI-2")
    assert (high.severity, high.status) == ("high", "cleared")
    resolve = f"/v1/flags/{high.flag_id}/resolve"

    # when the case manager on the team resolves it: 403, as for a peer specialist
    by_case_manager = post(api, runtime, resolve, CASE_MANAGER, note="called them")
    assert (by_case_manager.status_code, by_case_manager.json()["code"]) == (403, "forbidden")
    # when a counselor with no relationship to the client resolves it: refused, without even
    # learning that the flag exists
    by_stranger = post(api, runtime, resolve, STRANGER, note="not my client")
    assert (by_stranger.status_code, by_stranger.json()["code"]) == (404, "not_found")
    assert [f.status for f in flags(read_side, first, "SUI-2")] == ["cleared"]

    # when the prescriber on the team resolves it with a note: resolved by the prescriber
    by_prescriber = post(api, runtime, resolve, PRESCRIBER, note="seen at the clinic")
    assert by_prescriber.status_code == 201, by_prescriber.text
    (closed,) = flags(read_side, first, "SUI-2")
    assert (closed.status, closed.resolved_by) == ("resolved", PRESCRIBER.sub)

    # and a crisis clinician on the other client's team resolves theirs
    path = f"/v1/flags/{other.flag_id}/resolve"
    by_crisis_clinician = post(api, runtime, path, CRISIS_CLINICIAN, note="safety check done")
    assert by_crisis_clinician.status_code == 201, by_crisis_clinician.text


# ---------------------------------------------------------------- corrections and escalation


def withdrawn(story: Story, event_id: str) -> Story:
    return (
        story.by(COUNSELOR)
        .at()
        .event(
            "EntryEnteredInError", target_event_id=event_id, reason="recorded for the wrong client"
        )
    )


def test_withdrawn_naloxone_reopens_od_1(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a non-fatal overdose (OD-1 open), and naloxone distributed after it
    story = a_client(read_side, api, runtime)
    told(story.at().overdose(fatal=False, naloxone_used=True, ed_visit=False), api, runtime)
    assert [f.status for f in flags(read_side, story, "OD-1")] == ["open"]
    told(
        story.by(PEER).at().naloxone(kits=1, recipient="client", training_given=True), api, runtime
    )
    kit = story.last["event_id"]
    assert [f.status for f in flags(read_side, story, "OD-1")] == ["cleared"]

    # when the distribution is marked entered in error, then OD-1 is open again
    read_side.clock.advance(minutes=30)
    told(withdrawn(story, kit), api, runtime)
    assert [f.status for f in flags(read_side, story, "OD-1")] == ["open"]


def test_a_withdrawn_follow_up_session_reopens_crs_2(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a crisis with a follow-up due in 24 h, and a follow-up session 2 h after it
    story = a_client(read_side, api, runtime)
    start = read_side.clock()
    due = start + timedelta(hours=24)
    details = crisis_details("moderate", follow_up_due_at=due.isoformat())
    told(story.on(start).crisis("followed-1", **details), api, runtime)
    read_side.clock.now = start + timedelta(hours=2)
    told(story.at().session("counseling", "phone", 15), api, runtime)
    session = story.last["event_id"]
    read_side.clock.now = due + timedelta(hours=1)
    assert flags(read_side, story, "CRS-2") == []

    # when the session is marked entered in error, then CRS-2 fires: no follow-up by the due time
    told(withdrawn(story, session), api, runtime)
    (crs_2,) = flags(read_side, story, "CRS-2")
    assert (crs_2.severity, crs_2.status) == ("high", "open")


def test_a_withdrawn_postvention_review_reopens_crs_1(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a crisis reviewed 10 h later, and 73 h gone by
    story = a_client(read_side, api, runtime)
    start = read_side.clock()
    told(story.on(start).crisis("reviewed-2", **crisis_details("moderate")), api, runtime)
    read_side.clock.now = start + timedelta(hours=10)
    told(story.at().postvention_review("crisis", COUNSELOR, crisis_id="reviewed-2"), api, runtime)
    review_id = story.last["event_id"]
    read_side.clock.now = start + timedelta(hours=73)
    assert flags(read_side, story, "CRS-1") == []

    # when the review is marked entered in error, then CRS-1 fires: the crisis is unreviewed
    told(withdrawn(story, review_id), api, runtime)
    (crs_1,) = flags(read_side, story, "CRS-1")
    assert (crs_1.severity, crs_1.status) == ("moderate", "open")


def test_a_high_flag_nobody_acknowledges_overnight_raises_esc_1_after_24_hours(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given two clients with PHQ-9 item 9 positive (SUI-1 high) in the evening
    unseen, seen = a_client(read_side, api, runtime), a_client(read_side, api, runtime)
    for story in (unseen, seen):
        told(story.at().assessment("PHQ-9", [1, 1, 1, 1, 0, 0, 0, 0, 1]), api, runtime)
    (ignored,) = flags(read_side, unseen, "SUI-1")
    (answered,) = flags(read_side, seen, "SUI-1")
    # and the counselor acknowledges one of them that night
    ack = post(api, runtime, f"/v1/flags/{answered.flag_id}/acknowledge", COUNSELOR, note="call")
    assert ack.status_code == 201, ack.text

    # when the night and the next day pass, then the unacknowledged one escalates at 24 h
    read_side.clock.now = ignored.raised_at + timedelta(hours=24) - timedelta(seconds=1)
    assert flags(read_side, unseen, "ESC-1") == []
    read_side.clock.now = ignored.raised_at + timedelta(hours=24)
    (escalated,) = flags(read_side, unseen, "ESC-1")
    assert (escalated.severity, escalated.status) == ("high", "open")
    assert ignored.flag_id in escalated.reason
    # and the acknowledged one does not
    assert flags(read_side, seen, "ESC-1") == []


def test_crs_2_defaults_to_48_hours_for_a_high_risk_crisis_without_a_due_time(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    story = a_client(read_side, api, runtime)
    start = read_side.clock()
    told(story.on(start).crisis("high-1", **crisis_details("high")), api, runtime)
    read_side.clock.now = start + timedelta(hours=48) - timedelta(seconds=1)
    assert flags(read_side, story, "CRS-2") == []
    read_side.clock.now = start + timedelta(hours=48)
    (late,) = flags(read_side, story, "CRS-2")
    assert (late.severity, late.status) == ("high", "open")


def test_pv_1_asks_for_a_root_cause_review_within_45_days_of_a_death(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a death and the postvention review two days later
    story = a_client(read_side, api, runtime)
    died = read_side.clock()
    told(story.on(died).died(died.date(), "overdose", "medical examiner"), api, runtime)
    assert [f.severity for f in flags(read_side, story, "PV-1")] == ["critical"]
    read_side.clock.now = died + timedelta(days=2)
    told(story.at().postvention_review("death", SUPERVISOR), api, runtime)
    assert [f.status for f in flags(read_side, story, "PV-1")] == ["cleared"]

    # when 45 days pass without a second review, then PV-1 asks for the root-cause review (high)
    read_side.clock.now = died + timedelta(days=45) - timedelta(seconds=1)
    assert [f.severity for f in flags(read_side, story, "PV-1")] == ["critical"]
    read_side.clock.now = died + timedelta(days=45)
    root_cause = [f for f in flags(read_side, story, "PV-1") if f.severity == "high"]
    assert [f.status for f in root_cause] == ["open"]

    # when the root-cause review is recorded, then it is cleared for a supervisor to resolve
    told(story.at().postvention_review("death", SUPERVISOR, COUNSELOR), api, runtime)
    root_cause = [f for f in flags(read_side, story, "PV-1") if f.severity == "high"]
    assert [f.status for f in root_cause] == ["cleared"]


def test_audit_moves_to_the_next_zone_on_dependence_or_harm_answers_who_table_4(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a client whose AUDIT totals 4 (zone I) but answers 2 on question 4
    story = a_client(read_side, api, runtime)
    told(story.at().assessment("AUDIT", [1, 1, 0, 2, 0, 0, 0, 0, 0, 0]), api, runtime)
    # then the record puts them in zone II, as the WHO manual's next-zone rule says
    scored = latest(api, runtime, story, "AUDIT")
    assert (scored["total"], scored["band"]) == (4, "hazardous")
    # and 4 on question 10 (injury) moves a zone II total of 8 to zone III
    told(story.at().assessment("AUDIT", [2, 2, 0, 0, 0, 0, 0, 0, 0, 4]), api, runtime)
    scored = latest(api, runtime, story, "AUDIT")
    assert (scored["total"], scored["band"]) == (8, "harmful")


def test_a_crisis_after_discharge_raises_its_flags_as_before(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    # given a client discharged with nothing open
    story = a_client(read_side, api, runtime)
    told(story.at().discharged("completed treatment"), api, runtime)
    assert story.client_id is not None
    read_side.settle()
    assert read_side.open_flags(story.client_id) == {}

    # when the crisis line takes an imminent-risk call from them two days later
    read_side.clock.advance(days=2)
    details = crisis_details("imminent", suicidality=True, disposition="mobile team sent")
    told(story.by(COUNSELOR).at().crisis("after-discharge-1", **details), api, runtime)

    # then CRS-2 is critical at once, as for a client in care
    (critical,) = [f for f in flags(read_side, story, "CRS-2") if f.severity == "critical"]
    assert critical.status == "open"
