"""/v1/clients/{id}: break the glass, the accounting of disclosures, consents as of a date.

Break-the-glass (HIPAA 164.312(a)(2)(ii), R7): a crisis clinician without a relationship opens
one client's record for a stated reason and a limited time. It is recorded as
`BreakGlassInvoked` (the grant: the clinician, until occurred_at + minutes), it is in the access
log, and it raises a review flag for the program's supervisors in the same transaction: a
`RiskFlagRaised` with rule `BTG-1` by the system (actor kind `rule`), which the early-warning
views list with every other flag until a supervisor acknowledges or resolves it.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID, uuid4, uuid5

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.client import decide
from domain.commands import RecordCareEvent
from domain.consent import (
    BreakGlassData,
    BreakGlassInvoked,
    ConsentGranted,
    ConsentRevoked,
    DisclosureMade,
)
from domain.consent_policy import consents_in_force
from domain.envelope import Actor, ShortText
from domain.flags import FlagRaisedData, RiskFlagRaised
from services.api.access import Guarded
from services.api.deps import Clock, CurrentPrincipal, Handle, Store
from services.api.problems import Problem
from services.app.gatekeeper import Action

router = APIRouter(prefix="/v1/clients", tags=["privacy"])

REVIEW_RULE_ID = "BTG-1"
REVIEW_RULE_VERSION = 1


class BreakGlassBody(BaseModel):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    reason: ShortText
    minutes: int = Field(ge=1, le=24 * 60)


class BreakGlassAnswer(BaseModel):
    client_id: UUID
    event_id: UUID
    flag_id: str
    until: datetime
    version: int
    position: int


@router.post(
    "/{client_id}/break-glass",
    status_code=201,
    response_model=BreakGlassAnswer,
    summary="Emergency access to one client's record, for a reason and a limited time",
)
async def break_the_glass(
    client_id: UUID,
    body: BreakGlassBody,
    principal: CurrentPrincipal,
    clock: Clock,
    handle: Handle,
    guard: Guarded,
) -> BreakGlassAnswer:
    await guard.read(client_id, Action.BREAK_GLASS)
    longest = guard.privacy.settings.break_glass_max_minutes
    if body.minutes > longest:
        raise Problem(
            "validation_error",
            f"Break-the-glass access lasts at most {longest} minutes.",
            errors=[{"loc": ["body", "minutes"], "msg": f"at most {longest}"}],
        )
    facts = await run_in_threadpool(guard.privacy.gate.facts, client_id)
    program_org = (facts.program_org if facts else None) or principal.org
    now = clock()
    invoked = BreakGlassInvoked(
        event_id=uuid4(),
        client_id=client_id,
        occurred_at=now,
        actor=principal.as_actor(),
        purpose_of_use="emergency",
        correlation_id=guard.correlation_id,
        data=BreakGlassData(reason=body.reason, minutes=body.minutes),
    )
    flag_id = f"{REVIEW_RULE_ID}:{invoked.event_id}"
    review = RiskFlagRaised(
        event_id=uuid5(invoked.event_id, "break-glass-review"),
        client_id=client_id,
        occurred_at=now,
        actor=Actor(id=REVIEW_RULE_ID, role="rule", org=program_org, kind="rule"),
        purpose_of_use="operations",
        correlation_id=guard.correlation_id,
        causation_id=str(invoked.event_id),
        data=FlagRaisedData(
            flag_id=flag_id,
            rule_id=REVIEW_RULE_ID,
            rule_version=REVIEW_RULE_VERSION,
            severity="moderate",
            reason="Break-the-glass access: a supervisor reviews it.",
            evidence_event_ids=(invoked.event_id,),
        ),
    )
    commands = [RecordCareEvent(invoked, now=now), RecordCareEvent(review, now=now)]
    _, state = await run_in_threadpool(handle.state_of, client_id)
    decide(commands[0], state)  # a refused break-the-glass must not leave its flag behind
    recorded, refused = await run_in_threadpool(handle.record_batch, commands)
    if refused:
        raise refused[0].error
    first = next(r for r in recorded if r.event.event_id == invoked.event_id)
    return BreakGlassAnswer(
        client_id=client_id,
        event_id=invoked.event_id,
        flag_id=flag_id,
        until=now + timedelta(minutes=body.minutes),
        version=first.version,
        position=first.position,
    )


@router.get(
    "/{client_id}/disclosures",
    summary="Accounting of disclosures (42 CFR 2.25, 45 CFR 164.528)",
)
async def accounting_of_disclosures(
    client_id: UUID, guard: Guarded, store: Store, principal: CurrentPrincipal
) -> dict[str, Any]:
    await guard.read(client_id, Action.READ_DISCLOSURES)
    history = await run_in_threadpool(store.load, client_id)
    items = [
        {
            "disclosed_at": r.event.occurred_at.isoformat(),
            "recorded_at": r.recorded_at.isoformat(),
            "event_id": str(r.event.event_id),
            "recipient_org": r.event.data.recipient_org,
            "recipient_id": r.event.data.recipient_id,
            "purpose": r.event.data.purpose,
            "data_classes": sorted(r.event.data.data_classes),
            "consent_id": r.event.data.consent_id,
            "break_glass": r.event.data.break_glass,
            "program_org": r.event.actor.org,
        }
        for r in history
        if isinstance(r.event, DisclosureMade)
    ]
    return {"client_id": str(client_id), "items": items}


@router.get("/{client_id}/consents", summary="Consents in force at a time (now by default)")
async def consents(
    client_id: UUID,
    guard: Guarded,
    store: Store,
    clock: Clock,
    at: Annotated[AwareDatetime | None, Query(description="Any past or present time")] = None,
) -> dict[str, Any]:
    await guard.read(client_id, Action.READ_CONSENTS)
    history = await run_in_threadpool(store.load, client_id)
    moment = at or clock()
    events = [r.event for r in history if isinstance(r.event, ConsentGranted | ConsentRevoked)]
    in_force = consents_in_force(events, moment)
    return {
        "client_id": str(client_id),
        "at": moment.isoformat(),
        "in_force": [
            {
                "consent_id": c.consent_id,
                "recipient_org": c.recipient_org,
                "purpose": c.purpose,
                "data_classes": sorted(c.data_classes),
                "expires_at": None if c.expires_at is None else c.expires_at.isoformat(),
                "granted_at": c.granted_at.isoformat(),
            }
            for c in in_force
        ],
        "events": [e.model_dump(mode="json") for e in events if e.occurred_at <= moment],
    }
