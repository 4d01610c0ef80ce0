"""The client's record as clinicians read it: a pure fold over the client's stored history.

Events are folded in the order given (version order). A "latest" observation (check-in,
assessment per instrument, transition) is the one that happened last (`occurred_at`), so a
check-in sent late from an offline phone does not hide a newer one; ties go to the later version.

Corrections (docs/domain.md): an entry marked by `EntryEnteredInError`, or superseded by
`EntryCorrected`, does not count when its type is in `CORRECTABLE` — check-ins, assessments,
sessions, appointments, care-plan goals, check-in plans, crisis contacts, safety plans,
postvention reviews, naloxone, overdoses, medications and transitions: the record reads as if it
had never been made, and an earlier entry shows again. Enrollment, episodes, care team, consents,
risk flags and handoffs are workflow steps the decider keeps enforcing after a correction, so the
record mirrors the decider: undo them by releasing, revoking, resolving or failing, not by a
correction. Marking a correction itself in error does not bring its target back (as in the decider).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import assert_never
from uuid import UUID

from domain.aftercare import CaringContactSent, ClientDied
from domain.care_team import CareTeam, evolve_team
from domain.consent import (
    AccountingProvided,
    BreakGlassInvoked,
    ConsentGranted,
    ConsentRevoked,
    DisclosureMade,
)
from domain.corrections import EntryCorrected, EntryEnteredInError
from domain.enrollment import (
    CareTeamMemberAssigned,
    CareTeamMemberReleased,
    CheckInPlanSet,
    ClientEnrolled,
    ClientReadmitted,
    EpisodeClosed,
    EpisodeOpened,
)
from domain.erasure import ErasedEntry
from domain.flags import (
    RiskFlagAcknowledged,
    RiskFlagCleared,
    RiskFlagRaised,
    RiskFlagResolved,
)
from domain.handoff import (
    HandoffAccepted,
    HandoffCompleted,
    HandoffDeclined,
    HandoffFailed,
    HandoffInitiated,
    HandoffPhase,
)
from domain.harm_reduction import (
    MedicationChanged,
    MedicationConsultRecorded,
    MedicationStarted,
    MedicationStopped,
    NaloxoneDistributed,
    OverdoseReported,
    TransitionReported,
)
from domain.monitoring import AssessmentRecorded, CheckInMissed, CheckInRecorded
from domain.record_parts import (
    Appointment,
    AppointmentStatus,
    Assessment,
    CarePlanGoal,
    CareTeamMember,
    CheckIn,
    CheckInPlan,
    ClientRecord,
    Consent,
    Crisis,
    Demographics,
    Episode,
    FlagStatus,
    GoalStatus,
    Handoff,
    Json,
    Medication,
    RiskFlag,
    SafetyPlan,
    Status,
    SupersededEntry,
    Transition,
)
from domain.recorded import Recorded
from domain.safety import (
    CrisisContactRecorded,
    PostventionReviewRecorded,
    SafetyPlanData,
    SafetyPlanRecorded,
    SafetyPlanRevised,
)
from domain.sessions import (
    AppointmentAttended,
    AppointmentMissed,
    AppointmentScheduled,
    CarePlanGoalMet,
    CarePlanGoalRevised,
    CarePlanGoalSet,
    GoalData,
    SessionHeld,
)

# The parts are named here too: readers take the record and its parts from this module.
__all__ = [
    "CORRECTABLE",
    "Appointment",
    "AppointmentStatus",
    "Assessment",
    "CarePlanGoal",
    "CareTeamMember",
    "CheckIn",
    "CheckInPlan",
    "ClientRecord",
    "Consent",
    "Crisis",
    "Demographics",
    "Episode",
    "FlagStatus",
    "GoalStatus",
    "Handoff",
    "Json",
    "Medication",
    "RiskFlag",
    "SafetyPlan",
    "Status",
    "SupersededEntry",
    "Transition",
    "client_record",
]

# Entries that drop out of the record once entered in error or superseded (module docstring).
CORRECTABLE: frozenset[str] = frozenset(
    {
        "CheckInRecorded",
        "CheckInMissed",
        "CheckInPlanSet",
        "AssessmentRecorded",
        "SessionHeld",
        "AppointmentScheduled",
        "AppointmentAttended",
        "AppointmentMissed",
        "CarePlanGoalSet",
        "CarePlanGoalRevised",
        "CarePlanGoalMet",
        "CrisisContactRecorded",
        "SafetyPlanRecorded",
        "SafetyPlanRevised",
        "PostventionReviewRecorded",
        "NaloxoneDistributed",
        "OverdoseReported",
        "MedicationStarted",
        "MedicationChanged",
        "MedicationStopped",
        "MedicationConsultRecorded",
        "TransitionReported",
    }
)


def client_record(history: Iterable[Recorded]) -> ClientRecord | None:
    """The client's record after the given history, None if it holds no enrollment."""
    return fold_record(history).record()


