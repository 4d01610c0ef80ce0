"""The client's care record refuses what docs/domain.md's invariants forbid and records the rest."""

from __future__ import annotations

import json
from datetime import timedelta
from uuid import uuid4, uuid5

import pytest
from pydantic import ValidationError

from domain.catalogue import parse_event
from domain.client import COUNSELING_NOTE_LABEL
from domain.commands import DEFAULT_CLOCK_SKEW
from domain.envelope import PART2_LABEL
from domain.monitoring import AssessmentData, AssessmentRecorded
from tests.unit.builders import (
    NOW,
    a_counselor,
    a_rule,
    a_service,
    after,
    appointment_attended,
    appointment_missed,
    appointment_scheduled,
    assessment,
    assigned,
    break_glass,
    check_in,
    check_in_plan_set,
    consent_granted,
    consent_revoked,
    corrected,
    crisis,
    discharged,
    enrolled,
    entered_in_error,
    episode_opened,
    flag_acknowledged,
    flag_raised,
    flag_resolved,
    handoff_failed,
    handoff_initiated,
    medication_started,
    naloxone,
    overdose,
    phq9,
    postvention,
    readmitted,
    record,
    released,
    safety_plan_recorded,
    session_held,
    transition,
)
from tests.unit.decider_spec import given

# --- enrollment and episodes ----------------------------------------------------------------------


def test_nothing_is_recorded_for_a_client_who_is_not_enrolled() -> None:
    given().when(check_in()).then_refused("client_not_enrolled")


def test_enrollment_opens_an_episode_with_ids_derived_from_the_enrollment() -> None:
    enrollment = enrolled(program="outpatient-oud")

    produced = (
        given()
        .when(enrollment)
        .then(
            enrollment,
            episode_opened(
                episode_id=uuid5(enrollment.event_id, "episode"), program="outpatient-oud"
            ),
        )
    )

    opened = produced[1]
    assert opened.event_id == uuid5(enrollment.event_id, "episode-opened")
    assert opened.causation_id == str(enrollment.event_id)
    assert opened.occurred_at == enrollment.occurred_at
    again = given().when(enrollment).then(*produced)
    assert [e.model_dump() for e in again] == [e.model_dump() for e in produced]


def test_a_client_in_care_is_not_enrolled_twice() -> None:
    given(enrolled()).when(enrolled()).then_refused("client_already_enrolled")


def test_a_discharged_client_is_readmitted_not_enrolled_again() -> None:
    given(enrolled(), discharged()).when(enrolled()).then_refused("client_already_enrolled")


def test_nothing_new_is_recorded_once_the_episode_is_closed() -> None:
    given(enrolled(), discharged()).when(check_in()).then_refused("episode_closed")


def test_a_discharged_client_is_not_discharged_again() -> None:
    given(enrolled(), discharged()).when(discharged()).then_refused("episode_closed")


def test_readmission_after_discharge_opens_a_new_episode() -> None:
    enrollment = enrolled(program="outpatient-oud")
    first_episode = uuid5(enrollment.event_id, "episode")
    readmission = readmitted(occurred_at=after(days=10))

    given(enrollment, discharged(occurred_at=after(days=5))).when(readmission).then(
        readmission,
        episode_opened(episode_id=uuid5(readmission.event_id, "episode"), program="outpatient-oud"),
    )
    assert uuid5(readmission.event_id, "episode") != first_episode


def test_only_a_discharged_client_is_readmitted() -> None:
    given(enrolled()).when(readmitted()).then_refused("episode_not_closed")


def test_after_readmission_care_is_recorded_again() -> None:
    visit = check_in(occurred_at=after(days=11))
    history = (
        enrolled(),
        discharged(occurred_at=after(days=5)),
        readmitted(occurred_at=after(days=10)),
    )
    given(*history).when(visit).then(visit)


