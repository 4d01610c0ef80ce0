"""The shape every early-warning rule shares: its thresholds, its definition and its findings.

Every number a rule compares with lives in `Thresholds` (durations in hours), each with its
default and where that default comes from; a deployment overrides them by name
(`thresholds_from`). Each `Rule` carries what docs/early-warning.md prints about it, so the
table there is generated from these definitions and cannot drift.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from typing import Protocol, TypeVar
from uuid import UUID

from domain.flags import SERIOUS, SERIOUS_FLAG_RESOLVERS, Severity
from domain.warning_signs import WarningSigns


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Every number a rule compares with; durations in hours."""

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
    follow_up_imminent_hours: float = 24
    follow_up_high_hours: float = 48
    handoff_accept_within_hours: float = 48
    handoff_complete_within_hours: float = 14 * 24
    discharge_follow_up_hours: float = 48
    escalate_critical_hours: float = 1
    escalate_high_hours: float = 24
    abstinent_days: float = 30
    return_to_use_flag_days: float = 14
    plan_revision_within_hours: float = 72
    caring_contact_every_days: float = 7
    caring_contact_for_days: float = 30
    death_review_within_hours: float = 72
    root_cause_within_days: float = 45


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


def in_hours(value: float) -> str:
    """A threshold in hours as a flag's reason says it: `72 h`."""
    return f"{value:g} h"


def in_days(value: float) -> str:
    """A threshold in days as a flag's reason says it: `14 days` (`1 day`)."""
    return f"{value:g} day" if value == 1 else f"{value:g} days"


def hours(value: float) -> timedelta:
    return timedelta(hours=value)


def days(value: float) -> timedelta:
    return timedelta(days=value)


@dataclass(frozen=True, slots=True)
class Rule:
    """One early-warning rule as a clinician reads it (docs/early-warning.md prints these)."""

    id: str
    version: int
    summary: str
    severity: str = "moderate"
    clears: str = ""
    source: str = ""
    audience: str = "the care team"

    @property
    def resolvers(self) -> str:
        """Who closes the flag: the rule itself below high; a person in a clinical role above."""
        serious = any(level in self.severity for level in SERIOUS)
        people = ", ".join(sorted(SERIOUS_FLAG_RESOLVERS))
        if not serious:
            return "the rule when it clears; any care-team member or supervisor, with a note"
        if "moderate" in self.severity or "low" in self.severity:
            return f"moderate: the rule or anyone with a note; high/critical: {people}, with a note"
        return f"{people}, with a note (the rule only clears it)"


@dataclass(frozen=True, slots=True)
class Finding:
    """A flag that should be open: which rule, how severe, since when, and on what evidence.

    `episode` names this occurrence of the condition (e.g. the screen or crisis that started
    it), so one long-lasting condition is one flag and a new occurrence is a new one.
    `continues`: the id of the open flag this finding is, when the event that began the
    episode is older than anything the signs keep (a run of check-ins longer than their
    horizon), so its episode can no longer be named.
    """

    rule: Rule
    severity: Severity
    episode: str
    since: datetime
    reason: str
    evidence: tuple[UUID, ...]
    continues: str | None = None


class Dated(Protocol):
    """What a rule points at: a recorded event's id and its business time."""

    @property
    def event_id(self) -> UUID: ...

    @property
    def at(self) -> datetime: ...


D = TypeVar("D", bound=Dated)


def each_overdue(
    rule: Rule,
    severity: Severity,
    reason: str,
    marks: Iterable[D],
    within: timedelta,
    now: datetime,
    still_open: Callable[[D], bool],
) -> tuple[Finding, ...]:
    """One finding per mark whose time (`within` after it) ran out by `now` while what it asks
    for is still missing: the mark is its episode and its evidence, dated when time ran out."""
    return tuple(
        Finding(rule, severity, str(m.event_id), m.at + within, reason, (m.event_id,))
        for m in marks
        if still_open(m) and now >= m.at + within
    )


Check = Callable[[WarningSigns, datetime, Thresholds], tuple[Finding, ...]]
Moments = Callable[[WarningSigns, Thresholds], Iterable[datetime]]


@dataclass(frozen=True, slots=True)
class RuleDefinition:
    """A rule, the pure check that finds its flags, and the instants at which its answer may
    change with no new event (for the evaluator's clock)."""

    rule: Rule
    check: Check
    moments: Moments
    in_care_only: bool = False
