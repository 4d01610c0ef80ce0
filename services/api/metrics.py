"""GET /metrics: prometheus-client's ASGI app over the process's metrics and the store's positions.

A `Route`, not a `Mount`, so `/metrics` answers as such instead of redirecting to `/metrics/`;
the store is read in the thread pool first, so the event loop never waits on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool
from prometheus_client import make_asgi_app
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from services.app.ports import MetricsSource


class _MetricsEndpoint:
    """Refreshes the store's positions off the loop, then lets prometheus-client answer."""

    def __init__(self, app: ASGIApp, refresh: Callable[[], None]) -> None:
        self._app = app
        self._refresh = refresh

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await run_in_threadpool(self._refresh)
        await self._app(scope, receive, send)


def install_metrics(app: FastAPI, metrics: MetricsSource) -> None:
    """Serve /metrics on `app` (open like the health checks: no PHI, closed label sets)."""
    endpoint = _MetricsEndpoint(make_asgi_app(metrics.registry), metrics.refresh)
    app.router.routes.append(Route("/metrics", endpoint=endpoint, include_in_schema=False))
