"""The warm handoff: a workflow between providers, decided on its own state.

Initiated → Accepted | Declined (once, by the receiving organization) → Completed | Failed.
Handoff events travel in the client's stream, so one client's record keeps one order; the
workflow itself is this small decider over `HandoffState`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar, Literal, assert_never

from domain.envelope import Envelope, Frozen, Identifier, ShortText
from domain.errors import (
    HandoffAlreadyDecided,
    HandoffAlreadyExists,
    HandoffNotAccepted,
    UnknownHandoff,
    WrongHandoffRecipient,
)
from domain.sessions import Modality

Priority = Literal["routine", "urgent", "emergent"]


class HandoffInitiatedData(Frozen):
    handoff_id: Identifier
    to_org: Identifier
    to_member_id: Identifier | None = None
    service: ShortText
    reason: ShortText
    priority: Priority = "routine"
    consent_id: Identifier | None = None


class HandoffInitiated(Envelope):
    data_class: ClassVar[str] = "handoff"
    type: Literal["HandoffInitiated"] = "HandoffInitiated"
    schema_version: Literal[1] = 1
    data: HandoffInitiatedData


class HandoffRef(Frozen):
    handoff_id: Identifier


class HandoffDecisionData(Frozen):
    handoff_id: Identifier
    reason: ShortText | None = None


class HandoffCompletedData(Frozen):
    handoff_id: Identifier
    client_present: bool
    modality: Modality | None = None


class HandoffAccepted(Envelope):
    data_class: ClassVar[str] = "handoff"
    type: Literal["HandoffAccepted"] = "HandoffAccepted"
    schema_version: Literal[1] = 1
    data: HandoffDecisionData


class HandoffDeclined(Envelope):
    data_class: ClassVar[str] = "handoff"
    type: Literal["HandoffDeclined"] = "HandoffDeclined"
    schema_version: Literal[1] = 1
    data: HandoffDecisionData


class HandoffCompleted(Envelope):
    """Warm when the client was present as the receiving provider took over."""

    data_class: ClassVar[str] = "handoff"
    type: Literal["HandoffCompleted"] = "HandoffCompleted"
    schema_version: Literal[1] = 1
    data: HandoffCompletedData


class HandoffFailed(Envelope):
    data_class: ClassVar[str] = "handoff"
    type: Literal["HandoffFailed"] = "HandoffFailed"
    schema_version: Literal[1] = 1
    data: HandoffDecisionData


HandoffEvent = (
    HandoffInitiated | HandoffAccepted | HandoffDeclined | HandoffCompleted | HandoffFailed
)
HandoffPhase = Literal["initiated", "accepted", "declined", "completed", "failed"]


@dataclass(frozen=True, slots=True)
class HandoffState:
    handoff_id: str
    from_org: str
    to_org: str
    to_member_id: str | None
    phase: HandoffPhase
    initiated_at: datetime
    accepted_at: datetime | None = None


def decide_handoff(event: HandoffEvent, state: HandoffState | None) -> None:
    """Refuse a handoff step the workflow does not allow; return quietly if it may be recorded."""
    match event:
        case HandoffInitiated():
            if state is not None:
                raise HandoffAlreadyExists
        case HandoffAccepted() | HandoffDeclined():
            if state is None:
                raise UnknownHandoff
            if state.phase != "initiated":
                raise HandoffAlreadyDecided
            if event.actor.kind == "human" and event.actor.org != state.to_org:
                raise WrongHandoffRecipient
        case HandoffCompleted():
            if state is None:
                raise UnknownHandoff
            if state.phase != "accepted":
                raise HandoffNotAccepted
        case HandoffFailed():
            if state is None:
                raise UnknownHandoff
            if state.phase not in ("initiated", "accepted"):
                raise HandoffNotAccepted
        case _:
            assert_never(event)


def evolve_handoff(state: HandoffState | None, event: HandoffEvent) -> HandoffState | None:
    """The handoff after one more step; never raises."""
    match event:
        case HandoffInitiated():
            return HandoffState(
                handoff_id=event.data.handoff_id,
                from_org=event.actor.org,
                to_org=event.data.to_org,
                to_member_id=event.data.to_member_id,
                phase="initiated",
                initiated_at=event.occurred_at,
            )
        case HandoffAccepted():
            if state is None:
                return None
            return _with(state, "accepted", accepted_at=event.occurred_at)
        case HandoffDeclined():
            return None if state is None else _with(state, "declined")
        case HandoffCompleted():
            return None if state is None else _with(state, "completed")
        case HandoffFailed():
            return None if state is None else _with(state, "failed")
        case _:
            assert_never(event)


def _with(
    state: HandoffState, phase: HandoffPhase, accepted_at: datetime | None = None
) -> HandoffState:
    return HandoffState(
        handoff_id=state.handoff_id,
        from_org=state.from_org,
        to_org=state.to_org,
        to_member_id=state.to_member_id,
        phase=phase,
        initiated_at=state.initiated_at,
        accepted_at=accepted_at or state.accepted_at,
    )