# --- what may follow a discharge ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "loose_end"),
    [
        pytest.param([consent_granted("consent-1")], consent_revoked("consent-1"), id="revoke"),
        pytest.param([], consent_granted("consent-2"), id="grant-consent"),
        pytest.param([flag_raised("flag-1")], flag_resolved("flag-1"), id="resolve-flag"),
        pytest.param([flag_raised("flag-1")], flag_acknowledged("flag-1"), id="ack-flag"),
        pytest.param([], flag_raised("flag-2"), id="rule-raises-flag"),
        pytest.param([crisis("crisis-1")], postvention("crisis-1"), id="postvention"),
        pytest.param([handoff_initiated("h-1")], handoff_failed("h-1"), id="handoff-fails"),
        pytest.param([], overdose(), id="overdose-after-discharge"),
        pytest.param([], crisis(), id="crisis-after-discharge"),
        pytest.param([], safety_plan_recorded(), id="safety-plan-after-discharge"),
        pytest.param([], naloxone(), id="naloxone-after-discharge"),
        pytest.param([], transition(), id="transition-after-discharge"),
        pytest.param([], session_held(), id="follow-up-contact-after-discharge"),
    ],
)
def test_loose_ends_and_safety_work_are_still_recorded_after_discharge(setup, loose_end) -> None:
    given(enrolled(), *setup, discharged()).when(loose_end).then(loose_end)


def test_an_entry_is_still_marked_in_error_after_discharge() -> None:
    mistaken = check_in()
    correction = entered_in_error(mistaken.event_id)
    given(enrolled(), mistaken, discharged()).when(correction).then(correction)


@pytest.mark.parametrize(
    "new_care",
    [
        pytest.param(check_in(), id="check-in"),
        pytest.param(phq9(), id="assessment"),
        pytest.param(appointment_scheduled(), id="appointment"),
        pytest.param(medication_started(), id="medication"),
        pytest.param(assigned(), id="care-team"),
        pytest.param(check_in_plan_set(), id="check-in-plan"),
        pytest.param(handoff_initiated(), id="handoff"),
        pytest.param(break_glass(), id="break-glass"),
    ],
)
def test_no_new_care_is_recorded_after_discharge(new_care) -> None:
    given(enrolled(), discharged()).when(new_care).then_refused("episode_closed")


# --- idempotency ----------------------------------------------------------------------------------


def test_a_resent_check_in_records_nothing_new() -> None:
    first = check_in()
    given(enrolled(), first).when(first).then_nothing()


def test_a_resent_enrollment_records_nothing_new() -> None:
    enrollment = enrolled()
    given(enrollment).when(enrollment).then_nothing()


def test_a_resent_event_is_nothing_new_even_where_it_would_now_be_refused() -> None:
    first = check_in()
    given(enrolled(), first, discharged()).when(first).then_nothing()


# --- instruments ----------------------------------------------------------------------------------


def test_phq9_answers_get_total_and_band_computed_by_the_domain() -> None:
    submitted = phq9(3, 3, 3, 3, 2, 1, 0, 0, 1)
    scored = submitted.model_copy(
        update={
            "data": submitted.data.model_copy(
                update={
                    "total": 16,
                    "band": "moderately_severe",
                    "subscales": (("item9", 1), ("answered", 9)),
                }
            )
        }
    )
    given(enrolled()).when(submitted).then(scored)


def test_a_submitted_total_and_band_are_replaced_by_the_computed_ones() -> None:
    claimed = AssessmentData(instrument="AUDIT-C", answers=(4, 4, 4), total=0, band="negative")
    submitted = assessment("AUDIT-C", (4, 4, 4)).model_copy(update={"data": claimed})
    computed = claimed.model_copy(update={"total": 12, "band": "high"})
    given(enrolled()).when(submitted).then(submitted.model_copy(update={"data": computed}))


