"""Pure ASGI middleware: a correlation id and one canonical log line per request (and on every
answer, a 500 included), text PostgreSQL cannot store refused in the path and query, a body
limit."""

from __future__ import annotations

import time
import uuid
from typing import Any
from urllib.parse import parse_qsl

import orjson
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.storable import UNSTORABLE_MESSAGE, storable

log = structlog.get_logger("carecircle.http")

_SAFE_ID = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")


def _correlation_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-correlation-id":
            text: str = bytes(value).decode("latin-1")[:64]
            if text and set(text) <= _SAFE_ID:
                return text
    return uuid.uuid4().hex


class _HttpMiddleware:
    """Pure ASGI middleware that acts on HTTP requests only (lifespan and others pass through)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        raise NotImplementedError


class CorrelationMiddleware(_HttpMiddleware):
    """Binds `correlation_id`, echoes it in `X-Correlation-Id`, logs `request.finished` once."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        structlog.contextvars.clear_contextvars()
        correlation_id = _correlation_id(scope)
        structlog.contextvars.bind_contextvars(correlation_id=correlation_id)
        scope.setdefault("state", {})["correlation_id"] = correlation_id
        started = time.perf_counter()
        status = 500
        status_sent: int | None = None

        async def send_with_id(message: Message) -> None:
            nonlocal status, status_sent
            if message["type"] == "http.response.start":
                status = status_sent = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-correlation-id", correlation_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            place = _unstorable_place(scope)
            if place is not None:
                await _send_problem(
                    send_with_id, 422, "validation_error", correlation_id, _unstorable(place)
                )
            else:
                await self.app(scope, receive, send_with_id)
        except Exception as error:
            # The last resort answers here, inside this middleware, so a 500 carries the
            # correlation header too (Starlette's outermost error middleware would not).
            log.error("request.failed", error_type=type(error).__name__)
            if status_sent is None:
                await _send_problem(send_with_id, 500, "internal_error", correlation_id)
        finally:
            route = scope.get("route")
            log.info(
                "request.finished",
                method=scope.get("method"),
                route=getattr(route, "path", "unmatched"),
                status=status,
                duration_ms=round((time.perf_counter() - started) * 1000, 2),
            )


def _unstorable_place(scope: Scope) -> str | None:
    """`path` or `query` when the decoded request holds text PostgreSQL cannot store (NUL, a
    lone surrogate): refused up front, before any route copies it into a query or the log."""
    if not storable(str(scope.get("path", ""))):
        return "path"
    query = bytes(scope.get("query_string", b"")).decode("latin-1")
    if "%" not in query and "\x00" not in query:
        return None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if not (storable(key) and storable(value)):
            return "query"
    return None


def _unstorable(place: str) -> dict[str, Any]:
    return {
        "detail": "The request holds text that cannot be stored.",
        "errors": [{"loc": [place], "msg": UNSTORABLE_MESSAGE, "type": "string_unstorable"}],
    }


_TITLES = {
    422: ("Request is not valid", "validation_error"),
    500: ("Internal error", "internal_error"),
}


async def _send_problem(
    send: Send, status: int, code: str, correlation_id: str, extra: dict[str, Any] | None = None
) -> None:
    title = _TITLES[status][0]
    detail = "See the logs under the correlation id." if status == 500 else title
    await _send_problem_json(send, status, code, title, detail, correlation_id, extra)


async def _send_problem_json(
    send: Send,
    status: int,
    code: str,
    title: str,
    detail: str,
    correlation_id: str | None,
    extra: dict[str, Any] | None = None,
) -> None:
    """The RFC 9457 problem document, sent as the whole response."""
    body: dict[str, Any] = {
        "type": "https://carecircle.dev/problems/" + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": f"urn:carecircle:request:{correlation_id}",
        "code": code,
        "correlation_id": correlation_id,
        **(extra or {}),
    }
    payload = orjson.dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


class BodyLimitMiddleware(_HttpMiddleware):
    """Refuses a request body over the limit with 413 (naming the limit) before the app reads it
    whole, and a body that is not JSON with 415."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        super().__init__(app)
        self.max_bytes = max_bytes

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = dict(scope.get("headers", ()))
        length = headers.get(b"content-length", b"")
        if length.isdigit() and int(length) > self.max_bytes:
            await self._too_large(scope, send)
            return
        if (
            scope.get("method") in _WITH_BODY
            and str(scope.get("path", "")).startswith(JSON_ONLY)
            and not _json_or_empty(headers)
        ):
            await _problem(
                scope,
                send,
                415,
                "unsupported_media_type",
                "Unsupported media type",
                "Send the body as JSON, with Content-Type: application/json.",
            )
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, send)

    async def _too_large(self, scope: Scope, send: Send) -> None:
        await _problem(
            scope,
            send,
            413,
            "payload_too_large",
            "Payload too large",
            f"The request body is over the limit of {self.max_bytes} bytes "
            "(CARE_MAX_BODY_BYTES); send one event per request.",
        )


_WITH_BODY = frozenset({"POST", "PUT", "PATCH"})
JSON_ONLY = "/v1/"  # the API; the console's own forms post their form encoding


def _json_or_empty(headers: dict[bytes, bytes]) -> bool:
    """JSON (`application/json`, `application/*+json`), or no body at all."""
    kind = headers.get(b"content-type")
    if kind is None:
        return headers.get(b"content-length", b"0") == b"0" and b"transfer-encoding" not in headers
    media = kind.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (
        media.startswith(b"application/") and media.endswith(b"+json")
    )


class _BodyTooLarge(Exception):
    pass


async def _problem(
    scope: Scope, send: Send, status: int, code: str, title: str, detail: str
) -> None:
    """A problem answered before the app (and its exception handlers) saw the request."""
    correlation_id = scope.get("state", {}).get("correlation_id")
    await _send_problem_json(send, status, code, title, detail, correlation_id)


# Content-Security-Policy: no inline script anywhere; the console allows nothing but its own
# stylesheet and images; Swagger UI and ReDoc need inline styles and (ReDoc) a blob: worker.
CONSOLE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
DOCS_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline';"
    " img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:;"
    " frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _policy(path: str) -> bytes | None:
    if path == "/console" or path.startswith("/console/"):
        return CONSOLE_CSP.encode()
    if path in ("/docs", "/redoc"):
        return DOCS_CSP.encode()
    return None


class SecurityHeadersMiddleware(_HttpMiddleware):
    """Every answer: nosniff and no framing; pages (console, docs): their CSP and no referrer."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        policy = _policy(scope.get("path", ""))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers.append((b"x-content-type-options", b"nosniff"))
                headers.append((b"x-frame-options", b"DENY"))
                if policy is not None:
                    headers.append((b"content-security-policy", policy))
                    headers.append((b"referrer-policy", b"no-referrer"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
