"""Builders of synthetic care events with defaults, so a test shows only what its rule is about.

Times are fixed (`after(...)` counts from T0); ids are fresh per call. No real person is named.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from domain.aftercare import CaringContactData, CaringContactSent, ClientDied, DeathData
from domain.catalogue import CareEvent
from domain.client import decide, evolve, initial_state
from domain.commands import DEFAULT_CLOCK_SKEW, RecordCareEvent
from domain.consent import (
    AccountingData,
    AccountingProvided,
    BreakGlassData,
    BreakGlassInvoked,
    ConsentData,
    ConsentGranted,
    ConsentRecipient,
    ConsentRef,
    ConsentRevoked,
    DisclosureData,
    DisclosureMade,
)
from domain.corrections import (
    CorrectedData,
    EnteredInErrorData,
    EntryCorrected,
    EntryEnteredInError,
)
from domain.enrollment import (
    CareTeamMemberAssigned,
    CareTeamMemberReleased,
    CheckInPlanData,
    CheckInPlanSet,
    ClientEnrolled,
    ClientReadmitted,
    EnrollmentData,
    EpisodeClosed,
    EpisodeData,
    EpisodeOpened,
    MemberData,
    ReasonData,
)
from domain.envelope import Actor
from domain.erasure import ErasedData, ErasedEntry
from domain.flags import (
    FlagNoteData,
    FlagRaisedData,
    RiskFlagAcknowledged,
    RiskFlagCleared,
    RiskFlagRaised,
    RiskFlagResolved,
)
from domain.handoff import (
    HandoffAccepted,
    HandoffCompleted,
    HandoffCompletedData,
    HandoffDecisionData,
    HandoffDeclined,
    HandoffFailed,
    HandoffInitiated,
    HandoffInitiatedData,
)
from domain.harm_reduction import (
    ConsultData,
    MedicationChanged,
    MedicationConsultRecorded,
    MedicationData,
    MedicationStarted,
    MedicationStopped,
    NaloxoneData,
    NaloxoneDistributed,
    OverdoseData,
    OverdoseReported,
    TransitionData,
    TransitionReported,
)
from domain.monitoring import (
    AssessmentData,
    AssessmentRecorded,
    CheckInData,
    CheckInMissed,
    CheckInMissedData,
    CheckInRecorded,
)
from domain.recorded import Recorded
from domain.safety import (
    CrisisContactRecorded,
    CrisisData,
    PostventionData,
    PostventionReviewRecorded,
    SafetyPlanData,
    SafetyPlanRecorded,
    SafetyPlanRevised,
)
from domain.sessions import (
    AppointmentAttended,
    AppointmentData,
    AppointmentMissed,
    AppointmentScheduled,
    CarePlanGoalMet,
    CarePlanGoalRevised,
    CarePlanGoalSet,
    GoalData,
    GoalRef,
    SessionData,
    SessionHeld,
)

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
NOW = T0 + timedelta(days=30)
CLIENT = UUID("00000000-0000-4000-8000-00000000c11e")
HOME_ORG = "harbor-clinic"
PEER_ORG = "harbor-peer"
OTHER_ORG = "bayside-detox"


def after(*, days: float = 0, hours: float = 0, minutes: float = 0) -> datetime:
    """A fixed business time, counted from T0."""
    return T0 + timedelta(days=days, hours=hours, minutes=minutes)


# --- who acts -------------------------------------------------------------------------------------


def a_counselor(member_id: str = "counselor-1", org: str = HOME_ORG) -> Actor:
    return Actor(id=member_id, role="counselor", org=org)


def a_peer(member_id: str = "peer-17", org: str = PEER_ORG) -> Actor:
    return Actor(id=member_id, role="peer_specialist", org=org)


def a_prescriber(member_id: str = "prescriber-3", org: str = HOME_ORG) -> Actor:
    return Actor(id=member_id, role="prescriber", org=org)


def a_crisis_clinician(member_id: str = "crisis-9", org: str = HOME_ORG) -> Actor:
    return Actor(id=member_id, role="crisis_clinician", org=org)


def a_rule(rule_id: str = "early-warning") -> Actor:
    return Actor(id=rule_id, role="rule", org=HOME_ORG, kind="rule")


def a_service(service_id: str = "ehr-bridge", org: str = HOME_ORG) -> Actor:
    return Actor(id=service_id, role="service", org=org, kind="service")


def _envelope(
    *,
    occurred_at: datetime | None = None,
    actor: Actor | None = None,
    event_id: UUID | None = None,
    client_id: UUID = CLIENT,
    purpose_of_use: str = "treatment",
    security_labels: frozenset[str] = frozenset(),
    default_actor: Actor | None = None,
) -> dict[str, Any]:
    return {
        "event_id": event_id or uuid4(),
        "client_id": client_id,
        "occurred_at": occurred_at or T0,
        "actor": actor or default_actor or a_counselor(),
        "purpose_of_use": purpose_of_use,
        "security_labels": security_labels,
    }


# --- commands -------------------------------------------------------------------------------------


def record(
    event: CareEvent, *, now: datetime = NOW, skew: timedelta = DEFAULT_CLOCK_SKEW
) -> RecordCareEvent:
    """Ask the care record to record one event, at the edge's `now`."""
    return RecordCareEvent(event, now=now, max_clock_skew=skew)


