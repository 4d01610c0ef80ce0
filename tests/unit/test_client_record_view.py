"""The client's record as clinicians read it, folded from what the decider stored."""

from __future__ import annotations

import json
from datetime import date
from uuid import uuid5

from domain.record import (
    Appointment,
    CarePlanGoal,
    CareTeamMember,
    Crisis,
    Medication,
    client_record,
)
from tests.unit.builders import (
    CLIENT,
    HOME_ORG,
    PEER_ORG,
    a_rule,
    after,
    appointment_attended,
    appointment_missed,
    appointment_scheduled,
    assessment,
    assigned,
    check_in,
    check_in_plan_set,
    consent_granted,
    consent_revoked,
    corrected,
    crisis,
    discharged,
    enrolled,
    entered_in_error,
    flag_acknowledged,
    flag_raised,
    flag_resolved,
    goal_met,
    goal_revised,
    goal_set,
    handoff_accepted,
    handoff_initiated,
    medication_changed,
    medication_started,
    medication_stopped,
    naloxone,
    overdose,
    phq9,
    postvention,
    readmitted,
    released,
    safety_plan_recorded,
    safety_plan_revised,
    session_held,
    stored,
    transition,
)


def record_after(*events):
    record = client_record(stored(*events))
    assert record is not None
    return record


# --- enrollment and status ------------------------------------------------------------------------


def test_no_record_without_an_enrollment() -> None:
    assert client_record([]) is None


def test_an_enrolled_client_is_in_care_in_one_open_episode() -> None:
    enrollment = enrolled(part2=True, program="outpatient-oud", occurred_at=after(hours=1))

    record = record_after(enrollment)

    assert record.client_id == CLIENT
    assert (record.status, record.program, record.part2) == ("in_care", "outpatient-oud", True)
    assert record.enrolled_at == after(hours=1)
    (episode,) = record.episodes
    assert episode.episode_id == uuid5(enrollment.event_id, "episode")
    assert (episode.opened_at, episode.closed_at) == (after(hours=1), None)


def test_discharge_and_readmission_change_status_and_episodes() -> None:
    history = (
        enrolled(),
        discharged("moved away", occurred_at=after(days=5)),
    )
    record = record_after(*history)
    assert record.status == "discharged"
    assert record.episodes[0].closed_at == after(days=5)
    assert record.episodes[0].close_reason == "moved away"

    readmission = readmitted(occurred_at=after(days=9))
    record = record_after(*history, readmission)
    assert record.status == "in_care"
    assert [e.closed_at for e in record.episodes] == [after(days=5), None]
    assert record.episodes[1].episode_id == uuid5(readmission.event_id, "episode")


def test_version_and_position_are_those_of_the_last_event() -> None:
    history = stored(enrolled(), check_in(occurred_at=after(days=1)))

    record = client_record(history)

    assert record is not None
    assert (record.version, record.position) == (3, 1003)  # enrollment stored two events
    assert record.last_recorded_at == history[-1].recorded_at


def test_demographics_sit_apart_and_can_be_dropped() -> None:
    record = record_after(enrolled(given_name="Test", birth_date=date(1990, 1, 1)))

    assert record.demographics is not None
    assert record.demographics.given_name == "Test"
    assert record.demographics.birth_date == date(1990, 1, 1)
    plain = record.without_demographics().to_dict()
    assert plain["demographics"] is None
    assert "Test" not in json.dumps(plain)


# --- care team and plans --------------------------------------------------------------------------


def test_the_care_team_holds_current_members_only() -> None:
    record = record_after(
        enrolled(),
        assigned("counselor-1", occurred_at=after(hours=1)),
        assigned("peer-17", role="peer_specialist", org=PEER_ORG, occurred_at=after(hours=2)),
        released("counselor-1", occurred_at=after(days=3)),
    )

    assert record.care_team == (
        CareTeamMember("peer-17", "peer_specialist", PEER_ORG, after(hours=2)),
    )


def test_a_member_reassigned_after_release_joins_again() -> None:
    record = record_after(
        enrolled(),
        assigned("counselor-1", occurred_at=after(hours=1)),
        released("counselor-1", occurred_at=after(days=1)),
        assigned("counselor-1", occurred_at=after(days=2)),
    )

    assert record.care_team == (
        CareTeamMember("counselor-1", "counselor", HOME_ORG, after(days=2)),
    )