@dataclass(frozen=True, slots=True)
class RecordFold:
    """A client's record folded up to a version, resumable with the events after it: a reader
    keeps one per client and folds only what is new, so a record of 10,000 events costs about
    what one of 100 does. Never mutated once built (resuming folds a copy)."""

    version: int
    draft: _Draft | None

    def record(self) -> ClientRecord | None:
        return None if self.draft is None else self.draft.record()


def fold_record(history: Iterable[Recorded]) -> RecordFold:
    """The whole history folded (what `client_record` returns, kept resumable)."""
    items = list(history)
    voided = _voided(items)
    draft: _Draft | None = None
    for item in items:
        draft = _fold(draft, item, voided)
    return RecordFold(items[-1].version if items else 0, draft)


def resume_record(fold: RecordFold, newer: Iterable[Recorded]) -> RecordFold | None:
    """The fold carried on over the events after its version; None when one of them changes
    the past (an entry entered in error or corrected, an erased entry): fold everything again."""
    items = list(newer)
    if not items:
        return fold
    if any(isinstance(r.event, _REWRITES_THE_PAST) for r in items):
        return None
    if items[0].version != fold.version + 1:
        return None  # not the next events: a gap means this fold cannot be trusted
    draft = None if fold.draft is None else fold.draft.copy()
    for item in items:
        draft = _fold(draft, item, frozenset())
    return RecordFold(items[-1].version, draft)


def _fold(draft: _Draft | None, item: Recorded, voided: frozenset[UUID]) -> _Draft | None:
    event = item.event
    if draft is None:
        return _Draft.enrolled(event, item) if isinstance(event, ClientEnrolled) else None
    draft.last = item
    if not (event.type in CORRECTABLE and event.event_id in voided):
        draft.apply(item)
    return draft


_REWRITES_THE_PAST = (EntryEnteredInError, EntryCorrected, ErasedEntry)


def _voided(items: Iterable[Recorded]) -> frozenset[UUID]:
    """Ids of entries entered in error or superseded by a correction."""
    return frozenset(
        item.event.data.target_event_id
        for item in items
        if isinstance(item.event, EntryEnteredInError | EntryCorrected)
    )


