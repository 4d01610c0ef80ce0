"""The rules a clinician found missing or wrong, at each boundary of each threshold: CRS-2 at
the clinician's due time (imminent risk critical at once), DIS-2 after acute care, ESC-1,
USE-1, SPR-1, CC-1 and PV-1; and the decider's checks of safety plans and reviews.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.early_warning import Thresholds, evaluate
from domain.warning_signs import WarningSigns, no_signs, observe
from tests.unit.builders import (
    CLIENT,
    T0,
    appointment_scheduled,
    assessment,
    caring_contact,
    check_in,
    client_died,
    crisis,
    discharged,
    enrolled,
    flag_acknowledged,
    flag_raised,
    naloxone,
    overdose,
    postvention,
    safety_plan_recorded,
    session_held,
    transition,
)
from tests.unit.decider_spec import given

SECOND = timedelta(seconds=1)
DEFAULTS = Thresholds()
NO, YES = False, True


def at(days: float = 0, hours: float = 0) -> datetime:
    return T0 + timedelta(days=days, hours=hours)


def signs(*events: object) -> WarningSigns:
    folded = no_signs(CLIENT)
    for event in (enrolled(occurred_at=T0 - timedelta(days=1)), *events):
        folded = observe(folded, event)  # type: ignore[arg-type]
    return folded


def fired(s: WarningSigns, now: datetime, rule_id: str) -> list[str]:
    """The severities of this rule's findings at `now`."""
    return sorted(f.severity for f in evaluate(s, now, DEFAULTS) if f.rule.id == rule_id)


# --- CRS-2: follow-up as the clinician set it -----------------------------------------------------


def test_crs_2_fires_at_the_follow_up_due_at_the_clinician_set_not_a_second_before() -> None:
    s = signs(
        crisis(risk_level="moderate", suicidality=False, occurred_at=at(), follow_up_due_at=at(1))
    )
    assert fired(s, at(1) - SECOND, "CRS-2") == []
    assert fired(s, at(1), "CRS-2") == ["high"]
    assert fired(observe(s, session_held(occurred_at=at(1, 1))), at(1, 1), "CRS-2") == []


@pytest.mark.parametrize(
    ("level", "due_hours"), [("high", 48), ("moderate", 7 * 24), ("low", 7 * 24)]
)
def test_crs_2_defaults_by_risk_level_when_no_due_time_was_set(level: str, due_hours: int) -> None:
    s = signs(crisis(risk_level=level, suicidality=False, occurred_at=at()))
    assert fired(s, at(hours=due_hours) - SECOND, "CRS-2") == []
    assert fired(s, at(hours=due_hours), "CRS-2") == ["high"]


def test_crs_2_an_imminent_crisis_is_critical_at_once_until_a_plan_and_a_follow_up_exist() -> None:
    s = signs(crisis(risk_level="imminent", suicidality=False, occurred_at=at()))
    assert fired(s, at(), "CRS-2") == ["critical"]
    assert fired(s, at(hours=24) - SECOND, "CRS-2") == ["critical"]
    assert fired(s, at(hours=24), "CRS-2") == ["critical", "high"]  # default 24 h follow-up
    planned = observe(s, safety_plan_recorded(occurred_at=at(hours=1)))
    assert fired(planned, at(hours=2), "CRS-2") == ["critical"]  # no follow-up scheduled yet
    booked = observe(
        planned, appointment_scheduled("f1", scheduled_for=at(1), occurred_at=at(hours=2))
    )
    assert fired(booked, at(hours=3), "CRS-2") == []


def test_overdose_danger_in_a_crisis_opens_the_od_1_window_and_naloxone_closes_it() -> None:
    s = signs(crisis(risk_level="high", overdose_danger=True, occurred_at=at()))
    assert fired(s, at(), "OD-1") == ["high"]
    assert fired(s, at(30) - SECOND, "OD-1") == ["high"]
    assert fired(s, at(30), "OD-1") == []
    assert fired(observe(s, naloxone(occurred_at=at(hours=1))), at(hours=1), "OD-1") == []


# --- DIS-2: follow-up after acute care ------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["inpatient_discharge", "residential_discharge", "detox_discharge", "ed_discharge"]
)
def test_dis_2_a_discharge_from_acute_care_wants_a_follow_up_within_48_hours(kind: str) -> None:
    s = signs(transition(kind, occurred_at=at()))
    assert fired(s, at(hours=48) - SECOND, "DIS-2") == []
    assert fired(s, at(hours=48), "DIS-2") == ["high"]