def test_the_latest_check_in_plan_holds() -> None:
    record = record_after(
        enrolled(),
        check_in_plan_set(24, "text", occurred_at=after(hours=1)),
        check_in_plan_set(72, "call", occurred_at=after(days=4)),
    )

    assert record.check_in_plan is not None
    assert (record.check_in_plan.cadence_hours, record.check_in_plan.channel) == (72, "call")
    assert record.check_in_plan.set_at == after(days=4)


def test_appointments_carry_their_outcome() -> None:
    record = record_after(
        enrolled(),
        appointment_scheduled("appt-1", scheduled_for=after(days=2)),
        appointment_scheduled("appt-2", scheduled_for=after(days=4)),
        appointment_scheduled("appt-3", scheduled_for=after(days=6)),
        appointment_attended("appt-1", scheduled_for=after(days=2), occurred_at=after(days=2)),
        appointment_missed("appt-2", scheduled_for=after(days=4), occurred_at=after(days=4)),
    )

    assert record.appointments == (
        Appointment("appt-1", "counseling", after(days=2), "attended"),
        Appointment("appt-2", "counseling", after(days=4), "missed"),
        Appointment("appt-3", "counseling", after(days=6), "scheduled"),
    )


def test_care_plan_goals_are_set_revised_and_met() -> None:
    record = record_after(
        enrolled(),
        goal_set("goal-1", description="Two meetings a week"),
        goal_set("goal-2", description="Find housing"),
        goal_revised("goal-1", description="Three meetings a week", target_date=date(2026, 3, 1)),
        goal_met("goal-2"),
    )

    assert record.care_plan_goals == (
        CarePlanGoal("goal-1", "Three meetings a week", date(2026, 3, 1), "revised"),
        CarePlanGoal("goal-2", "Find housing", None, "met"),
    )


# --- monitoring and corrections -------------------------------------------------------------------


def test_the_last_check_in_is_the_latest_that_happened() -> None:
    late = check_in(mood=2, occurred_at=after(days=1))
    record = record_after(
        enrolled(),
        check_in(mood=7, occurred_at=after(days=2)),
        late,  # sent from an offline phone after the newer one
    )

    assert record.last_check_in is not None
    assert record.last_check_in.mood == 7
    assert record.last_check_in.occurred_at == after(days=2)


def test_the_last_check_in_ignores_an_entry_entered_in_error() -> None:
    earlier = check_in(mood=6, craving=2, occurred_at=after(days=1))
    mistaken = check_in(mood=1, craving=9, occurred_at=after(days=2))

    record = record_after(
        enrolled(),
        earlier,
        mistaken,
        entered_in_error(mistaken.event_id, occurred_at=after(days=3)),
    )

    assert record.last_check_in is not None
    assert record.last_check_in.event_id == earlier.event_id
    assert (record.last_check_in.mood, record.last_check_in.craving) == (6, 2)
    assert record.entries_in_error == (mistaken.event_id,)


def test_a_lone_check_in_in_error_leaves_no_last_check_in() -> None:
    mistaken = check_in()
    record = record_after(enrolled(), mistaken, entered_in_error(mistaken.event_id))
    assert record.last_check_in is None


def test_the_latest_assessment_per_instrument_counts_unless_in_error() -> None:
    first = phq9(1, 1, 1, 1, 1, 0, 0, 0, 0, occurred_at=after(days=1))
    mistaken = phq9(3, 3, 3, 3, 3, 3, 3, 3, 3, occurred_at=after(days=8))
    screen = assessment("AUDIT-C", (2, 2, 1), occurred_at=after(days=1))

    record = record_after(enrolled(), first, screen, mistaken, entered_in_error(mistaken.event_id))

    by_name = {a.instrument: a for a in record.assessments}
    assert [a.instrument for a in record.assessments] == ["AUDIT-C", "PHQ-9"]
    assert (by_name["PHQ-9"].total, by_name["PHQ-9"].band) == (5, "mild")
    assert by_name["PHQ-9"].event_id == first.event_id
    assert (by_name["AUDIT-C"].total, by_name["AUDIT-C"].band) == (5, "positive")