def stored(*events: CareEvent, now: datetime = NOW) -> list[Recorded]:
    """What the store would hold after deciding each event in turn (derived events included)."""
    state = initial_state()
    history: list[Recorded] = []
    ids: set[UUID] = set()
    for event in events:
        for produced in decide(record(event, now=now), state, ids):
            state = evolve(state, produced)
            ids.add(produced.event_id)
            version = len(history) + 1
            history.append(
                Recorded(
                    event=produced,
                    version=version,
                    position=1000 + version,
                    recorded_at=produced.occurred_at + timedelta(seconds=1),
                )
            )
    return history


# --- enrollment and team --------------------------------------------------------------------------


def enrolled(
    client_id: UUID = CLIENT,
    *,
    part2: bool = False,
    program: str = "outpatient-oud",
    given_name: str = "Test",
    family_name: str = "Client",
    birth_date: date = date(1990, 1, 1),
    phone: str | None = "555-0100",
    **envelope: Any,
) -> ClientEnrolled:
    return ClientEnrolled(
        **_envelope(client_id=client_id, **envelope),
        data=EnrollmentData(
            program=program,
            part2=part2,
            given_name=given_name,
            family_name=family_name,
            birth_date=birth_date,
            phone=phone,
        ),
    )


def episode_opened(
    *, episode_id: UUID | None = None, program: str = "outpatient-oud", **envelope: Any
) -> EpisodeOpened:
    return EpisodeOpened(
        **_envelope(**envelope),
        data=EpisodeData(episode_id=episode_id or uuid4(), program=program),
    )


def discharged(reason: str = "completed treatment", **envelope: Any) -> EpisodeClosed:
    return EpisodeClosed(**_envelope(**envelope), data=ReasonData(reason=reason))


def readmitted(reason: str = "returned after relapse", **envelope: Any) -> ClientReadmitted:
    return ClientReadmitted(**_envelope(**envelope), data=ReasonData(reason=reason))


def assigned(
    member_id: str = "counselor-1", role: str = "counselor", org: str = HOME_ORG, **envelope: Any
) -> CareTeamMemberAssigned:
    return CareTeamMemberAssigned(
        **_envelope(**envelope), data=MemberData(member_id=member_id, role=role, org=org)
    )


def released(
    member_id: str = "counselor-1", role: str = "counselor", org: str = HOME_ORG, **envelope: Any
) -> CareTeamMemberReleased:
    return CareTeamMemberReleased(
        **_envelope(**envelope), data=MemberData(member_id=member_id, role=role, org=org)
    )


def check_in_plan_set(
    cadence_hours: int = 24, channel: str = "text", **envelope: Any
) -> CheckInPlanSet:
    return CheckInPlanSet(
        **_envelope(**envelope),
        data=CheckInPlanData(cadence_hours=cadence_hours, channel=channel),
    )


# --- consent and access ---------------------------------------------------------------------------


