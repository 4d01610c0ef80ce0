"""Early-warning rules about suicide, craving, sleep, overdose and return to use.

Each rule is a pure function of the client's signs, a clock and the thresholds, and names the
instants at which its answer may change with no new event. Sources are in each docstring and in
docs/early-warning.md (generated from the `Rule` definitions below).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from uuid import UUID

from domain.flags import Severity
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
from domain.warning_signs import CheckIn, WarningSigns, Window

SUI_1 = Rule(
    "SUI-1",
    1,
    "PHQ-9 item 9 at or above 1 (also on a PHQ-9 with blank items): a C-SSRS is due the same day",
    "high",
    "a C-SSRS screener recorded at or after the PHQ-9",
    "Kroenke et al., J Gen Intern Med 2001; Simon et al., Psychiatr Serv 2013 (item 9 predicts"
    " attempts whatever the total)",
)
SUI_2 = Rule(
    "SUI-2",
    1,
    "C-SSRS screener triaged moderate (Q3, behavior over 3 months ago) or high (Q4, Q5, recent"
    " behavior)",
    "moderate or high",
    "a later screener below moderate (high: cleared, a person resolves)",
    "Columbia C-SSRS triage guidelines; Posner et al., Am J Psychiatry 2011",
)
SUI_3 = Rule(
    "SUI-3",
    1,
    "Moderate or high suicide risk (screen or suicidal crisis) and no safety plan within 24 h",
    "high",
    "a safety plan recorded or revised at or after the risk",
    "Stanley & Brown, Cogn Behav Pract 2012 (safety planning intervention); 24 h is local policy",
)
CRV_1 = Rule(
    "CRV-1",
    1,
    "Craving 7 or more, or 3 above the 14-day mean, on 2 check-ins in a row",
    "moderate",
    "a check-in below both",
    "person-relative craving monitoring (McHugh et al., 2014); cut-offs are local policy",
)
SLP_1 = Rule(
    "SLP-1",
    1,
    "Sleep under 4 h on 3 check-ins in a row",
    "low",
    "a check-in with 4 h or more",
    "local policy (insomnia as a relapse warning sign)",
)
OD_1 = Rule(
    "OD-1",
    1,
    "Overdose-risk window open (release or discharge 14 d, MOUD stopped 28 d, non-fatal overdose"
    " or a crisis with overdose danger 30 d) and no naloxone distributed in it",
    "high",
    "naloxone distributed in the window, or the window ends",
    "Binswanger et al., NEJM 2007 (2 weeks after release); Sordo et al., BMJ 2017 (4 weeks after"
    " leaving MOUD); Olfson et al., 2018 (after a non-fatal overdose); WHO 2014 (naloxone)",
)
USE_1 = Rule(
    "USE-1",
    1,
    "Use reported after at least 30 days without use (since the last reported use, or since"
    " enrollment); flag kept 14 days",
    "moderate; high for opioids",
    "14 days pass (moderate: resolved; high: cleared for a person)",
    "Strang et al., BMJ 2003 (loss of tolerance after abstinence and overdose deaths); the 30-day"
    " abstinence and 14-day flag are local policy (no published threshold)",
)
SPR_1 = Rule(
    "SPR-1",
    1,
    "High or imminent-risk crisis and no safety plan recorded or revised within 72 h",
    "moderate",
    "a safety plan recorded or revised at or after the crisis",
    "Stanley & Brown 2012 (revise the plan after a crisis); 72 h is local policy",
)


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


def _unplanned(signs: WarningSigns) -> list[tuple[UUID, datetime]]:
    return [(r.event_id, r.at) for r in signs.risks if not signs.planned_since(r.at)]


def sui_3(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """A moderate or high suicide risk with no safety plan recorded since, once 24 h passed."""
    risks = _unplanned(signs)
    if not risks:
        return ()
    first_id, first_at = risks[0]  # the oldest risk no plan has answered yet
    due = first_at + hours(t.safety_plan_within_hours)
    if now < due:
        return ()
    return (
        Finding(
            SUI_3,
            "high",
            str(first_id),
            due,
            "Suicide risk without a safety plan recorded within"
            f" {in_hours(t.safety_plan_within_hours)}",
            tuple(event_id for event_id, _ in risks),
        ),
    )


def _sui_3_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return [at + hours(t.safety_plan_within_hours) for _, at in _unplanned(signs)[:1]]


def crv_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Craving at or above 7, or 3 above the 14-day mean, on the last check-ins in a row."""
    run = _trailing_run(signs.check_ins, lambda i, c: _craving_elevated(signs.check_ins, i, c, t))
    return _in_a_row(CRV_1, "moderate", "Craving elevated", run, t.craving_consecutive, signs)


