"""The early-warning rules of docs/domain.md, given a client's record and a clock.

Each rule fires at its threshold and not one step below, and clears when its condition clears;
time-based rules are evaluated at chosen instants. Flag events have ids derived from client,
rule and episode, so the same finding is recorded once.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from domain.catalogue import CareEvent
from domain.early_warning import (
    RULES,
    Thresholds,
    evaluate,
    flag_events,
    flag_id_of,
    next_moment,
    thresholds_from,
)
from domain.flags import RiskFlagRaised, RiskFlagResolved
from domain.warning_signs import WarningSigns, no_signs, observe
from tests.unit.builders import (
    CLIENT,
    after,
    appointment_attended,
    appointment_missed,
    appointment_scheduled,
    assessment,
    check_in,
    check_in_plan_set,
    crisis,
    discharged,
    enrolled,
    entered_in_error,
    flag_acknowledged,
    flag_resolved,
    goal_set,
    handoff_accepted,
    handoff_completed,
    handoff_initiated,
    medication_stopped,
    naloxone,
    overdose,
    phq9,
    postvention,
    safety_plan_recorded,
    session_held,
    stored,
    transition,
)

SECOND = timedelta(seconds=1)
DEFAULTS = Thresholds()
NO = False
YES = True


def given(*events: CareEvent) -> WarningSigns:
    """The signs the rules read after an enrolled client's record, decided as the store would."""
    signs = no_signs(CLIENT)
    for recorded in stored(enrolled(occurred_at=after(days=-1)), *events):
        signs = observe(signs, recorded.event)
    return signs


def fired(signs: WarningSigns, at: datetime, t: Thresholds = DEFAULTS) -> dict[str, str]:
    """rule id → severity of every flag that should be open at `at`."""
    return {f.rule.id: f.severity for f in evaluate(signs, at, t)}


def cssrs(*answers: bool, **envelope: object) -> CareEvent:
    return assessment("C-SSRS-SCREEN", answers, **envelope)


# --- SUI-1 ----------------------------------------------------------------------------------------


def test_sui_1_a_phq9_item_9_of_1_asks_for_a_cssrs_the_same_day() -> None:
    signs = given(phq9(0, 0, 0, 0, 0, 0, 0, 0, 1, occurred_at=after(days=1)))
    assert fired(signs, after(days=1)) == {"SUI-1": "high"}


def test_sui_1_an_item_9_of_0_raises_nothing_whatever_the_total() -> None:
    signs = given(phq9(3, 3, 3, 3, 3, 3, 3, 3, 0, occurred_at=after(days=1)))
    assert fired(signs, after(days=1)) == {}


def test_sui_1_clears_once_a_cssrs_screener_follows_the_phq9() -> None:
    signs = given(
        phq9(0, 0, 0, 0, 0, 0, 0, 0, 2, occurred_at=after(days=1)),
        cssrs(NO, NO, NO, NO, NO, NO, occurred_at=after(days=1, hours=2)),
    )
    assert fired(signs, after(days=1, hours=2)) == {}


def test_sui_1_a_phq9_entered_in_error_no_longer_raises() -> None:
    wrong = phq9(0, 0, 0, 0, 0, 0, 0, 0, 3, occurred_at=after(days=1))
    signs = given(wrong, entered_in_error(wrong.event_id, occurred_at=after(days=1, hours=1)))
    assert fired(signs, after(days=1, hours=1)) == {}


# --- SUI-2 ----------------------------------------------------------------------------------------


def test_sui_2_q3_yes_is_moderate_and_q1_q2_alone_is_nothing() -> None:
    moderate = given(cssrs(YES, YES, YES, NO, NO, NO, occurred_at=after(days=1)))
    low = given(cssrs(YES, YES, NO, NO, NO, NO, occurred_at=after(days=1)))
    assert fired(moderate, after(days=1))["SUI-2"] == "moderate"
    assert "SUI-2" not in fired(low, after(days=1))


def test_sui_2_q4_or_recent_behavior_is_high_older_behavior_moderate() -> None:
    intent = given(cssrs(YES, YES, NO, YES, NO, NO, occurred_at=after(days=1)))
    recent = given(cssrs(NO, NO, NO, NO, NO, YES, YES, occurred_at=after(days=1)))
    older = given(cssrs(NO, NO, NO, NO, NO, YES, NO, occurred_at=after(days=1)))
    assert fired(intent, after(days=1))["SUI-2"] == "high"
    assert fired(recent, after(days=1))["SUI-2"] == "high"
    assert fired(older, after(days=1))["SUI-2"] == "moderate"


