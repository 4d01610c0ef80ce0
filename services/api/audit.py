"""/v1/audit: who did what to which client, when, in the hash-chained global order (§7b)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from pydantic import AwareDatetime, BaseModel

from domain.access_policy import Action
from projections.audit_trail import audit_page
from services.api.access import Reader, noticed
from services.api.reads import MinPosition, caught_up

router = APIRouter(prefix="/v1/audit", tags=["audit"])


class AuditActor(BaseModel):
    id: str
    role: str
    org: str
    kind: str


class AuditItem(BaseModel):
    position: int
    event_id: UUID
    type: str
    client_id: UUID
    actor: AuditActor
    occurred_at: datetime
    recorded_at: datetime
    hash: str


class AuditPage(BaseModel):
    items: list[AuditItem]
    next: int | None
    # 42 CFR 2.32: present when the trail is a Part 2 client's, read by another organization
    disclosure: dict[str, Any] | None = None


@router.get("", summary="The audit trail by client and/or actor; `from`/`to` on recorded time")
def audit_trail(
    reader: Reader,
    client_id: UUID | None = None,
    actor_id: str | None = None,
    recorded_from: Annotated[AwareDatetime | None, Query(alias="from")] = None,
    recorded_to: Annotated[AwareDatetime | None, Query(alias="to")] = None,
    after: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_position: MinPosition = None,
    *,
    response: Response,
) -> AuditPage:
    who = reader.principal
    # auditors: all; supervisors: a client of their organization, or a member of their staff
    decision = reader.guard.require(Action.READ_AUDIT, client_id, actor_id=actor_id)
    own_staff_only = who.role == "supervisor" and client_id is None
    with caught_up(reader.context.reads, ["audit_trail"], min_position) as (conn, tables):
        page = audit_page(
            conn,
            tables["audit_trail"],
            client_id=client_id,
            actor_id=actor_id,
            recorded_from=recorded_from,
            recorded_to=recorded_to,
            after=after,
            limit=limit,
        )
    items = [
        {
            "position": e.position,
            "event_id": e.event_id,
            "type": e.type,
            "client_id": e.client_id,
            "actor": {
                "id": e.actor_id,
                "role": e.actor_role,
                "org": e.actor_org,
                "kind": e.actor_kind,
            },
            "occurred_at": e.occurred_at,
            "recorded_at": e.recorded_at,
            "hash": e.hash.hex(),
        }
        for e in page.items
        if not own_staff_only or e.actor_org == who.org
    ]
    # the page validated in one call (a model per item and per actor was a tenth of the read)
    return AuditPage.model_validate(
        {"items": items, "next": page.next, "disclosure": noticed(response, decision)}
    )
