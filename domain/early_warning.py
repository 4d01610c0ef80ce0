"""The early-warning rules (docs/domain.md) as pure functions of a client's signs and a clock.

`evaluate(signs, now, thresholds)` says which flags should be open now, each a `Finding` with
its rule id and version, severity, reason and evidence; `flag_events` turns the difference
between those findings and the flags already on the record into `RiskFlagRaised` and
`RiskFlagResolved` events with ids derived from client, rule and episode, so raising the same
finding twice (a redelivery, a restart, a second evaluator) records it once. `next_moment` is
the next instant at which the answer could change without a new event: time-based rules fire
(or clear) when a clock passes it.

Sources: Columbia C-SSRS triage (Posner et al., 2011); PHQ-9 item 9 (Kroenke et al., 2001);
Stanley-Brown safety planning; person-relative craving rules (McHugh 2014); overdose windows
after release (Binswanger 2007), MOUD discontinuation (Sordo et al., BMJ 2017) and non-fatal
overdose (Olfson 2018); dropout as 3 consecutive missed appointments (Gallefoss 2022); HEDIS FUA
7-day follow-up after an ED visit. docs/domain.md lists each rule with its source.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from uuid import UUID, uuid5

from domain.catalogue import CareEvent
from domain.envelope import Actor
from domain.flags import (
    FlagNoteData,
    FlagRaisedData,
    RiskFlagCleared,
    RiskFlagRaised,
    RiskFlagResolved,
    Severity,
    closes_itself,
)
from domain.warning_signs import Appointment, CheckIn, KnownFlag, Mark, WarningSigns

FLAG_NAMESPACE = UUID("6c0f5a52-3b4e-5b8e-9a3c-2f1d7e8a9b10")
RULE_ORG = "carecircle"
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every number a rule compares with; durations in hours. Defaults: docs/domain.md."""

    phq9_item9_min: int = 1
    safety_plan_within_hours: float = 24
    craving_high: int = 7
    craving_rise: float = 3
    craving_baseline_hours: float = 14 * 24
    craving_consecutive: int = 2
    sleep_below_hours: float = 4
    sleep_consecutive: int = 3
    transition_window_hours: float = 14 * 24
    opioid_stopped_window_hours: float = 28 * 24
    overdose_window_hours: float = 30 * 24
    check_in_grace_factor: float = 1.5
    missed_appointments: int = 2
    missed_window_hours: float = 14 * 24
    missed_in_a_row: int = 3
    postvention_within_hours: float = 72
    follow_up_within_hours: float = 7 * 24
    handoff_accept_within_hours: float = 48
    handoff_complete_within_hours: float = 14 * 24


def thresholds_from(overrides: Mapping[str, float]) -> Thresholds:
    """Defaults with the named overrides (settings); an unknown name is refused, not ignored."""
    known = {f.name: f.type for f in fields(Thresholds)}
    unknown = sorted(set(overrides) - set(known))
    if unknown:
        raise ValueError(f"unknown early-warning thresholds: {', '.join(unknown)}")
    typed: dict[str, object] = {
        k: int(v) if known[k] == "int" else float(v) for k, v in overrides.items()
    }
    return replace(Thresholds(), **typed)  # type: ignore[arg-type]  # names checked above


def _hours(value: float) -> timedelta:
    return timedelta(hours=value)


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    version: int
    summary: str


@dataclass(frozen=True, slots=True)
class Finding:
    """A flag that should be open: which rule, how severe, since when, and on what evidence.

    `episode` names this occurrence of the condition (e.g. the screen or crisis that started
    it), so one long-lasting condition is one flag and a new occurrence is a new one.
    """

    rule: Rule
    severity: Severity
    episode: str
    since: datetime
    reason: str
    evidence: tuple[UUID, ...]


