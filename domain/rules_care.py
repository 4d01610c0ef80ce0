"""Early-warning rules about taking part in care, crises, discharge, death and escalation.

Each rule is a pure function of the client's signs, a clock and the thresholds, and names the
instants at which its answer may change with no new event. Sources are in each `Rule` and in
docs/early-warning.md (generated from them); where a number is a local policy rather than a
published rule, the source says so.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta
from uuid import UUID

from domain.rule_model import (
    Finding,
    Rule,
    RuleDefinition,
    Thresholds,
    days,
    each_overdue,
    hours,
    in_days,
    in_hours,
)
from domain.warning_signs import Appointment, Crisis, KnownFlag, Mark, WarningSigns

_TICK = timedelta(microseconds=1)
SUPERVISORS = "the program's supervisors"

ENG_1 = Rule(
    "ENG-1",
    1,
    "Check-in plan active and no check-in for 1.5 x its cadence",
    "moderate",
    "a check-in, a new plan or a readmission",
    "local policy (engagement monitoring)",
)
ENG_2 = Rule(
    "ENG-2",
    1,
    "2 missed appointments in 14 days (moderate); 3 in a row (high: dropout risk)",
    "moderate or high",
    "an attended appointment, or the misses age out of 14 days",
    "Gallefoss et al., 2022 (3 consecutive missed appointments as dropout); 2 in 14 d local",
)
CRS_1 = Rule(
    "CRS-1",
    1,
    "Crisis contact and no postvention review of it within 72 h",
    "moderate",
    "a postvention review of that crisis",
    "local policy (a prompt review after a crisis; the 72 h is not a Joint Commission rule)",
)
CRS_2 = Rule(
    "CRS-2",
    2,
    "Crisis contact and no follow-up contact by the clinician's follow_up_due_at (default:"
    " imminent 24 h, high 48 h, otherwise 7 days); an imminent-risk crisis is critical at once"
    " until a safety plan exists and a follow-up is scheduled",
    "high; critical for imminent risk",
    "a follow-up contact after the crisis (critical: a safety plan and a scheduled follow-up)",
    "SPRC (follow-up ideally within 48 h); National Action Alliance 2019 (contact within 24 h);"
    " HEDIS FUA/FUM (7 days)",
)
HND_1 = Rule(
    "HND-1",
    1,
    "Handoff not accepted in 48 h, or accepted and not completed in 14 days",
    "moderate",
    "accepted / completed, declined or failed",
    "local policy (warm handoffs)",
)
DIS_1 = Rule(
    "DIS-1",
    1,
    "Discharged with a high or critical flag still open",
    "high",
    "a person resolved every flag that was open at discharge",
    "Chung et al., BMJ Open 2019 (suicide rate 2,950/100,000 person-years in the first week after"
    " discharge); Chung et al., JAMA Psychiatry 2017",
    SUPERVISORS,
)
DIS_2 = Rule(
    "DIS-2",
    1,
    "Discharge from inpatient, residential, detox or ED care (a transition, a non-fatal overdose"
    " with an ED visit, or an episode closed for that reason) and no follow-up contact within"
    " 48 h",
    "high",
    "a follow-up contact after the discharge",
    "SPRC / Zero Suicide toolkit (follow-up within 48 h of discharge); HEDIS FUA/FUM/FUI (7 days)",
)
CC_1 = Rule(
    "CC-1",
    1,
    "After discharge, no caring contact for 7 days during the first 30 days",
    "moderate",
    "a caring contact sent",
    "Motto & Bostrom, Psychiatr Serv 2001 (caring letters; monthly in their trial); weekly in"
    " the first month is local policy, no published source",
)
PV_1 = Rule(
    "PV-1",
    1,
    "A client died: a postvention review within 72 h (critical until one is recorded) and a"
    " root-cause review (a second death review) within 45 days (high after)",
    "critical; high for the root-cause review",
    "a death review recorded (the root-cause flag: a second one)",
    "The Joint Commission sentinel event policy (comprehensive systematic analysis within 45"
    " days; suicide within 7 days of discharge is a sentinel event); the 72 h review is local",
    SUPERVISORS,
)
ESC_1 = Rule(
    "ESC-1",
    1,
    "A critical flag not acknowledged within 1 h, or a high one within 24 h",
    "high",
    "the flag is acknowledged or closed",
    "local policy (escalation to supervisors); thresholds configurable",
    SUPERVISORS,
)
# Flags that speak to supervisors already are not escalated again.
_NOT_ESCALATED = frozenset({"ESC-1", "DIS-1", "PV-1", "BTG-1"})


def eng_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """A check-in plan and no check-in for 1.5 times its cadence."""
    plan = signs.plan
    if plan is None:
        return ()
    reference = _engagement_reference(signs)
    due = reference.at + hours(plan.cadence_hours * t.check_in_grace_factor)
    if now < due:
        return ()
    evidence: tuple[UUID, ...] = (plan.event_id,)
    if reference.event_id != plan.event_id:
        evidence = (*evidence, reference.event_id)
    return (
        Finding(
            ENG_1, "moderate", str(reference.event_id), due, "No check-in as planned", evidence
        ),
    )


def _engagement_reference(signs: WarningSigns) -> Mark:
    """The last moment the plan was met: plan set, last check-in or return to care."""
    assert signs.plan is not None
    marks = [Mark(signs.plan.event_id, signs.plan.at)]
    if signs.check_ins:
        last = signs.check_ins[-1]
        marks.append(Mark(last.event_id, last.at))
    if signs.back_in_care is not None:
        marks.append(signs.back_in_care)
    return max(marks, key=lambda m: m.at)


def _eng_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    if signs.plan is None:
        return ()
    reference = _engagement_reference(signs)
    return (reference.at + hours(signs.plan.cadence_hours * t.check_in_grace_factor),)


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
    start = now - hours(t.missed_window_hours)
    recent = [a for a in outcomes if a.missed and a.at >= start]
    if len(recent) < t.missed_appointments:
        return ()
    return (
        Finding(
            ENG_2,
            "moderate",
            f"{recent[0].event_id}:moderate",
            recent[t.missed_appointments - 1].at,
            f"{len(recent)} missed appointments in {in_days(t.missed_window_hours / 24)}",
            tuple(a.event_id for a in recent),
        ),
    )


def _eng_2_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    for a in signs.appointments:
        yield a.at
        if a.missed:
            yield a.at + hours(t.missed_window_hours) + _TICK


def _reviewed(signs: WarningSigns, crisis: Crisis) -> bool:
    return any(r.kind == "crisis" and r.crisis_id == crisis.crisis_id for r in signs.reviews)


def crs_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each crisis contact with no postvention review once 72 h passed."""
    return each_overdue(
        CRS_1,
        "moderate",
        "Crisis contact without a postvention review within"
        f" {in_hours(t.postvention_within_hours)}",
        signs.crises,
        hours(t.postvention_within_hours),
        now,
        lambda c: not _reviewed(signs, c),
    )


