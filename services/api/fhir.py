"""/v1/clients/{client_id}/fhir: the client's record as a FHIR R4 Bundle (application/fhir+json).

Authorized and logged like every read of a client (services/app/gatekeeper.py, action
`read_fhir`); a read that discloses Part 2 data to another organization shows only the data
classes its consent covers and carries the 42 CFR 2.32 notice in its headers and inside the
Bundle (`meta.extension`, interop/fhir/notice.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import APIRouter, Response
from fastapi.concurrency import run_in_threadpool

from domain.access_policy import Action
from domain.recorded import Recorded
from interop.fhir import bundle_json, client_bundle
from services.api.access import DataClasses, Guarded
from services.api.deps import Clock, Store
from services.api.problems import Problem
from services.app.disclosure import disclosure_block, narrowed, notice_headers

router = APIRouter(prefix="/v1/clients", tags=["fhir"])

FHIR_JSON = "application/fhir+json"


@router.get(
    "/{client_id}/fhir",
    summary="The client's record as a FHIR R4 Bundle (built with fhir.resources.R4B, 4.3.0)",
    response_class=Response,
    responses={200: {"content": {FHIR_JSON: {}}, "description": "A FHIR Bundle (collection)"}},
)
async def client_fhir(
    client_id: UUID,
    store: Store,
    clock: Clock,
    guard: Guarded,
    data_class: DataClasses = None,
) -> Response:
    decision = await guard.read(client_id, Action.READ_FHIR, data_class)
    history: list[Recorded] = await run_in_threadpool(store.load, client_id)
    shown = decision.data_classes if narrowed(decision, data_class is not None) else None
    notice = disclosure_block(decision)
    text = await run_in_threadpool(_bundle_text, history, clock(), shown, notice)
    if text is None:
        raise Problem("client_not_enrolled", "No such client.")
    return Response(text, media_type=FHIR_JSON, headers=notice_headers(decision))


def _bundle_text(
    history: list[Recorded],
    now: Any,
    shown: frozenset[str] | None,
    notice: dict[str, Any] | None,
) -> str | None:
    bundle = client_bundle(history, now=now, data_classes=shown, notice=notice)
    return None if bundle is None else bundle_json(bundle)