def test_sui_2_clears_when_a_later_screener_is_negative() -> None:
    signs = given(
        cssrs(YES, YES, YES, NO, NO, NO, occurred_at=after(days=1)),
        cssrs(NO, NO, NO, NO, NO, NO, occurred_at=after(days=8)),
    )
    assert "SUI-2" not in fired(signs, after(days=8))


# --- SUI-3 ----------------------------------------------------------------------------------------


def test_sui_3_moderate_risk_without_a_safety_plan_fires_at_24_hours_not_a_second_before() -> None:
    signs = given(cssrs(YES, YES, YES, NO, NO, NO, occurred_at=after(days=1)))
    due = after(days=2)
    assert "SUI-3" not in fired(signs, due - SECOND)
    assert fired(signs, due)["SUI-3"] == "high"


def test_sui_3_a_suicidal_crisis_contact_is_a_risk_too() -> None:
    signs = given(crisis(risk_level="moderate", suicidality=True, occurred_at=after(days=1)))
    assert fired(signs, after(days=2))["SUI-3"] == "high"


def test_sui_3_clears_when_a_safety_plan_is_recorded_and_an_older_plan_does_not_count() -> None:
    old_plan = safety_plan_recorded(occurred_at=after(days=0))
    risk = cssrs(YES, YES, YES, NO, NO, NO, occurred_at=after(days=1))
    assert "SUI-3" in fired(given(old_plan, risk), after(days=3))
    planned = given(old_plan, risk, safety_plan_recorded(occurred_at=after(days=3)))
    assert "SUI-3" not in fired(planned, after(days=3))


# --- CRV-1 ----------------------------------------------------------------------------------------


def test_crv_1_craving_7_on_two_check_ins_in_a_row_fires_and_6_does_not() -> None:
    high = given(
        check_in(craving=7, occurred_at=after(days=1)),
        check_in(craving=7, occurred_at=after(days=2)),
    )
    below = given(
        check_in(craving=6, occurred_at=after(days=1)),
        check_in(craving=6, occurred_at=after(days=2)),
    )
    once = given(
        check_in(craving=9, occurred_at=after(days=1)),
        check_in(craving=2, occurred_at=after(days=2)),
    )
    assert fired(high, after(days=2)) == {"CRV-1": "moderate"}
    assert fired(below, after(days=2)) == {}
    assert fired(once, after(days=2)) == {}


def test_crv_1_three_above_the_14_day_mean_fires_and_two_above_does_not() -> None:
    baseline = [check_in(craving=2, occurred_at=after(days=d)) for d in (1, 2, 3)]
    rising = given(
        *baseline,
        check_in(craving=5, occurred_at=after(days=4)),
        check_in(craving=6, occurred_at=after(days=5)),
    )
    slight = given(
        *baseline,
        check_in(craving=4, occurred_at=after(days=4)),
        check_in(craving=4, occurred_at=after(days=5)),
    )
    assert fired(rising, after(days=5)) == {"CRV-1": "moderate"}
    assert fired(slight, after(days=5)) == {}


def test_crv_1_clears_on_a_calm_check_in() -> None:
    signs = given(
        check_in(craving=8, occurred_at=after(days=1)),
        check_in(craving=8, occurred_at=after(days=2)),
        check_in(craving=1, occurred_at=after(days=3)),
    )
    assert fired(signs, after(days=3)) == {}


# --- SLP-1 ----------------------------------------------------------------------------------------


def test_slp_1_under_4_hours_on_three_check_ins_fires_and_4_hours_on_the_third_does_not() -> None:
    short = [check_in(sleep_hours=3.5, occurred_at=after(days=d)) for d in (1, 2)]
    assert fired(
        given(*short, check_in(sleep_hours=3.9, occurred_at=after(days=3))), after(days=3)
    ) == {"SLP-1": "low"}
    assert (
        fired(given(*short, check_in(sleep_hours=4.0, occurred_at=after(days=3))), after(days=3))
        == {}
    )


def test_slp_1_clears_after_a_night_of_sleep() -> None:
    nights = [
        check_in(sleep_hours=h, occurred_at=after(days=d))
        for d, h in ((1, 3), (2, 3), (3, 3), (4, 8))
    ]
    assert fired(given(*nights), after(days=4)) == {}


# --- OD-1 -----------------------------------------------------------------------------------------


