"""The client's record as clinicians read it: a pure fold over the client's stored history.

Events are folded in the order given (version order). A "latest" observation (check-in,
assessment per instrument, transition) is the one that happened last (`occurred_at`), so a
check-in sent late from an offline phone does not hide a newer one; ties go to the later version.

Corrections (DESIGN.md §4): an entry marked by `EntryEnteredInError`, or superseded by
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
from dataclasses import dataclass, field, fields, is_dataclass, replace
from datetime import date, datetime
from typing import Literal, TypeAlias, assert_never
from uuid import UUID

from domain.consent import BreakGlassInvoked, ConsentGranted, ConsentRevoked, DisclosureMade
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
from domain.flags import RiskFlagAcknowledged, RiskFlagRaised, RiskFlagResolved
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

Json: TypeAlias = str | int | float | bool | list["Json"] | dict[str, "Json"] | None

Status = Literal["in_care", "discharged"]
AppointmentStatus = Literal["scheduled", "attended", "missed"]
GoalStatus = Literal["set", "revised", "met"]
FlagStatus = Literal["open", "acknowledged"]

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


@dataclass(frozen=True, slots=True)
class Demographics:
    """Direct identifiers, kept apart so that de-identifying code can drop them whole."""

    given_name: str
    family_name: str
    birth_date: date
    phone: str | None


@dataclass(frozen=True, slots=True)
class Episode:
    """One episode of care, from enrollment or readmission to discharge."""

    episode_id: UUID
    opened_at: datetime
    closed_at: datetime | None = None
    close_reason: str | None = None


@dataclass(frozen=True, slots=True)
class CareTeamMember:
    member_id: str
    role: str
    org: str
    assigned_at: datetime


@dataclass(frozen=True, slots=True)
class CheckInPlan:
    cadence_hours: int
    channel: str
    set_at: datetime


@dataclass(frozen=True, slots=True)
class CheckIn:
    """The latest self-report; the free-text note stays in the history, not in the record."""

    occurred_at: datetime
    mood: int
    craving: int
    sleep_hours: float
    used_since_last: bool
    event_id: UUID


@dataclass(frozen=True, slots=True)
class Assessment:
    """The latest administration of one instrument, as the domain scored it."""

    instrument: str
    total: int | None
    band: str | None
    occurred_at: datetime
    event_id: UUID


@dataclass(frozen=True, slots=True)
class Appointment:
    appointment_id: str
    kind: str
    scheduled_for: datetime
    status: AppointmentStatus


@dataclass(frozen=True, slots=True)
class CarePlanGoal:
    goal_id: str
    description: str
    target_date: date | None
    status: GoalStatus


@dataclass(frozen=True, slots=True)
class Crisis:
    """A crisis: first contact's time, the latest contact's risk level, reviewed once postvened."""

    crisis_id: str
    risk_level: str
    occurred_at: datetime
    reviewed: bool = False


@dataclass(frozen=True, slots=True)
class SafetyPlan:
    """The current Stanley-Brown sections; `recorded_at` is when this version was made."""

    warning_signs: tuple[str, ...]
    coping_strategies: tuple[str, ...]
    social_contacts: tuple[str, ...]
    help_contacts: tuple[str, ...]
    professional_contacts: tuple[str, ...]
    crisis_lines: tuple[str, ...]
    means_safety: tuple[str, ...]
    reasons_for_living: tuple[str, ...]
    recorded_at: datetime
    revisions: int


@dataclass(frozen=True, slots=True)
class Medication:
    medication: str
    category: str
    started_at: datetime


@dataclass(frozen=True, slots=True)
class Transition:
    kind: str
    occurred_at: datetime


@dataclass(frozen=True, slots=True)
class Handoff:
    handoff_id: str
    to_org: str
    service: str
    priority: str
    status: HandoffPhase
    initiated_at: datetime


@dataclass(frozen=True, slots=True)
class RiskFlag:
    flag_id: str
    rule_id: str
    severity: str
    status: FlagStatus
    raised_at: datetime


@dataclass(frozen=True, slots=True)
class Consent:
    """An unrevoked, unsuperseded consent; whether it has expired depends on the reader's clock."""

    consent_id: str
    recipient_org: str
    purpose: str
    data_classes: tuple[str, ...]
    expires_at: datetime | None


