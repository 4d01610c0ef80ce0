"""Closing the loop on an early warning: a clinician acknowledges a flag (`RiskFlagAcknowledged`),
saying they saw it and are acting on it, and a person resolves it (`RiskFlagResolved`) with a
note saying why.

Acknowledging twice stores nothing the second time: the answer is the first acknowledgement.
A high or critical flag is resolved only by the roles `domain/flags.py` names (the decider
refuses the others with `forbidden`) and only by someone with a relationship to the client
(the gatekeeper). A flag of a client the caller has no relationship with is "no such flag", the
same answer as for an unknown flag, so a flag id never tells a stranger that the client exists
(42 CFR 2.13(c)).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from domain.access_policy import Action, Principal
from domain.commands import RecordCareEvent
from domain.errors import FlagAlreadyAcknowledged
from domain.flags import FlagNoteData, RiskFlagAcknowledged, RiskFlagResolved
from services.app.errors import AccessRefused
from services.app.gatekeeper import AccessRequest, Gatekeeper
from services.app.record import CareRecordHandler, Outcome

NO_SUCH_FLAG = "No such flag."


def _admit(
    gate: Gatekeeper,
    principal: Principal,
    client_id: UUID | None,
    event_type: str,
    *,
    purpose: str,
    correlation_id: str | None,
) -> UUID:
    if client_id is None:
        raise AccessRefused("not_found", NO_SUCH_FLAG)
    request = AccessRequest(
        principal,
        Action.WRITE_EVENT,
        client_id,
        purpose=purpose,
        event_type=event_type,
        correlation_id=correlation_id,
    )
    try:
        gate.check(request)
    except AccessRefused as refused:
        if refused.code == "client_not_enrolled":
            raise AccessRefused("not_found", NO_SUCH_FLAG) from None
        raise
    return client_id


def _note_event(
    kind: type[RiskFlagAcknowledged] | type[RiskFlagResolved],
    gate: Gatekeeper,
    principal: Principal,
    flag_id: str,
    client_id: UUID | None,
    event_id: UUID | None,
    note: str | None,
    clock: Callable[[], datetime],
    *,
    purpose: str,
    correlation_id: str | None,
) -> RiskFlagAcknowledged | RiskFlagResolved:
    """The person's note on the flag, once the gatekeeper let them write it for the client,
    at the clock's time after that."""
    client = _admit(
        gate, principal, client_id, kind.__name__, purpose=purpose, correlation_id=correlation_id
    )
    return kind(
        event_id=event_id or uuid4(),
        client_id=client,
        occurred_at=clock(),
        actor=principal.as_actor(),
        data=FlagNoteData(flag_id=flag_id, note=note),
    )


def acknowledge_flag(
    gate: Gatekeeper,
    handler: CareRecordHandler,
    principal: Principal,
    flag_id: str,
    client_id: UUID | None,
    *,
    event_id: UUID | None,
    note: str | None,
    clock: Callable[[], datetime],
    purpose: str,
    correlation_id: str | None,
) -> Outcome:
    """Record the acknowledgement of the flag `flag_id` of `client_id` (None: no such flag);
    the same `event_id` again, or any acknowledgement of a flag acknowledged already, answers
    the first outcome (`created` False) and stores nothing."""
    event = _note_event(
        RiskFlagAcknowledged,
        gate,
        principal,
        flag_id,
        client_id,
        event_id,
        note,
        clock,
        purpose=purpose,
        correlation_id=correlation_id,
    )
    now = event.occurred_at
    try:
        return handler.record(RecordCareEvent(event, now=now))
    except FlagAlreadyAcknowledged as already:
        if already.first is None:
            raise
        first = event.model_copy(update={"event_id": already.first})
        return handler.record(RecordCareEvent(first, now=now))  # a re-send: the first answer


def resolve_flag(
    gate: Gatekeeper,
    handler: CareRecordHandler,
    principal: Principal,
    flag_id: str,
    client_id: UUID | None,
    *,
    event_id: UUID | None,
    note: str,
    clock: Callable[[], datetime],
    purpose: str,
    correlation_id: str | None,
) -> Outcome:
    """Record that this person resolved the flag, with their note; the decider refuses a
    blank note (`note_required`) and a role that may not resolve a high or critical flag."""
    event = _note_event(
        RiskFlagResolved,
        gate,
        principal,
        flag_id,
        client_id,
        event_id,
        note,
        clock,
        purpose=purpose,
        correlation_id=correlation_id,
    )
    return handler.record(RecordCareEvent(event, now=event.occurred_at))