def test_od_1_a_transition_opens_14_days_of_risk_without_naloxone() -> None:
    signs = given(transition("incarceration_release", occurred_at=after(days=1)))
    assert fired(signs, after(days=1))["OD-1"] == "high"
    assert "OD-1" in fired(signs, after(days=15) - SECOND)
    assert "OD-1" not in fired(signs, after(days=15))


def test_od_1_stopping_an_opioid_medication_opens_28_days_and_another_medication_none() -> None:
    moud = given(medication_stopped("methadone", "moud", occurred_at=after(days=1)))
    aud = given(medication_stopped("naltrexone", "aud", occurred_at=after(days=1)))
    assert "OD-1" in fired(moud, after(days=29) - SECOND)
    assert "OD-1" not in fired(moud, after(days=29))
    assert fired(aud, after(days=1)) == {}


def test_od_1_a_non_fatal_overdose_opens_30_days() -> None:
    signs = given(overdose(fatal=False, occurred_at=after(days=1)))
    assert "OD-1" in fired(signs, after(days=31) - SECOND)
    assert "OD-1" not in fired(signs, after(days=31))


def test_od_1_clears_once_naloxone_is_distributed_in_the_window() -> None:
    signs = given(
        transition("detox_discharge", occurred_at=after(days=1)),
        naloxone(occurred_at=after(days=2)),
    )
    assert fired(signs, after(days=2)) == {}


# --- ENG-1 ----------------------------------------------------------------------------------------


def test_eng_1_no_check_in_for_one_and_a_half_cadences_fires_not_a_second_before() -> None:
    signs = given(check_in_plan_set(24, occurred_at=after(days=1)))
    due = after(days=1, hours=36)
    assert fired(signs, due - SECOND) == {}
    assert fired(signs, due) == {"ENG-1": "moderate"}


def test_eng_1_clears_with_a_check_in_and_counts_from_it() -> None:
    signs = given(
        check_in_plan_set(24, occurred_at=after(days=1)),
        check_in(occurred_at=after(days=3)),
    )
    assert fired(signs, after(days=3)) == {}
    assert fired(signs, after(days=3, hours=36)) == {"ENG-1": "moderate"}


# --- ENG-2 ----------------------------------------------------------------------------------------


def _booked_and_missed(
    appointment_id: str, day: float, *, attended: bool = False
) -> list[CareEvent]:
    at = after(days=day)
    outcome = appointment_attended if attended else appointment_missed
    return [
        appointment_scheduled(appointment_id, scheduled_for=at, occurred_at=after(days=0)),
        outcome(appointment_id, scheduled_for=at, occurred_at=at + timedelta(hours=1)),
    ]


def test_eng_2_two_missed_appointments_in_14_days_is_moderate_and_one_is_nothing() -> None:
    one = given(*_booked_and_missed("a1", 1))
    two = given(*_booked_and_missed("a1", 1), *_booked_and_missed("a2", 14))
    assert fired(one, after(days=1, hours=1)) == {}
    assert fired(two, after(days=14, hours=1) - timedelta(hours=1)) == {"ENG-2": "moderate"}
    assert fired(two, after(days=15) + SECOND) == {}


def test_eng_2_three_missed_in_a_row_is_dropout_risk_and_an_attended_one_breaks_the_row() -> None:
    row = given(
        *_booked_and_missed("a1", 1), *_booked_and_missed("a2", 2), *_booked_and_missed("a3", 3)
    )
    broken = given(
        *_booked_and_missed("a1", 1),
        *_booked_and_missed("a2", 2, attended=True),
        *_booked_and_missed("a3", 3),
    )
    assert fired(row, after(days=3, hours=1)) == {"ENG-2": "high"}
    assert fired(broken, after(days=3, hours=1)) == {"ENG-2": "moderate"}


# --- CRS-1, CRS-2 ---------------------------------------------------------------------------------


def test_crs_1_a_crisis_without_postvention_review_fires_at_72_hours() -> None:
    signs = given(crisis(risk_level="low", suicidality=False, occurred_at=after(days=1)))
    due = after(days=4)
    assert "CRS-1" not in fired(signs, due - SECOND)
    assert fired(signs, due)["CRS-1"] == "moderate"
    reviewed = given(
        crisis(risk_level="low", suicidality=False, occurred_at=after(days=1)),
        postvention(occurred_at=after(days=5)),
    )
    assert "CRS-1" not in fired(reviewed, after(days=5))


