"""The client's care record as a decider: `decide(command, state)`, `evolve(state, event)`.

Invariants (docs/domain.md): nothing is recorded for a client who is not enrolled or whose episode
is closed (except readmission and the administrative events below); a postvention review refers
to a crisis contact of the same client; instrument answers match the instrument; `occurred_at`
is not in the future beyond clock skew; a correction refers to an existing event; handoff steps
follow their workflow (domain/handoff.py). A re-sent `event_id` is accepted as nothing new.

The ids of the client's recorded events are not part of the folded state: `decide` is given
them as `recorded` (a container the caller keeps beside the state, adding each stored event's
id), so that folding one more event costs the same at 100 events as at 20,000 (a set in the
state was copied by every `evolve`). `recorded_ids` makes one from a history.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from functools import reduce
from typing import assert_never
from uuid import UUID, uuid5

from domain.aftercare import CaringContactSent, ClientDied
from domain.care_team import CareTeam, evolve_team
from domain.catalogue import CareEvent
from domain.commands import RecordCareEvent
from domain.consent import (
    AccountingProvided,
    BreakGlassInvoked,
    ConsentGranted,
    ConsentRevoked,
    DisclosureMade,
)
from domain.consent_form import check_new_consent, check_new_revocation
from domain.corrections import EntryCorrected, EntryEnteredInError
from domain.enrollment import (
    CareTeamMemberAssigned,
    CareTeamMemberReleased,
    CheckInPlanSet,
    ClientEnrolled,
    ClientReadmitted,
    EpisodeClosed,
    EpisodeData,
    EpisodeOpened,
)
from domain.envelope import PART2_LABEL
from domain.erasure import ErasedEntry
from domain.errors import (
    ClientAlreadyEnrolled,
    ClientNotEnrolled,
    EntryAlreadyInError,
    EpisodeNotClosed,
    EventNotRecordable,
    FlagAlreadyAcknowledged,
    FlagAlreadyClosed,
    FlagNoteRequired,
    FlagResolverNotAllowed,
    IncompleteSafetyPlan,
    NotOnCareTeam,
    OccurredInFuture,
    ReviewBeforeCrisis,
    UnknownAppointment,
    UnknownConsent,
    UnknownCrisis,
    UnknownEvent,
    UnknownFlag,
    UnstorableText,
)
from domain.errors import (
    EpisodeClosed as EpisodeIsClosed,
)
from domain.flags import (
    SERIOUS,
    RiskFlagAcknowledged,
    RiskFlagCleared,
    RiskFlagRaised,
    RiskFlagResolved,
    may_resolve,
)
from domain.handoff import (
    HandoffAccepted,
    HandoffCompleted,
    HandoffDeclined,
    HandoffFailed,
    HandoffInitiated,
    HandoffState,
    decide_handoff,
    evolve_handoff,
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
from domain.instruments import score
from domain.monitoring import AssessmentRecorded, CheckInMissed, CheckInRecorded
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
    CarePlanGoalMet,
    CarePlanGoalRevised,
    CarePlanGoalSet,
    SessionHeld,
)
from domain.storable import holds_unstorable

COUNSELING_NOTE_LABEL = "counseling-note"

# What may still be recorded for a discharged client: closing loose ends and the safety work a
# discharge calls for (the week after it is the time of highest suicide risk: Chung et al.,
# BMJ Open 2019): a crisis contact, a safety plan, naloxone, a transition, a follow-up contact;
# never a new course of care (check-ins, appointments, medications, staffing).
AFTER_DISCHARGE: frozenset[str] = frozenset(
    {
        "CrisisContactRecorded",
        "SafetyPlanRecorded",
        "SafetyPlanRevised",
        "NaloxoneDistributed",
        "TransitionReported",
        "SessionHeld",
        "CaringContactSent",
        "ClientDied",
        "ClientReadmitted",
        "ConsentGranted",
        "ConsentRevoked",
        "DisclosureMade",
        "AccountingProvided",
        "RiskFlagRaised",
        "RiskFlagAcknowledged",
        "RiskFlagCleared",
        "RiskFlagResolved",
        "EntryEnteredInError",
        "EntryCorrected",
        "HandoffFailed",
        "OverdoseReported",
        "PostventionReviewRecorded",
    }
)


@dataclass(frozen=True, slots=True)
class Chart:
    """What the decider must remember about one client to enforce the invariants."""

    client_id: UUID
    program: str
    part2: bool
    in_error: frozenset[UUID] = frozenset()
    crises: frozenset[str] = frozenset()
    appointments: frozenset[str] = frozenset()
    open_flags: frozenset[str] = frozenset()
    closed_flags: frozenset[str] = frozenset()
    flag_severity: Mapping[str, str] = field(default_factory=dict)
    crisis_times: Mapping[str, datetime] = field(default_factory=dict)
    died_on: date | None = None
    sex_at_birth: str | None = None
    acknowledged_flags: Mapping[str, UUID] = field(default_factory=dict)
    active_consents: frozenset[str] = frozenset()
    care_team: CareTeam = ()  # domain/care_team.py: the enrolling clinician and assignments
    handoffs: Mapping[str, HandoffState] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NotEnrolled:
    pass


@dataclass(frozen=True, slots=True)
class InCare:
    chart: Chart


@dataclass(frozen=True, slots=True)
class Discharged:
    chart: Chart


@dataclass(frozen=True, slots=True)
class Erased:
    """The client's data key was destroyed (crypto-shredding): nothing more is recorded."""


