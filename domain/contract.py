"""The envelope checks HTTP and Kafka share: a decoded body becomes a care event or a Refusal.

Both edges accept the same wire contract (docs/domain.md) and refuse it with the same stable
codes: a type outside the catalogue (`unknown_event_type`), a type only the system records
(`event_not_recordable`), top-level keys outside the contract or an event the catalogue does not
accept, or text PostgreSQL cannot store — a NUL, a lone surrogate — anywhere in it
(`validation_error`: one such event would stop every read model; domain/storable.py). This
module says so once; each edge stays a thin adapter that
decodes its bytes, fills in what its transport knows (the URL and token over HTTP, the topic and
offset over Kafka) and turns a Refusal into its own answer: a problem body over HTTP, a dead
letter over Kafka.

A Refusal never quotes a submitted value or key: its faults carry places by the schema's names
(an unknown key is `*`) and pydantic's messages, with the messages that would quote the input
replaced by their kind (domain/catalogue.safe_message).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from domain.catalogue import (
    EVENT_TYPES,
    SYSTEM_EVENT_TYPES,
    WIRE_KEYS,
    CareEvent,
    parse_event,
    safe_error_details,
    safe_place,
)
from domain.envelope import Actor
from domain.storable import UNSTORABLE_MESSAGE, holds_unstorable, unstorable_places

EXTRA_KEY = "Extra inputs are not permitted"
UNKNOWN_TYPE = (
    "type must name an event type of the catalogue: docs/schemas/care-event.inbound.schema.json "
    "(or the CareEvent schema of GET /openapi.json) lists every type a provider may send."
)


@dataclass(frozen=True, slots=True)
class Fault:
    """One thing wrong: where (`loc`), what (`msg`) and pydantic's kind of error, if it had one."""

    loc: tuple[int | str, ...]
    msg: str
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a body is not a care event: a stable code, a sentence, and the faults (maybe none)."""

    code: str
    reason: str
    errors: tuple[Fault, ...] = ()


def faults_of(error: ValidationError) -> tuple[Fault, ...]:
    """pydantic's errors as faults, never quoting a submitted value."""
    return tuple(Fault(loc, msg, kind) for loc, msg, kind in safe_error_details(error))


def envelope_refusal(body: Mapping[str, Any], event_type: object) -> Refusal | None:
    """Refuse a type outside the catalogue, a system-only type, or keys outside the contract."""
    if not isinstance(event_type, str) or event_type not in EVENT_TYPES:
        return Refusal("unknown_event_type", UNKNOWN_TYPE)
    if event_type in SYSTEM_EVENT_TYPES:
        return Refusal("event_not_recordable", f"{event_type} is recorded by the system.")
    unknown = set(body) - WIRE_KEYS
    if unknown:
        places = sorted({safe_place((str(key),)) for key in unknown}, key=str)
        extra = tuple(Fault(place, EXTRA_KEY) for place in places)
        return Refusal("validation_error", "Unknown top-level fields.", extra)
    return None


def rule_actor_refusal(actor: object) -> Refusal | None:
    """Refuse an actor of kind `rule` from outside: only the early-warning rules act as one."""
    if isinstance(actor, Mapping) and actor.get("kind") == "rule":
        fault = Fault(("actor", "kind"), "Only the early-warning rules act as rule")
        return Refusal("validation_error", "The actor is not valid.", (fault,))
    return None


def unstorable_refusal(
    model: BaseModel, reason: str, within: tuple[str, ...] = ()
) -> Refusal | None:
    """Refuse text PostgreSQL cannot store (NUL, lone surrogates): one such event would stop
    every read model that copies it (domain/storable.py). Places are the schema's field names,
    `within` the union's tag as pydantic names it in its own faults."""
    if not holds_unstorable(model):
        return None
    places = sorted({(*within, *place) for place in unstorable_places(model)}, key=str)
    faults = tuple(Fault(place, UNSTORABLE_MESSAGE, "string_unstorable") for place in places)
    return Refusal("validation_error", reason, faults)


def event_of(payload: dict[str, Any]) -> CareEvent | Refusal:
    """The care event a complete payload describes, or the faults that make it none."""
    try:
        event = parse_event(payload)
    except ValidationError as error:
        return Refusal("validation_error", "The event is not valid.", faults_of(error))
    return unstorable_refusal(event, "The event is not valid.", (event.type,)) or event


def actor_of(given: object) -> Actor | Refusal:
    """The actor a service names for the human it acts for, or the faults that make it none."""
    try:
        actor = Actor.model_validate(given)
    except ValidationError as error:
        return Refusal("validation_error", "The actor is not valid.", faults_of(error))
    return unstorable_refusal(actor, "The actor is not valid.") or actor
