"""Closing the loop on an early warning: a clinician acknowledges a flag (`RiskFlagAcknowledged`),
saying they saw it and are acting on it.

A flag of a client the caller has no relationship with is "no such flag", the same answer as
for an unknown flag, so a flag id never tells a stranger that the client exists (42 CFR 2.13(c)).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from domain.access_policy import Action, Principal
from domain.commands import RecordCareEvent
from domain.flags import FlagNoteData, RiskFlagAcknowledged
from services.app.errors import AccessRefused
from services.app.gatekeeper import AccessRequest, Gatekeeper
from services.app.record import CareRecordHandler, Outcome

NO_SUCH_FLAG = "No such flag."


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
    the same `event_id` again answers the first outcome (`created` False)."""
    if client_id is None:
        raise AccessRefused("not_found", NO_SUCH_FLAG)
    request = AccessRequest(
        principal,
        Action.WRITE_EVENT,
        client_id,
        purpose=purpose,
        event_type="RiskFlagAcknowledged",
        correlation_id=correlation_id,
    )
    try:
        gate.check(request)
    except AccessRefused as refused:
        if refused.code == "client_not_enrolled":
            raise AccessRefused("not_found", NO_SUCH_FLAG) from None
        raise
    now = clock()
    event = RiskFlagAcknowledged(
        event_id=event_id or uuid4(),
        client_id=client_id,
        occurred_at=now,
        actor=principal.as_actor(),
        data=FlagNoteData(flag_id=flag_id, note=note),
    )
    return handler.record(RecordCareEvent(event, now=now))