def test_dis_2_an_ed_discharge_without_follow_up_fires_at_48_hours_and_a_session_clears() -> None:
    signs = given(
        transition("ed_discharge", occurred_at=after(days=1)), naloxone(occurred_at=after(days=1))
    )
    due = after(days=3)
    assert "DIS-2" not in fired(signs, due - SECOND)
    assert fired(signs, due)["DIS-2"] == "high"
    seen = given(
        transition("ed_discharge", occurred_at=after(days=1)),
        naloxone(occurred_at=after(days=1)),
        session_held(occurred_at=after(days=4)),
    )
    assert "DIS-2" not in fired(seen, after(days=4))


# --- HND-1 ----------------------------------------------------------------------------------------


def test_hnd_1_a_handoff_not_accepted_in_48_hours_then_not_completed_in_14_days() -> None:
    initiated = handoff_initiated("h1", occurred_at=after(days=1))
    waiting = given(initiated)
    assert "HND-1" not in fired(waiting, after(days=3) - SECOND)
    assert fired(waiting, after(days=3)) == {"HND-1": "moderate"}
    accepted = given(initiated, handoff_accepted("h1", occurred_at=after(days=4)))
    assert fired(accepted, after(days=4)) == {}
    assert fired(accepted, after(days=18)) == {"HND-1": "moderate"}
    completed = given(
        initiated,
        handoff_accepted("h1", occurred_at=after(days=4)),
        handoff_completed("h1", occurred_at=after(days=19)),
    )
    assert fired(completed, after(days=19)) == {}


# --- from findings to recorded flags --------------------------------------------------------------


def test_every_rule_of_the_design_is_known_with_a_version() -> None:
    assert set(RULES) == {
        "SUI-1", "SUI-2", "SUI-3", "CRV-1", "SLP-1", "OD-1",
        "ENG-1", "ENG-2", "CRS-1", "CRS-2", "HND-1", "DIS-1",
        "DIS-2", "ESC-1", "USE-1", "SPR-1", "CC-1", "PV-1",
    }  # fmt: skip
    assert all(rule.version >= 1 for rule in RULES.values())


def test_a_finding_is_raised_once_with_ids_derived_from_client_rule_and_episode() -> None:
    positive = phq9(0, 0, 0, 0, 0, 0, 0, 0, 1, occurred_at=after(days=1))
    signs = given(positive)
    first = flag_events(signs, evaluate(signs, after(days=1), DEFAULTS), after(days=1))
    again = flag_events(signs, evaluate(signs, after(days=1.5), DEFAULTS), after(days=1.5))
    assert [e.event_id for e in first] == [e.event_id for e in again]
    (raised,) = first
    assert isinstance(raised, RiskFlagRaised)
    assert raised.actor.kind == "rule"
    assert raised.actor.id == "SUI-1"
    assert raised.data.evidence_event_ids == (positive.event_id,)
    assert raised.occurred_at == positive.occurred_at
    recorded = observe(signs, raised)
    later = after(days=1.5)
    assert flag_events(recorded, evaluate(recorded, later, DEFAULTS), later) == []


def test_an_open_flag_whose_condition_cleared_is_resolved_by_its_rule() -> None:
    signs = given(
        check_in(craving=9, occurred_at=after(days=1)),
        check_in(craving=9, occurred_at=after(days=2)),
    )
    (raised,) = flag_events(signs, evaluate(signs, after(days=2), DEFAULTS), after(days=2))
    calm = observe(observe(signs, raised), check_in(craving=1, occurred_at=after(days=3)))
    (resolved,) = flag_events(calm, evaluate(calm, after(days=3), DEFAULTS), after(days=3))
    assert isinstance(resolved, RiskFlagResolved)
    assert isinstance(raised, RiskFlagRaised)
    assert resolved.data.flag_id == raised.data.flag_id
    assert resolved.actor.kind == "rule"


def test_an_acknowledged_flag_stays_until_it_clears_and_a_resolved_one_stays_closed() -> None:
    signs = given(transition("incarceration_release", occurred_at=after(days=1)))
    (raised,) = flag_events(signs, evaluate(signs, after(days=1), DEFAULTS), after(days=1))
    assert isinstance(raised, RiskFlagRaised)
    flag_id = raised.data.flag_id
    acknowledged = observe(
        observe(signs, raised), flag_acknowledged(flag_id, occurred_at=after(days=1))
    )
    assert (
        flag_events(acknowledged, evaluate(acknowledged, after(days=2), DEFAULTS), after(days=2))
        == []
    )
    closed = observe(acknowledged, flag_resolved(flag_id, occurred_at=after(days=2)))
    assert flag_events(closed, evaluate(closed, after(days=3), DEFAULTS), after(days=3)) == []