@dataclass(slots=True)
class _Draft:
    """The record while it is being folded; local to `client_record`, never shared."""

    client_id: UUID
    program: str
    part2: bool
    enrolled_at: datetime
    demographics: Demographics
    last: Recorded
    status: Status = "in_care"
    episodes: list[Episode] = field(default_factory=list)
    care_team: CareTeam = ()  # domain/care_team.py: the enrolling clinician and assignments
    check_in_plan: CheckInPlan | None = None
    last_check_in: CheckIn | None = None
    assessments: dict[str, Assessment] = field(default_factory=dict)
    sessions_count: int = 0
    appointments: dict[str, Appointment] = field(default_factory=dict)
    goals: dict[str, CarePlanGoal] = field(default_factory=dict)
    crises: dict[str, Crisis] = field(default_factory=dict)
    safety_plan: SafetyPlan | None = None
    medications: dict[str, Medication] = field(default_factory=dict)
    naloxone_kits: int = 0
    overdoses: int = 0
    last_transition: Transition | None = None
    handoffs: dict[str, Handoff] = field(default_factory=dict)
    flags: dict[str, RiskFlag] = field(default_factory=dict)
    consents: dict[str, Consent] = field(default_factory=dict)
    died_on: date | None = None
    in_error: list[UUID] = field(default_factory=list)
    superseded: list[SupersededEntry] = field(default_factory=list)

    def copy(self) -> _Draft:
        """A draft to fold on without touching this one (its values are immutable; only the
        containers are copied)."""
        return replace(
            self,
            episodes=list(self.episodes),
            assessments=dict(self.assessments),
            appointments=dict(self.appointments),
            goals=dict(self.goals),
            crises=dict(self.crises),
            medications=dict(self.medications),
            handoffs=dict(self.handoffs),
            flags=dict(self.flags),
            consents=dict(self.consents),
            in_error=list(self.in_error),
            superseded=list(self.superseded),
        )

    @classmethod
    def enrolled(cls, event: ClientEnrolled, item: Recorded) -> _Draft:
        data = event.data
        return cls(
            client_id=event.client_id,
            program=data.program,
            part2=data.part2,
            enrolled_at=event.occurred_at,
            demographics=Demographics(
                given_name=data.given_name,
                family_name=data.family_name,
                birth_date=data.birth_date,
                phone=data.phone,
            ),
            last=item,
            care_team=evolve_team((), event),
        )

    def apply(self, item: Recorded) -> None:
        """Fold one more event; a step the decider would have refused changes nothing."""
        event = item.event
        at = event.occurred_at
        match event:
            case EpisodeOpened():
                self.episodes.append(Episode(episode_id=event.data.episode_id, opened_at=at))
            case EpisodeClosed():
                self.status = "discharged"
                self.consents = {  # consents that expire on discharge end here (2.31(a)(7))
                    cid: c
                    for cid, c in self.consents.items()
                    if c.expires_on_event != "EpisodeClosed"
                }
                if self.episodes and self.episodes[-1].closed_at is None:
                    self.episodes[-1] = replace(
                        self.episodes[-1], closed_at=at, close_reason=event.data.reason
                    )
            case ClientReadmitted():
                self.status = "in_care"
            case CareTeamMemberAssigned() | CareTeamMemberReleased():
                self.care_team = evolve_team(self.care_team, event)
            case CheckInPlanSet():
                self.check_in_plan = CheckInPlan(event.data.cadence_hours, event.data.channel, at)
            case CheckInRecorded():
                if self.last_check_in is None or at >= self.last_check_in.occurred_at:
                    check_in = event.data
                    self.last_check_in = CheckIn(
                        at,
                        check_in.mood,
                        check_in.craving,
                        check_in.sleep_hours,
                        check_in.used_since_last,
                        event.event_id,
                    )
            case AssessmentRecorded():
                sheet = event.data
                known = self.assessments.get(sheet.instrument)
                if known is None or at >= known.occurred_at:
                    self.assessments[sheet.instrument] = Assessment(
                        sheet.instrument, sheet.total, sheet.band, at, event.event_id
                    )
            case SessionHeld():
                self.sessions_count += 1
            case AppointmentScheduled():
                slot = event.data
                self.appointments[slot.appointment_id] = Appointment(
                    slot.appointment_id, slot.kind, slot.scheduled_for, "scheduled"
                )
            case AppointmentAttended():
                self._appointment(event.data.appointment_id, "attended")
            case AppointmentMissed():
                self._appointment(event.data.appointment_id, "missed")
            case CarePlanGoalSet():
                self.goals[event.data.goal_id] = _goal(event.data, "set")
            case CarePlanGoalRevised():
                self.goals[event.data.goal_id] = _goal(event.data, "revised")
            case CarePlanGoalMet():
                goal = self.goals.get(event.data.goal_id)
                if goal is not None:
                    self.goals[goal.goal_id] = replace(goal, status="met")
            case CrisisContactRecorded():
                contact = event.data
                crisis = self.crises.get(contact.crisis_id)
                self.crises[contact.crisis_id] = (
                    Crisis(contact.crisis_id, contact.risk_level, at)
                    if crisis is None
                    else replace(crisis, risk_level=contact.risk_level)
                )
            case PostventionReviewRecorded():
                crisis = (
                    None if event.data.crisis_id is None else self.crises.get(event.data.crisis_id)
                )
                if crisis is not None:
                    self.crises[crisis.crisis_id] = replace(crisis, reviewed=True)
            case SafetyPlanRecorded():
                self.safety_plan = _safety_plan(event.data, at, revisions=0)
            case SafetyPlanRevised():
                before = self.safety_plan
                revisions = 1 if before is None else before.revisions + 1
                self.safety_plan = _safety_plan(event.data, at, revisions=revisions)
            case NaloxoneDistributed():
                self.naloxone_kits += event.data.kits
            case OverdoseReported():
                self.overdoses += 1
            case MedicationStarted():
                started = event.data
                self.medications[started.medication] = Medication(
                    started.medication, started.category, at
                )
            case MedicationChanged():
                changed = event.data
                known_medication = self.medications.get(changed.medication)
                self.medications[changed.medication] = (
                    Medication(changed.medication, changed.category, at)
                    if known_medication is None
                    else replace(known_medication, category=changed.category)
                )
            case MedicationStopped():
                self.medications.pop(event.data.medication, None)
            case TransitionReported():
                if self.last_transition is None or at >= self.last_transition.occurred_at:
                    self.last_transition = Transition(event.data.kind, at)
            case HandoffInitiated():
                handoff = event.data
                if handoff.handoff_id not in self.handoffs:
                    self.handoffs[handoff.handoff_id] = Handoff(
                        handoff.handoff_id,
                        handoff.to_org,
                        handoff.service,
                        handoff.priority,
                        "initiated",
                        at,
                    )
            case HandoffAccepted():
                self._handoff(event.data.handoff_id, "accepted")
            case HandoffDeclined():
                self._handoff(event.data.handoff_id, "declined")
            case HandoffCompleted():
                self._handoff(event.data.handoff_id, "completed")
            case HandoffFailed():
                self._handoff(event.data.handoff_id, "failed")
            case RiskFlagRaised():
                raised = event.data
                self.flags[raised.flag_id] = RiskFlag(
                    raised.flag_id, raised.rule_id, raised.severity, "open", at
                )
            case RiskFlagAcknowledged():
                flag = self.flags.get(event.data.flag_id)
                if flag is not None and flag.status == "open":
                    self.flags[flag.flag_id] = replace(flag, status="acknowledged")
            case RiskFlagCleared():
                flag = self.flags.get(event.data.flag_id)
                if flag is not None:
                    self.flags[flag.flag_id] = replace(flag, status="cleared")
            case RiskFlagResolved():
                self.flags.pop(event.data.flag_id, None)
            case ConsentGranted():
                granted = event.data
                if granted.supersedes is not None:
                    self.consents.pop(granted.supersedes, None)
                recipients = {r.id for r in granted.recipients}
                recipients |= {granted.recipient_org} if granted.recipient_org else set()
                purposes = set(granted.purposes) | ({granted.purpose} if granted.purpose else set())
                self.consents[granted.consent_id] = Consent(
                    granted.consent_id,
                    "tpo" if granted.tpo else ",".join(sorted(recipients)),
                    ",".join(sorted(purposes)),
                    tuple(sorted(granted.data_classes)),
                    granted.expires_at,
                    granted.expires_on_event,
                )
            case ConsentRevoked():
                self.consents.pop(event.data.consent_id, None)
            case EntryEnteredInError():
                self.in_error.append(event.data.target_event_id)
            case EntryCorrected():
                self.superseded.append(
                    SupersededEntry(event.data.target_event_id, event.data.replacement_event_id)
                )
            case (
                ClientEnrolled()
                | CheckInMissed()
                | MedicationConsultRecorded()
                | BreakGlassInvoked()
                | DisclosureMade()
                | AccountingProvided()
                | ErasedEntry()
            ):
                pass  # not part of the clinician's record (access log, history, erased)
            case CaringContactSent():
                pass
            case ClientDied():
                self.died_on = event.data.died_on
            case _:
                assert_never(event)

    def _appointment(self, appointment_id: str, status: AppointmentStatus) -> None:
        appointment = self.appointments.get(appointment_id)
        if appointment is not None:
            self.appointments[appointment_id] = replace(appointment, status=status)

    def _handoff(self, handoff_id: str, status: HandoffPhase) -> None:
        handoff = self.handoffs.get(handoff_id)
        if handoff is not None:
            self.handoffs[handoff_id] = replace(handoff, status=status)

    def record(self) -> ClientRecord:
        return ClientRecord(
            client_id=self.client_id,
            status=self.status,
            program=self.program,
            part2=self.part2,
            enrolled_at=self.enrolled_at,
            version=self.last.version,
            position=self.last.position,
            last_recorded_at=self.last.recorded_at,
            demographics=self.demographics,
            episodes=tuple(self.episodes),
            care_team=tuple(
                CareTeamMember(m.member_id, m.role, m.org, m.since) for m in self.care_team
            ),
            check_in_plan=self.check_in_plan,
            last_check_in=self.last_check_in,
            assessments=tuple(self.assessments[name] for name in sorted(self.assessments)),
            sessions_count=self.sessions_count,
            appointments=tuple(self.appointments.values()),
            care_plan_goals=tuple(self.goals.values()),
            crises=tuple(self.crises.values()),
            safety_plan=self.safety_plan,
            medications=tuple(self.medications.values()),
            naloxone_kits=self.naloxone_kits,
            overdoses=self.overdoses,
            last_transition=self.last_transition,
            handoffs=tuple(self.handoffs.values()),
            open_flags=tuple(self.flags.values()),
            consents=tuple(self.consents.values()),
            entries_in_error=tuple(self.in_error),
            entries_superseded=tuple(self.superseded),
            died_on=self.died_on,
        )


def _goal(data: GoalData, status: GoalStatus) -> CarePlanGoal:
    return CarePlanGoal(data.goal_id, data.description, data.target_date, status)


def _safety_plan(data: SafetyPlanData, at: datetime, *, revisions: int) -> SafetyPlan:
    return SafetyPlan(
        warning_signs=data.warning_signs,
        coping_strategies=data.coping_strategies,
        social_contacts=data.social_contacts,
        help_contacts=data.help_contacts,
        professional_contacts=data.professional_contacts,
        crisis_lines=data.crisis_lines,
        means_safety=data.means_safety,
        reasons_for_living=data.reasons_for_living,
        recorded_at=at,
        revisions=revisions,
    )
