"""Dependencies as `Annotated` aliases, resolved from the ApiContext on `app.state`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from domain.access_policy import Principal
from services.api.context import ApiContext
from services.app.ports import ClientHistory
from services.app.record import CareRecordHandler

_bearer = HTTPBearer(auto_error=False, description="JWT with sub, role and org (HS256 in dev)")


# Dependencies that only look things up are `async def`: FastAPI runs a plain `def` dependency
# in the threadpool, a thread hop per dependency per request (a quarter of a write's CPU).
async def get_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


Context = Annotated[ApiContext, Depends(get_context)]


def authenticated(
    request: Request, context: ApiContext, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    """The authenticated caller; binds principal_id and org to this request's log lines."""
    header = f"Bearer {credentials.credentials}" if credentials else None
    principal = context.authenticate(header)
    structlog.contextvars.bind_contextvars(
        principal_id=principal.sub, org=principal.org, role=principal.role
    )
    request.state.principal = principal
    return principal


Bearer = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


async def current_principal(request: Request, context: Context, credentials: Bearer) -> Principal:
    """The authenticated caller (see `authenticated`)."""
    return authenticated(request, context, credentials)


async def get_clock(context: Context) -> Callable[[], datetime]:
    return context.clock


async def get_handler(context: Context) -> CareRecordHandler:
    return context.handler


async def get_store(context: Context) -> ClientHistory:
    return context.store


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
Clock = Annotated[Callable[[], datetime], Depends(get_clock)]
Handle = Annotated[CareRecordHandler, Depends(get_handler)]
Store = Annotated[ClientHistory, Depends(get_store)]
