"""What the early-warning rules need to remember about one client, folded from the record.

`observe(signs, event, position)` is a pure fold like a decider's `evolve`: the signs after one
more recorded event, or the same object when the event tells the rules nothing (so a caller can
skip writing). The rules themselves (domain/early_warning.py) read these signs and a clock.

Only what a rule (docs/domain.md) reads is kept: craving and sleep of recent check-ins, the latest
PHQ-9 item 9, suicide-risk screens, crises and whether they were reviewed, overdose-risk windows,
naloxone, appointment outcomes, open handoffs, the check-in plan and the flags already raised. Lists
are pruned to a horizon beyond every default threshold (`KEEP_DAYS`; check-ins `KEEP_CHECK_IN_DAYS`,
which bounds the craving baseline a configuration can ask for)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal, TypeVar
from uuid import UUID

from domain.catalogue import CareEvent
from domain.corrections import EntryCorrected, EntryEnteredInError
from domain.enrollment import CheckInPlanSet, ClientEnrolled, ClientReadmitted, EpisodeClosed
from domain.flags import (
    SERIOUS,
    FlagStatus,
    RiskFlagAcknowledged,
    RiskFlagCleared,
    RiskFlagRaised,
    RiskFlagResolved,
    Severity,
)
from domain.handoff import (
    HandoffAccepted,
    HandoffCompleted,
    HandoffDeclined,
    HandoffFailed,
    HandoffInitiated,
)
from domain.harm_reduction import (
    MedicationStopped,
    NaloxoneDistributed,
    OverdoseReported,
    TransitionReported,
)
from domain.instruments import score
from domain.monitoring import AssessmentRecorded, CheckInRecorded
from domain.safety import (
    CrisisContactRecorded,
    PostventionReviewRecorded,
    SafetyPlanRecorded,
    SafetyPlanRevised,
)
from domain.sessions import AppointmentAttended, AppointmentMissed, SessionHeld

KEEP_DAYS = 45
KEEP_CHECK_IN_DAYS = 15  # the 14-day craving baseline and a run of check-ins
KEEP_CHECK_INS = 60
KEEP_CLOSED_FLAGS = 100

WindowKind = Literal["transition", "opioid_stopped", "overdose"]
ScreenLevel = Literal["none", "low", "moderate", "high"]

_SUICIDAL_RISK_LEVELS = frozenset({"moderate", "high", "imminent"})


@dataclass(frozen=True, slots=True)
class Mark:
    """One recorded event the rules point at as evidence, with its business time."""

    event_id: UUID
    at: datetime


@dataclass(frozen=True, slots=True)
class CheckIn:
    event_id: UUID
    at: datetime
    craving: int
    sleep_hours: float


@dataclass(frozen=True, slots=True)
class Phq9:
    event_id: UUID
    at: datetime
    item9: int


@dataclass(frozen=True, slots=True)
class Screen:
    """A C-SSRS screener triaged by the Columbia guidelines."""

    event_id: UUID
    at: datetime
    level: ScreenLevel


@dataclass(frozen=True, slots=True)
class Crisis:
    event_id: UUID
    at: datetime
    crisis_id: str
    reviewed: bool = False


@dataclass(frozen=True, slots=True)
class Window:
    """The start of an overdose-risk window: a transition, an opioid medication stopped, an OD."""

    event_id: UUID
    at: datetime
    kind: WindowKind


@dataclass(frozen=True, slots=True)
class Appointment:
    """An appointment's outcome, at the time it was scheduled for."""

    event_id: UUID
    at: datetime
    missed: bool


@dataclass(frozen=True, slots=True)
class Handoff:
    handoff_id: str
    initiated: Mark
    accepted: Mark | None = None


