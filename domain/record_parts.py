"""What the clinician's record of a client is made of: the frozen parts of ClientRecord, the
literals their statuses take, and their JSON form. domain/record.py folds a history into them.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass, replace
from datetime import date, datetime
from typing import Literal, TypeAlias
from uuid import UUID

from domain.handoff import HandoffPhase

Json: TypeAlias = str | int | float | bool | list["Json"] | dict[str, "Json"] | None

Status = Literal["in_care", "discharged"]
AppointmentStatus = Literal["scheduled", "attended", "missed"]
GoalStatus = Literal["set", "revised", "met"]
FlagStatus = Literal["open", "acknowledged", "cleared"]


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
    expires_on_event: str | None = None


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
    died_on: date | None = None

    def without_demographics(self) -> ClientRecord:
        """The record minus direct identifiers (HIPAA Safe Harbor names, dates of birth, phones)."""
        return replace(self, demographics=None)

    def to_dict(self) -> dict[str, Json]:
        """JSON-ready primitives: ids as strings, times and dates in ISO 8601, tuples as lists."""
        return {f.name: plain(getattr(self, f.name)) for f in fields(self)}


def plain(value: object) -> Json:
    """One value of the record as JSON primitives."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in fields(value)}
    raise TypeError(f"no JSON form for {type(value).__name__}")
