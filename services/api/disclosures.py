"""/v1/clients/{id}: break the glass (services/app/break_glass.py), the accounting of
disclosures and the consents as of a date (services/app/consent.py)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.envelope import ShortText
from services.api.access import Guarded
from services.api.deps import Clock, CurrentPrincipal, Handle, Store
from services.app.break_glass import break_the_glass as break_glass
from services.app.consent import consents_of, disclosures_of

router = APIRouter(prefix="/v1/clients", tags=["privacy"])


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
    granted = await run_in_threadpool(
        break_glass,
        guard.privacy.gate,
        handle,
        principal,
        client_id,
        reason=body.reason,
        minutes=body.minutes,
        longest=guard.privacy.settings.break_glass_max_minutes,
        clock=clock,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
    )
    return BreakGlassAnswer.model_validate(granted, from_attributes=True)


@router.get(
    "/{client_id}/disclosures",
    summary="Accounting of disclosures (42 CFR 2.25, 45 CFR 164.528)",
)
async def accounting_of_disclosures(
    client_id: UUID, guard: Guarded, store: Store, principal: CurrentPrincipal
) -> dict[str, Any]:
    entries = await run_in_threadpool(
        disclosures_of,
        guard.privacy.gate,
        store,
        principal,
        client_id,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
    )
    items = [
        {
            "disclosed_at": e.event.occurred_at.isoformat(),
            "recorded_at": e.recorded_at.isoformat(),
            "event_id": str(e.event.event_id),
            "recipient_org": e.event.data.recipient_org,
            "recipient_id": e.event.data.recipient_id,
            "purpose": e.event.data.purpose,
            "data_classes": sorted(e.event.data.data_classes),
            "consent_id": e.event.data.consent_id,
            "break_glass": e.event.data.break_glass,
            "program_org": e.event.actor.org,
        }
        for e in entries
    ]
    return {"client_id": str(client_id), "items": items}


@router.get("/{client_id}/consents", summary="Consents in force at a time (now by default)")
async def consents(
    client_id: UUID,
    guard: Guarded,
    store: Store,
    principal: CurrentPrincipal,
    at: Annotated[AwareDatetime | None, Query(description="Any past or present time")] = None,
) -> dict[str, Any]:
    found = await run_in_threadpool(
        consents_of,
        guard.privacy.gate,
        store,
        principal,
        client_id,
        at=at,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
    )
    return {
        "client_id": str(client_id),
        "at": found.at.isoformat(),
        "in_force": [
            {
                "consent_id": c.consent_id,
                "recipient_org": c.recipient_org,
                "purpose": c.purpose,
                "data_classes": sorted(c.data_classes),
                "expires_at": None if c.expires_at is None else c.expires_at.isoformat(),
                "granted_at": c.granted_at.isoformat(),
            }
            for c in found.in_force
        ],
        "events": [e.model_dump(mode="json") for e in found.events],
        # each consent in force as the patient signed it (42 CFR 2.31(a), element by element)
        "forms": found.forms(),
    }