@dataclass(frozen=True, slots=True)
class KnownFlag:
    """A flag the record holds already, so the rules neither raise it twice nor forget it.

    `raised` counts how often it was raised (a withdrawn entry may reopen it), so the events of
    each round get their own deterministic ids; `by_rule` says a rule, not a person, closed it;
    `raised_at` and `acknowledged` feed the escalation rule.
    """

    flag_id: str
    rule_id: str
    status: FlagStatus
    severity: Severity = "high"
    raised: int = 1
    by_rule: bool = False
    raised_at: datetime | None = None
    raised_event_id: UUID | None = None
    acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class WarningSigns:
    """Everything the early-warning rules read about one client."""

    client_id: UUID
    org: str | None = None
    in_care: bool = False
    back_in_care: Mark | None = None
    discharged: Mark | None = None
    serious_at_discharge: tuple[str, ...] = ()
    plan: Mark | None = None
    cadence_hours: int | None = None
    check_ins: tuple[CheckIn, ...] = ()
    phq9: Phq9 | None = None
    screens: tuple[Screen, ...] = ()
    risks: tuple[Mark, ...] = ()
    last_safety_plan_at: datetime | None = None
    crises: tuple[Crisis, ...] = ()
    follow_ups_due: tuple[Mark, ...] = ()
    last_contact_at: datetime | None = None
    windows: tuple[Window, ...] = ()
    last_naloxone_at: datetime | None = None
    appointments: tuple[Appointment, ...] = ()
    handoffs: tuple[Handoff, ...] = ()
    flags: tuple[KnownFlag, ...] = ()

    def flag(self, flag_id: str) -> KnownFlag | None:
        for known in self.flags:
            if known.flag_id == flag_id:
                return known
        return None


Dated = TypeVar("Dated", CheckIn, Screen, Mark, Crisis, Window, Appointment)


def no_signs(client_id: UUID) -> WarningSigns:
    return WarningSigns(client_id=client_id)


def observe(signs: WarningSigns, event: CareEvent) -> WarningSigns:
    """The signs after one more recorded event; the same object if the rules do not care."""
    mark = Mark(event.event_id, event.occurred_at)
    match event:
        case ClientEnrolled():
            return replace(signs, in_care=True, org=signs.org or event.actor.org)
        case ClientReadmitted():
            return replace(
                signs, in_care=True, back_in_care=mark, discharged=None, serious_at_discharge=()
            )
        case EpisodeClosed():
            serious = tuple(
                f.flag_id
                for f in signs.flags
                if f.status != "resolved" and f.severity in SERIOUS and f.rule_id != "DIS-1"
            )
            return replace(signs, in_care=False, discharged=mark, serious_at_discharge=serious)
        case CheckInPlanSet():
            return replace(signs, plan=mark, cadence_hours=event.data.cadence_hours)
        case CheckInRecorded():
            entry = CheckIn(mark.event_id, mark.at, event.data.craving, event.data.sleep_hours)
            return replace(signs, check_ins=_recent_check_ins((*signs.check_ins, entry)))
        case AssessmentRecorded():
            return _assessed(signs, event)
        case CrisisContactRecorded():
            crisis = Crisis(mark.event_id, mark.at, event.data.crisis_id)
            risky = event.data.suicidality and event.data.risk_level in _SUICIDAL_RISK_LEVELS
            return replace(
                signs,
                crises=_unreviewed_or_recent((*signs.crises, crisis)),
                follow_ups_due=_unanswered((*signs.follow_ups_due, mark), signs.last_contact_at),
                risks=_unplanned((*signs.risks, mark), signs) if risky else signs.risks,
            )
        case TransitionReported():
            window = Window(mark.event_id, mark.at, "transition")
            due = signs.follow_ups_due
            if event.data.kind == "ed_discharge":
                due = _unanswered((*due, mark), signs.last_contact_at)
            return replace(signs, windows=_recent((*signs.windows, window)), follow_ups_due=due)
        case MedicationStopped():
            if event.data.category != "moud":
                return signs
            window = Window(mark.event_id, mark.at, "opioid_stopped")
            return replace(signs, windows=_recent((*signs.windows, window)))
        case OverdoseReported():
            if event.data.fatal:
                return signs
            window = Window(mark.event_id, mark.at, "overdose")
            return replace(signs, windows=_recent((*signs.windows, window)))
        case NaloxoneDistributed():
            return replace(signs, last_naloxone_at=_latest(signs.last_naloxone_at, mark.at))
        case SafetyPlanRecorded() | SafetyPlanRevised():
            plan_at = _latest(signs.last_safety_plan_at, mark.at)
            planned = replace(signs, last_safety_plan_at=plan_at)
            return replace(planned, risks=_unplanned(signs.risks, planned))
        case PostventionReviewRecorded():
            crises = tuple(
                replace(c, reviewed=True) if c.crisis_id == event.data.crisis_id else c
                for c in signs.crises
            )
            return replace(signs, crises=_unreviewed_or_recent(crises))
        case SessionHeld():
            return _contacted(signs, mark.at)
        case AppointmentAttended() | AppointmentMissed():
            outcome = Appointment(
                mark.event_id, event.data.scheduled_for, isinstance(event, AppointmentMissed)
            )
            kept = replace(signs, appointments=_recent((*signs.appointments, outcome), keep=3))
            return _contacted(kept, mark.at) if isinstance(event, AppointmentAttended) else kept
        case HandoffInitiated():
            handoff = Handoff(event.data.handoff_id, mark)
            return replace(signs, handoffs=(*signs.handoffs, handoff))
        case HandoffAccepted():
            return replace(
                signs,
                handoffs=tuple(
                    replace(h, accepted=mark) if h.handoff_id == event.data.handoff_id else h
                    for h in signs.handoffs
                ),
            )
        case HandoffDeclined() | HandoffCompleted() | HandoffFailed():
            still_open = tuple(h for h in signs.handoffs if h.handoff_id != event.data.handoff_id)
            return replace(signs, handoffs=still_open)
        case RiskFlagRaised():
            return _flag_raised(signs, event)
        case RiskFlagAcknowledged():
            return _flag_status(signs, event.data.flag_id, "acknowledged")
        case RiskFlagCleared():
            return _flag_status(signs, event.data.flag_id, "cleared")
        case RiskFlagResolved():
            return _flag_status(
                signs, event.data.flag_id, "resolved", by_rule=event.actor.kind == "rule"
            )
        case EntryEnteredInError() | EntryCorrected():
            return forget(signs, event.data.target_event_id)
        case _:
            return signs