ClientState = NotEnrolled | InCare | Discharged | Erased


def initial_state() -> ClientState:
    return NotEnrolled()


def fold(events: Iterable[CareEvent], state: ClientState | None = None) -> ClientState:
    """The state after a sequence of events, from the start or from a given state."""
    return reduce(evolve, events, state if state is not None else initial_state())


def recorded_ids(events: Iterable[CareEvent]) -> frozenset[UUID]:
    """The ids `decide` is given as `recorded`, for a client whose history is `events`."""
    return frozenset(event.event_id for event in events)


def decide(
    command: RecordCareEvent, state: ClientState, recorded: Container[UUID]
) -> list[CareEvent]:
    """The events that recording this care event produces, or a DomainError saying why not.

    `recorded`: the ids of the client's events stored so far (those folded into `state`); a
    command whose event id is among them is a re-send and produces nothing."""
    event = command.event
    if isinstance(state, InCare | Discharged) and event.event_id in recorded:
        return []  # re-sent: recorded already, nothing new
    if event.occurred_at > command.now + command.max_clock_skew:
        raise OccurredInFuture
    if holds_unstorable(event):
        raise UnstorableText
    if isinstance(event, EpisodeOpened | ErasedEntry) or (
        isinstance(event, RiskFlagRaised | RiskFlagCleared) and event.actor.kind != "rule"
    ):
        raise EventNotRecordable
    match state:
        case NotEnrolled():
            if not isinstance(event, ClientEnrolled):
                raise ClientNotEnrolled
            return [
                _labelled(e, part2=event.data.part2)
                for e in _with_episode(event, event.data.program)
            ]
        case InCare(chart):
            if isinstance(event, ClientEnrolled):
                raise ClientAlreadyEnrolled
            if isinstance(event, ClientReadmitted):
                raise EpisodeNotClosed
        case Discharged(chart):
            if isinstance(event, ClientEnrolled):
                raise ClientAlreadyEnrolled
            if event.type not in AFTER_DISCHARGE:
                raise EpisodeIsClosed
            if isinstance(event, ClientReadmitted):
                return [
                    _labelled(e, part2=chart.part2) for e in _with_episode(event, chart.program)
                ]
        case Erased():
            raise ClientNotEnrolled
        case _:
            assert_never(state)
    _check_against_chart(event, chart, recorded)
    return [_labelled(_scored(event, chart.sex_at_birth), part2=chart.part2)]


def _check_against_chart(event: CareEvent, chart: Chart, recorded: Container[UUID]) -> None:
    match event:
        case PostventionReviewRecorded():
            _check_review(event, chart, recorded)
        case SafetyPlanRecorded():
            _check_plan_content(event)
        case EntryEnteredInError():
            _check_target(event.data.target_event_id, chart, recorded)
        case EntryCorrected():
            _check_target(event.data.target_event_id, chart, recorded)
            if event.data.replacement_event_id == event.data.target_event_id:
                raise UnknownEvent("An entry cannot be its own replacement.")
            if event.data.replacement_event_id not in recorded:
                raise UnknownEvent("The replacement entry is not recorded for this client.")
        case AppointmentAttended() | AppointmentMissed():
            if event.data.appointment_id not in chart.appointments:
                raise UnknownAppointment
        case RiskFlagAcknowledged() | RiskFlagResolved() | RiskFlagCleared():
            _check_flag_step(event, chart)
        case ConsentGranted():
            check_new_consent(event.data)  # 42 CFR 2.31(a), (b)(2): domain/consent_form.py
        case ConsentRevoked():
            if event.data.consent_id not in chart.active_consents:
                raise UnknownConsent
            check_new_revocation(event.data)
        case CareTeamMemberReleased():
            if (event.data.member_id, event.data.role) not in {m.key for m in chart.care_team}:
                raise NotOnCareTeam
        case HandoffInitiated() | HandoffAccepted() | HandoffDeclined():
            decide_handoff(event, chart.handoffs.get(event.data.handoff_id))
        case HandoffCompleted() | HandoffFailed():
            decide_handoff(event, chart.handoffs.get(event.data.handoff_id))
        case _:
            pass


