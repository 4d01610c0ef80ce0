"""The wire contract over HTTP (DESIGN.md §7b): a JSON body becomes a care event.

Over HTTP the client id comes from the URL, the event_id may be left to the server, and the
actor comes from the token — except that a service principal names the human it acts for.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import orjson
from pydantic import ValidationError

from domain.catalogue import EVENT_TYPES, SYSTEM_EVENT_TYPES, WIRE_KEYS, CareEvent, parse_event
from domain.envelope import Actor
from services.adapters.tokens import Principal
from services.api.problems import Problem, validation_errors


def read_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise Problem("malformed_json", "The body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise Problem("validation_error", "The body must be a JSON object.")
    return body


def to_event(
    body: dict[str, Any],
    *,
    client_id: UUID,
    principal: Principal,
    correlation_id: str | None,
    expected_type: str | None = None,
) -> CareEvent:
    """Validate a wire body into a care event for this client and caller, or raise a Problem."""
    event_type = body.get("type", expected_type)
    if expected_type is not None and event_type != expected_type:
        raise Problem("validation_error", f"This route records {expected_type} only.")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        raise Problem("unknown_event_type", "type must name an event of the catalogue.")
    if event_type in SYSTEM_EVENT_TYPES:
        raise Problem("event_not_recordable", f"{event_type} is recorded by the system.")
    unknown = sorted(set(body) - WIRE_KEYS)
    if unknown:
        raise Problem(
            "validation_error",
            "Unknown top-level fields.",
            errors=[{"loc": [k], "msg": "Extra inputs are not permitted"} for k in unknown],
        )
    if "client_id" in body and str(body["client_id"]) != str(client_id):
        raise Problem("client_id_mismatch", "The body names another client than the URL.")
    payload: dict[str, Any] = {
        **body,
        "type": event_type,
        "client_id": str(client_id),
        "event_id": body.get("event_id") or str(uuid4()),
        "actor": _actor(body.get("actor"), principal),
    }
    if correlation_id and not payload.get("correlation_id"):
        payload["correlation_id"] = correlation_id
    try:
        return parse_event(payload)
    except ValidationError as error:
        raise Problem(
            "validation_error", "The event is not valid.", errors=validation_errors(error)
        ) from None


def _actor(given: object, principal: Principal) -> dict[str, Any]:
    if not principal.is_service:
        if given is not None:
            raise Problem("actor_not_allowed", "The actor of a person's event is the token's.")
        return principal.as_actor().model_dump()
    if given is None:
        return principal.as_actor().model_dump()
    try:
        actor = Actor.model_validate(given)
    except ValidationError as error:
        raise Problem(
            "validation_error", "The actor is not valid.", errors=validation_errors(error)
        ) from None
    return {**actor.model_dump(), "kind": "human"}
