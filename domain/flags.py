"""Risk flags raised by the early-warning rules and closed by clinicians or by the rules."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from domain.envelope import Envelope, Frozen, Identifier, Note, ShortText

Severity = Literal["low", "moderate", "high"]
SEVERITY_RANK: dict[str, int] = {"low": 1, "moderate": 2, "high": 3}


class FlagRaisedData(Frozen):
    flag_id: Identifier
    rule_id: Identifier
    rule_version: int = Field(ge=1)
    severity: Severity
    reason: ShortText
    evidence_event_ids: tuple[UUID, ...] = ()


class RiskFlagRaised(Envelope):
    """An early-warning rule fired; actor kind is `rule`, evidence names the events."""

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


class RiskFlagResolved(Envelope):
    """The flag's condition no longer holds (rule) or a clinician resolved it."""

    data_class: ClassVar[str] = "risk_flag"
    type: Literal["RiskFlagResolved"] = "RiskFlagResolved"
    schema_version: Literal[1] = 1
    data: FlagNoteData
