"""RFC 9457 problem details: one table from stable codes to HTTP status and title.

Bodies are `application/problem+json` with `type` (a stable URI per code), `title`, `status`,
`detail`, `instance` (`urn:carecircle:request:<correlation id>`, never the path), and the
extensions `code`, `correlation_id` and, for validation, `errors`
(locations and messages only: submitted values are never echoed).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain.catalogue import safe_error_details, safe_message
from domain.errors import DomainError, VersionConflict
from services.app.errors import AccessRefused, AuthenticationFailed

PROBLEM_BASE = "https://carecircle.dev/problems/"
MEDIA_TYPE = "application/problem+json"

PROBLEMS: dict[str, tuple[int, str]] = {
    # the care record refused it (domain/errors.py)
    "client_not_enrolled": (404, "Client not found"),
    "client_already_enrolled": (409, "Client is already enrolled"),
    "episode_closed": (409, "Episode of care is closed"),
    "episode_not_closed": (409, "Client is in care"),
    "invalid_answers": (422, "Answers do not match the instrument"),
    "unknown_instrument": (422, "Unknown instrument"),
    "occurred_in_future": (422, "occurred_at is in the future"),
    "unknown_crisis": (422, "Unknown crisis contact"),
    "unknown_event": (422, "Unknown event"),
    "entry_already_in_error": (409, "Entry already marked in error"),
    "not_on_care_team": (422, "Not on the care team"),
    "unknown_handoff": (422, "Unknown handoff"),
    "handoff_already_exists": (409, "Handoff already exists"),
    "handoff_already_decided": (409, "Handoff already decided"),
    "handoff_not_accepted": (409, "Handoff not accepted"),
    "wrong_handoff_recipient": (403, "Not the receiving organization"),
    "unknown_appointment": (422, "Unknown appointment"),
    "unknown_flag": (422, "Unknown risk flag"),
    "flag_already_closed": (409, "Risk flag already resolved"),
    "flag_already_acknowledged": (409, "Risk flag already acknowledged"),
    "note_required": (422, "A note is required"),
    "incomplete_safety_plan": (422, "Safety plan is incomplete"),
    "review_before_crisis": (422, "Review dated before its crisis"),
    "unknown_consent": (422, "Unknown consent"),
    # 42 CFR 2.31: a new consent lacking an element, or combining counseling notes
    "consent_incomplete": (422, "Consent lacks a required element"),
    "consent_disclosing_party_required": (422, "Consent names no one who may disclose"),
    "consent_recipients_required": (422, "Consent names no recipient"),
    "consent_purposes_required": (422, "Consent names no purpose"),
    "consent_purpose_text_required": (422, "Consent's other purpose is not described"),
    "consent_revocation_instructions_required": (422, "Consent says not how to revoke"),
    "consent_expiry_required": (422, "Consent has no expiration date or event"),
    "consent_signature_required": (422, "Consent names no signer"),
    "consent_representative_authority_required": (422, "Representative's authority missing"),
    "consent_signed_on_required": (422, "Consent has no signature date"),
    "counseling_notes_consent_must_stand_alone": (422, "Counseling notes need their own consent"),
    "consent_revocation_incomplete": (422, "Revocation says not who revoked or how"),
    "event_not_recordable": (422, "Event type is recorded by the system"),
    # 42 CFR 2.51: the same emergency again while its grant runs extends nothing
    "break_glass_running": (409, "Break-the-glass grant already running"),
    "event_id_reused": (409, "event_id already used"),
    "version_conflict": (409, "Version conflict"),
    "domain_error": (422, "Refused by the care record"),
    # the request itself
    "validation_error": (422, "Request is not valid"),
    "unknown_event_type": (422, "Unknown event type"),
    "client_id_mismatch": (422, "client_id differs from the URL"),
    "client_id_not_accepted": (422, "A person does not name a new client's id"),
    "actor_not_allowed": (422, "actor comes from the token"),
    "malformed_json": (400, "Malformed JSON"),
    "key_mismatch": (422, "Kafka key is not the client_id"),
    "payload_too_large": (413, "Payload too large"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "invalid_if_match": (400, "If-Match must be a version number"),
    "missing_token": (401, "Authentication required"),
    "invalid_token": (401, "Invalid token"),
    "token_expired": (401, "Token expired"),
    "forbidden": (403, "Forbidden"),
    "consent_required": (403, "Consent required"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "not_caught_up": (503, "Read models have not caught up"),
    "unavailable": (503, "Service unavailable"),
    "internal_error": (500, "Internal error"),
}

_BY_STATUS = {404: "not_found", 405: "method_not_allowed", 401: "missing_token", 403: "forbidden"}


class Problem(Exception):
    """Raised at the edge for a refusal that is not the domain's (auth, parsing, limits)."""

    def __init__(
        self,
        code: str,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.code = code
        self.detail = detail
        self.errors = errors
        self.headers = headers
        super().__init__(code)


def problem_response(
    request: Request,
    code: str,
    detail: str | None = None,
    *,
    errors: Sequence[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    status, title = PROBLEMS.get(code, (422, "Refused"))
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": detail or title,
        "instance": instance_of(getattr(request.state, "correlation_id", None)),
        "code": code,
        "correlation_id": getattr(request.state, "correlation_id", None),
    }
    if errors is not None:
        body["errors"] = list(errors)
    body.update(extra or {})
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def validation_errors(error: ValidationError | RequestValidationError) -> list[dict[str, Any]]:
    """Where and what is wrong, without the submitted values (they may be PHI)."""
    if isinstance(error, ValidationError):
        return [
            {"loc": [str(part) for part in loc], "msg": msg, "type": kind}
            for loc, msg, kind in safe_error_details(error)
        ]
    return [
        {
            "loc": _request_place(item.get("loc", ()), str(item.get("type"))),
            "msg": safe_message(str(item.get("type")), str(item.get("msg"))),
            "type": item.get("type"),
        }
        for item in error.errors()
    ]


def _request_place(loc: Sequence[Any], kind: str) -> list[str]:
    """A request error's place by the route's declared names: FastAPI validates declared
    parameters only, but an unknown body field's place is the submitted key, so it becomes `*`."""
    place = [str(part) for part in loc]
    if kind == "extra_forbidden" and len(place) > 1:
        place[-1] = "*"
    return place


def instance_of(correlation_id: str | None) -> str | None:
    """The problem's occurrence by the request's correlation id: the request path is never
    repeated (a path segment can hold a submitted identifier, which may be PHI)."""
    return f"urn:carecircle:request:{correlation_id}" if correlation_id else None


def install_problem_handlers(
    app: FastAPI, *, unavailable: tuple[type[Exception], ...] = ()
) -> None:
    """Map every failure to a problem body; the last resort shows only the correlation id.
    `unavailable`: the exceptions that mean the database is not reachable now (503)."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        return problem_response(
            request, exc.code, exc.detail, errors=exc.errors, headers=exc.headers
        )

    @app.exception_handler(AccessRefused)
    async def _refused(request: Request, exc: AccessRefused) -> JSONResponse:
        return problem_response(request, exc.code, exc.detail, errors=exc.errors)

    @app.exception_handler(DomainError)
    async def _domain(request: Request, exc: DomainError) -> JSONResponse:
        if isinstance(exc, VersionConflict) and exc.current_version is not None:
            return problem_response(
                request,
                exc.code,
                exc.message,
                headers={"ETag": f'"{exc.current_version}"'},
                extra={"current_version": exc.current_version},
            )
        return problem_response(request, exc.code, exc.message)

    @app.exception_handler(AuthenticationFailed)
    async def _auth(request: Request, exc: AuthenticationFailed) -> JSONResponse:
        return problem_response(
            request, exc.code, exc.message, headers={"WWW-Authenticate": "Bearer"}
        )

    @app.exception_handler(RequestValidationError)
    async def _request_validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        malformed = [e for e in exc.errors() if e.get("type") == "json_invalid"]
        if malformed:
            where = await _position(request, malformed[0].get("loc", ()))
            return problem_response(
                request, "malformed_json", f"The body is not valid JSON{where}."
            )
        return problem_response(
            request, "validation_error", "The request is not valid.", errors=validation_errors(exc)
        )

    @app.exception_handler(ValidationError)
    async def _validation(request: Request, exc: ValidationError) -> JSONResponse:
        return problem_response(
            request, "validation_error", "The event is not valid.", errors=validation_errors(exc)
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _BY_STATUS.get(exc.status_code, "validation_error")
        return problem_response(request, code, None)

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(
            request, "unavailable", "The database is not reachable.", headers={"Retry-After": "2"}
        )

    for error_class in unavailable:
        app.add_exception_handler(error_class, _unavailable)

    @app.exception_handler(Exception)
    async def _last_resort(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(request, "internal_error", "See the logs under the correlation id.")


async def _position(request: Request, loc: Sequence[Any]) -> str:
    """`: line L, column C` of a character offset FastAPI reports for a JSON decode error."""
    offset = loc[-1] if loc and isinstance(loc[-1], int) else None
    if offset is None:
        return ""
    text = (await request.body())[:offset].decode("utf-8", "replace")
    line = text.count("\n") + 1
    column = offset - (text.rfind("\n") + 1) + 1
    return f": line {line}, column {column}"
