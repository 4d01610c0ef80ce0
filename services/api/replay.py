"""/v1/replay: the event stream in position order as NDJSON, de-identified for analysts.

Only analysts (de-identified rows) and auditors (the audit skeleton, no data) may replay; every
other role gets 403 `forbidden`. Resume with `after=` the last `position` read.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from domain.access_policy import Action
from domain.catalogue import EVENT_TYPES
from services.api.access import Guarded
from services.api.problems import Problem
from services.app.replay import replay_lines

router = APIRouter(prefix="/v1/replay", tags=["analysts"])

NDJSON = "application/x-ndjson"


@router.get(
    "",
    summary="Stored events in position order, one JSON line each (analysts: de-identified)",
    response_class=StreamingResponse,
    responses={200: {"content": {NDJSON: {}}}},
)
async def replay(
    guard: Guarded,
    after: Annotated[int, Query(ge=0, description="The last position already read")] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 1000,
    types: Annotated[list[str] | None, Query(description="Event types (repeat, or commas)")] = None,
) -> StreamingResponse:
    decision = await guard.stream(Action.REPLAY)
    wanted = [t.strip() for given in types or [] for t in given.split(",") if t.strip()]
    if not set(wanted) <= EVENT_TYPES:  # refused before the stream starts: never a cut 200
        raise Problem("unknown_event_type", "types must name events of the catalogue.")
    lines = replay_lines(
        guard.privacy,
        guard.principal,
        decision,
        after=after,
        limit=limit,
        types=wanted,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
    )
    return StreamingResponse(lines, media_type=NDJSON)
