"""GET /metrics: prometheus-client's ASGI app over the process's metrics and the store's positions.

A `Route`, not a `Mount`, so `/metrics` answers as such instead of redirecting to `/metrics/`;
the store is read in the thread pool first, so the event loop never waits on PostgreSQL.
"""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from prometheus_client import make_asgi_app
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from services.adapters.metrics import StorePositions, api_registry
from services.adapters.store import EventStore


class _MetricsEndpoint:
    """Refreshes the store's positions off the loop, then lets prometheus-client answer."""

    def __init__(self, app: ASGIApp, store_positions: StorePositions) -> None:
        self._app = app
        self._store_positions = store_positions

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await run_in_threadpool(self._store_positions.refresh)
        await self._app(scope, receive, send)


def install_metrics(app: FastAPI, store: EventStore) -> None:
    """Serve /metrics on `app` (open like the health checks: no PHI, closed label sets)."""
    registry, store_positions = api_registry(store)
    endpoint = _MetricsEndpoint(make_asgi_app(registry), store_positions)
    app.router.routes.append(Route("/metrics", endpoint=endpoint, include_in_schema=False))