def consent_granted(
    consent_id: str = "consent-1",
    *,
    recipient_org: str = PEER_ORG,
    purpose: str = "treatment",
    data_classes: tuple[str, ...] = ("check_in", "care_team"),
    expires_at: datetime | None = None,
    supersedes: str | None = None,
    **envelope: Any,
) -> ConsentGranted:
    """A consent with every element 42 CFR 2.31(a) asks of a new one (the older one-recipient
    fields too); without `expires_at` it ends at discharge."""
    return ConsentGranted(
        **_envelope(**envelope),
        data=ConsentData(
            consent_id=consent_id,
            recipient_org=recipient_org,
            purpose=purpose,
            data_classes=frozenset(data_classes),
            expires_at=expires_at,
            supersedes=supersedes,
            disclosing_party="the treating program",
            recipients=(ConsentRecipient(id=recipient_org, name=recipient_org),),
            purposes=frozenset({purpose}),
            expires_on_event=None if expires_at is not None else "EpisodeClosed",
            signed_by="patient",
            signed_on=date(2026, 3, 1),
            revocation_instructions="In writing to the privacy officer.",
        ),
    )


def consent_revoked(consent_id: str = "consent-1", **envelope: Any) -> ConsentRevoked:
    return ConsentRevoked(
        **_envelope(**envelope),
        data=ConsentRef(consent_id=consent_id, revoked_by="patient", method="written"),
    )


def break_glass(reason: str = "unresponsive in lobby", **envelope: Any) -> BreakGlassInvoked:
    return BreakGlassInvoked(
        **_envelope(default_actor=a_crisis_clinician(), purpose_of_use="emergency", **envelope),
        data=BreakGlassData(reason=reason, minutes=60),
    )


def disclosure_made(consent_id: str | None = "consent-1", **envelope: Any) -> DisclosureMade:
    return DisclosureMade(
        **_envelope(default_actor=a_service(), **envelope),
        data=DisclosureData(
            recipient_org=PEER_ORG,
            recipient_id="peer-17",
            purpose="treatment",
            data_classes=frozenset({"check_in"}),
            consent_id=consent_id,
        ),
    )


def accounting_provided(**envelope: Any) -> AccountingProvided:
    return AccountingProvided(
        **_envelope(
            default_actor=Actor(id="sup-1", role="supervisor", org=HOME_ORG),
            purpose_of_use="operations",
            **envelope,
        ),
        data=AccountingData(
            provided_to="patient",
            format="csv",
            until=envelope.get("occurred_at", T0),
            entries=1,
            disclosure_event_ids=(UUID("00000000-0000-4000-8000-0000000d15c1"),),
            digest="sha256:" + "0" * 64,
        ),
    )


def erased_entry(original_type: str = "CheckInRecorded", **envelope: Any) -> ErasedEntry:
    """What a reader gets for an entry once its client's data key was destroyed."""
    return ErasedEntry(
        **_envelope(**envelope),
        data=ErasedData(original_type=original_type, original_schema_version=1),
    )


# --- monitoring -----------------------------------------------------------------------------------


def assessment(
    instrument: str = "PHQ-9",
    answers: tuple[int | bool, ...] = (0,) * 9,
    **envelope: Any,
) -> AssessmentRecorded:
    return AssessmentRecorded(
        **_envelope(**envelope),
        data=AssessmentData(instrument=instrument, answers=answers),
    )


def phq9(*answers: int, **envelope: Any) -> AssessmentRecorded:
    return assessment("PHQ-9", answers or (0,) * 9, **envelope)


def check_in(
    *,
    mood: int = 6,
    craving: int = 3,
    sleep_hours: float = 7.0,
    used_since_last: bool = False,
    substances: tuple[str, ...] = (),
    note: str | None = None,
    **envelope: Any,
) -> CheckInRecorded:
    return CheckInRecorded(
        **_envelope(default_actor=a_peer(), **envelope),
        data=CheckInData(
            mood=mood,
            craving=craving,
            sleep_hours=sleep_hours,
            used_since_last=used_since_last,
            substances=frozenset(substances),
            note=note,
        ),
    )


def check_in_missed(due_at: datetime = T0, **envelope: Any) -> CheckInMissed:
    return CheckInMissed(
        **_envelope(default_actor=a_service(), **envelope), data=CheckInMissedData(due_at=due_at)
    )


# --- sessions and plans ---------------------------------------------------------------------------


def session_held(
    kind: str = "counseling",
    *,
    modality: str = "in_person",
    minutes: int = 50,
    note: str | None = None,
    **envelope: Any,
) -> SessionHeld:
    return SessionHeld(
        **_envelope(**envelope),
        data=SessionData(kind=kind, modality=modality, minutes=minutes, note=note),
    )


