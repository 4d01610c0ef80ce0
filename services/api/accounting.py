"""/v1/clients/{id}/disclosures: the accounting of disclosures (42 CFR 2.25, 45 CFR 164.528)
as JSON or CSV, and handing it to the patient (recorded: services/app/accounting.py)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Header, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict

from domain.access_policy import Decision
from domain.envelope import ShortText
from services.api.access import Guarded
from services.api.deps import Clock, CurrentPrincipal, Handle, Store
from services.app.accounting import Handover, accounting_of, provide_accounting
from services.app.disclosure import disclosure_block, notice_headers

router = APIRouter(prefix="/v1/clients", tags=["privacy"])

CSV = "text/csv"
CSV_MEDIA = f"{CSV}; charset=utf-8"
PROVIDED_HEADER = "X-Accounting-Provided-Event"
Format = Literal["json", "csv"]


def _format(given: Format | None, accept: str | None) -> Format:
    """`?format=` first, else `Accept: text/csv`; JSON otherwise."""
    if given is not None:
        return given
    return "csv" if accept is not None and CSV in accept.lower() else "json"


@router.get(
    "/{client_id}/disclosures",
    summary="Accounting of disclosures (42 CFR 2.25, 45 CFR 164.528), as JSON or CSV",
    response_class=Response,
    responses={
        200: {
            "content": {"application/json": {}, CSV: {}},
            "description": "Each disclosure: date, recipient by name and affiliation, purpose,"
            " the consent or emergency it rested on, the data classes; `Accept: text/csv` or"
            " `?format=csv` for a CSV with a header row and one row per disclosure",
        }
    },
)
async def accounting_of_disclosures(
    client_id: UUID,
    guard: Guarded,
    store: Store,
    principal: CurrentPrincipal,
    grant_id: Annotated[
        str | None, Query(description="Only the disclosures one break-the-glass grant enabled")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="Disclosures from this time")] = None,
    format: Annotated[Format | None, Query(description="json (default) or csv")] = None,
    accept: Annotated[str | None, Header()] = None,
) -> Response:
    decided: dict[UUID, Decision] = {}  # the 42 CFR 2.32 notice when this read discloses
    accounting = await run_in_threadpool(
        accounting_of,
        guard.privacy.gate,
        store,
        principal,
        client_id,
        since=since,
        grant_id=grant_id,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
        decided=decided,
    )
    decision = decided.get(client_id)
    headers = {} if decision is None else notice_headers(decision)
    if _format(format, accept) == "csv":
        return Response(accounting.as_csv().encode(), media_type=CSV_MEDIA, headers=headers)
    notice = None if decision is None else disclosure_block(decision)
    document = {**accounting.as_json(), "disclosure": notice}
    return Response(json.dumps(document).encode(), media_type="application/json", headers=headers)


class HandoverBody(BaseModel):
    """To whom the accounting is handed, in which form, over which window."""

    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    provided_to: Literal["patient", "representative"] = "patient"
    representative_authority: ShortText | None = None
    format: Format = "csv"
    since: AwareDatetime | None = None


@router.post(
    "/{client_id}/disclosures/provided",
    status_code=201,
    summary="Hand the accounting of disclosures to the patient (recorded as AccountingProvided)",
    response_class=Response,
    responses={
        201: {
            "content": {"application/json": {}, CSV: {}},
            "description": "The document handed over; its event in X-Accounting-Provided-Event",
        }
    },
)
async def provide(
    client_id: UUID,
    body: HandoverBody,
    guard: Guarded,
    principal: CurrentPrincipal,
    handle: Handle,
    clock: Clock,
) -> Response:
    provided = await run_in_threadpool(
        provide_accounting,
        guard.privacy.gate,
        handle,
        principal,
        client_id,
        Handover(
            provided_to=body.provided_to,
            format=body.format,
            since=body.since,
            representative_authority=body.representative_authority,
        ),
        clock=clock,
        purpose=guard.purpose,
        correlation_id=guard.correlation_id,
    )
    media = CSV_MEDIA if body.format == "csv" else "application/json"
    headers: dict[str, Any] = {PROVIDED_HEADER: str(provided.event_id), "Digest": provided.digest}
    return Response(provided.document, status_code=201, media_type=media, headers=headers)
