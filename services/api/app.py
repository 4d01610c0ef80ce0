"""The FastAPI app: routers gathered, problems and middleware installed, context on app.state."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from services.api import audit, caseloads, clients, docs, flags, health
from services.api.access_log import router as access_log_router
from services.api.accounting import router as accounting_router
from services.api.console import ROUTERS as CONSOLE_ROUTERS
from services.api.context import ApiContext
from services.api.disclosures import router as disclosures_router
from services.api.fhir import router as fhir_router
from services.api.metrics import install_metrics
from services.api.middleware import (
    BodyLimitMiddleware,
    CorrelationMiddleware,
    SecurityHeadersMiddleware,
)
from services.api.openapi import document_problems
from services.api.problems import install_problem_handlers
from services.api.replay import router as replay_router

ROUTERS = [health.router, clients.router, caseloads.router, flags.router, audit.router]
# Analysts and other systems (issue 6): the FHIR R4 view of a client.
ANALYST_ROUTERS = [fhir_router]
# Privacy (issue 5): break-the-glass, disclosures, consents, the access log, the replay stream.
PRIVACY_ROUTERS = [disclosures_router, accounting_router, access_log_router, replay_router]


def _routed_app(extra_routers: list[Any] | None = None) -> FastAPI:
    app = FastAPI(
        title="CareCircle",
        version="0.1.0",
        summary="Event-sourced care coordination for addiction and recovery services",
        description=(
            "Every clinical action is an immutable event. Every error is an RFC 9457 problem "
            "(`application/problem+json`) with a stable `code`; each operation lists the "
            "statuses it can answer. Authenticate with a bearer JWT (`sub`, `role`, `org`); in "
            "development `carecircle token --sub ID --role ROLE --org ORG` prints one."
        ),
        docs_url=None,  # served by services/api/docs.py from local assets (works offline)
        redoc_url=None,
    )
    routers = [*ROUTERS, *PRIVACY_ROUTERS, *ANALYST_ROUTERS, *CONSOLE_ROUTERS, docs.router]
    for router in [*routers, *(extra_routers or [])]:
        app.include_router(router)
    docs.install_static(app)
    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document (docs/openapi.json), built without connecting to anything."""
    return _routed_app().openapi()


def create_app(context: ApiContext, *, extra_routers: list[Any] | None = None) -> FastAPI:
    app = _routed_app(extra_routers)
    app.state.context = context
    install_problem_handlers(app, unavailable=context.unavailable_errors)
    install_metrics(app, context.metrics)
    app.add_middleware(BodyLimitMiddleware, max_bytes=context.settings.max_body_bytes)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(CorrelationMiddleware)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title,
        version=app.version,
        summary=app.summary,
        description=app.description,
        routes=app.routes,
    )
    event_schema = clients.care_event_schema()
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name, definition in event_schema.pop("$defs", {}).items():
        components.setdefault(name, _rewrite_refs(definition))
    components["CareEvent"] = _rewrite_refs(event_schema)
    document_problems(schema)
    app.openapi_schema = schema
    return schema


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            k: (v.replace("#/$defs/", "#/components/schemas/") if k == "$ref" else _rewrite_refs(v))
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(v) for v in node]
    return node