def _assessed(signs: WarningSigns, event: AssessmentRecorded) -> WarningSigns:
    data = event.data
    if data.instrument == "PHQ-9":
        item9 = dict(data.subscales).get("item9")
        if item9 is None:
            item9 = int(data.answers[8]) if len(data.answers) >= 9 else 0
        latest = Phq9(event.event_id, event.occurred_at, item9)
        if signs.phq9 is not None and signs.phq9.at > latest.at:
            return signs
        return replace(signs, phq9=latest)
    if data.instrument == "C-SSRS-SCREEN":
        level = data.band or score(data.instrument, data.answers).band
        screen = Screen(event.event_id, event.occurred_at, _level(level))
        risks = signs.risks
        if screen.level in ("moderate", "high"):
            risks = _unplanned((*risks, Mark(event.event_id, event.occurred_at)), signs)
        return replace(signs, screens=_by_time((*signs.screens, screen))[-5:], risks=risks)
    return signs


def _level(band: str) -> ScreenLevel:
    match band:
        case "high":
            return "high"
        case "moderate":
            return "moderate"
        case "low":
            return "low"
        case _:
            return "none"


def forget(signs: WarningSigns, event_id: UUID) -> WarningSigns:
    """Drop an entry marked entered-in-error or corrected, wherever the rules kept it."""
    phq9 = None if signs.phq9 is not None and signs.phq9.event_id == event_id else signs.phq9
    return replace(
        signs,
        phq9=phq9,
        check_ins=tuple(c for c in signs.check_ins if c.event_id != event_id),
        screens=tuple(s for s in signs.screens if s.event_id != event_id),
        risks=tuple(r for r in signs.risks if r.event_id != event_id),
        crises=tuple(c for c in signs.crises if c.event_id != event_id),
        follow_ups_due=tuple(m for m in signs.follow_ups_due if m.event_id != event_id),
        windows=tuple(w for w in signs.windows if w.event_id != event_id),
        appointments=tuple(a for a in signs.appointments if a.event_id != event_id),
    )


