"""Liveness is the process; readiness is PostgreSQL (and the broker where one is used).

Ready but degraded (200, `"status": "degraded"`): something needs an operator but the API still
answers, e.g. a projection parked events it could not apply (projections/parking.py). Not
ready (503): a check failed, e.g. the database is away or a worker thread of this process died
(`checks` then names it, `"worker:ingest": "died: OSError at ..."`). Where the process runs
worker threads (`carecircle up`), `workers` reports each: its status, since when, and for a dead
one the error's type and the code location it was raised at (never its message).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services.api.deps import Context
from services.app.workers import WorkerState

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
    workers = context.workers()
    for name, state in sorted(workers.items()):
        if not state.healthy:
            checks[f"worker:{name}"] = state.describe()
            ready = False
    status = "unavailable" if not ready else "degraded" if degraded else "ready"
    body: dict[str, Any] = {"status": status, "checks": checks}
    if workers:
        body["workers"] = {name: worker_body(state) for name, state in sorted(workers.items())}
    if not ready:
        return JSONResponse(body, status_code=503, headers={"Retry-After": "2"})
    return body


def worker_body(state: WorkerState) -> dict[str, Any]:
    """One worker thread in `/readyz`: status and since when; a dead one's error type and place."""
    body: dict[str, Any] = {"status": state.state, "since": state.since.isoformat()}
    if state.error_type is not None:
        body["error_type"] = state.error_type
    if state.where is not None:
        body["where"] = state.where
    return body
