"""/v1/clients/{id}: break the glass (services/app/break_glass.py) and the consents as of a
date (services/app/consent.py); the accounting of disclosures is services/api/accounting.py."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from domain.access_policy import Decision
from domain.envelope import Label, ShortText
from services.api.access import Guarded, noticed
from services.api.deps import Clock, CurrentPrincipal, Handle, Store
from services.app.break_glass import EmergencyRequest
from services.app.break_glass import break_the_glass as break_glass
from services.app.consent import consents_of

router = APIRouter(prefix="/v1/clients", tags=["privacy"])


class BreakGlassBody(BaseModel):
    """A grant of emergency access (42 CFR 2.51): the nature of the emergency, and optionally
    the recipient when it is not the caller, the minutes (CARE_BREAK_GLASS_DEFAULT_MINUTES,
    60, when absent) and the data classes (the emergency set when absent)."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    reason: ShortText = Field(description="The nature of the emergency (42 CFR 2.51(c)(4))")
    minutes: int | None = Field(default=None, ge=1, le=24 * 60)
    recipient_name: ShortText | None = Field(
        default=None, description="Who receives the information, when not the caller"
    )
    recipient_affiliation: ShortText | None = Field(
        default=None, description="Their health care facility (the caller's organization if absent)"
    )
    data_classes: frozenset[Label] | None = Field(
        default=None,
        min_length=1,
        description="safety_plan, medication, crisis, care_team when absent",
    )


class BreakGlassAnswer(BaseModel):
    client_id: UUID
    event_id: UUID
    flag_id: str
    until: datetime
    version: int
    position: int
    minutes: int
    data_classes: list[str]
    disclosed_by: str
    recipient_name: str
    recipient_affiliation: str
    accounting: str


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
        EmergencyRequest(
            reason=body.reason,
            minutes=body.minutes,
            recipient_name=body.recipient_name,
            recipient_affiliation=body.recipient_affiliation,
            data_classes=body.data_classes,
        ),
        longest=guard.privacy.settings.break_glass_max_minutes,
        default_minutes=guard.privacy.settings.break_glass_default_minutes,
        clock=clock,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
    )
    return BreakGlassAnswer.model_validate(granted, from_attributes=True)


@router.get("/{client_id}/consents", summary="Consents in force at a time (now by default)")
async def consents(
    client_id: UUID,
    guard: Guarded,
    store: Store,
    principal: CurrentPrincipal,
    response: Response,
    at: Annotated[AwareDatetime | None, Query(description="Any past or present time")] = None,
) -> dict[str, Any]:
    decided: dict[UUID, Decision] = {}  # the 42 CFR 2.32 notice when this read discloses
    found = await run_in_threadpool(
        consents_of,
        guard.privacy.gate,
        store,
        principal,
        client_id,
        at=at,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
        decided=decided,
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
        "disclosure": noticed(response, decided.get(client_id)),
    }