def _appointment(appointment_id: str, kind: str, scheduled_for: datetime | None) -> AppointmentData:
    return AppointmentData(
        appointment_id=appointment_id, kind=kind, scheduled_for=scheduled_for or after(days=7)
    )


def appointment_scheduled(
    appointment_id: str = "appt-1",
    *,
    kind: str = "counseling",
    scheduled_for: datetime | None = None,
    **envelope: Any,
) -> AppointmentScheduled:
    return AppointmentScheduled(
        **_envelope(**envelope), data=_appointment(appointment_id, kind, scheduled_for)
    )


def appointment_attended(
    appointment_id: str = "appt-1",
    *,
    kind: str = "counseling",
    scheduled_for: datetime | None = None,
    **envelope: Any,
) -> AppointmentAttended:
    return AppointmentAttended(
        **_envelope(**envelope), data=_appointment(appointment_id, kind, scheduled_for)
    )


def appointment_missed(
    appointment_id: str = "appt-1",
    *,
    kind: str = "counseling",
    scheduled_for: datetime | None = None,
    **envelope: Any,
) -> AppointmentMissed:
    return AppointmentMissed(
        **_envelope(**envelope), data=_appointment(appointment_id, kind, scheduled_for)
    )


def goal_set(
    goal_id: str = "goal-1",
    *,
    description: str = "Attend two peer meetings a week",
    target_date: date | None = None,
    **envelope: Any,
) -> CarePlanGoalSet:
    return CarePlanGoalSet(
        **_envelope(**envelope),
        data=GoalData(goal_id=goal_id, description=description, target_date=target_date),
    )


def goal_revised(
    goal_id: str = "goal-1",
    *,
    description: str = "Attend three peer meetings a week",
    target_date: date | None = None,
    **envelope: Any,
) -> CarePlanGoalRevised:
    return CarePlanGoalRevised(
        **_envelope(**envelope),
        data=GoalData(goal_id=goal_id, description=description, target_date=target_date),
    )


def goal_met(goal_id: str = "goal-1", **envelope: Any) -> CarePlanGoalMet:
    return CarePlanGoalMet(**_envelope(**envelope), data=GoalRef(goal_id=goal_id))


# --- handoffs -------------------------------------------------------------------------------------


def handoff_initiated(
    handoff_id: str = "handoff-1",
    *,
    to_org: str = PEER_ORG,
    to_member_id: str | None = None,
    service: str = "peer recovery support",
    reason: str = "step down after detox",
    priority: str = "urgent",
    **envelope: Any,
) -> HandoffInitiated:
    return HandoffInitiated(
        **_envelope(**envelope),
        data=HandoffInitiatedData(
            handoff_id=handoff_id,
            to_org=to_org,
            to_member_id=to_member_id,
            service=service,
            reason=reason,
            priority=priority,
        ),
    )


def handoff_accepted(handoff_id: str = "handoff-1", **envelope: Any) -> HandoffAccepted:
    return HandoffAccepted(
        **_envelope(default_actor=a_peer(), **envelope),
        data=HandoffDecisionData(handoff_id=handoff_id),
    )


def handoff_declined(
    handoff_id: str = "handoff-1", reason: str = "no capacity this week", **envelope: Any
) -> HandoffDeclined:
    return HandoffDeclined(
        **_envelope(default_actor=a_peer(), **envelope),
        data=HandoffDecisionData(handoff_id=handoff_id, reason=reason),
    )


def handoff_completed(
    handoff_id: str = "handoff-1", *, client_present: bool = True, **envelope: Any
) -> HandoffCompleted:
    return HandoffCompleted(
        **_envelope(default_actor=a_peer(), **envelope),
        data=HandoffCompletedData(
            handoff_id=handoff_id, client_present=client_present, modality="in_person"
        ),
    )


def handoff_failed(
    handoff_id: str = "handoff-1", reason: str = "client did not arrive", **envelope: Any
) -> HandoffFailed:
    return HandoffFailed(
        **_envelope(**envelope), data=HandoffDecisionData(handoff_id=handoff_id, reason=reason)
    )


# --- safety and crisis ----------------------------------------------------------------------------