@dataclass(frozen=True, slots=True)
class SupersededEntry:
    event_id: UUID
    replaced_by: UUID


@dataclass(frozen=True, slots=True)
class ClientRecord:
    """What a clinician reads about one client, as of the last event folded."""

    client_id: UUID
    status: Status
    program: str
    part2: bool
    enrolled_at: datetime
    version: int
    position: int
    last_recorded_at: datetime
    demographics: Demographics | None
    episodes: tuple[Episode, ...]
    care_team: tuple[CareTeamMember, ...]
    check_in_plan: CheckInPlan | None
    last_check_in: CheckIn | None
    assessments: tuple[Assessment, ...]
    sessions_count: int
    appointments: tuple[Appointment, ...]
    care_plan_goals: tuple[CarePlanGoal, ...]
    crises: tuple[Crisis, ...]
    safety_plan: SafetyPlan | None
    medications: tuple[Medication, ...]
    naloxone_kits: int
    overdoses: int
    last_transition: Transition | None
    handoffs: tuple[Handoff, ...]
    open_flags: tuple[RiskFlag, ...]
    consents: tuple[Consent, ...]
    entries_in_error: tuple[UUID, ...]
    entries_superseded: tuple[SupersededEntry, ...]

    def without_demographics(self) -> ClientRecord:
        """The record minus direct identifiers (HIPAA Safe Harbor names, dates of birth, phones)."""
        return replace(self, demographics=None)

    def to_dict(self) -> dict[str, Json]:
        """JSON-ready primitives: ids as strings, times and dates in ISO 8601, tuples as lists."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)}


def client_record(history: Iterable[Recorded]) -> ClientRecord | None:
    """The client's record after the given history, None if it holds no enrollment."""
    items = list(history)
    voided = _voided(items)
    draft: _Draft | None = None
    for item in items:
        event = item.event
        if draft is None:
            if isinstance(event, ClientEnrolled):
                draft = _Draft.enrolled(event, item)
            continue
        draft.last = item
        if event.type in CORRECTABLE and event.event_id in voided:
            continue
        draft.apply(item)
    return None if draft is None else draft.record()


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
    care_team: dict[tuple[str, str], CareTeamMember] = field(default_factory=dict)
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
    in_error: list[UUID] = field(default_factory=list)
    superseded: list[SupersededEntry] = field(default_factory=list)

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
                if self.episodes and self.episodes[-1].closed_at is None:
                    self.episodes[-1] = replace(
                        self.episodes[-1], closed_at=at, close_reason=event.data.reason
                    )
            case ClientReadmitted():
                self.status = "in_care"
            case CareTeamMemberAssigned():
                key = (event.data.member_id, event.data.role)
                if key not in self.care_team:
                    self.care_team[key] = CareTeamMember(
                        event.data.member_id, event.data.role, event.data.org, at
                    )
            case CareTeamMemberReleased():
                self.care_team.pop((event.data.member_id, event.data.role), None)
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
                crisis = self.crises.get(event.data.crisis_id)
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
                if flag is not None:
                    self.flags[flag.flag_id] = replace(flag, status="acknowledged")
            case RiskFlagResolved():
                self.flags.pop(event.data.flag_id, None)
            case ConsentGranted():
                granted = event.data
                if granted.supersedes is not None:
                    self.consents.pop(granted.supersedes, None)
                self.consents[granted.consent_id] = Consent(
                    granted.consent_id,
                    granted.recipient_org,
                    granted.purpose,
                    tuple(sorted(granted.data_classes)),
                    granted.expires_at,
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
                | ErasedEntry()
            ):
                pass  # not part of the clinician's record (access log, history, erased)
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
            care_team=tuple(self.care_team.values()),
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


def _plain(value: object) -> Json:
    """One value of the record as JSON primitives."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"no JSON form for {type(value).__name__}")