def test_dis_2_starts_with_an_overdose_seen_in_the_ed_and_an_episode_closed_from_residential() -> (
    None
):
    seen = signs(overdose(ed_visit=True, occurred_at=at()))
    home = signs(overdose(ed_visit=False, occurred_at=at()))
    closed = signs(discharged("stepped down from residential care", occurred_at=at()))
    completed = signs(discharged("completed treatment", occurred_at=at()))
    assert fired(seen, at(2), "DIS-2") == ["high"]
    assert fired(home, at(2), "DIS-2") == []
    assert fired(closed, at(2), "DIS-2") == ["high"]
    assert fired(completed, at(2), "DIS-2") == []


def test_an_incarceration_release_opens_od_1_but_starts_no_dis_2_clock() -> None:
    assert fired(signs(transition("incarceration_release", occurred_at=at())), at(3), "DIS-2") == []


# --- ESC-1: escalation ----------------------------------------------------------------------------


@pytest.mark.parametrize(("severity", "limit"), [("critical", 1), ("high", 24)])
def test_esc_1_an_unacknowledged_serious_flag_escalates_at_its_limit(
    severity: str, limit: int
) -> None:
    s = signs(flag_raised("f-1", rule_id="SUI-2", severity=severity, occurred_at=at()))
    assert fired(s, at(hours=limit) - SECOND, "ESC-1") == []
    assert fired(s, at(hours=limit), "ESC-1") == ["high"]
    (found,) = [f for f in evaluate(s, at(hours=limit), DEFAULTS) if f.rule.id == "ESC-1"]
    assert "f-1" in found.reason
    acknowledged = observe(s, flag_acknowledged("f-1", occurred_at=at(hours=limit)))
    assert fired(acknowledged, at(hours=limit), "ESC-1") == []


def test_esc_1_leaves_moderate_flags_and_supervisors_own_flags_alone_and_is_configurable() -> None:
    moderate = signs(flag_raised("f-1", rule_id="CRV-1", severity="moderate", occurred_at=at()))
    own = signs(flag_raised("f-2", rule_id="DIS-1", severity="high", occurred_at=at()))
    assert fired(moderate, at(30), "ESC-1") == []
    assert fired(own, at(30), "ESC-1") == []
    slower = Thresholds(escalate_critical_hours=2)
    critical = signs(flag_raised("f-3", rule_id="CRS-2", severity="critical", occurred_at=at()))
    assert [f.rule.id for f in evaluate(critical, at(hours=1.5), slower)] == []


# --- USE-1: return to use -------------------------------------------------------------------------


def _use(days: float, *substances: str) -> object:
    return check_in(used_since_last=True, substances=substances, occurred_at=at(days))


def test_use_1_use_after_30_days_without_use_fires_and_29_days_does_not() -> None:
    base = [_use(0, "alcohol")]
    assert fired(signs(*base, _use(29.99, "alcohol")), at(30), "USE-1") == []
    assert fired(signs(*base, _use(30, "alcohol")), at(30), "USE-1") == ["moderate"]
    assert fired(signs(*base, _use(30, "fentanyl")), at(30), "USE-1") == ["high"]


def test_use_1_counts_from_enrollment_and_holds_14_days() -> None:
    s = signs(_use(31, "opioids"))  # enrolled a day before T0
    assert fired(s, at(31), "USE-1") == ["high"]
    assert fired(s, at(45) - SECOND, "USE-1") == ["high"]
    assert fired(s, at(45), "USE-1") == []


# --- SPR-1: the plan revised after a crisis -------------------------------------------------------


def test_spr_1_a_high_risk_crisis_wants_the_safety_plan_revised_within_72_hours() -> None:
    high = signs(crisis(risk_level="high", suicidality=False, occurred_at=at()))
    moderate = signs(crisis(risk_level="moderate", suicidality=False, occurred_at=at()))
    assert fired(high, at(hours=72) - SECOND, "SPR-1") == []
    assert fired(high, at(hours=72), "SPR-1") == ["moderate"]
    assert fired(moderate, at(5), "SPR-1") == []
    revised = observe(high, safety_plan_recorded(occurred_at=at(hours=70)))
    assert fired(revised, at(5), "SPR-1") == []