def test_a_superseded_assessment_gives_way_to_its_replacement() -> None:
    wrong = phq9(3, 3, 3, 3, 3, 3, 3, 3, 3, occurred_at=after(days=1))
    right = phq9(0, 0, 0, 0, 0, 0, 0, 0, 0, occurred_at=after(days=1))

    record = record_after(enrolled(), wrong, right, corrected(wrong.event_id, right.event_id))

    (latest,) = record.assessments
    assert (latest.event_id, latest.total) == (right.event_id, 0)
    assert [(s.event_id, s.replaced_by) for s in record.entries_superseded] == [
        (wrong.event_id, right.event_id)
    ]


def test_sessions_in_error_do_not_count() -> None:
    mistaken = session_held()
    record = record_after(
        enrolled(), session_held(), mistaken, session_held(), entered_in_error(mistaken.event_id)
    )
    assert record.sessions_count == 2


# --- safety and crisis ----------------------------------------------------------------------------


def test_a_crisis_is_marked_reviewed_after_postvention() -> None:
    history = (
        enrolled(),
        crisis("crisis-1", risk_level="high", occurred_at=after(days=1)),
        crisis("crisis-2", risk_level="moderate", occurred_at=after(days=4)),
    )
    assert [c.reviewed for c in record_after(*history).crises] == [False, False]

    record = record_after(*history, postvention("crisis-1", occurred_at=after(days=5)))

    assert record.crises == (
        Crisis("crisis-1", "high", after(days=1), reviewed=True),
        Crisis("crisis-2", "moderate", after(days=4), reviewed=False),
    )


def test_a_crisis_in_error_drops_out() -> None:
    mistaken = crisis("crisis-1")
    record = record_after(
        enrolled(), crisis("crisis-2"), mistaken, entered_in_error(mistaken.event_id)
    )
    assert [c.crisis_id for c in record.crises] == ["crisis-2"]


def test_a_postvention_review_in_error_leaves_the_crisis_unreviewed() -> None:
    review = postvention("crisis-1")
    record = record_after(enrolled(), crisis("crisis-1"), review, entered_in_error(review.event_id))
    assert [c.reviewed for c in record.crises] == [False]


def test_the_safety_plan_counts_its_revisions() -> None:
    record = record_after(
        enrolled(),
        safety_plan_recorded(means_safety=("lock up medications",), occurred_at=after(days=1)),
        safety_plan_revised(means_safety=("lockbox",), occurred_at=after(days=5)),
        safety_plan_revised(
            means_safety=("lockbox", "rid of stockpile"), occurred_at=after(days=9)
        ),
    )

    plan = record.safety_plan
    assert plan is not None
    assert plan.revisions == 2
    assert plan.means_safety == ("lockbox", "rid of stockpile")
    assert plan.crisis_lines == ("988",)
    assert plan.recorded_at == after(days=9)


def test_a_revision_in_error_restores_the_plan_before_it() -> None:
    mistaken = safety_plan_revised(means_safety=("wrong client's plan",), occurred_at=after(days=5))
    record = record_after(
        enrolled(),
        safety_plan_recorded(means_safety=("lockbox",), occurred_at=after(days=1)),
        mistaken,
        entered_in_error(mistaken.event_id),
    )

    assert record.safety_plan is not None
    assert (record.safety_plan.revisions, record.safety_plan.means_safety) == (0, ("lockbox",))


# --- harm reduction and medication ----------------------------------------------------------------


def test_naloxone_kits_add_up_except_those_in_error() -> None:
    mistaken = naloxone(5)
    record = record_after(
        enrolled(), naloxone(2), naloxone(1), mistaken, entered_in_error(mistaken.event_id)
    )
    assert record.naloxone_kits == 3


def test_overdoses_are_counted() -> None:
    assert record_after(enrolled(), overdose(), overdose(fatal=False)).overdoses == 2


def test_active_medications_are_those_started_and_not_stopped() -> None:
    record = record_after(
        enrolled(),
        medication_started("buprenorphine", "moud", occurred_at=after(days=1)),
        medication_started("naltrexone", "aud", occurred_at=after(days=2)),
        medication_changed("buprenorphine", "moud", occurred_at=after(days=10)),
        medication_stopped("naltrexone", "aud", occurred_at=after(days=20)),
    )
    assert record.medications == (Medication("buprenorphine", "moud", after(days=1)),)


