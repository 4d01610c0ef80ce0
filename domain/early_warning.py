"""The early-warning rules as pure functions of a client's signs and a clock.

`evaluate(signs, now, thresholds)` says which flags should be open now, each a `Finding` with
its rule id and version, severity, reason and evidence; `flag_events` turns the difference
between those findings and the flags already on the record into `RiskFlagRaised`,
`RiskFlagCleared` and `RiskFlagResolved` events with ids derived from client, rule, episode and
round, so raising the same finding twice (a redelivery, a restart, a second evaluator) records
it once. `next_moment` is the next instant at which the answer could change without a new
event: time-based rules fire (or clear) when a clock passes it.

The rules themselves, each with its thresholds and published source, are in
domain/rules_risk.py and domain/rules_care.py; docs/early-warning.md is generated from them.
A discharge is a risk moment, not an eraser: the rules keep running after it (the engagement
rules answer as at the discharge). After a client's death every rule answers as at the death,
except PV-1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from uuid import UUID, uuid5

from domain.catalogue import CareEvent
from domain.envelope import Actor
from domain.flags import (
    FlagNoteData,
    FlagRaisedData,
    RiskFlagCleared,
    RiskFlagRaised,
    RiskFlagResolved,
    closes_itself,
)
from domain.rule_model import Finding, Rule, RuleDefinition, Thresholds, thresholds_from
from domain.rules_care import (
    CARE_RULES,
    CC_1,
    CRS_1,
    CRS_2,
    DIS_1,
    DIS_2,
    ENG_1,
    ENG_2,
    ESC_1,
    HND_1,
    PV_1,
)
from domain.rules_risk import CRV_1, OD_1, RISK_RULES, SLP_1, SPR_1, SUI_1, SUI_2, SUI_3, USE_1
from domain.warning_signs import KnownFlag, WarningSigns

__all__ = [
    "CC_1",
    "CRS_1",
    "CRS_2",
    "CRV_1",
    "DEFINITIONS",
    "DIS_1",
    "DIS_2",
    "ENG_1",
    "ENG_2",
    "ESC_1",
    "HND_1",
    "OD_1",
    "PV_1",
    "RULES",
    "SLP_1",
    "SPR_1",
    "SUI_1",
    "SUI_2",
    "SUI_3",
    "USE_1",
    "Finding",
    "Rule",
    "Thresholds",
    "evaluate",
    "flag_events",
    "flag_id_of",
    "next_moment",
    "rule_actor",
    "thresholds_from",
]

FLAG_NAMESPACE = UUID("6c0f5a52-3b4e-5b8e-9a3c-2f1d7e8a9b10")
RULE_ORG = "carecircle"

DEFINITIONS: tuple[RuleDefinition, ...] = (*RISK_RULES, *CARE_RULES)
RULES: Mapping[str, Rule] = {d.rule.id: d.rule for d in DEFINITIONS}


def _as_of(definition: RuleDefinition, signs: WarningSigns, now: datetime) -> datetime | None:
    """The instant a rule is evaluated at: frozen at the death (all but PV-1) or, for the
    engagement rules, at the discharge; None if the rule has nothing to say."""
    at = now
    if signs.died is not None and definition.rule is not PV_1:
        at = min(at, signs.died.at)
    if definition.in_care_only and not signs.in_care:
        if signs.discharged is None:
            return None
        at = min(at, signs.discharged.at)
    return at


def evaluate(signs: WarningSigns, now: datetime, t: Thresholds) -> list[Finding]:
    """Every flag that should be open for this client now; after a death, PV-1 and the flags
    that were open at the death, nothing new."""
    found: list[Finding] = []
    for definition in DEFINITIONS:
        at = _as_of(definition, signs, now)
        if at is None:
            continue
        for finding in definition.check(signs, at, t):
            if signs.died is None or definition.rule is PV_1 or _on_record(signs, finding):
                found.append(finding)
    return found


def _on_record(signs: WarningSigns, finding: Finding) -> bool:
    known = signs.flag(flag_id_of(signs.client_id, finding))
    return known is not None and known.status != "resolved"


def next_moment(signs: WarningSigns, now: datetime, t: Thresholds) -> datetime | None:
    """The next instant after `now` at which `evaluate` may answer differently with no new event."""
    later = [
        moment
        for definition in DEFINITIONS
        if (at := _as_of(definition, signs, now)) is not None and at == now
        for moment in definition.moments(signs, t)
        if moment > now
    ]
    return min(later) if later else None


# --- from findings to recorded flags --------------------------------------------------------------


def flag_id_of(client_id: UUID, finding: Finding) -> str:
    """Derived from client, rule, rule version and episode: the same finding, the same flag
    (or the open flag a finding continues, see `Finding.continues`)."""
    if finding.continues is not None:
        return finding.continues
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
    kind: type[RiskFlagResolved] | type[RiskFlagCleared] = RiskFlagCleared
    step, note = "cleared", "Condition no longer holds; a clinician reviews and resolves"
    if closes_itself(known.severity):
        kind, step, note = RiskFlagResolved, "resolved", "Condition no longer holds"
    return kind(
        event_id=uuid5(UUID(known.flag_id), _round(known, step)),
        client_id=signs.client_id,
        occurred_at=now,
        actor=rule_actor(known.rule_id),
        purpose_of_use="treatment",
        data=FlagNoteData(flag_id=known.flag_id, note=note),
    )
