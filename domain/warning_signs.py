"""What the early-warning rules need to remember about one client, folded from the record.

`observe(signs, event)` is a pure fold like a decider's `evolve`: the signs after one more
recorded event, or the same object when the event tells the rules nothing (so a caller can
skip writing). The rules themselves (domain/rules_*.py, run by domain/early_warning.py) read
these signs and a clock.

The fold keeps facts, not conclusions: each satisfying event (a safety plan, naloxone, a
contact, a review) is kept as itself, and the rules decide at evaluation time whether a risk was
answered. So a correction (`EntryEnteredInError`, `EntryCorrected`) only has to forget the
withdrawn entry wherever it was kept, and every rule sees the record as if it had never been
there (a property test holds the fold to this).

Lists are pruned to a horizon beyond every default threshold (`KEEP_DAYS` behind the newest
item of the list, always keeping the last few; check-ins `KEEP_CHECK_IN_DAYS`, which bounds the
craving baseline a configuration can ask for, plus `CORRECTION_REACH_DAYS`, so that withdrawing
the newest check-ins brings back the ones they had pushed out); a suicide risk no plan answered is
never pruned; contacts, which the rules only ask "was there one after this moment", keep the
last few alone. Every list keeps `KEEP_WITHDRAWABLE` entries more than a rule reads. The property
"flags with withdrawals equal flags without the withdrawn entries" holds for corrections within
that reach: up to `KEEP_WITHDRAWABLE` of a list's newest entries, over a history whose check-ins
span at most `KEEP_CHECK_IN_DAYS + CORRECTION_REACH_DAYS` (the property test draws histories of
up to 14 entries over 21 days).
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, fields, replace
from dataclasses import replace as dataclass_replace
from datetime import datetime, timedelta
from operator import attrgetter
from typing import TYPE_CHECKING, Literal, TypeVar
from uuid import UUID

from domain.aftercare import CaringContactSent, ClientDied
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
from domain.sessions import (
    AppointmentAttended,
    AppointmentMissed,
    AppointmentScheduled,
    SessionHeld,
)

KEEP_DAYS = 60
KEEP_LAST = 5
# Entries kept beyond what any rule reads, so that withdrawing up to this many of the newest
# entries of a list (each `EntryEnteredInError`) gives back the ones behind them: with only the
# last five PHQ-9s kept, six on one night with the newest five withdrawn left no PHQ-9 at all,
# where the history without them still had the first (the property test's counterexample).
KEEP_WITHDRAWABLE = 10
KEPT = KEEP_LAST + KEEP_WITHDRAWABLE
KEEP_CHECK_IN_DAYS = 15  # the 14-day craving baseline and a run of check-ins
# How far back a correction of the newest entries can reach: pruning runs this much behind the
# rules' own horizon, so that withdrawing the latest check-ins (an `EntryEnteredInError` weeks
# later) finds the older ones they had pushed out still there. Without it, five check-ins of
# one day and a sixth 15 days later, withdrawn, left the rules a different run than the same
# history without the sixth (the property test's counterexample).
# A week: a 45-day reach kept up to four times the check-ins per client, and every batch
# rewrites each client's signs document (the upsert of the signs was most of the projections'
# database time at 1M events, sampled from pg_stat_activity).
CORRECTION_REACH_DAYS = 7
KEEP_CHECK_INS = 60
KEEP_CLOSED_FLAGS = 100

WindowKind = Literal["transition", "opioid_stopped", "overdose", "overdose_danger"]
ScreenLevel = Literal["none", "low", "moderate", "high"]

_SUICIDAL_RISK_LEVELS = frozenset({"moderate", "high", "imminent"})
_OPIOIDS = frozenset({"opioids", "fentanyl", "heroin", "prescription_opioids"})
# Leaving these settings starts the follow-up clock of DIS-2 (HEDIS FUA/FUM/FUI).
HIGH_INTENSITY_DISCHARGES = frozenset(
    {"inpatient_discharge", "residential_discharge", "detox_discharge", "ed_discharge"}
)
_DISCHARGE_WORDS = frozenset(
    {"inpatient", "residential", "detox", "emergency", "hospital", "hospitalization", "ed"}
)


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
    risk_level: str = "high"
    suicidal: bool = False
    overdose_danger: bool = False
    follow_up_due_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Review:
    """A postvention review: of a crisis (by its id) or of a death."""

    event_id: UUID
    at: datetime
    crisis_id: str | None
    kind: str = "crisis"


@dataclass(frozen=True, slots=True)
class Window:
    """The start of an overdose-risk window: a transition, an opioid medication stopped, an
    overdose, or a crisis with overdose danger."""

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
class Plan:
    """A check-in plan set, with its cadence."""

    event_id: UUID
    at: datetime
    cadence_hours: int


@dataclass(frozen=True, slots=True)
class Use:
    """A check-in that reported use since the last one."""

    event_id: UUID
    at: datetime
    opioid: bool


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
    `raised_at`, `raised_event_id` and `acknowledged` feed the escalation rule.
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
    enrolled_at: datetime | None = None
    back_in_care: Mark | None = None
    discharged: Mark | None = None
    serious_at_discharge: tuple[str, ...] = ()
    died: Mark | None = None
    plans: tuple[Plan, ...] = ()
    check_ins: tuple[CheckIn, ...] = ()
    uses: tuple[Use, ...] = ()
    phq9s: tuple[Phq9, ...] = ()
    screens: tuple[Screen, ...] = ()
    risks: tuple[Mark, ...] = ()
    safety_plans: tuple[Mark, ...] = ()
    crises: tuple[Crisis, ...] = ()
    reviews: tuple[Review, ...] = ()
    contacts: tuple[Mark, ...] = ()
    scheduled: tuple[Mark, ...] = ()
    caring_contacts: tuple[Mark, ...] = ()
    discharges_due: tuple[Mark, ...] = ()
    windows: tuple[Window, ...] = ()
    naloxone: tuple[Mark, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    handoffs: tuple[Handoff, ...] = ()
    flags: tuple[KnownFlag, ...] = ()

    def flag(self, flag_id: str) -> KnownFlag | None:
        for known in self.flags:
            if known.flag_id == flag_id:
                return known
        return None

    @property
    def plan(self) -> Plan | None:
        """The check-in plan in force: the latest set."""
        return self.plans[-1] if self.plans else None

    @property
    def phq9(self) -> Phq9 | None:
        return self.phq9s[-1] if self.phq9s else None

    def planned_since(self, at: datetime) -> bool:
        """A safety plan recorded or revised at or after `at`."""
        return any(p.at >= at for p in self.safety_plans)

    def contacted_after(self, at: datetime) -> bool:
        return any(c.at > at for c in self.contacts)


# The fold changes a client's signs for most events it observes, each change a copy of 26
# fields. At run time `replace` copies the signs in two fifths of `dataclasses.replace`'s time
# (3.6 against 9.2 us): one attrgetter reads the values, and each is set through its slot as
# the generated __init__ sets it (the class has no __post_init__). Other dataclasses, and type
# checkers (which check each call's fields), get `dataclasses.replace` itself.
_SIGNS_FIELDS = tuple(field.name for field in fields(WarningSigns))
_SIGNS_PLACES = {name: place for place, name in enumerate(_SIGNS_FIELDS)}
_SIGNS_VALUES = attrgetter(*_SIGNS_FIELDS)
_SIGNS_SETTERS = tuple(getattr(WarningSigns, name).__set__ for name in _SIGNS_FIELDS)

if not TYPE_CHECKING:

    def replace(obj, /, **changes):  # dataclasses.replace, faster for the signs
        if type(obj) is not WarningSigns:
            return dataclass_replace(obj, **changes)
        values = list(_SIGNS_VALUES(obj))
        for name, value in changes.items():
            values[_SIGNS_PLACES[name]] = value
        changed = object.__new__(WarningSigns)
        for set_value, value in zip(_SIGNS_SETTERS, values, strict=True):
            set_value(changed, value)
        return changed


Dated = TypeVar(
    "Dated", CheckIn, Screen, Mark, Crisis, Window, Appointment, Phq9, Plan, Use, Review
)


def no_signs(client_id: UUID) -> WarningSigns:
    return WarningSigns(client_id=client_id)


def observe(signs: WarningSigns, event: CareEvent) -> WarningSigns:
    """The signs after one more recorded event; the same object if the rules do not care."""
    mark = Mark(event.event_id, event.occurred_at)
    match event:
        case ClientEnrolled():
            return replace(
                signs, in_care=True, org=signs.org or event.actor.org, enrolled_at=mark.at
            )
        case ClientReadmitted():
            return replace(
                signs, in_care=True, back_in_care=mark, discharged=None, serious_at_discharge=()
            )
        case EpisodeClosed():
            return _discharged(signs, event, mark)
        case ClientDied():
            return replace(signs, died=mark)
        case CheckInPlanSet():
            plan = Plan(mark.event_id, mark.at, event.data.cadence_hours)
            return replace(signs, plans=_recent((*signs.plans, plan)))
        case CheckInRecorded():
            return _checked_in(signs, event, mark)
        case AssessmentRecorded():
            return _assessed(signs, event)
        case CrisisContactRecorded():
            return _crisis(signs, event, mark)
        case TransitionReported():
            window = Window(mark.event_id, mark.at, "transition")
            due = signs.discharges_due
            if event.data.kind in HIGH_INTENSITY_DISCHARGES:
                due = _recent((*due, mark))
            return replace(signs, windows=_recent((*signs.windows, window)), discharges_due=due)
        case MedicationStopped():
            if event.data.category != "moud":
                return signs
            window = Window(mark.event_id, mark.at, "opioid_stopped")
            return replace(signs, windows=_recent((*signs.windows, window)))
        case OverdoseReported():
            if event.data.fatal:
                return signs
            window = Window(mark.event_id, mark.at, "overdose")
            due = signs.discharges_due
            if event.data.ed_visit:
                due = _recent((*due, mark))
            return replace(signs, windows=_recent((*signs.windows, window)), discharges_due=due)
        case NaloxoneDistributed():
            return replace(signs, naloxone=_recent((*signs.naloxone, mark)))
        case SafetyPlanRecorded() | SafetyPlanRevised():
            return replace(signs, safety_plans=_recent((*signs.safety_plans, mark)))
        case PostventionReviewRecorded():
            review = Review(mark.event_id, mark.at, event.data.crisis_id, event.data.kind)
            return replace(signs, reviews=_recent((*signs.reviews, review)))
        case SessionHeld():
            return replace(signs, contacts=_latest((*signs.contacts, mark)))
        case CaringContactSent():
            return replace(signs, caring_contacts=_recent((*signs.caring_contacts, mark)))
        case AppointmentScheduled():
            return replace(signs, scheduled=_recent((*signs.scheduled, mark)))
        case AppointmentAttended() | AppointmentMissed():
            missed = isinstance(event, AppointmentMissed)
            outcome = Appointment(mark.event_id, event.data.scheduled_for, missed)
            kept = replace(signs, appointments=_recent((*signs.appointments, outcome), keep=3))
            return kept if missed else replace(kept, contacts=_latest((*kept.contacts, mark)))
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


def _discharged(signs: WarningSigns, event: EpisodeClosed, mark: Mark) -> WarningSigns:
    serious = tuple(
        f.flag_id
        for f in signs.flags
        if f.status != "resolved" and f.severity in SERIOUS and f.rule_id != "DIS-1"
    )
    words = set(re.findall(r"[a-z]+", event.data.reason.lower()))
    due = signs.discharges_due
    if words & _DISCHARGE_WORDS:
        due = _recent((*due, mark))
    return replace(
        signs, in_care=False, discharged=mark, serious_at_discharge=serious, discharges_due=due
    )


def _checked_in(signs: WarningSigns, event: CheckInRecorded, mark: Mark) -> WarningSigns:
    entry = CheckIn(mark.event_id, mark.at, event.data.craving, event.data.sleep_hours)
    seen = replace(signs, check_ins=_recent_check_ins((*signs.check_ins, entry)))
    if not event.data.used_since_last:
        return seen
    use = Use(mark.event_id, mark.at, bool(event.data.substances & _OPIOIDS))
    return replace(seen, uses=_recent((*signs.uses, use)))


def _crisis(signs: WarningSigns, event: CrisisContactRecorded, mark: Mark) -> WarningSigns:
    data = event.data
    crisis = Crisis(
        mark.event_id,
        mark.at,
        data.crisis_id,
        risk_level=data.risk_level,
        suicidal=data.suicidality,
        overdose_danger=data.overdose_danger,
        follow_up_due_at=data.follow_up_due_at,
    )
    changed = replace(signs, crises=_recent((*signs.crises, crisis)))
    if data.suicidality and data.risk_level in _SUICIDAL_RISK_LEVELS:
        changed = replace(changed, risks=_risks((*signs.risks, mark), changed))
    if data.overdose_danger:
        window = Window(mark.event_id, mark.at, "overdose_danger")
        changed = replace(changed, windows=_recent((*signs.windows, window)))
    return changed


def _assessed(signs: WarningSigns, event: AssessmentRecorded) -> WarningSigns:
    data = event.data
    if data.instrument == "PHQ-9":
        item9 = dict(data.subscales).get("item9")
        if item9 is None:
            answers = list(data.answers)
            item9 = int(answers[8]) if len(answers) >= 9 and answers[8] is not None else 0
        entry = Phq9(event.event_id, event.occurred_at, item9)
        return replace(signs, phq9s=_recent((*signs.phq9s, entry))[-KEPT:])
    if data.instrument == "C-SSRS-SCREEN":
        level = data.band or score(data.instrument, data.answers).band
        screen = Screen(event.event_id, event.occurred_at, _level(level))
        risks = signs.risks
        if screen.level in ("moderate", "high"):
            risks = _risks((*risks, Mark(event.event_id, event.occurred_at)), signs)
        return replace(signs, screens=_by_time((*signs.screens, screen))[-KEPT:], risks=risks)
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

    def without(items: tuple[Dated, ...]) -> tuple[Dated, ...]:
        return tuple(item for item in items if item.event_id != event_id)

    return replace(
        signs,
        died=None if signs.died is not None and signs.died.event_id == event_id else signs.died,
        plans=without(signs.plans),
        check_ins=without(signs.check_ins),
        uses=without(signs.uses),
        phq9s=without(signs.phq9s),
        screens=without(signs.screens),
        risks=without(signs.risks),
        safety_plans=without(signs.safety_plans),
        crises=without(signs.crises),
        reviews=without(signs.reviews),
        contacts=without(signs.contacts),
        scheduled=without(signs.scheduled),
        caring_contacts=without(signs.caring_contacts),
        discharges_due=without(signs.discharges_due),
        windows=without(signs.windows),
        naloxone=without(signs.naloxone),
        appointments=without(signs.appointments),
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
    """Oldest first, those within the check-in horizon or among the last `KEPT`, at most
    `KEEP_CHECK_INS` of the newest."""
    ordered = _by_time(check_ins)
    horizon = ordered[-1].at - timedelta(days=KEEP_CHECK_IN_DAYS + CORRECTION_REACH_DAYS)
    return _since(ordered, horizon, KEPT)[-KEEP_CHECK_INS:]


def _recent(items: tuple[Dated, ...], keep: int = KEPT) -> tuple[Dated, ...]:
    """Oldest first, without what lies beyond the horizon behind the newest, but the last `keep`."""
    ordered = _by_time(items)
    return _since(ordered, ordered[-1].at - timedelta(days=KEEP_DAYS), keep)


def _since(ordered: tuple[Dated, ...], horizon: datetime, keep: int) -> tuple[Dated, ...]:
    """Of items oldest first, those at or after `horizon` and the last `keep`: a suffix, found
    by bisection (the fold runs this for every check-in it observes)."""
    first = min(len(ordered) - keep, bisect_left(ordered, horizon, key=_AT))
    return ordered[max(first, 0) :]


def _latest(items: tuple[Mark, ...]) -> tuple[Mark, ...]:
    """Oldest first, the last `KEPT` only: for contacts, which the rules only ever ask "was
    there one after this moment" (`contacted_after`), answered by the newest alone, or, with up
    to `KEEP_WITHDRAWABLE` of the newest withdrawn, by the newest left. The 60-day horizon kept
    42 contacts a client where 15 answer the same (each rewritten with every batch that touches
    the client: docs/benchmarks.md)."""
    return _by_time(items)[-KEPT:]


def _risks(risks: tuple[Mark, ...], signs: WarningSigns) -> tuple[Mark, ...]:
    """Suicide risks, oldest first: recent ones, and any older one no safety plan answered."""
    ordered = _by_time(risks)
    horizon = ordered[-1].at - timedelta(days=KEEP_DAYS)
    return tuple(r for r in ordered if r.at >= horizon or not signs.planned_since(r.at))


_AT = attrgetter("at")


def _by_time(items: tuple[Dated, ...]) -> tuple[Dated, ...]:
    """Oldest first by business time (a stable sort): events may arrive out of order."""
    return tuple(sorted(items, key=_AT))