def test_the_last_transition_is_the_latest() -> None:
    record = record_after(
        enrolled(),
        transition("incarceration_release", occurred_at=after(days=3)),
        transition("detox_discharge", occurred_at=after(days=1)),
    )
    assert record.last_transition is not None
    assert record.last_transition.kind == "incarceration_release"


# --- handoffs, flags, consents --------------------------------------------------------------------


def test_handoffs_carry_their_step() -> None:
    record = record_after(
        enrolled(),
        handoff_initiated("h-1", occurred_at=after(days=1)),
        handoff_accepted("h-1", occurred_at=after(days=2)),
        handoff_initiated("h-2", priority="emergent", occurred_at=after(days=3)),
    )
    assert [(h.handoff_id, h.status, h.priority) for h in record.handoffs] == [
        ("h-1", "accepted", "urgent"),
        ("h-2", "initiated", "emergent"),
    ]
    assert record.handoffs[0].initiated_at == after(days=1)


def test_open_flags_leave_once_resolved() -> None:
    record = record_after(
        enrolled(),
        flag_raised("flag-1", severity="high", actor=a_rule(), occurred_at=after(days=1)),
        flag_raised("flag-2", severity="low", occurred_at=after(days=2)),
        flag_raised("flag-3", occurred_at=after(days=3)),
        flag_acknowledged("flag-2"),
        flag_resolved("flag-3"),
    )
    assert [(f.flag_id, f.status, f.severity) for f in record.open_flags] == [
        ("flag-1", "open", "high"),
        ("flag-2", "acknowledged", "low"),
    ]


def test_consents_leave_once_revoked_or_superseded() -> None:
    record = record_after(
        enrolled(),
        consent_granted("consent-1", data_classes=("check_in",)),
        consent_granted("consent-2", recipient_org="bayside-detox"),
        consent_granted("consent-3", supersedes="consent-1", data_classes=("session", "check_in")),
        consent_revoked("consent-2"),
    )
    (active,) = record.consents
    assert active.consent_id == "consent-3"
    assert active.data_classes == ("check_in", "session")


def test_loose_ends_after_discharge_show_on_the_record() -> None:
    record = record_after(
        enrolled(),
        consent_granted("consent-1"),
        flag_raised("flag-1"),
        discharged(occurred_at=after(days=3)),
        consent_revoked("consent-1", occurred_at=after(days=4)),
        flag_resolved("flag-1", occurred_at=after(days=4)),
    )
    assert (record.status, record.consents, record.open_flags) == ("discharged", (), ())


# --- the whole record as JSON ---------------------------------------------------------------------


def test_the_record_is_json_ready() -> None:
    first = check_in(occurred_at=after(days=1))
    record = record_after(
        enrolled(),
        assigned(),
        first,
        phq9(),
        crisis(),
        safety_plan_recorded(),
        consent_granted(expires_at=after(days=365)),
        entered_in_error(first.event_id),
    )

    plain = record.to_dict()

    assert json.loads(json.dumps(plain)) == plain
    assert plain["client_id"] == str(CLIENT)
    assert plain["enrolled_at"] == record.enrolled_at.isoformat()
    assert plain["entries_in_error"] == [str(first.event_id)]
    assert plain["consents"][0]["expires_at"] == (after(days=365)).isoformat()
    assert plain["demographics"]["birth_date"] == "1990-01-01"
    assert plain["safety_plan"]["crisis_lines"] == ["988"]
    assert plain["last_check_in"] is None


def test_the_record_as_of_an_earlier_version_is_the_fold_of_that_prefix() -> None:
    history = stored(
        enrolled(),
        check_in(mood=4, occurred_at=after(days=1)),
        check_in(mood=8, occurred_at=after(days=2)),
    )
    earlier = client_record(history[:3])
    assert earlier is not None
    assert earlier.last_check_in is not None
    assert (earlier.version, earlier.last_check_in.mood) == (3, 4)
    assert earlier.last_recorded_at == history[2].recorded_at
