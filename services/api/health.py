"""Liveness is the process; readiness is PostgreSQL (and the broker where one is used).

Ready but degraded (200, `"status": "degraded"`): something needs an operator but the API still
answers, e.g. a projection parked events it could not apply (projections/parking.py). Not
ready (503): a check failed, e.g. the database is away or a worker thread of this process died.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services.api.deps import Context

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is alive")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="PostgreSQL (and the broker) answer", response_model=None)
async def readyz(context: Context) -> JSONResponse | dict[str, Any]:
    checks: dict[str, str] = {}
    ready = True
    for name, check in context.readiness.items():
        try:
            await run_in_threadpool(check)
            checks[name] = "ok"
        except Exception:  # any failure means not ready; the reason stays out of the body
            checks[name] = "unavailable"
            ready = False
    degraded = False
    for name, degradation in context.degradation.items():
        try:
            reason = await run_in_threadpool(degradation)
        except Exception:
            reason = "unknown"
        if reason is not None:
            checks[name] = reason
            degraded = True
    status = "unavailable" if not ready else "degraded" if degraded else "ready"
    body = {"status": status, "checks": checks}
    if not ready:
        return JSONResponse(body, status_code=503, headers={"Retry-After": "2"})
    return body
