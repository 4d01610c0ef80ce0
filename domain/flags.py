"""Risk flags raised by the early-warning rules and closed by clinicians or by the rules.

The lifecycle (docs/early-warning.md draws it):

    open ──acknowledge──► acknowledged
      │                        │
      ├── condition clears ────┤   low / moderate: the rule resolves it (RiskFlagResolved)
      │                        │   high / critical: the rule clears it (RiskFlagCleared) and a
      │                        ▼   person resolves it with a note (RiskFlagResolved)
      └──────────────► cleared ──resolve (person, note)──► resolved

A rule never resolves a high or critical flag: a negative screen ten minutes after a positive
one is a reason to look, not to close. Only the roles in `SERIOUS_FLAG_RESOLVERS` resolve high
and critical flags (a local policy: the clinical roles that can assess risk; peer specialists
and case managers escalate instead).
"""

from __future__ import annotations

from typing import ClassVar, Final, Literal
from uuid import UUID

from pydantic import Field

from domain.envelope import Envelope, Frozen, Identifier, Note, ShortText

Severity = Literal["low", "moderate", "high", "critical"]
SEVERITY_RANK: dict[str, int] = {"low": 1, "moderate": 2, "high": 3, "critical": 4}
FlagStatus = Literal["open", "acknowledged", "cleared", "resolved"]
FLAG_STATUSES: Final[tuple[str, ...]] = ("open", "acknowledged", "cleared", "resolved")

# Severities a rule may not close by itself: the condition clearing makes them `cleared`.
SERIOUS: Final[frozenset[str]] = frozenset({"high", "critical"})
# Who may resolve a high or critical flag (with a relationship to the client, checked apart).
SERIOUS_FLAG_RESOLVERS: Final[frozenset[str]] = frozenset(
    {"counselor", "prescriber", "crisis_clinician", "supervisor"}
)


def closes_itself(severity: str) -> bool:
    """A low or moderate flag is resolved by its rule when its condition no longer holds."""
    return severity not in SERIOUS


def may_resolve(role: str, severity: str) -> bool:
    """Whether a person in `role` may resolve a flag of this severity."""
    return severity not in SERIOUS or role in SERIOUS_FLAG_RESOLVERS


class FlagRaisedData(Frozen):
    flag_id: Identifier
    rule_id: Identifier
    rule_version: int = Field(ge=1)
    severity: Severity
    reason: ShortText
    evidence_event_ids: tuple[UUID, ...] = ()


class RiskFlagRaised(Envelope):
    """An early-warning rule fired; actor kind is `rule`, evidence names the events.

    The same flag id raised again (a withdrawn entry made the condition hold again) reopens it.
    """

    data_class: ClassVar[str] = "risk_flag"
    type: Literal["RiskFlagRaised"] = "RiskFlagRaised"
    schema_version: Literal[1] = 1
    data: FlagRaisedData


class FlagNoteData(Frozen):
    flag_id: Identifier
    note: Note | None = None


class RiskFlagAcknowledged(Envelope):
    """A clinician saw the flag and is acting on it."""

    data_class: ClassVar[str] = "risk_flag"
    type: Literal["RiskFlagAcknowledged"] = "RiskFlagAcknowledged"
    schema_version: Literal[1] = 1
    data: FlagNoteData


class RiskFlagCleared(Envelope):
    """A high or critical flag's condition no longer holds; a person still has to resolve it.

    Recorded only by the rules (actor kind `rule`).
    """

    data_class: ClassVar[str] = "risk_flag"
    type: Literal["RiskFlagCleared"] = "RiskFlagCleared"
    schema_version: Literal[1] = 1
    data: FlagNoteData


class RiskFlagResolved(Envelope):
    """A person resolved the flag with a note, or a rule resolved a low or moderate flag."""

    data_class: ClassVar[str] = "risk_flag"
    type: Literal["RiskFlagResolved"] = "RiskFlagResolved"
    schema_version: Literal[1] = 1
    data: FlagNoteData