@pytest.mark.parametrize(
    ("instrument", "answers"),
    [
        pytest.param("PHQ-9", (1,) * 8, id="phq9-eight-items"),
        pytest.param("PHQ-9", (0, 0, 0, 0, 4, 0, 0, 0, 0), id="phq9-item-above-3"),
        pytest.param("PHQ-9", (True,) * 9, id="phq9-yes-no"),
        pytest.param("GAD-7", (0,) * 9, id="gad7-nine-items"),
        pytest.param("AUDIT-C", (1, 1), id="auditc-two-items"),
        pytest.param("DAST-10", (True,) * 9, id="dast10-nine-items"),
        pytest.param("DAST-10", (2,) * 10, id="dast10-not-yes-no"),
        pytest.param("C-SSRS-SCREEN", (False,) * 5, id="cssrs-five-items"),
        pytest.param("C-SSRS-SCREEN", (3, 0, 0, 0, 0, 0), id="cssrs-not-yes-no"),
    ],
)
def test_answers_must_match_the_instrument(instrument, answers) -> None:
    given(enrolled()).when(assessment(instrument, answers)).then_refused("invalid_answers")


def test_an_instrument_outside_the_catalogue_fails_validation() -> None:
    payload = json.loads(phq9().model_dump_json())
    payload["data"]["instrument"] = "BDI-II"
    with pytest.raises(ValidationError) as refused:
        parse_event(payload)
    (error,) = refused.value.errors(include_input=False)
    assert error["loc"][-1] == "instrument"
    assert error["type"] == "literal_error"


def test_the_decider_refuses_an_instrument_it_cannot_score() -> None:
    unvalidated = AssessmentRecorded.model_construct(
        **phq9().model_dump(exclude={"data"}),
        data=AssessmentData.model_construct(instrument="BDI-II", answers=(0,) * 21),
    )
    given(enrolled()).when(unvalidated).then_refused("unknown_instrument")


@pytest.mark.parametrize(
    ("field", "value"),
    [("mood", 11), ("craving", -1), ("sleep_hours", 25), ("sleep_hours", -0.5), ("mood", 7.5)],
)
def test_check_in_scales_are_in_range(field, value) -> None:
    payload = json.loads(check_in().model_dump_json())
    payload["data"][field] = value
    with pytest.raises(ValidationError):
        parse_event(payload)


def test_a_check_in_at_the_ends_of_its_scales_parses() -> None:
    sent = check_in(mood=10, craving=0, sleep_hours=24)
    assert parse_event(json.loads(sent.model_dump_json())) == sent


# --- time -----------------------------------------------------------------------------------------


def test_an_event_may_lie_ahead_of_the_clock_by_the_allowed_skew() -> None:
    ahead = check_in(occurred_at=NOW + DEFAULT_CLOCK_SKEW)
    given(enrolled()).when(record(ahead, now=NOW)).then(ahead)


def test_an_event_one_second_beyond_the_skew_is_refused() -> None:
    ahead = check_in(occurred_at=NOW + DEFAULT_CLOCK_SKEW + timedelta(seconds=1))
    given(enrolled()).when(record(ahead, now=NOW)).then_refused("occurred_in_future")


def test_the_allowed_skew_comes_with_the_command() -> None:
    ahead = check_in(occurred_at=NOW + timedelta(seconds=2))
    given(enrolled()).when(record(ahead, now=NOW, skew=timedelta(seconds=1))).then_refused(
        "occurred_in_future"
    )


def test_an_enrollment_in_the_future_is_refused() -> None:
    enrollment = enrolled(occurred_at=NOW + timedelta(hours=1))
    given().when(record(enrollment, now=NOW)).then_refused("occurred_in_future")


# --- crisis ---------------------------------------------------------------------------------------


def test_a_postvention_review_refers_to_a_crisis_of_the_same_client() -> None:
    review = postvention("crisis-1")
    given(enrolled(), crisis("crisis-1")).when(review).then(review)


