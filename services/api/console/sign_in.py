"""Signing in and out of the console.

Production: the console takes the same bearer token as the API (an OIDC provider's access
token, pasted here or posted by the identity provider's login page), verified by the same
authenticator. Development: a form mints a development token (HS256) for a chosen person, role
and organization, as `carecircle token` does; it is not offered in production.
"""

from __future__ import annotations

from typing import get_args

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from domain.envelope import Role
from services.api.console.base import ConsoleRoute, context_of, page, session_of
from services.api.console.session import (
    NONCE_COOKIE,
    SESSION_COOKIE,
    CsrfRefused,
    check_csrf,
    clear_session,
    csrf_token,
    fresh_nonce,
    nonce_of,
    read_form,
    set_cookie,
)
from services.app.errors import AuthenticationFailed

router = APIRouter(prefix="/console", route_class=ConsoleRoute, include_in_schema=False)

MISSING = "Paste a bearer token (in development: a name, a role and an organization)."
ROLES = sorted(set(get_args(Role)) - {"rule", "service"})


def _sign_in_page(request: Request, status: int = 200, error: str | None = None) -> Response:
    context = context_of(request)
    nonce = nonce_of(request) or fresh_nonce()
    response = page(
        request,
        "sign_in.html",
        None,
        status,
        csrf=csrf_token(context.console_key, nonce, ""),
        development=context.mint_token is not None,
        roles=ROLES,
        error=error,
    )
    set_cookie(response, request, NONCE_COOKIE, nonce)
    return response


@router.get("/sign-in", response_class=HTMLResponse)
def sign_in_form(request: Request) -> Response:
    return _sign_in_page(request)


@router.post("/sign-in")
async def sign_in(request: Request) -> Response:
    context = context_of(request)
    form = await read_form(request)
    check_csrf(request, context.console_key, form, "")
    token = form.get("token", "").strip()
    if not token and context.mint_token is not None and form.get("role") in ROLES:
        sub, org = form.get("sub", "").strip(), form.get("org", "").strip()
        if sub and org:
            token = context.mint_token(sub, form["role"], org)
    if not token:
        return _sign_in_page(
            request, 400, "Paste a bearer token (in development: name, role and organization)."
        )
    try:
        await run_in_threadpool(context.authenticate, f"Bearer {token}")
    except AuthenticationFailed as failed:
        return _sign_in_page(request, 401, failed.message)
    response = RedirectResponse("/console", status_code=303)
    set_cookie(response, request, SESSION_COOKIE, token)
    set_cookie(response, request, NONCE_COOKIE, fresh_nonce())  # a new session, a new nonce
    return response


@router.post("/sign-out")
async def sign_out(request: Request) -> Response:
    session = session_of(request)
    form = await read_form(request)
    check_csrf(request, context_of(request).console_key, form, session.token)
    response = RedirectResponse("/console/sign-in", status_code=303)
    clear_session(response, request)
    return response


__all__ = ["CsrfRefused", "router"]