SUI_1 = Rule("SUI-1", 1, "PHQ-9 item 9 at or above 1: ask for a C-SSRS the same day")
SUI_2 = Rule("SUI-2", 1, "C-SSRS screener positive (Columbia triage moderate or high)")
SUI_3 = Rule("SUI-3", 1, "Moderate or high suicide risk and no safety plan within 24 h")
CRV_1 = Rule("CRV-1", 1, "Craving high or well above the 14-day mean on 2 check-ins in a row")
SLP_1 = Rule("SLP-1", 1, "Sleep under 4 h on 3 check-ins in a row")
OD_1 = Rule("OD-1", 1, "Overdose-risk window open and no naloxone distributed in it")
ENG_1 = Rule("ENG-1", 1, "Check-in plan active and no check-in for 1.5 x cadence")
ENG_2 = Rule("ENG-2", 1, "2 missed appointments in 14 days (3 in a row: dropout risk)")
CRS_1 = Rule("CRS-1", 1, "Crisis contact and no postvention review within 72 h")
CRS_2 = Rule("CRS-2", 1, "Crisis contact or ED discharge and no follow-up contact in 7 days")
HND_1 = Rule("HND-1", 1, "Handoff not accepted in 48 h, or accepted and not completed in 14 d")
DIS_1 = Rule("DIS-1", 1, "Discharged with a high or critical flag still open")

RULES: Mapping[str, Rule] = {
    r.id: r
    for r in (SUI_1, SUI_2, SUI_3, CRV_1, SLP_1, OD_1, ENG_1, ENG_2, CRS_1, CRS_2, HND_1, DIS_1)
}


# --- the rules ------------------------------------------------------------------------------------


def sui_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """PHQ-9 item 9 at or above the threshold, until a C-SSRS screener follows it."""
    phq9 = signs.phq9
    if phq9 is None or phq9.item9 < t.phq9_item9_min:
        return ()
    if any(screen.at >= phq9.at for screen in signs.screens):
        return ()
    return (
        Finding(
            SUI_1,
            "high",
            str(phq9.event_id),
            phq9.at,
            "PHQ-9 item 9 positive; C-SSRS screener due the same day",
            (phq9.event_id,),
        ),
    )