def _craving_elevated(history: Sequence[CheckIn], index: int, c: CheckIn, t: Thresholds) -> bool:
    if c.craving >= t.craving_high:
        return True
    start = c.at - hours(t.craving_baseline_hours)
    before = [h.craving for h in history[:index] if start <= h.at < c.at]
    return bool(before) and c.craving - sum(before) / len(before) >= t.craving_rise


def slp_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Sleep under 4 h on the last 3 check-ins in a row."""
    run = _trailing_run(signs.check_ins, lambda _i, c: c.sleep_hours < t.sleep_below_hours)
    return _in_a_row(SLP_1, "low", "Short sleep", run, t.sleep_consecutive, signs)


def _in_a_row(
    rule: Rule,
    severity: Severity,
    what: str,
    run: Sequence[CheckIn],
    needed: int,
    signs: WarningSigns,
) -> tuple[Finding, ...]:
    """A finding when the run is long enough: its first check-in is the episode, the first
    `needed` of it the evidence, dated when the last of those came in.

    A run that reaches back to the oldest check-in the signs keep may have begun before it
    (check-ins older than the horizon are dropped, domain/warning_signs.py): while the record
    holds this rule's flag open, the run is that flag's episode still, not a new one each day
    the horizon moves (which raised a new flag and closed the old one daily through a long run).
    """
    if len(run) < needed:
        return ()
    evidence = run[:needed]
    continuing = _open_flag_of(rule, signs) if run[0] == signs.check_ins[0] else None
    return (
        Finding(
            rule,
            severity,
            str(run[0].event_id),
            evidence[-1].at,
            f"{what} on {len(run)} check-ins in a row",
            tuple(c.event_id for c in evidence),
            continues=continuing,
        ),
    )


def _open_flag_of(rule: Rule, signs: WarningSigns) -> str | None:
    """The flag of this rule the record holds open (or acknowledged), the latest raised."""
    held = [f for f in signs.flags if f.rule_id == rule.id and f.status in ("open", "acknowledged")]
    return held[-1].flag_id if held else None


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


def _window_hours(window: Window, t: Thresholds) -> float:
    match window.kind:
        case "transition":
            return t.transition_window_hours
        case "opioid_stopped":
            return t.opioid_stopped_window_hours
        case _:
            return t.overdose_window_hours


def od_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """An overdose-risk window open now with no naloxone distributed since it opened."""
    for window in signs.windows:
        if window.at <= now < window.at + hours(_window_hours(window, t)):
            if any(n.at >= window.at for n in signs.naloxone):
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


def _od_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    for w in signs.windows:
        yield w.at
        yield w.at + hours(_window_hours(w, t))


def use_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Use reported after at least 30 days without use: lost tolerance makes an overdose likelier
    (Strang et al., BMJ 2003). High when an opioid was used, else moderate; held for 14 days."""
    if not signs.uses:
        return ()
    latest = signs.uses[-1]
    before = [u.at for u in signs.uses[:-1] if u.at < latest.at]
    since = before[-1] if before else signs.enrolled_at
    if since is None or latest.at - since < days(t.abstinent_days):
        return ()
    if now >= latest.at + days(t.return_to_use_flag_days):
        return ()
    severity: Severity = "high" if latest.opioid else "moderate"
    return (
        Finding(
            USE_1,
            severity,
            str(latest.event_id),
            latest.at,
            f"Use reported after {in_days(t.abstinent_days)} or more without use: tolerance may"
            " be lost",
            (latest.event_id,),
        ),
    )


def _use_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return [u.at + days(t.return_to_use_flag_days) for u in signs.uses[-1:]]


def spr_1(signs: WarningSigns, now: datetime, t: Thresholds) -> tuple[Finding, ...]:
    """Each high or imminent-risk crisis with no safety plan recorded or revised within 72 h."""
    return each_overdue(
        SPR_1,
        "moderate",
        f"Safety plan not revised within {in_hours(t.plan_revision_within_hours)} of a high-risk"
        " crisis",
        signs.crises,
        hours(t.plan_revision_within_hours),
        now,
        lambda c: c.risk_level in ("high", "imminent") and not signs.planned_since(c.at),
    )


def _spr_1_moments(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return [c.at + hours(t.plan_revision_within_hours) for c in signs.crises]


def _none(signs: WarningSigns, t: Thresholds) -> Iterable[datetime]:
    return ()


RISK_RULES: tuple[RuleDefinition, ...] = (
    RuleDefinition(SUI_1, sui_1, _none),
    RuleDefinition(SUI_2, sui_2, _none),
    RuleDefinition(SUI_3, sui_3, _sui_3_moments),
    RuleDefinition(CRV_1, crv_1, _none),
    RuleDefinition(SLP_1, slp_1, _none),
    RuleDefinition(OD_1, od_1, _od_1_moments),
    RuleDefinition(USE_1, use_1, _use_1_moments),
    RuleDefinition(SPR_1, spr_1, _spr_1_moments),
)
