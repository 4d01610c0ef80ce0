"""The wire contract over HTTP: a JSON body becomes a care event.

Over HTTP the client id comes from the URL, the event_id may be left to the server, and the
actor comes from the token — except that a service principal names the human it acts for.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID, uuid4

import orjson

from domain.access_policy import Principal
from domain.catalogue import CareEvent
from domain.contract import Refusal, actor_of, envelope_refusal, event_of
from services.api.problems import Problem


def read_json_object(raw: bytes) -> dict[str, Any]:
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise Problem(
            "malformed_json",
            f"The body is not valid JSON: line {error.lineno}, column {error.colno}.",
        ) from None
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
    refusal = envelope_refusal(body, event_type)
    if refusal is not None:
        raise problem_of(refusal)
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
    outcome = event_of(payload)
    if isinstance(outcome, Refusal):
        raise problem_of(outcome)
    return outcome


def problem_of(refusal: Refusal) -> Problem:
    """A refusal as a problem: its code and sentence, and its faults as `errors[]` if any."""
    if not refusal.errors:
        return Problem(refusal.code, refusal.reason)
    errors = [
        {"loc": [str(part) for part in fault.loc], "msg": fault.msg}
        | ({} if fault.kind is None else {"type": fault.kind})
        for fault in refusal.errors
    ]
    return Problem(refusal.code, refusal.reason, errors=errors)


def _actor(given: object, principal: Principal) -> dict[str, Any]:
    if not principal.is_service:
        if given is not None:
            raise Problem("actor_not_allowed", "The actor of a person's event is the token's.")
        return principal.as_actor().model_dump()
    if given is None:
        return principal.as_actor().model_dump()
    actor = actor_of(given)
    if isinstance(actor, Refusal):
        raise problem_of(actor)
    return {**actor.model_dump(), "kind": "human"}