def test_a_postvention_review_of_an_unknown_crisis_is_refused() -> None:
    given(enrolled(), crisis("crisis-1")).when(postvention("crisis-2")).then_refused(
        "unknown_crisis"
    )


# --- corrections ----------------------------------------------------------------------------------


def test_a_correction_refers_to_an_existing_event() -> None:
    given(enrolled(), check_in()).when(entered_in_error(uuid4())).then_refused("unknown_event")


def test_a_correction_of_an_existing_event_is_recorded() -> None:
    mistaken = check_in()
    correction = entered_in_error(mistaken.event_id)
    given(enrolled(), mistaken).when(correction).then(correction)


def test_a_replacement_refers_to_an_existing_target() -> None:
    replacement = check_in()
    given(enrolled(), replacement).when(corrected(uuid4(), replacement.event_id)).then_refused(
        "unknown_event"
    )


def test_a_replacement_is_recorded_before_it_supersedes() -> None:
    target = check_in()
    given(enrolled(), target).when(corrected(target.event_id, uuid4())).then_refused(
        "unknown_event"
    )


def test_an_entry_is_entered_in_error_once() -> None:
    mistaken = check_in()
    history = (enrolled(), mistaken, entered_in_error(mistaken.event_id))
    given(*history).when(entered_in_error(mistaken.event_id)).then_refused("entry_already_in_error")


def test_an_entry_in_error_is_not_superseded_afterwards() -> None:
    mistaken, replacement = check_in(), check_in()
    history = (enrolled(), mistaken, replacement, entered_in_error(mistaken.event_id))
    given(*history).when(corrected(mistaken.event_id, replacement.event_id)).then_refused(
        "entry_already_in_error"
    )


# --- care team, appointments, flags, consents -----------------------------------------------------


def test_only_a_member_on_the_care_team_is_released() -> None:
    given(enrolled()).when(released("counselor-9")).then_refused("not_on_care_team")


def test_the_enrolling_counselor_is_released_like_an_assigned_member() -> None:
    # given a client counselor-1 enrolled (nobody assigned them)
    release = released("counselor-1")
    given(enrolled(actor=a_counselor("counselor-1"))).when(release).then(release)


def test_a_service_that_enrolls_is_not_on_the_team() -> None:
    given(enrolled(actor=a_service())).when(released("ehr-bridge")).then_refused("not_on_care_team")


def test_a_member_is_released_in_the_role_they_hold() -> None:
    history = (enrolled(), assigned("member-5", role="counselor"))
    given(*history).when(released("member-5", role="case_manager")).then_refused("not_on_care_team")


def test_a_released_member_is_not_released_again() -> None:
    history = (enrolled(), assigned("counselor-1"), released("counselor-1"))
    given(*history).when(released("counselor-1")).then_refused("not_on_care_team")


def test_a_member_on_the_care_team_is_released() -> None:
    release = released("counselor-1")
    given(enrolled(), assigned("counselor-1")).when(release).then(release)


@pytest.mark.parametrize("outcome", [appointment_attended, appointment_missed])
def test_attendance_refers_to_a_scheduled_appointment(outcome) -> None:
    history = (enrolled(), appointment_scheduled("appt-1"))
    given(*history).when(outcome("appt-2")).then_refused("unknown_appointment")
    attended = outcome("appt-1")
    given(*history).when(attended).then(attended)


@pytest.mark.parametrize("closing", [flag_acknowledged, flag_resolved])
def test_only_a_raised_flag_is_acknowledged_or_resolved(closing) -> None:
    given(enrolled(), flag_raised("flag-1")).when(closing("flag-2")).then_refused("unknown_flag")


@pytest.mark.parametrize("closing", [flag_acknowledged, flag_resolved])
def test_a_resolved_flag_stays_closed(closing) -> None:
    history = (enrolled(), flag_raised("flag-1"), flag_resolved("flag-1"))
    given(*history).when(closing("flag-1")).then_refused("flag_already_closed")