def crisis(
    crisis_id: str = "crisis-1",
    *,
    risk_level: str = "high",
    suicidality: bool = True,
    overdose_danger: bool = False,
    follow_up_due_at: datetime | None = None,
    **envelope: Any,
) -> CrisisContactRecorded:
    return CrisisContactRecorded(
        **_envelope(default_actor=a_crisis_clinician(), **envelope),
        data=CrisisData(
            crisis_id=crisis_id,
            channel="call",
            risk_level=risk_level,
            suicidality=suicidality,
            overdose_danger=overdose_danger,
            interventions=("safety planning",),
            disposition="stabilized at home",
            follow_up_due_at=follow_up_due_at,
        ),
    )


def _plan(**sections: tuple[str, ...]) -> SafetyPlanData:
    defaults: dict[str, tuple[str, ...]] = {
        "warning_signs": ("isolating",),
        "coping_strategies": ("walk",),
        "crisis_lines": ("988",),
        "reasons_for_living": ("family",),
    }
    return SafetyPlanData(**{**defaults, **sections})


def safety_plan_recorded(**sections_and_envelope: Any) -> SafetyPlanRecorded:
    sections, envelope = _split_sections(sections_and_envelope)
    return SafetyPlanRecorded(**_envelope(**envelope), data=_plan(**sections))


def safety_plan_revised(**sections_and_envelope: Any) -> SafetyPlanRevised:
    sections, envelope = _split_sections(sections_and_envelope)
    return SafetyPlanRevised(**_envelope(**envelope), data=_plan(**sections))


