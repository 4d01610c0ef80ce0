"""Early warning on real PostgreSQL: each rule of docs/domain.md raises its flag at its threshold
and not one step below, and when the condition clears resolves it (a low or moderate flag) or
clears it for a person to resolve (a high or critical one). The flags are recorded as events
through the command path and read back from the flags read model; time-based rules fire when
the test moves the clock, with no new event.
"""

from __future__ import annotations

from datetime import timedelta

from tests.integration.read_models.support import Client, ReadSide
from tests.unit import builders as b

SECOND = timedelta(seconds=1)
NO, YES = False, True


def _cssrs(*answers: bool, **envelope: object) -> object:
    return b.assessment("C-SSRS-SCREEN", answers, **envelope)


def test_sui_1_item_9_of_1_raises_a_high_flag_0_does_not_and_a_cssrs_clears_it(
    read_side: ReadSide,
) -> None:
    positive, negative = Client.enrolled(read_side), Client.enrolled(read_side)

    positive.record(b.phq9, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    negative.record(b.phq9, 2, 2, 2, 2, 2, 2, 2, 2, 0)

    assert positive.open_flags == {"SUI-1": "high"}
    assert negative.open_flags == {}
    positive.record(_cssrs, NO, NO, NO, NO, NO, NO)
    assert positive.statuses("SUI-1") == ["cleared"]  # high: a person resolves it


def test_sui_2_q3_raises_moderate_q1_alone_nothing_q4_high_and_a_negative_screen_clears(
    read_side: ReadSide,
) -> None:
    q3, q1, q4 = (Client.enrolled(read_side) for _ in range(3))

    q3.record(_cssrs, YES, YES, YES, NO, NO, NO)
    q1.record(_cssrs, YES, NO, NO, NO, NO, NO)
    q4.record(_cssrs, YES, YES, NO, YES, NO, NO)

    assert q3.open_flags == {"SUI-2": "moderate"}
    assert q1.open_flags == {}
    assert q4.open_flags == {"SUI-2": "high"}
    read_side.clock.advance(hours=1)
    q3.record(_cssrs, NO, NO, NO, NO, NO, NO)
    assert q3.statuses("SUI-2") == ["resolved"]


def test_sui_3_risk_without_a_safety_plan_fires_at_24_hours_and_a_plan_clears_it(
    read_side: ReadSide,
) -> None:
    client = Client.enrolled(read_side)
    client.record(_cssrs, YES, YES, YES, NO, NO, NO)
    due = read_side.clock() + timedelta(hours=24)

    read_side.clock.now = due - SECOND
    assert "SUI-3" not in client.open_flags
    read_side.clock.now = due
    assert client.open_flags["SUI-3"] == "high"
    client.record(b.safety_plan_recorded)
    assert client.statuses("SUI-3") == ["cleared"]


def test_crv_1_craving_7_twice_in_a_row_raises_6_does_not_and_a_calm_check_in_clears(
    read_side: ReadSide,
) -> None:
    craving, below = Client.enrolled(read_side), Client.enrolled(read_side)

    for _ in range(2):
        read_side.clock.advance(hours=12)
        craving.record(b.check_in, craving=7)
        below.record(b.check_in, craving=6)

    assert craving.open_flags == {"CRV-1": "moderate"}
    assert below.open_flags == {}
    read_side.clock.advance(hours=12)
    craving.record(b.check_in, craving=1)
    assert craving.statuses("CRV-1") == ["resolved"]


def test_slp_1_three_nights_under_4_hours_raise_a_low_flag_4_hours_does_not(
    read_side: ReadSide,
) -> None:
    short, enough = Client.enrolled(read_side), Client.enrolled(read_side)

    for hours in (3.0, 3.5, 3.9):
        read_side.clock.advance(hours=12)
        short.record(b.check_in, sleep_hours=hours)
        enough.record(b.check_in, sleep_hours=hours if hours < 3.9 else 4.0)

    assert short.open_flags == {"SLP-1": "low"}
    assert enough.open_flags == {}
    read_side.clock.advance(hours=12)
    short.record(b.check_in, sleep_hours=8.0)
    assert short.statuses("SLP-1") == ["resolved"]


def test_od_1_a_release_without_naloxone_is_flagged_for_14_days_and_naloxone_clears_it(
    read_side: ReadSide,
) -> None:
    released, other_medication, supplied = (Client.enrolled(read_side) for _ in range(3))
    released.record(b.transition, "incarceration_release")
    other_medication.record(b.medication_stopped, "naltrexone", "aud")
    supplied.record(b.medication_stopped, "methadone", "moud")
    ends = read_side.clock() + timedelta(days=14)

    assert released.open_flags == {"OD-1": "high"}
    assert other_medication.open_flags == {}
    assert supplied.open_flags == {"OD-1": "high"}
    supplied.record(b.naloxone)
    assert supplied.statuses("OD-1") == ["cleared"]
    read_side.clock.now = ends - SECOND
    assert "OD-1" in released.open_flags
    read_side.clock.now = ends
    assert released.statuses("OD-1") == ["cleared"]


def test_eng_1_no_check_in_for_one_and_a_half_cadences_fires_and_a_check_in_clears(
    read_side: ReadSide,
) -> None:
    client = Client.enrolled(read_side)
    client.record(b.check_in_plan_set, 24)
    due = read_side.clock() + timedelta(hours=36)

    read_side.clock.now = due - SECOND
    assert client.open_flags == {}
    read_side.clock.now = due
    assert client.open_flags == {"ENG-1": "moderate"}
    client.record(b.check_in)
    assert client.statuses("ENG-1") == ["resolved"]


def test_eng_2_two_missed_in_14_days_moderate_one_nothing_three_in_a_row_high(
    read_side: ReadSide,
) -> None:
    client = Client.enrolled(read_side)
    start = read_side.clock()

    def miss(appointment_id: str, day: int) -> None:
        at = start + timedelta(days=day)
        read_side.clock.now = at + timedelta(hours=1)
        client.record(b.appointment_scheduled, appointment_id, scheduled_for=at, at=start)
        client.record(b.appointment_missed, appointment_id, scheduled_for=at)

    miss("a1", 1)
    assert client.open_flags == {}
    miss("a2", 13)
    assert client.open_flags == {"ENG-2": "moderate"}
    miss("a3", 14)
    assert client.open_flags == {"ENG-2": "high"}
    read_side.clock.now = start + timedelta(days=15, hours=2)
    client.record(b.appointment_scheduled, "a4", scheduled_for=read_side.clock(), at=start)
    client.record(b.appointment_attended, "a4", scheduled_for=read_side.clock())
    assert client.open_flags == {"ENG-2": "moderate"}
    read_side.clock.now = start + timedelta(days=27, hours=1) + SECOND
    assert client.open_flags == {}
    assert set(client.statuses("ENG-2")) == {"resolved", "cleared"}  # moderate, high


def test_crs_1_a_crisis_without_postvention_review_fires_at_72_hours_and_a_review_clears(
    read_side: ReadSide,
) -> None:
    client = Client.enrolled(read_side)
    client.record(b.crisis, "c1", risk_level="low", suicidality=False)
    due = read_side.clock() + timedelta(hours=72)
    read_side.clock.advance(minutes=30)
    client.record(b.session_held)  # followed up, so only the review is missing

    read_side.clock.now = due - SECOND
    assert client.open_flags == {}
    read_side.clock.now = due
    assert client.open_flags == {"CRS-1": "moderate"}
    client.record(b.postvention, "c1")
    assert client.statuses("CRS-1") == ["resolved"]


def test_dis_2_an_ed_discharge_without_follow_up_in_48_hours_fires_and_a_session_clears(
    read_side: ReadSide,
) -> None:
    client = Client.enrolled(read_side)
    client.record(b.transition, "ed_discharge")
    client.record(b.naloxone)  # so the overdose window is covered
    due = read_side.clock() + timedelta(hours=48)

    read_side.clock.now = due - SECOND
    assert client.open_flags == {}
    read_side.clock.now = due
    assert client.open_flags == {"DIS-2": "high"}
    client.record(b.session_held)
    assert client.statuses("DIS-2") == ["cleared"]


def test_hnd_1_a_handoff_waits_48_hours_for_acceptance_then_14_days_for_completion(
    read_side: ReadSide,
) -> None:
    client = Client.enrolled(read_side)
    client.record(b.handoff_initiated, "h1")
    accept_by = read_side.clock() + timedelta(hours=48)

    read_side.clock.now = accept_by - SECOND
    assert client.open_flags == {}
    read_side.clock.now = accept_by
    assert client.open_flags == {"HND-1": "moderate"}
    client.record(b.handoff_accepted, "h1")
    assert client.open_flags == {}
    complete_by = read_side.clock() + timedelta(days=14)
    read_side.clock.now = complete_by - SECOND
    assert client.open_flags == {}
    read_side.clock.now = complete_by
    assert client.open_flags == {"HND-1": "moderate"}
    client.record(b.handoff_completed, "h1")
    assert client.statuses("HND-1") == ["resolved", "resolved"]


def test_a_flag_is_recorded_once_however_often_the_rules_run_and_carries_its_evidence(
    read_side: ReadSide,
) -> None:
    client = Client.enrolled(read_side)
    evidence = client.record(b.phq9, 0, 0, 0, 0, 0, 0, 0, 0, 2)
    read_side.settle()
    head = read_side.runtime.store.head()

    for _ in range(3):
        read_side.flags.sweep()
        read_side.flags.evaluate_clients([client.client_id])
    read_side.settle()

    (flag,) = read_side.flags_of(client.client_id)
    assert read_side.runtime.store.head() == head
    assert flag.evidence_event_ids == (evidence,)
    assert (flag.rule_id, flag.rule_version, flag.status) == ("SUI-1", 1, "open")
    history = read_side.runtime.store.load(client.client_id)
    raised = [r.event for r in history if r.event.type == "RiskFlagRaised"]
    assert len(raised) == 1
    assert (raised[0].actor.kind, raised[0].actor.role) == ("rule", "rule")


def test_a_clinicians_acknowledgement_keeps_the_flag_until_its_condition_clears(
    read_side: ReadSide,
) -> None:
    client = Client.enrolled(read_side)
    client.record(b.transition, "detox_discharge")
    assert client.open_flags == {"OD-1": "high"}
    (flag,) = read_side.flags_of(client.client_id)

    client.record(b.flag_acknowledged, flag.flag_id)
    assert client.statuses("OD-1") == ["acknowledged"]
    client.record(b.naloxone)
    assert client.statuses("OD-1") == ["cleared"]
    client.record(b.flag_resolved, flag.flag_id)
    assert client.statuses("OD-1") == ["resolved"]
