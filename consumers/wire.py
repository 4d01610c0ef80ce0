"""The wire contract over Kafka (DESIGN.md §7b): a message's bytes become a care event, or a
rejection with the code an HTTP caller would get and a reason that never quotes a value.

Over Kafka there is no URL and no token: `event_id`, `client_id` and `actor` (the human the
service acts for) are required in the body. Where the message came from — topic, partition,
offset, and the producing service if it names itself in a `source-service` header — is set
from the transport into the envelope's `source`, never taken from the body.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from domain.catalogue import (
    EVENT_TYPES,
    SYSTEM_EVENT_TYPES,
    WIRE_KEYS,
    CareEvent,
    parse_event,
    safe_error_details,
)

SERVICE_HEADER = "source-service"
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why a message cannot be applied: a stable code and a reason free of PHI."""

    code: str
    reason: str


def event_from_message(
    value: bytes | None,
    *,
    topic: str,
    partition: int,
    offset: int,
    service: str | None = None,
) -> CareEvent | Rejection:
    """Validate one inbound message into a care event, with its Kafka source in the envelope."""
    if value is None:
        return Rejection("validation_error", "The message has no value.")
    try:
        body = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return Rejection("malformed_json", "The message is not valid JSON.")
    if not isinstance(body, dict):
        return Rejection("validation_error", "The message must be a JSON object.")
    event_type = body.get("type")
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        return Rejection("unknown_event_type", "type must name an event of the catalogue.")
    if event_type in SYSTEM_EVENT_TYPES:
        return Rejection("event_not_recordable", f"{event_type} is recorded by the system.")
    unknown = sorted(set(body) - WIRE_KEYS)
    if unknown:
        extra = [((key,), "Extra inputs are not permitted") for key in unknown]
        return Rejection("validation_error", _reason(extra))
    actor = body.get("actor")
    if isinstance(actor, dict) and actor.get("kind") == "rule":
        return Rejection("validation_error", "actor.kind: Only the early-warning rules act as rule")
    source: dict[str, Any] = {"topic": topic, "partition": partition, "offset": offset}
    if service is not None:
        source["service"] = service
    try:
        return parse_event({**body, "source": source})
    except ValidationError as error:
        return Rejection("validation_error", validation_reason(error))


def validation_reason(error: ValidationError) -> str:
    """Where and what is wrong, as `loc: message; …`, without any submitted value."""
    return _reason([(loc, msg) for loc, msg, _ in safe_error_details(error)])


def _reason(items: Sequence[tuple[tuple[int | str, ...], str]]) -> str:
    text = "; ".join(f"{'.'.join(str(part) for part in loc)}: {msg}" for loc, msg in items)
    return text if len(text) <= MAX_REASON else text[: MAX_REASON - 1] + "…"