def _flag_raised(signs: WarningSigns, event: RiskFlagRaised) -> WarningSigns:
    before = signs.flag(event.data.flag_id)
    known = KnownFlag(
        event.data.flag_id,
        event.data.rule_id,
        "open",
        severity=event.data.severity,
        raised=1 if before is None else before.raised + 1,
        raised_at=event.occurred_at,
        raised_event_id=event.event_id,
    )
    return replace(signs, flags=_with_flag(signs.flags, known))


def _flag_status(
    signs: WarningSigns, flag_id: str, status: FlagStatus, *, by_rule: bool = False
) -> WarningSigns:
    known = signs.flag(flag_id)
    if known is None or known.status == "resolved":
        return signs
    if status == "acknowledged":
        changed = replace(
            known,
            acknowledged=True,
            status="acknowledged" if known.status == "open" else known.status,
        )
    else:
        changed = replace(known, status=status, by_rule=by_rule)
    return replace(signs, flags=_with_flag(signs.flags, changed))


def _with_flag(flags: tuple[KnownFlag, ...], known: KnownFlag) -> tuple[KnownFlag, ...]:
    others = [f for f in flags if f.flag_id != known.flag_id]
    closed = [f for f in others if f.status == "resolved"]
    if len(closed) >= KEEP_CLOSED_FLAGS:
        oldest = closed[0].flag_id
        others = [f for f in others if f.flag_id != oldest]
    return (*others, known)


def _recent_check_ins(check_ins: tuple[CheckIn, ...]) -> tuple[CheckIn, ...]:
    ordered = _by_time(check_ins)
    horizon = ordered[-1].at - timedelta(days=KEEP_CHECK_IN_DAYS)
    return tuple(c for n, c in enumerate(ordered) if n >= len(ordered) - 5 or c.at >= horizon)[
        -KEEP_CHECK_INS:
    ]


def _recent(items: tuple[Dated, ...], keep: int = 0) -> tuple[Dated, ...]:
    """Oldest first, without what lies beyond the horizon behind the newest, but the last `keep`."""
    ordered = _by_time(items)
    horizon = ordered[-1].at - timedelta(days=KEEP_DAYS)
    cut = len(ordered) - keep
    return tuple(item for n, item in enumerate(ordered) if n >= cut or item.at >= horizon)


def _unreviewed_or_recent(crises: tuple[Crisis, ...]) -> tuple[Crisis, ...]:
    ordered = _by_time(crises)
    horizon = ordered[-1].at - timedelta(days=KEEP_DAYS) if ordered else None
    return tuple(c for c in ordered if not c.reviewed or horizon is None or c.at >= horizon)


def _unanswered(due: tuple[Mark, ...], last_contact_at: datetime | None) -> tuple[Mark, ...]:
    """Crises and ED discharges still waiting for a follow-up contact after them."""
    return tuple(m for m in _by_time(due) if last_contact_at is None or last_contact_at <= m.at)


def _unplanned(risks: tuple[Mark, ...], signs: WarningSigns) -> tuple[Mark, ...]:
    """Moderate or high suicide risks with no safety plan recorded since."""
    planned = signs.last_safety_plan_at
    return tuple(r for r in _by_time(risks) if planned is None or planned < r.at)


def _contacted(signs: WarningSigns, at: datetime) -> WarningSigns:
    contact = _latest(signs.last_contact_at, at)
    return replace(
        signs, last_contact_at=contact, follow_ups_due=_unanswered(signs.follow_ups_due, contact)
    )


def _by_time(items: tuple[Dated, ...]) -> tuple[Dated, ...]:
    """Oldest first by business time: events may arrive out of order."""
    return tuple(sorted(items, key=lambda item: item.at))


def _latest(current: datetime | None, candidate: datetime) -> datetime:
    return candidate if current is None or candidate > current else current