# --- CC-1: caring contacts after discharge --------------------------------------------------------


def test_cc_1_a_caring_contact_at_least_every_7_days_in_the_first_month() -> None:
    s = signs(discharged(occurred_at=at()))
    assert fired(s, at(7) - SECOND, "CC-1") == []
    assert fired(s, at(7), "CC-1") == ["moderate"]
    contacted = observe(s, caring_contact(occurred_at=at(6)))
    assert fired(contacted, at(13) - SECOND, "CC-1") == []
    assert fired(contacted, at(13), "CC-1") == ["moderate"]


def test_cc_1_asks_nothing_after_the_first_month_or_in_care() -> None:
    s = signs(discharged(occurred_at=at()), caring_contact(occurred_at=at(28)))
    assert fired(s, at(40), "CC-1") == []  # the next one would fall after day 30
    assert fired(signs(), at(40), "CC-1") == []


# --- PV-1: a client's death -----------------------------------------------------------------------


def test_pv_1_a_death_is_critical_at_once_until_a_death_review_and_then_a_root_cause_review() -> (
    None
):
    death = client_died("overdose", died_on=T0.date(), occurred_at=at())
    s = signs(death)
    assert fired(s, at(), "PV-1") == ["critical"]
    reviewed = observe(s, postvention(None, kind="death", occurred_at=at(2)))
    assert fired(reviewed, at(2), "PV-1") == []
    assert fired(reviewed, at(45) - SECOND, "PV-1") == []
    assert fired(reviewed, at(45), "PV-1") == ["high"]
    second = observe(reviewed, postvention(None, kind="death", occurred_at=at(40)))
    assert fired(second, at(45), "PV-1") == []


def test_every_rule_but_pv_1_stops_on_death() -> None:
    s = signs(
        transition("incarceration_release", occurred_at=at()),
        client_died("overdose", died_on=T0.date(), occurred_at=at(1)),
        assessment("PHQ-9", (0, 0, 0, 0, 0, 0, 0, 0, 3), occurred_at=at(2)),
    )
    assert {f.rule.id for f in evaluate(s, at(3), DEFAULTS)} == {"PV-1"}  # nothing new
    assert {f.rule.id for f in evaluate(s, at(20), DEFAULTS)} == {"PV-1"}


# --- the decider: safety plans and reviews --------------------------------------------------------


@pytest.mark.parametrize(
    "sections",
    [
        {"warning_signs": ()},
        {"coping_strategies": ()},
        {"crisis_lines": ()},
    ],
)
def test_a_safety_plan_without_warning_signs_coping_or_a_crisis_contact_is_refused(
    sections: dict[str, tuple[str, ...]],
) -> None:
    plan = safety_plan_recorded(**sections)
    given(enrolled()).when(plan).then_refused("incomplete_safety_plan")


def test_a_safety_plan_with_a_professional_instead_of_a_crisis_line_is_complete() -> None:
    plan = safety_plan_recorded(crisis_lines=(), professional_contacts=("Dr. Ames",))
    given(enrolled()).when(plan).then(plan)


def test_a_review_dated_before_its_crisis_is_refused() -> None:
    history = (enrolled(), crisis("c1", occurred_at=at(2)))
    given(*history).when(postvention("c1", occurred_at=at(1))).then_refused("review_before_crisis")
    on_time = postvention("c1", occurred_at=at(3))
    given(*history).when(on_time).then(on_time)


def test_a_death_review_needs_the_death_and_names_recorded_plan_changes() -> None:
    death = client_died(died_on=at(2).date(), occurred_at=at(2))
    given(enrolled()).when(postvention(None, kind="death", occurred_at=at(3))).then_refused(
        "unknown_crisis"
    )
    early = postvention(None, kind="death", occurred_at=at(1))
    given(enrolled(), death).when(early).then_refused("review_before_crisis")
    plan = safety_plan_recorded(occurred_at=at(3))
    review = postvention(
        None,
        kind="death",
        reviewers=("sup-1", "counselor-1"),
        plan_changes=(plan.event_id,),
        occurred_at=at(4),
    )
    given(enrolled(), death, plan).when(review).then(review)
    unknown = postvention(None, kind="death", plan_changes=(CLIENT,), occurred_at=at(4))
    given(enrolled(), death).when(unknown).then_refused("unknown_event")