def test_a_discharge_resolves_no_flag_and_raises_dis_1_for_an_open_high_one() -> None:
    signs = given(transition("incarceration_release", occurred_at=after(days=1)))
    (raised,) = flag_events(signs, evaluate(signs, after(days=1), DEFAULTS), after(days=1))
    gone = observe(observe(signs, raised), discharged(occurred_at=after(days=1, hours=2)))
    at = after(days=1, hours=2)
    (dis_1,) = flag_events(gone, evaluate(gone, at, DEFAULTS), at)
    assert isinstance(dis_1, RiskFlagRaised)
    assert (dis_1.data.rule_id, dis_1.data.severity) == ("DIS-1", "high")


def test_different_clients_and_episodes_give_different_flags() -> None:
    signs = given(phq9(0, 0, 0, 0, 0, 0, 0, 0, 1, occurred_at=after(days=1)))
    (finding,) = evaluate(signs, after(days=1), DEFAULTS)
    assert flag_id_of(CLIENT, finding) != flag_id_of(uuid4(), finding)
    later = given(
        phq9(0, 0, 0, 0, 0, 0, 0, 0, 1, occurred_at=after(days=1)),
        phq9(0, 0, 0, 0, 0, 0, 0, 0, 1, occurred_at=after(days=9)),
    )
    (again,) = evaluate(later, after(days=9), DEFAULTS)
    assert flag_id_of(CLIENT, finding) != flag_id_of(CLIENT, again)


def test_the_next_moment_is_the_earliest_deadline_still_ahead() -> None:
    signs = given(
        check_in_plan_set(24, occurred_at=after(days=1)),
        handoff_initiated("h1", occurred_at=after(days=1)),
    )
    assert next_moment(signs, after(days=1), DEFAULTS) == after(days=1, hours=36)
    assert next_moment(signs, after(days=1, hours=36), DEFAULTS) == after(days=3)
    assert next_moment(given(), after(days=1), DEFAULTS) is None


def test_thresholds_come_from_configuration_and_an_unknown_name_is_refused() -> None:
    t = thresholds_from({"craving_high": 8, "check_in_grace_factor": 2})
    signs = given(
        check_in(craving=7, occurred_at=after(days=1)),
        check_in(craving=7, occurred_at=after(days=2)),
    )
    assert (t.craving_high, t.check_in_grace_factor) == (8, 2.0)
    assert fired(signs, after(days=2), t) == {}
    with pytest.raises(ValueError, match="craving_hgih"):
        thresholds_from({"craving_hgih": 8})


def test_signs_ignore_what_no_rule_reads() -> None:
    signs = given()
    assert observe(signs, goal_set(occurred_at=after(days=1))) is signs
    assert observe(signs, session_held(occurred_at=after(days=1))) is not signs


@pytest.mark.parametrize(
    ("rule_id", "elevated"),
    [("CRV-1", {"craving": 8}), ("SLP-1", {"sleep_hours": 3.0})],
)
def test_a_run_longer_than_the_kept_check_ins_stays_one_flag(
    rule_id: str, elevated: dict[str, Any]
) -> None:
    # given a client elevated on every daily check-in for 60 days, longer than the signs keep
    # check-ins, and the rules evaluated after each one with their flags recorded back
    signs = given()
    raised: list[str] = []
    closed: list[str] = []
    for day in range(1, 61):
        at = after(days=day)
        signs = observe(signs, check_in(occurred_at=at, **elevated))
        for event in flag_events(signs, evaluate(signs, at, DEFAULTS), at):
            if isinstance(event, RiskFlagRaised) and event.data.rule_id == rule_id:
                raised.append(event.data.flag_id)
            elif isinstance(event, RiskFlagResolved):
                closed.append(event.data.flag_id)
            signs = observe(signs, event)

    # then the one condition is one flag: raised once, never closed while it lasts
    assert len(raised) == 1
    assert closed == []
    assert signs.check_ins[0].at > after(days=1)  # the run's first check-in is no longer kept
    assert fired(signs, after(days=60)) == {rule_id: "low" if rule_id == "SLP-1" else "moderate"}

    # and a calm check-in closes it, so a later run is a new flag
    calm: dict[str, Any] = {"craving": 1} if rule_id == "CRV-1" else {"sleep_hours": 7.5}
    at = after(days=61)
    signs = observe(signs, check_in(occurred_at=at, **calm))
    (closing,) = flag_events(signs, evaluate(signs, at, DEFAULTS), at)
    assert isinstance(closing, RiskFlagResolved)
    assert closing.data.flag_id == raised[0]
