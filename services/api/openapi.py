"""The OpenAPI document a client generator can trust: every error it can get, as it gets it.

FastAPI documents only its own 422 `HTTPValidationError` as `application/json`; the server
answers every refusal as an RFC 9457 problem (`application/problem+json`) with a stable `code`.
This module replaces the default with one `Problem` schema (the RFC's members, `code` with its
enumeration, `errors[]`, `current_version` on a version conflict) and lists, for each operation,
every status it can answer with an example per code. Which codes an operation can answer follows
from what it does (it authenticates, it names a client, it takes a body, it records an event, it
reads a projection); tests/integration/test_openapi.py compares the statuses the tests observe
with the ones documented here, and docs/openapi.json is this document, kept in step by a test.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from services.api.problems import MEDIA_TYPE, PROBLEM_BASE, PROBLEMS

AUTH_CODES = ("missing_token", "invalid_token", "token_expired")
BODY_CODES = ("malformed_json", "payload_too_large", "unsupported_media_type")
# what the care record can refuse when an event is recorded (domain/errors.py)
RECORD_CODES = (
    "client_not_enrolled",
    "client_already_enrolled",
    "episode_closed",
    "episode_not_closed",
    "invalid_answers",
    "unknown_instrument",
    "occurred_in_future",
    "unknown_crisis",
    "unknown_event",
    "entry_already_in_error",
    "not_on_care_team",
    "unknown_handoff",
    "handoff_already_exists",
    "handoff_already_decided",
    "handoff_not_accepted",
    "wrong_handoff_recipient",
    "unknown_appointment",
    "unknown_flag",
    "flag_already_closed",
    "unknown_consent",
    "event_id_reused",
    "version_conflict",
    "domain_error",
)
# the wire contract's refusals of an event body (domain/contract.py, services/api/wire.py)
CONTRACT_CODES = (
    "validation_error",
    "unknown_event_type",
    "event_not_recordable",
    "client_id_mismatch",
    "actor_not_allowed",
)
# operations whose answer comes from a projection that may lag behind `min_position`
READ_MODEL_PATHS = frozenset(
    {
        "/v1/caseloads/{member_id}",
        "/v1/orgs/{org}/caseloads",
        "/v1/flags",
        "/v1/flags/{flag_id}/acknowledge",
        "/v1/flags/{flag_id}/resolve",
        "/v1/audit",
    }
)
RECORDING = frozenset({("post", "/v1/clients"), ("post", "/v1/clients/{client_id}/events")})
UNAUTHENTICATED = frozenset({"/healthz", "/readyz"})


def problem_schemas() -> dict[str, Any]:
    """The `Problem` and `ProblemError` component schemas."""
    return {
        "Problem": {
            "title": "Problem",
            "type": "object",
            "description": (
                "RFC 9457 problem details. `code` is stable: branch on it, not on `title` or "
                "`detail`. Submitted values are never echoed."
            ),
            "required": ["type", "title", "status", "detail", "code"],
            "properties": {
                "type": {"type": "string", "format": "uri", "description": "A URI per code"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string", "description": "What went wrong and the way out"},
                "instance": {"type": "string", "description": "The request's path"},
                "code": {"type": "string", "enum": sorted(PROBLEMS)},
                "correlation_id": {
                    "anyOf": [{"type": "string"}, {"type": "null"}],
                    "description": "Also in the X-Correlation-Id header and the server's logs",
                },
                "errors": {
                    "type": "array",
                    "items": {"$ref": "#/components/schemas/ProblemError"},
                    "description": "Where the request is not valid (validation problems)",
                },
                "current_version": {
                    "type": "integer",
                    "description": "version_conflict: the client's version now (also the ETag)",
                },
            },
        },
        "ProblemError": {
            "title": "ProblemError",
            "type": "object",
            "required": ["loc", "msg"],
            "properties": {
                "loc": {"type": "array", "items": {"type": "string"}},
                "msg": {"type": "string"},
                "type": {"type": "string"},
            },
        },
    }


def operation_codes(method: str, path: str, operation: Mapping[str, Any]) -> set[str]:
    """Every problem code this operation can answer, from what the operation does."""
    if path in UNAUTHENTICATED:
        return set()
    codes = {"internal_error", "unavailable", *AUTH_CODES, "forbidden"}
    if operation.get("parameters") or operation.get("requestBody"):
        codes.add("validation_error")
    if "{client_id}" in path:
        codes |= {"client_not_enrolled", "consent_required"}
    if any(p.get("name") == "client_id" for p in operation.get("parameters", ())):
        codes.add("client_not_enrolled")  # a client one has no relationship with: as unknown
    if "{flag_id}" in path:
        codes.add("not_found")
    if operation.get("requestBody"):
        codes |= set(BODY_CODES)
    if (method, path) in RECORDING:
        codes |= {*RECORD_CODES, *CONTRACT_CODES}
        if "{client_id}" in path:
            codes.add("invalid_if_match")
        else:
            codes.discard("consent_required")
    if path in READ_MODEL_PATHS:
        codes.add("not_caught_up")
    if path.startswith("/v1/flags/{flag_id}/"):
        codes |= {"flag_already_closed", "event_id_reused", "version_conflict", "episode_closed"}
    if path.endswith("/break-glass"):
        codes |= {"episode_closed", "version_conflict"}
    return codes


def by_status(codes: Iterable[str]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    for code in sorted(codes):
        grouped.setdefault(PROBLEMS[code][0], []).append(code)
    return grouped


def problem_example(code: str) -> dict[str, Any]:
    status, title = PROBLEMS[code]
    value: dict[str, Any] = {
        "type": PROBLEM_BASE + code.replace("_", "-"),
        "title": title,
        "status": status,
        "detail": EXAMPLE_DETAILS.get(code, title + "."),
        "instance": "/v1/clients/3f2b8c1e-5d4a-4e7b-9c61-2a9d8e7f6b50/events",
        "code": code,
        "correlation_id": "0f6c2a9e4b1d4c7e8a3b5d9f1e2c4a6b",
    }
    if code in {"validation_error"}:
        value["errors"] = [{"loc": ["data", "mood"], "msg": "Field required", "type": "missing"}]
    if code == "version_conflict":
        value["current_version"] = 8
    return {"summary": title, "value": value}


EXAMPLE_DETAILS = {
    "payload_too_large": "The request body is over the limit of 65536 bytes.",
    "malformed_json": "The body is not valid JSON: line 1, column 17.",
    "unknown_event_type": (
        "type must name an event of the catalogue: GET /openapi.json (CareEvent) or "
        "docs/schemas/care-event.inbound.schema.json list them."
    ),
    "token_expired": "The token has expired: request a new one (carecircle token in development).",
    "version_conflict": "The client is at version 8, not 7: read it again and retry.",
    "unsupported_media_type": "Send the body as application/json.",
}

ERROR_DESCRIPTIONS = {
    400: "The request cannot be read",
    401: "Authentication required, or the token is not valid",
    403: "Not allowed",
    404: "No such resource (or no relationship to it)",
    409: "Conflicts with the record as it is",
    413: "The body is over the size limit",
    415: "The body is not JSON",
    422: "Not valid, or refused by the care record",
    500: "Internal error: quote the correlation id",
    503: "Not available now: retry after the Retry-After seconds",
}


def document_problems(schema: dict[str, Any]) -> None:
    """Replace FastAPI's default 422 with problem+json for every status each operation answers."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    components.update(problem_schemas())
    schema["components"]["examples"] = {
        f"problem-{code}": problem_example(code) for code in sorted(PROBLEMS)
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            responses = operation.setdefault("responses", {})
            if responses.get("422", {}).get("content", {}).get("application/json"):
                responses.pop("422")
            for status, codes in by_status(operation_codes(method, path, operation)).items():
                responses[str(status)] = {
                    "description": ERROR_DESCRIPTIONS.get(status, "Problem"),
                    "content": {
                        MEDIA_TYPE: {
                            "schema": {"$ref": "#/components/schemas/Problem"},
                            "examples": {
                                code: {"$ref": f"#/components/examples/problem-{code}"}
                                for code in codes
                            },
                        }
                    },
                }
    schema["paths"]["/metrics"] = {
        "get": {
            "tags": ["health"],
            "summary": "Prometheus metrics (text exposition format; no PHI, closed label sets)",
            "operationId": "metrics",
            "responses": {
                "200": {
                    "description": "The process's and the store's metrics",
                    "content": {"text/plain": {"schema": {"type": "string"}}},
                }
            },
        }
    }
    ready = schema["paths"].get("/readyz", {}).get("get")
    if ready is not None:
        ready["responses"]["503"] = {
            "description": "A dependency does not answer (the same body, status unavailable)",
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
