"""The console's session: who is signed in, the CSRF token of their forms, and the cookies.

- The session cookie holds the bearer token itself (the API's own, or a development token the
  sign-in form minted), verified on every request by the same authenticator as the API, so the
  console authenticates exactly as the API does and signing out is dropping the cookie. The
  cookie is HttpOnly, SameSite=Strict, Path=/console, and Secure unless the console is served on
  localhost (a browser drops a Secure cookie over plain http).
- Every form that changes state carries a CSRF token: an HMAC, under a key only the server
  knows, of a random per-browser value (its own cookie) and the session's token. A POST without
  it, or with another's, is refused with 403 before anything is decided; so is a POST the browser
  says came from another site (`Sec-Fetch-Site: cross-site`). SameSite=Strict already keeps the
  cookies off cross-site requests; the token also covers the sign-in form, before any session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Request, Response

from domain.access_policy import Principal
from services.api.context import ApiContext

SESSION_COOKIE = "carecircle_session"
NONCE_COOKIE = "carecircle_csrf"
COOKIE_PATH = "/console"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})
MAX_FORM_BYTES = 16 * 1024


class SignInNeeded(Exception):
    """No session (or an expired one): the console answers with the sign-in page."""


class CsrfRefused(Exception):
    """A state-changing request without its form's token: 403."""


@dataclass(frozen=True, slots=True)
class Session:
    principal: Principal
    token: str
    csrf: str


def is_local(request: Request) -> bool:
    host = (request.url.hostname or "").lower()
    return host in LOCAL_HOSTS or host.endswith(".localhost")


def csrf_token(key: bytes, nonce: str, session_token: str) -> str:
    message = f"{nonce}|{session_token}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def nonce_of(request: Request) -> str | None:
    value = request.cookies.get(NONCE_COOKIE)
    return value if value and len(value) <= 64 else None


def set_cookie(response: Response, request: Request, name: str, value: str) -> None:
    response.set_cookie(
        name,
        value,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=not is_local(request),
    )


def clear_session(response: Response, request: Request) -> None:
    response.delete_cookie(
        SESSION_COOKIE,
        path=COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=not is_local(request),
    )


def fresh_nonce() -> str:
    return secrets.token_urlsafe(24)


def current_session(request: Request, context: ApiContext) -> Session:
    """The signed-in caller, verified as the API verifies a bearer token."""
    token = request.cookies.get(SESSION_COOKIE)
    nonce = nonce_of(request)
    if not token or nonce is None:
        raise SignInNeeded
    principal = context.authenticate(f"Bearer {token}")  # AuthenticationFailed: sign in again
    return Session(principal, token, csrf_token(context.console_key, nonce, token))


async def read_form(request: Request) -> dict[str, str]:
    """An urlencoded form body (the console's forms post nothing else), first value per name."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise CsrfRefused
    fields = parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)
    return {name: values[0] for name, values in fields.items()}


def check_csrf(request: Request, key: bytes, form: dict[str, str], session_token: str) -> None:
    """Refuse a state-changing request whose token is missing or not this browser's."""
    if request.headers.get("sec-fetch-site", "same-origin") == "cross-site":
        raise CsrfRefused
    nonce = nonce_of(request)
    given = form.get("csrf_token", "")
    if nonce is None or not given:
        raise CsrfRefused
    if not hmac.compare_digest(given, csrf_token(key, nonce, session_token)):
        raise CsrfRefused