def sui_2(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """The latest C-SSRS screener triaged moderate (Q3, older behavior) or high (Q4, Q5, recent)."""
    if not signs.screens:
        return ()
    latest = signs.screens[-1]
    if latest.level not in ("moderate", "high"):
        return ()
    severity: Severity = "high" if latest.level == "high" else "moderate"
    return (
        Finding(
            SUI_2,
            severity,
            f"{latest.event_id}:{severity}",
            latest.at,
            f"C-SSRS screener triaged {latest.level} risk",
            (latest.event_id,),
        ),
    )


def sui_3(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """A moderate or high suicide risk with no safety plan recorded since, once 24 h passed."""
    if not signs.risks:
        return ()
    first = signs.risks[0]  # the oldest risk no plan has answered yet
    due = first.at + _hours(t.safety_plan_within_hours)
    if now < due:
        return ()
    return (
        Finding(
            SUI_3,
            "high",
            str(first.event_id),
            due,
            "Suicide risk without a safety plan recorded within 24 h",
            tuple(r.event_id for r in signs.risks),
        ),
    )


def crv_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Craving at or above 7, or 3 above the 14-day mean, on the last check-ins in a row."""
    run = _trailing_run(signs.check_ins, lambda i, c: _craving_elevated(signs.check_ins, i, c, t))
    if len(run) < t.craving_consecutive:
        return ()
    evidence = run[: t.craving_consecutive]
    return (
        Finding(
            CRV_1,
            "moderate",
            str(run[0].event_id),
            evidence[-1].at,
            f"Craving elevated on {len(run)} check-ins in a row",
            tuple(c.event_id for c in evidence),
        ),
    )


def _craving_elevated(history: Sequence[CheckIn], index: int, c: CheckIn, t: Thresholds) -> bool:
    if c.craving >= t.craving_high:
        return True
    start = c.at - _hours(t.craving_baseline_hours)
    before = [h.craving for h in history[:index] if start <= h.at < c.at]
    return bool(before) and c.craving - sum(before) / len(before) >= t.craving_rise


def slp_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Sleep under 4 h on the last 3 check-ins in a row."""
    run = _trailing_run(signs.check_ins, lambda _i, c: c.sleep_hours < t.sleep_below_hours)
    if len(run) < t.sleep_consecutive:
        return ()
    evidence = run[: t.sleep_consecutive]
    return (
        Finding(
            SLP_1,
            "low",
            str(run[0].event_id),
            evidence[-1].at,
            f"Short sleep on {len(run)} check-ins in a row",
            tuple(c.event_id for c in evidence),
        ),
    )


def _trailing_run(
    check_ins: Sequence[CheckIn], elevated: Callable[[int, CheckIn], bool]
) -> list[CheckIn]:
    """The check-ins at the end of the history that all meet the condition, oldest first."""
    run: list[CheckIn] = []
    for index in range(len(check_ins) - 1, -1, -1):
        if not elevated(index, check_ins[index]):
            break
        run.append(check_ins[index])
    run.reverse()
    return run


def od_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """An overdose-risk window open now with no naloxone distributed since it opened."""
    lengths = {
        "transition": t.transition_window_hours,
        "opioid_stopped": t.opioid_stopped_window_hours,
        "overdose": t.overdose_window_hours,
    }
    naloxone = signs.last_naloxone_at
    for window in signs.windows:
        if window.at <= now < window.at + _hours(lengths[window.kind]):
            if naloxone is not None and naloxone >= window.at:
                continue
            return (
                Finding(
                    OD_1,
                    "high",
                    str(window.event_id),
                    window.at,
                    f"Overdose-risk window after {window.kind.replace('_', ' ')}, no naloxone",
                    (window.event_id,),
                ),
            )
    return ()


def eng_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """A check-in plan and no check-in for 1.5 times its cadence."""
    if signs.plan is None or signs.cadence_hours is None:
        return ()
    reference = _engagement_reference(signs)
    due = reference.at + _hours(signs.cadence_hours * t.check_in_grace_factor)
    if now < due:
        return ()
    evidence: tuple[UUID, ...] = (signs.plan.event_id,)
    if reference.event_id != signs.plan.event_id:
        evidence = (*evidence, reference.event_id)
    return (
        Finding(
            ENG_1, "moderate", str(reference.event_id), due, "No check-in as planned", evidence
        ),
    )


def _engagement_reference(signs: WarningSigns) -> Mark:
    """The last moment the plan was met: plan set, last check-in or return to care."""
    assert signs.plan is not None
    marks = [signs.plan]
    if signs.check_ins:
        last = signs.check_ins[-1]
        marks.append(Mark(last.event_id, last.at))
    if signs.back_in_care is not None:
        marks.append(signs.back_in_care)
    return max(marks, key=lambda m: m.at)


def eng_2(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Missed appointments: 3 in a row is dropout risk (high), else 2 in 14 days (moderate)."""
    outcomes = [a for a in signs.appointments if a.at <= now]
    run: list[Appointment] = []
    for outcome in reversed(outcomes):
        if not outcome.missed:
            break
        run.insert(0, outcome)
    if len(run) >= t.missed_in_a_row:
        evidence = run[: t.missed_in_a_row]
        return (
            Finding(
                ENG_2,
                "high",
                f"{run[0].event_id}:high",
                evidence[-1].at,
                f"{len(run)} missed appointments in a row: dropout risk",
                tuple(a.event_id for a in evidence),
            ),
        )
    start = now - _hours(t.missed_window_hours)
    recent = [a for a in outcomes if a.missed and a.at >= start]
    if len(recent) < t.missed_appointments:
        return ()
    return (
        Finding(
            ENG_2,
            "moderate",
            f"{recent[0].event_id}:moderate",
            recent[t.missed_appointments - 1].at,
            f"{len(recent)} missed appointments in 14 days",
            tuple(a.event_id for a in recent),
        ),
    )


def crs_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each crisis contact with no postvention review once 72 h passed."""
    within = _hours(t.postvention_within_hours)
    return tuple(
        Finding(
            CRS_1,
            "moderate",
            str(c.event_id),
            c.at + within,
            "Crisis contact without a postvention review within 72 h",
            (c.event_id,),
        )
        for c in signs.crises
        if not c.reviewed and now >= c.at + within
    )


def crs_2(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each crisis contact or ED discharge with no follow-up contact once 7 days passed."""
    within = _hours(t.follow_up_within_hours)
    return tuple(
        Finding(
            CRS_2,
            "high",
            str(m.event_id),
            m.at + within,
            "No follow-up contact within 7 days of a crisis or ED discharge",
            (m.event_id,),
        )
        for m in signs.follow_ups_due
        if now >= m.at + within
    )


def hnd_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each handoff not accepted within 48 h, or accepted and not completed within 14 days."""
    found: list[Finding] = []
    for h in signs.handoffs:
        if h.accepted is None:
            due = h.initiated.at + _hours(t.handoff_accept_within_hours)
            if now >= due:
                found.append(
                    Finding(
                        HND_1,
                        "moderate",
                        str(h.initiated.event_id),
                        due,
                        "Handoff not accepted within 48 h",
                        (h.initiated.event_id,),
                    )
                )
        else:
            due = h.accepted.at + _hours(t.handoff_complete_within_hours)
            if now >= due:
                found.append(
                    Finding(
                        HND_1,
                        "moderate",
                        str(h.accepted.event_id),
                        due,
                        "Handoff accepted but not completed within 14 days",
                        (h.initiated.event_id, h.accepted.event_id),
                    )
                )
    return tuple(found)


def dis_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Discharged while a high or critical flag was open, until a person resolved each of them.

    The first week after discharge is the time of highest suicide risk (Chung et al., BMJ Open
    2019: 2,950 per 100,000 person-years in week one; Chung et al., JAMA Psychiatry 2017), so a
    discharge never closes a flag; this one tells the program's supervisors.
    """
    if signs.discharged is None or not signs.serious_at_discharge:
        return ()
    still = [
        flag_id
        for flag_id in signs.serious_at_discharge
        if (known := signs.flag(flag_id)) is not None and known.status != "resolved"
    ]
    if not still:
        return ()
    return (
        Finding(
            DIS_1,
            "high",
            str(signs.discharged.event_id),
            signs.discharged.at,
            f"Discharged with {len(still)} high or critical flag(s) open",
            (signs.discharged.event_id,),
        ),
    )


RuleCheck = Callable[[WarningSigns, datetime, Thresholds], tuple[Finding, ...]]
CHECKS: tuple[RuleCheck, ...] = (
    sui_1,
    sui_2,
    sui_3,
    crv_1,
    slp_1,
    od_1,
    eng_1,
    eng_2,
    crs_1,
    crs_2,
    hnd_1,
    dis_1,
)
# Rules about taking part in the program: after a discharge they answer as at the discharge
# (a flag open then stays open for a person to resolve; nothing new is raised).
IN_CARE_ONLY: frozenset[RuleCheck] = frozenset({eng_1, eng_2})


def evaluate(signs: WarningSigns, now: datetime, t: Thresholds) -> list[Finding]:
    """Every flag that should be open for this client now.

    A discharge is a risk moment, not an eraser: the rules keep running after `EpisodeClosed`
    (an overdose or a crisis after discharge raises its flag), except the engagement rules,
    which answer as they did at the discharge.
    """
    found: list[Finding] = []
    for check in CHECKS:
        at = now
        if check in IN_CARE_ONLY and signs.discharged is not None and not signs.in_care:
            at = min(now, signs.discharged.at)
        found.extend(check(signs, at, t))
    return found


def next_moment(signs: WarningSigns, now: datetime, t: Thresholds) -> datetime | None:
    """The next instant after `now` at which `evaluate` may answer differently with no new event."""
    moments: list[datetime] = []
    if signs.risks:
        moments.append(signs.risks[0].at + _hours(t.safety_plan_within_hours))
    lengths = {
        "transition": t.transition_window_hours,
        "opioid_stopped": t.opioid_stopped_window_hours,
        "overdose": t.overdose_window_hours,
    }
    moments.extend(w.at + _hours(lengths[w.kind]) for w in signs.windows)
    moments.extend(w.at for w in signs.windows)
    if signs.plan is not None and signs.cadence_hours is not None:
        reference = _engagement_reference(signs)
        moments.append(reference.at + _hours(signs.cadence_hours * t.check_in_grace_factor))
    for a in signs.appointments:
        moments.append(a.at)
        if a.missed:
            moments.append(a.at + _hours(t.missed_window_hours) + _TICK)
    moments.extend(
        c.at + _hours(t.postvention_within_hours) for c in signs.crises if not c.reviewed
    )
    moments.extend(m.at + _hours(t.follow_up_within_hours) for m in signs.follow_ups_due)
    for h in signs.handoffs:
        if h.accepted is None:
            moments.append(h.initiated.at + _hours(t.handoff_accept_within_hours))
        else:
            moments.append(h.accepted.at + _hours(t.handoff_complete_within_hours))
    later = [m for m in moments if m > now]
    return min(later) if later else None


# --- from findings to recorded flags --------------------------------------------------------------


def flag_id_of(client_id: UUID, finding: Finding) -> str:
    """Derived from client, rule, rule version and episode: the same finding, the same flag."""
    name = f"{client_id}/{finding.rule.id}/v{finding.rule.version}/{finding.episode}"
    return str(uuid5(FLAG_NAMESPACE, name))


def rule_actor(rule_id: str) -> Actor:
    return Actor(id=rule_id, role="rule", org=RULE_ORG, kind="rule")


def _round(known: KnownFlag | None, step: str) -> str:
    """The event-id name of one step of one round of a flag: the first round keeps the names
    flags were recorded with before flags could reopen."""
    if known is None or known.raised <= 1:
        return step
    return f"{step}-{known.raised}"


def flag_events(signs: WarningSigns, findings: Sequence[Finding], now: datetime) -> list[CareEvent]:
    """Raise each finding the record does not hold open; close each open flag no finding holds.

    A low or moderate flag whose condition no longer holds is resolved by its rule; a high or
    critical one is only cleared (`RiskFlagCleared`): a person resolves it. A flag a rule closed
    (cleared, or resolved) is raised again when its finding holds again, as when the entry that
    satisfied it is withdrawn; a flag a person resolved stays resolved for that episode. Event
    ids are derived from the flag id and its round, so recording the same change twice stores
    it once.
    """
    events: list[CareEvent] = []
    wanted: dict[str, Finding] = {}
    for finding in findings:
        wanted.setdefault(flag_id_of(signs.client_id, finding), finding)
    for flag_id, finding in wanted.items():
        known = signs.flag(flag_id)
        if known is not None and not _reopens(known):
            continue
        name = "raised" if known is None else f"raised-{known.raised + 1}"
        events.append(
            RiskFlagRaised(
                event_id=uuid5(UUID(flag_id), name),
                client_id=signs.client_id,
                occurred_at=min(finding.since, now) if known is None else now,
                actor=rule_actor(finding.rule.id),
                purpose_of_use="treatment",
                data=FlagRaisedData(
                    flag_id=flag_id,
                    rule_id=finding.rule.id,
                    rule_version=finding.rule.version,
                    severity=finding.severity,
                    reason=finding.reason,
                    evidence_event_ids=finding.evidence,
                ),
            )
        )
    for known in signs.flags:
        if known.status in ("resolved", "cleared") or known.flag_id in wanted:
            continue
        if known.rule_id not in RULES:
            continue
        events.append(_closing(signs, known, now))
    return events


def _reopens(known: KnownFlag) -> bool:
    return known.status == "cleared" or (known.status == "resolved" and known.by_rule)


def _closing(signs: WarningSigns, known: KnownFlag, now: datetime) -> CareEvent:
    """The rule's closing of a flag whose condition no longer holds."""
    if closes_itself(known.severity):
        return RiskFlagResolved(
            event_id=uuid5(UUID(known.flag_id), _round(known, "resolved")),
            client_id=signs.client_id,
            occurred_at=now,
            actor=rule_actor(known.rule_id),
            purpose_of_use="treatment",
            data=FlagNoteData(flag_id=known.flag_id, note="Condition no longer holds"),
        )
    return RiskFlagCleared(
        event_id=uuid5(UUID(known.flag_id), _round(known, "cleared")),
        client_id=signs.client_id,
        occurred_at=now,
        actor=rule_actor(known.rule_id),
        purpose_of_use="treatment",
        data=FlagNoteData(
            flag_id=known.flag_id,
            note="Condition no longer holds; a clinician reviews and resolves",
        ),
    )
