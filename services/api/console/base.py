"""What every console route shares: the templates, the route class that turns refusals into
pages (404 and 403 exactly as the API decides them), and the per-request guard.

The console is a view of the API, not a second authority: its routes call the same use cases
with the same `Guard` (services/api/access.py), so the gatekeeper decides and logs each read
exactly as for `/v1/...`; only the answer's form differs (a page instead of problem+json).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi import Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates

from domain.errors import DomainError
from projections.reading import NotCaughtUp
from services.api.access import Guard
from services.api.console.session import (
    CsrfRefused,
    Session,
    SignInNeeded,
    clear_session,
    current_session,
)
from services.api.context import ApiContext
from services.api.problems import PROBLEMS
from services.app.disclosure import rows_notice_headers
from services.app.errors import AccessRefused, AuthenticationFailed

TEMPLATES = Jinja2Templates(directory=Path(__file__).parent / "templates")
SIGN_IN = "/console/sign-in"


def waited(delta: timedelta) -> str:
    """How long something has waited, as a person says it."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 60:
        return f"{max(minutes, 0)} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours} h {minutes:02d} min"
    return f"{hours // 24} days {hours % 24} h"


def when(moment: datetime | None) -> str:
    return "—" if moment is None else f"{moment:%Y-%m-%d %H:%M} UTC"


TEMPLATES.env.filters["waited"] = waited
TEMPLATES.env.filters["when"] = when


def context_of(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.context
    return context


def session_of(request: Request) -> Session:
    session = current_session(request, context_of(request))
    request.state.principal = session.principal
    return session


def guard_of(request: Request, session: Session) -> Guard:
    """The same guard the API's routes take (treatment is the console's purpose of use)."""
    context = context_of(request)
    correlation_id = getattr(request.state, "correlation_id", None)
    return Guard(context.privacy, session.principal, "treatment", correlation_id)


def page(
    request: Request,
    name: str,
    session: Session | None,
    status_code: int = 200,
    **values: Any,
) -> HTMLResponse:
    values.update(session=session, principal=None if session is None else session.principal)
    response = TEMPLATES.TemplateResponse(request, name, values, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"  # pages hold PHI: never cached
    # a page that discloses Part 2 data to another organization: the API's 2.32 headers too
    response.headers.update(rows_notice_headers(values.get("notice")))
    return response


def _refusal(request: Request, status: int, title: str, detail: str) -> Response:
    try:
        session: Session | None = session_of(request)
    except (SignInNeeded, AuthenticationFailed):
        session = None
    return page(request, "refused.html", session, status, title=title, detail=detail)


class ConsoleRoute(APIRoute):
    """A console route: refusals become pages with the API's statuses; no session, sign in."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except (SignInNeeded, AuthenticationFailed):
                response = RedirectResponse(SIGN_IN, status_code=303)
                clear_session(response, request)
                return response
            except CsrfRefused:
                detail = "The form was not this session's (CSRF). Reload the page and retry."
                return _refusal(request, 403, "Refused", detail)
            except AccessRefused as refused:
                status, title = PROBLEMS.get(refused.code, (403, "Forbidden"))
                return _refusal(request, status, title, refused.detail or title)
            except NotCaughtUp:
                detail = "The read models have not caught up with your last action yet: reload."
                return _refusal(request, 503, "Catching up", detail)
            except DomainError as error:
                status, title = PROBLEMS.get(error.code, (422, "Refused"))
                return _refusal(request, status, title, error.message)

        return route
