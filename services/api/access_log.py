"""/v1/access-log: who read which client's data, when, for what purpose, and with what outcome.

Auditors read all of it. Supervisors read the rows of the clients of their organization (ask
with `client_id`), and, without one, the rows of their organization's staff. Reading the access
log is itself logged.
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool

from domain.access_policy import Action
from services.api.access import Guarded, noticed
from services.api.deps import CurrentPrincipal

router = APIRouter(prefix="/v1/access-log", tags=["privacy"])


@router.get("", summary="The access log (supervisors: their organization; auditors: all)")
async def access_log(
    guard: Guarded,
    principal: CurrentPrincipal,
    client_id: Annotated[UUID | None, Query()] = None,
    actor_id: Annotated[str | None, Query(max_length=128)] = None,
    after: Annotated[int, Query(ge=0, description="The last entry_id already read")] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    *,
    response: Response,
) -> dict[str, Any]:
    if client_id is not None:
        decision = await guard.read(client_id, Action.READ_ACCESS_LOG)
    else:
        decision = await guard.stream(Action.READ_ACCESS_LOG)
    own_org = None if principal.role == "auditor" or client_id is not None else principal.org
    rows = await run_in_threadpool(
        guard.privacy.access_log.entries,
        client_id=client_id,
        actor_id=actor_id,
        actor_org=own_org,
        after=after,
        limit=limit,
    )
    return {
        "items": [row.to_dict() for row in rows],
        "next": rows[-1].entry_id if len(rows) == limit else None,
        # 42 CFR 2.32: a Part 2 client's access log read by another organization is a disclosure
        "disclosure": noticed(response, decision),
    }