def _check_review(
    event: PostventionReviewRecorded, chart: Chart, recorded: Container[UUID]
) -> None:
    """A review refers to a crisis (or a death) of this client and is not dated before it; the
    plan changes it names are events of this client."""
    data = event.data
    if data.kind == "death":
        if chart.died_on is None:
            raise UnknownCrisis("A death review needs the client's death recorded (ClientDied).")
        if event.occurred_at.date() < chart.died_on:
            raise ReviewBeforeCrisis
    else:
        if data.crisis_id is None or data.crisis_id not in chart.crises:
            raise UnknownCrisis
        if event.occurred_at < chart.crisis_times.get(data.crisis_id, event.occurred_at):
            raise ReviewBeforeCrisis
    for changed in data.plan_change_event_ids:
        if changed not in recorded:
            raise UnknownEvent("A plan change the review names is not recorded for this client.")


def _check_plan_content(event: SafetyPlanRecorded) -> None:
    """A Stanley-Brown safety plan with at least its warning signs, one internal coping strategy
    and one crisis line or professional to call (Stanley & Brown, Cogn Behav Pract 2012; the
    minimum is ours: the paper defines the six steps, not a minimum)."""
    plan = event.data
    if not plan.warning_signs or not plan.coping_strategies:
        raise IncompleteSafetyPlan
    if not plan.crisis_lines and not plan.professional_contacts:
        raise IncompleteSafetyPlan


def _check_flag_step(
    event: RiskFlagAcknowledged | RiskFlagResolved | RiskFlagCleared, chart: Chart
) -> None:
    """A flag step refers to an open flag; acknowledging twice stores nothing; a rule closes
    only low and moderate flags; a person resolves with a note, and a high or critical flag
    only in a role that may (domain/flags.py)."""
    flag_id = event.data.flag_id
    if flag_id in chart.closed_flags:
        raise FlagAlreadyClosed
    if flag_id not in chart.open_flags:
        raise UnknownFlag
    severity = chart.flag_severity.get(flag_id, "high")
    if isinstance(event, RiskFlagAcknowledged) and flag_id in chart.acknowledged_flags:
        raise FlagAlreadyAcknowledged(chart.acknowledged_flags[flag_id])
    if not isinstance(event, RiskFlagResolved):
        return
    if event.actor.kind == "rule":
        if severity in SERIOUS:
            raise EventNotRecordable("A rule clears a high or critical flag; a person resolves it.")
        return
    if not (event.data.note or "").strip():
        raise FlagNoteRequired
    if not may_resolve(event.actor.role, severity):
        raise FlagResolverNotAllowed


def _check_target(target: UUID, chart: Chart, recorded: Container[UUID]) -> None:
    if target not in recorded:
        raise UnknownEvent
    if target in chart.in_error:
        raise EntryAlreadyInError


def _scored(event: CareEvent, sex_at_birth: str | None = None) -> CareEvent:
    """An assessment carries the total and band the domain computed from its answers."""
    if not isinstance(event, AssessmentRecorded):
        return event
    result = score(event.data.instrument, event.data.answers, sex_at_birth=sex_at_birth)
    data = event.data.model_copy(
        update={"total": result.total, "band": result.band, "subscales": result.subscales}
    )
    return event.model_copy(update={"data": data})


def _labelled(event: CareEvent, *, part2: bool) -> CareEvent:
    """Security labels: every entry of a Part 2 program; free-text counseling notes."""
    labels = set(event.security_labels)
    if part2:
        labels.add(PART2_LABEL)
    if isinstance(event, SessionHeld | CheckInRecorded) and event.data.note:
        labels.add(COUNSELING_NOTE_LABEL)
    if labels == event.security_labels:
        return event
    return event.model_copy(update={"security_labels": frozenset(labels)})


def _with_episode(event: ClientEnrolled | ClientReadmitted, program: str) -> list[CareEvent]:
    """Enrollment and readmission each open an episode of care, with ids derived from the event."""
    episode_id = uuid5(event.event_id, "episode")
    opened = EpisodeOpened(
        event_id=uuid5(event.event_id, "episode-opened"),
        client_id=event.client_id,
        occurred_at=event.occurred_at,
        actor=event.actor,
        purpose_of_use=event.purpose_of_use,
        correlation_id=event.correlation_id,
        causation_id=str(event.event_id),
        security_labels=event.security_labels,
        data=EpisodeData(episode_id=episode_id, program=program),
    )
    return [event, opened]