def test_an_acknowledged_flag_is_resolved() -> None:
    resolution = flag_resolved("flag-1")
    history = (enrolled(), flag_raised("flag-1"), flag_acknowledged("flag-1"))
    given(*history).when(resolution).then(resolution)


def test_only_an_active_consent_is_revoked() -> None:
    given(enrolled()).when(consent_revoked("consent-1")).then_refused("unknown_consent")


def test_a_revoked_consent_is_not_revoked_again() -> None:
    history = (enrolled(), consent_granted("consent-1"), consent_revoked("consent-1"))
    given(*history).when(consent_revoked("consent-1")).then_refused("unknown_consent")


def test_a_superseded_consent_is_no_longer_revocable() -> None:
    history = (
        enrolled(),
        consent_granted("consent-1"),
        consent_granted("consent-2", supersedes="consent-1"),
    )
    given(*history).when(consent_revoked("consent-1")).then_refused("unknown_consent")


# --- what only the system records -----------------------------------------------------------------


def test_a_risk_flag_is_raised_by_a_rule_not_by_a_person() -> None:
    by_hand = flag_raised(actor=a_counselor())
    given(enrolled()).when(by_hand).then_refused("event_not_recordable")
    by_rule = flag_raised(actor=a_rule())
    given(enrolled()).when(by_rule).then(by_rule)


@pytest.mark.parametrize("history", [(), (enrolled(),)], ids=["not-enrolled", "in-care"])
def test_an_episode_is_opened_by_the_record_not_submitted(history) -> None:
    given(*history).when(episode_opened()).then_refused("event_not_recordable")


# --- security labels ------------------------------------------------------------------------------


def test_every_entry_of_a_part2_client_carries_the_part2_label() -> None:
    enrollment = enrolled(part2=True)
    produced = (
        given()
        .when(enrollment)
        .then(
            enrollment.model_copy(update={"security_labels": frozenset({PART2_LABEL})}),
            episode_opened(episode_id=uuid5(enrollment.event_id, "episode")),
        )
    )
    assert all(PART2_LABEL in e.security_labels for e in produced)

    visit = check_in()
    given(enrollment).when(visit).then(
        visit.model_copy(update={"security_labels": frozenset({PART2_LABEL})})
    )


def test_entries_of_a_client_outside_part2_carry_no_part2_label() -> None:
    visit = check_in()
    (recorded,) = given(enrolled(part2=False)).when(visit).then(visit)
    assert PART2_LABEL not in recorded.security_labels


def test_a_check_in_with_a_note_carries_the_counseling_note_label() -> None:
    noted = check_in(note="talked through a hard weekend")
    given(enrolled()).when(noted).then(
        noted.model_copy(update={"security_labels": frozenset({COUNSELING_NOTE_LABEL})})
    )


def test_a_session_note_of_a_part2_client_carries_both_labels() -> None:
    noted = session_held(note="relapse prevention plan")
    given(enrolled(part2=True)).when(noted).then(
        noted.model_copy(
            update={"security_labels": frozenset({COUNSELING_NOTE_LABEL, PART2_LABEL})}
        )
    )


def test_a_check_in_without_a_note_carries_no_counseling_note_label() -> None:
    plain = check_in(note=None)
    (recorded,) = given(enrolled()).when(plain).then(plain)
    assert COUNSELING_NOTE_LABEL not in recorded.security_labels


def test_a_flag_raised_again_after_it_was_resolved_can_be_acknowledged() -> None:
    history = (enrolled(), flag_raised("flag-1"), flag_resolved("flag-1"), flag_raised("flag-1"))
    acknowledgement = flag_acknowledged("flag-1")
    given(*history).when(acknowledgement).then(acknowledgement)


def test_an_entry_cannot_be_corrected_by_itself() -> None:
    target = check_in()
    given(enrolled(), target).when(corrected(target.event_id, target.event_id)).then_refused(
        "unknown_event"
    )
