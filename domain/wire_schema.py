"""The published JSON Schemas of the wire (docs/schemas/), derived from the catalogue.

Three documents, standard JSON Schema 2020-12 (no OpenAPI keyword such as `discriminator`, so any
validator compiles them), each with `$schema` and `$id`:

- `care-event.inbound.schema.json`: the body of `POST /v1/clients/{id}/events` — one of the
  recordable event types (`oneOf`, each with its `type` as a `const`); only the keys of the wire
  contract. Over HTTP `event_id`, `client_id` and `actor` may be left out (the server fills them
  in from the URL and the token; a person's `actor` is refused, a service's names the human).
- `care-event.kafka.schema.json`: a message on `care.events.inbound` — the same body with
  `event_id`, `client_id` and `actor` required (there is no URL and no token).
- `care-event.stored.schema.json`: a message on `care.events` (and `care.flags`) — every event
  type as stored, with `source` and `security_labels`, plus `version`, `position` and
  `recorded_at`; sealed (the default publish mode), `data` is null and `sealed_data`, `seal`
  (and `erased`) carry it.

tests/unit/test_wire_schemas.py keeps the files in step (`carecircle schema --write docs/schemas`
regenerates them); the integration tests validate what they send and what is published.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from domain.catalogue import CARE_EVENT_ADAPTER, EVENT_CLASSES, SYSTEM_EVENT_TYPES, WIRE_KEYS

DIALECT = "https://json-schema.org/draft/2020-12/schema"
BASE = "https://carecircle.dev/schemas/"
INBOUND = "care-event.inbound.schema.json"
KAFKA = "care-event.kafka.schema.json"
STORED = "care-event.stored.schema.json"
SERVER_FILLED = ("event_id", "client_id", "actor")  # optional over HTTP, required over Kafka
# A sealed message on care.events (the default publish mode): `data` null, the data JSON under
# the client's key in `sealed_data` (services/adapters/publish_payloads.py, docs/kafka.md).
SEALED_PROPERTIES: dict[str, Any] = {
    "sealed_data": {
        "type": ["string", "null"],
        "description": "base64(nonce[12] || AES-256-GCM ciphertext) of the data JSON, under the"
        " client's key; null once the client is erased",
    },
    "seal": {
        "type": "object",
        "properties": {
            "alg": {"type": "string"},
            "key": {"type": "string"},
            "aad": {"type": "string"},
        },
        "additionalProperties": False,
    },
    "erased": {"type": "boolean", "description": "The client was erased: nothing sealed"},
}


def _union(mode: str, types: list[str]) -> dict[str, Any]:
    generated = CARE_EVENT_ADAPTER.json_schema(mode=mode)  # type: ignore[arg-type]
    defs: dict[str, Any] = generated["$defs"]
    names = {t: EVENT_CLASSES[t].__name__ for t in types}
    return {"oneOf": [{"$ref": f"#/$defs/{names[t]}"} for t in types], "$defs": defs}


def _prune(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop `$defs` no reference reaches (the system-only types' own parts)."""
    defs = schema["$defs"]
    reached: set[str] = set()
    todo = [schema["oneOf"]]
    while todo:
        node = todo.pop()
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name not in reached:
                    reached.add(name)
                    todo.append(defs[name])
            todo.extend(node.values())
        elif isinstance(node, list):
            todo.extend(node)
    schema["$defs"] = {name: defs[name] for name in sorted(reached)}
    return schema


def _standard(node: Any) -> Any:
    """Remove OpenAPI-only keywords pydantic may emit."""
    if isinstance(node, dict):
        return {k: _standard(v) for k, v in node.items() if k != "discriminator"}
    if isinstance(node, list):
        return [_standard(v) for v in node]
    return node


def _document(name: str, title: str, description: str, body: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": DIALECT,
        "$id": BASE + name,
        "title": title,
        "description": description,
        **_standard(body),
    }


def inbound_schema() -> dict[str, Any]:
    """A care event as a provider sends it (HTTP body; over Kafka see `kafka_schema`)."""
    types = sorted(t for t in EVENT_CLASSES if t not in SYSTEM_EVENT_TYPES)
    union = _union("validation", types)
    for event_type in types:
        model = union["$defs"][EVENT_CLASSES[event_type].__name__]
        model["properties"] = {k: v for k, v in model["properties"].items() if k in WIRE_KEYS}
        # `type` has a default in the model, but the server refuses a body without it
        # (unknown_event_type): the published contract says so
        model["required"] = [
            "type",
            *(
                k
                for k in model.get("required", [])
                if k in WIRE_KEYS and k not in SERVER_FILLED and k != "type"
            ),
        ]
        model["additionalProperties"] = False
    return _document(
        INBOUND,
        "Inbound care event",
        "A care event as a provider's system sends it: the body of POST /v1/clients/{id}/events "
        "(event_id, client_id and actor may be left to the server) and, with those required, "
        "a message on care.events.inbound (" + KAFKA + ").",
        _prune(union),
    )


def kafka_schema() -> dict[str, Any]:
    """A message on `care.events.inbound`: the inbound event with the server-filled keys given."""
    return {
        "$schema": DIALECT,
        "$id": BASE + KAFKA,
        "title": "Inbound care event on Kafka",
        "description": (
            "A message on care.events.inbound, keyed by its client_id: the inbound care event "
            "with event_id, client_id and actor (the human the service acts for) required."
        ),
        "allOf": [{"$ref": INBOUND}],
        "required": ["type", *SERVER_FILLED],
    }


def stored_schema() -> dict[str, Any]:
    """A stored event as published on `care.events`: the event plus its place in the store."""
    types = sorted(EVENT_CLASSES)
    union = _union("serialization", types)
    for event_type in types:
        model = union["$defs"][EVENT_CLASSES[event_type].__name__]
        model["properties"].update(
            {
                "version": {"type": "integer", "minimum": 1, "description": "In the client"},
                "position": {"type": "integer", "minimum": 1, "description": "In the store"},
                "recorded_at": {"type": "string", "format": "date-time"},
                **SEALED_PROPERTIES,
            }
        )
        data = model["properties"].get("data")
        if data is not None:  # null when sealed (CARE_PUBLISH_MODE=sealed, the default)
            model["properties"]["data"] = {"anyOf": [data, {"type": "null"}]}
        model["required"] = sorted(
            {*model.get("required", []), "type", "version", "position", "recorded_at"}
        )
        model["additionalProperties"] = False
    return _document(
        STORED,
        "Stored care event",
        "A care event as stored and published on care.events (flags also on care.flags), keyed "
        "by client_id: the event with its Kafka source, security labels, its version in the "
        "client's stream, its position in the store and the time it was recorded.",
        _prune(union),
    )


def wire_schemas() -> dict[str, dict[str, Any]]:
    """Every published schema by file name."""
    return {INBOUND: inbound_schema(), KAFKA: kafka_schema(), STORED: stored_schema()}


def schema_text(schema: dict[str, Any]) -> str:
    return json.dumps(copy.deepcopy(schema), indent=2, sort_keys=True) + "\n"