def evolve(state: ClientState, event: CareEvent) -> ClientState:
    """The client's state after one more recorded event; never raises."""
    if isinstance(event, ErasedEntry):
        return Erased()  # the data key is gone: the record is closed for good
    match state:
        case Erased():
            return state
        case NotEnrolled():
            if isinstance(event, ClientEnrolled):
                chart = Chart(
                    client_id=event.client_id,
                    program=event.data.program,
                    part2=event.data.part2,
                    sex_at_birth=event.data.sex_at_birth,
                    care_team=evolve_team((), event),
                )
                return InCare(chart)
            return state
        case InCare(chart) | Discharged(chart):
            chart = _evolve_chart(chart, event)
            if isinstance(event, EpisodeClosed):
                return Discharged(chart)
            if isinstance(event, ClientReadmitted):
                return InCare(chart)
            return InCare(chart) if isinstance(state, InCare) else Discharged(chart)
        case _:
            assert_never(state)


def _evolve_chart(chart: Chart, event: CareEvent) -> Chart:
    match event:
        case CrisisContactRecorded():
            first = chart.crisis_times.get(event.data.crisis_id, event.occurred_at)
            return replace(
                chart,
                crises=chart.crises | {event.data.crisis_id},
                crisis_times={
                    **chart.crisis_times,
                    event.data.crisis_id: min(first, event.occurred_at),
                },
            )
        case ClientDied():
            return replace(chart, died_on=event.data.died_on)
        case AppointmentScheduled():
            return replace(chart, appointments=chart.appointments | {event.data.appointment_id})
        case RiskFlagRaised():
            flag_id = event.data.flag_id
            return replace(
                chart,
                open_flags=chart.open_flags | {flag_id},
                closed_flags=chart.closed_flags - {flag_id},
                flag_severity={**chart.flag_severity, flag_id: event.data.severity},
                acknowledged_flags={
                    k: v for k, v in chart.acknowledged_flags.items() if k != flag_id
                },
            )
        case RiskFlagAcknowledged():
            if event.data.flag_id in chart.acknowledged_flags:
                return chart
            return replace(
                chart,
                acknowledged_flags={
                    **chart.acknowledged_flags,
                    event.data.flag_id: event.event_id,
                },
            )
        case RiskFlagResolved():
            return replace(
                chart,
                open_flags=chart.open_flags - {event.data.flag_id},
                closed_flags=chart.closed_flags | {event.data.flag_id},
            )
        case ConsentGranted():
            active = chart.active_consents | {event.data.consent_id}
            if event.data.supersedes:
                active = active - {event.data.supersedes}
            return replace(chart, active_consents=active)
        case ConsentRevoked():
            return replace(chart, active_consents=chart.active_consents - {event.data.consent_id})
        case CareTeamMemberAssigned() | CareTeamMemberReleased():
            return replace(chart, care_team=evolve_team(chart.care_team, event))
        case EntryEnteredInError():
            return replace(chart, in_error=chart.in_error | {event.data.target_event_id})
        case EntryCorrected():
            return replace(chart, in_error=chart.in_error | {event.data.target_event_id})
        case (
            HandoffInitiated()
            | HandoffAccepted()
            | HandoffDeclined()
            | HandoffCompleted()
            | HandoffFailed()
        ):
            handoff = evolve_handoff(chart.handoffs.get(event.data.handoff_id), event)
            if handoff is None:
                return chart
            return replace(chart, handoffs={**chart.handoffs, handoff.handoff_id: handoff})
        case (
            ClientEnrolled()
            | EpisodeOpened()
            | EpisodeClosed()
            | ClientReadmitted()
            | CheckInPlanSet()
            | BreakGlassInvoked()
            | DisclosureMade()
            | AccountingProvided()
            | AssessmentRecorded()
            | CheckInRecorded()
            | CheckInMissed()
            | SessionHeld()
            | AppointmentAttended()
            | AppointmentMissed()
            | CarePlanGoalSet()
            | CarePlanGoalRevised()
            | CarePlanGoalMet()
            | SafetyPlanRecorded()
            | SafetyPlanRevised()
            | PostventionReviewRecorded()
            | NaloxoneDistributed()
            | OverdoseReported()
            | MedicationStarted()
            | MedicationChanged()
            | MedicationStopped()
            | MedicationConsultRecorded()
            | TransitionReported()
            | RiskFlagCleared()
            | CaringContactSent()
            | ErasedEntry()
        ):
            return chart  # read side only
        case _:
            assert_never(event)