def _split_sections(kwargs: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    names = set(SafetyPlanData.model_fields)
    return (
        {k: v for k, v in kwargs.items() if k in names},
        {k: v for k, v in kwargs.items() if k not in names},
    )


def postvention(
    crisis_id: str | None = "crisis-1",
    *,
    kind: str = "crisis",
    reviewers: tuple[str, ...] = (),
    plan_changes: tuple[UUID, ...] = (),
    **envelope: Any,
) -> PostventionReviewRecorded:
    return PostventionReviewRecorded(
        **_envelope(**envelope),
        data=PostventionData(
            crisis_id=crisis_id,
            kind=kind,
            reviewers=reviewers,
            plan_change_event_ids=plan_changes,
            what_worked=("same-day call back",),
            what_did_not=("after-hours line busy",),
            plan_changes=("add warm line",),
        ),
    )


# --- harm reduction and medication ----------------------------------------------------------------


def naloxone(
    kits: int = 2, *, recipient: str = "client", training_given: bool = True, **envelope: Any
) -> NaloxoneDistributed:
    return NaloxoneDistributed(
        **_envelope(default_actor=a_peer(), **envelope),
        data=NaloxoneData(kits=kits, recipient=recipient, training_given=training_given),
    )


def overdose(
    *, fatal: bool = False, naloxone_used: bool = True, ed_visit: bool = True, **envelope: Any
) -> OverdoseReported:
    return OverdoseReported(
        **_envelope(**envelope),
        data=OverdoseData(fatal=fatal, naloxone_used=naloxone_used, ed_visit=ed_visit),
    )


def medication_started(
    medication: str = "buprenorphine", category: str = "moud", **envelope: Any
) -> MedicationStarted:
    return MedicationStarted(
        **_envelope(default_actor=a_prescriber(), **envelope),
        data=MedicationData(medication=medication, category=category, dose="16 mg"),
    )


def medication_changed(
    medication: str = "buprenorphine", category: str = "moud", **envelope: Any
) -> MedicationChanged:
    return MedicationChanged(
        **_envelope(default_actor=a_prescriber(), **envelope),
        data=MedicationData(medication=medication, category=category, dose="24 mg"),
    )


def medication_stopped(
    medication: str = "buprenorphine", category: str = "moud", **envelope: Any
) -> MedicationStopped:
    return MedicationStopped(
        **_envelope(default_actor=a_prescriber(), **envelope),
        data=MedicationData(medication=medication, category=category, reason="tapered"),
    )


def medication_consult(
    medication: str = "naltrexone", **envelope: Any
) -> MedicationConsultRecorded:
    return MedicationConsultRecorded(
        **_envelope(default_actor=a_prescriber(), **envelope),
        data=ConsultData(medication=medication, notes="discussed injectable"),
    )


def transition(kind: str = "detox_discharge", **envelope: Any) -> TransitionReported:
    return TransitionReported(**_envelope(**envelope), data=TransitionData(kind=kind))


def caring_contact(
    channel: str = "text", message_kind: str = "caring_message", **envelope: Any
) -> CaringContactSent:
    return CaringContactSent(
        **_envelope(default_actor=a_peer(), **envelope),
        data=CaringContactData(channel=channel, message_kind=message_kind),
    )


def client_died(cause: str = "unknown", died_on: date | None = None, **envelope: Any) -> ClientDied:
    return ClientDied(
        **_envelope(**envelope),
        data=DeathData(died_on=died_on or T0.date(), cause=cause, source="family member"),
    )


# --- flags ----------------------------------------------------------------------------------------


def flag_raised(
    flag_id: str = "flag-1",
    *,
    rule_id: str = "craving-rising",
    severity: str = "moderate",
    evidence: tuple[UUID, ...] = (),
    **envelope: Any,
) -> RiskFlagRaised:
    return RiskFlagRaised(
        **_envelope(default_actor=a_rule(), **envelope),
        data=FlagRaisedData(
            flag_id=flag_id,
            rule_id=rule_id,
            rule_version=1,
            severity=severity,
            reason="craving up three check-ins in a row",
            evidence_event_ids=evidence,
        ),
    )


def flag_acknowledged(flag_id: str = "flag-1", **envelope: Any) -> RiskFlagAcknowledged:
    return RiskFlagAcknowledged(**_envelope(**envelope), data=FlagNoteData(flag_id=flag_id))


def flag_resolved(
    flag_id: str = "flag-1", *, note: str | None = "Reviewed with the client", **envelope: Any
) -> RiskFlagResolved:
    return RiskFlagResolved(**_envelope(**envelope), data=FlagNoteData(flag_id=flag_id, note=note))


def flag_cleared(flag_id: str = "flag-1", **envelope: Any) -> RiskFlagCleared:
    return RiskFlagCleared(
        **_envelope(default_actor=a_rule(), **envelope),
        data=FlagNoteData(flag_id=flag_id, note="Condition no longer holds"),
    )


# --- corrections ----------------------------------------------------------------------------------


def entered_in_error(
    target: UUID, reason: str = "recorded for the wrong client", **envelope: Any
) -> EntryEnteredInError:
    return EntryEnteredInError(
        **_envelope(**envelope), data=EnteredInErrorData(target_event_id=target, reason=reason)
    )


def corrected(
    target: UUID, replacement: UUID, reason: str = "wrong score keyed", **envelope: Any
) -> EntryCorrected:
    return EntryCorrected(
        **_envelope(**envelope),
        data=CorrectedData(target_event_id=target, replacement_event_id=replacement, reason=reason),
    )


# --- the whole catalogue --------------------------------------------------------------------------


def one_of_each() -> list[CareEvent]:
    """One event of every type in the catalogue, each with its optional fields filled."""
    first = check_in(note="slept badly, kept busy")
    return [
        enrolled(part2=True),
        episode_opened(),
        discharged(),
        readmitted(),
        assigned(),
        released(),
        check_in_plan_set(),
        consent_granted(expires_at=after(days=365), supersedes="consent-0"),
        consent_revoked(),
        break_glass(),
        disclosure_made(),
        accounting_provided(),
        assessment("DAST-10", (True, False, True, False, False, False, False, False, False, True)),
        first,
        check_in_missed(),
        session_held(note="worked on triggers"),
        appointment_scheduled(),
        appointment_attended(),
        appointment_missed(),
        goal_set(target_date=date(2026, 6, 1)),
        goal_revised(),
        goal_met(),
        handoff_initiated(to_member_id="peer-17"),
        handoff_accepted(),
        handoff_declined(),
        handoff_completed(),
        handoff_failed(),
        crisis(),
        safety_plan_recorded(),
        safety_plan_revised(means_safety=("lockbox",)),
        postvention(),
        naloxone(),
        overdose(),
        medication_started(),
        medication_changed(),
        medication_stopped(),
        medication_consult(),
        transition(),
        caring_contact(),
        client_died(),
        flag_raised(evidence=(first.event_id,)),
        flag_acknowledged(),
        flag_cleared(),
        flag_resolved(),
        entered_in_error(first.event_id),
        corrected(first.event_id, uuid4()),
        erased_entry(),
    ]