def _crs_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return [c.at + hours(t.postvention_within_hours) for c in signs.crises]


def follow_up_due(crisis: Crisis, t: Thresholds) -> datetime:
    """When the follow-up contact after a crisis is due: as the clinician set it, else by risk."""
    if crisis.follow_up_due_at is not None:
        return crisis.follow_up_due_at
    if crisis.risk_level == "imminent":
        return crisis.at + hours(t.follow_up_imminent_hours)
    if crisis.risk_level == "high":
        return crisis.at + hours(t.follow_up_high_hours)
    return crisis.at + hours(t.follow_up_within_hours)


def crs_2(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each crisis with no follow-up contact by its due time (high), and each imminent-risk
    crisis without a safety plan and a scheduled follow-up (critical at once)."""
    found: list[Finding] = []
    for c in signs.crises:
        contacted = signs.contacted_after(c.at)
        due = follow_up_due(c, t)
        if not contacted and now >= due:
            found.append(
                Finding(
                    CRS_2,
                    "high",
                    str(c.event_id),
                    due,
                    "No follow-up contact by the time the crisis clinician set",
                    (c.event_id,),
                )
            )
        scheduled = (
            c.follow_up_due_at is not None
            or contacted
            or any(m.at >= c.at for m in signs.scheduled)
        )
        if c.risk_level == "imminent" and not (signs.planned_since(c.at) and scheduled):
            found.append(
                Finding(
                    CRS_2,
                    "critical",
                    f"{c.event_id}:critical",
                    c.at,
                    "Imminent risk: safety plan and scheduled follow-up not yet in place",
                    (c.event_id,),
                )
            )
    return tuple(found)


def _crs_2_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return [follow_up_due(c, t) for c in signs.crises]


def hnd_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each handoff not accepted within 48 h, or accepted and not completed within 14 days."""
    found: list[Finding] = []
    for h in signs.handoffs:
        if h.accepted is None:
            due = h.initiated.at + hours(t.handoff_accept_within_hours)
            reason = f"not accepted within {in_hours(t.handoff_accept_within_hours)}"
            start = h.initiated
            evidence: tuple[Mark, ...] = (h.initiated,)
        else:
            due = h.accepted.at + hours(t.handoff_complete_within_hours)
            within = in_days(t.handoff_complete_within_hours / 24)
            reason, start = f"accepted but not completed within {within}", h.accepted
            evidence = (h.initiated, h.accepted)
        if now >= due:
            found.append(
                Finding(
                    HND_1,
                    "moderate",
                    str(start.event_id),
                    due,
                    f"Handoff {reason}",
                    tuple(m.event_id for m in evidence),
                )
            )
    return tuple(found)


def _hnd_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    for h in signs.handoffs:
        if h.accepted is None:
            yield h.initiated.at + hours(t.handoff_accept_within_hours)
        else:
            yield h.accepted.at + hours(t.handoff_complete_within_hours)


def dis_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Discharged while a high or critical flag was open, until a person resolved each."""
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


def dis_2(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each discharge from high-intensity care with no follow-up contact within 48 h."""
    return each_overdue(
        DIS_2,
        "high",
        f"No follow-up contact within {in_hours(t.discharge_follow_up_hours)} of a discharge from"
        " acute care",
        signs.discharges_due,
        hours(t.discharge_follow_up_hours),
        now,
        lambda m: not signs.contacted_after(m.at),
    )


def _dis_2_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return [m.at + hours(t.discharge_follow_up_hours) for m in signs.discharges_due]


def _caring_reference(signs: WarningSigns) -> Mark | None:
    if signs.discharged is None or signs.in_care:
        return None
    after = [c for c in signs.caring_contacts if c.at >= signs.discharged.at]
    return max([signs.discharged, *after], key=lambda m: m.at)


def cc_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """After discharge, a caring contact at least every 7 days during the first 30 days."""
    reference = _caring_reference(signs)
    if reference is None or signs.discharged is None:
        return ()
    due = reference.at + days(t.caring_contact_every_days)
    if due > signs.discharged.at + days(t.caring_contact_for_days) or now < due:
        return ()
    return (
        Finding(
            CC_1,
            "moderate",
            str(reference.event_id),
            due,
            f"No caring contact for {in_days(t.caring_contact_every_days)} in the first"
            f" {in_days(t.caring_contact_for_days)} after discharge",
            (signs.discharged.event_id,),
        ),
    )


def _cc_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    reference = _caring_reference(signs)
    return () if reference is None else (reference.at + days(t.caring_contact_every_days),)


def pv_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """A client's death: a postvention review (critical until one is recorded), then a
    root-cause review within 45 days (a second death review; high after the 45 days)."""
    died = signs.died
    if died is None:
        return ()
    reviews = [r for r in signs.reviews if r.kind == "death"]
    found: list[Finding] = []
    if not reviews:
        found.append(
            Finding(
                PV_1,
                "critical",
                f"{died.event_id}:review",
                died.at,
                f"Client died: postvention review due within"
                f" {in_hours(t.death_review_within_hours)}",
                (died.event_id,),
            )
        )
    due = died.at + days(t.root_cause_within_days)
    if len(reviews) < 2 and now >= due:
        found.append(
            Finding(
                PV_1,
                "high",
                f"{died.event_id}:root-cause",
                due,
                f"Client died: no root-cause review within {in_days(t.root_cause_within_days)}",
                (died.event_id,),
            )
        )
    return tuple(found)


def _pv_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return () if signs.died is None else (signs.died.at + days(t.root_cause_within_days),)


def _escalation_limit(known: KnownFlag, t: Thresholds) -> datetime | None:
    if known.rule_id in _NOT_ESCALATED or known.raised_at is None:
        return None
    if known.status != "open" or known.acknowledged:
        return None
    if known.severity == "critical":
        return known.raised_at + hours(t.escalate_critical_hours)
    if known.severity == "high":
        return known.raised_at + hours(t.escalate_high_hours)
    return None


def esc_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each critical flag not acknowledged within 1 h, or high one within 24 h: tell the
    supervisors, naming the original flag (its raise event is the evidence)."""
    found: list[Finding] = []
    for known in signs.flags:
        limit = _escalation_limit(known, t)
        if limit is None or now < limit:
            continue
        evidence = (known.raised_event_id,) if known.raised_event_id is not None else ()
        found.append(
            Finding(
                ESC_1,
                "high",
                known.flag_id,
                limit,
                f"Flag {known.flag_id} ({known.rule_id}, {known.severity}) not acknowledged",
                evidence,
            )
        )
    return tuple(found)


def _esc_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return [m for f in signs.flags if (m := _escalation_limit(f, t)) is not None]


def _none(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return ()


CARE_RULES: tuple[RuleDefinition, ...] = (
    RuleDefinition(ENG_1, eng_1, _eng_1_moments, in_care_only=True),
    RuleDefinition(ENG_2, eng_2, _eng_2_moments, in_care_only=True),
    RuleDefinition(CRS_1, crs_1, _crs_1_moments),
    RuleDefinition(CRS_2, crs_2, _crs_2_moments),
    RuleDefinition(HND_1, hnd_1, _hnd_1_moments),
    RuleDefinition(DIS_1, dis_1, _none),
    RuleDefinition(DIS_2, dis_2, _dis_2_moments),
    RuleDefinition(CC_1, cc_1, _cc_1_moments),
    RuleDefinition(PV_1, pv_1, _pv_1_moments),
    RuleDefinition(ESC_1, esc_1, _esc_1_moments),
)
