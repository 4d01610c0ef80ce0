"""What the tests put on the wire agrees with what is published for integrators.

These run last in the session (tests/integration/conftest.py orders them) over everything the
other integration tests sent and received (tests/wire_observer.py): every status an operation
answered is one docs/openapi.json documents for it; every event body the server accepted, and
every Kafka message ingest accepted, validates against docs/schemas/ with a standard validator;
a body the schema allows is never refused for its shape's sake; every message published on
care.events and care.flags validates against the stored event's schema.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from consumers.wire import Rejection, event_from_message
from tests.wire_observer import Observed

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = json.loads((ROOT / "docs" / "openapi.json").read_text())
SCHEMAS = {
    path.name: json.loads(path.read_text()) for path in (ROOT / "docs" / "schemas").glob("*.json")
}
SHAPE_CODES = {"unknown_event_type", "event_not_recordable"}
# what the HTTP tests must have seen answered on the event-recording route, at least
MUST_OBSERVE = {400, 401, 403, 404, 409, 413, 415, 422}
# the Kafka tests send tens of thousands of messages of a few shapes: this many of each type
# (and, inbound, of each outcome) are checked, so the check stays quick and misses no shape
PER_KIND = 200


def sample(messages: list[Any], kind: Any) -> list[Any]:
    """At most PER_KIND messages of each kind, in order."""
    seen: Counter[Any] = Counter()
    kept = []
    for message in messages:
        key = kind(message)
        seen[key] += 1
        if seen[key] <= PER_KIND:
            kept.append(message)
    return kept


def _type_of(value: bytes | None) -> str | None:
    try:
        body = json.loads(value or b"")
    except ValueError:
        return None
    kind = body.get("type") if isinstance(body, dict) else None
    return kind if isinstance(kind, str) else None


REGISTRY: Registry = Registry().with_resources(
    (schema["$id"], Resource.from_contents(schema)) for schema in SCHEMAS.values()
)


class Checker:
    """A standard validator of one published schema. Its `oneOf` branches differ by their `type`
    const, so a message can match only the branch of its own type: each type is validated once
    against the whole document, and every message against its type's branch (thousands of
    messages stay fast); a message whose type has no branch is validated against the whole."""

    def __init__(self, name: str) -> None:
        self.document = SCHEMAS[name]
        self.whole = Draft202012Validator(self.document, registry=REGISTRY)
        target = self.document
        if "oneOf" not in target:  # the Kafka schema: allOf the inbound one, plus `required`
            target = SCHEMAS["care-event.inbound.schema.json"]
        self.base = target["$id"]
        self.branches = {
            target["$defs"][ref["$ref"].rsplit("/", 1)[1]]["properties"]["type"]["const"]: ref[
                "$ref"
            ].rsplit("/", 1)[1]
            for ref in target["oneOf"]
        }
        self.extra = {k: v for k, v in self.document.items() if k in ("required",)}
        self._by_type: dict[str, Draft202012Validator] = {}
        self._seen: set[str] = set()

    def errors(self, message: Any) -> list[str]:
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str) or kind not in self.branches or kind not in self._seen:
            if isinstance(kind, str):
                self._seen.add(kind)
            return [e.message for e in self.whole.iter_errors(message)][:3]
        if kind not in self._by_type:
            branch = {"$ref": f"{self.base}#/$defs/{self.branches[kind]}", **self.extra}
            self._by_type[kind] = Draft202012Validator(branch, registry=REGISTRY)
        return [e.message for e in self._by_type[kind].iter_errors(message)][:3]

    def is_valid(self, message: Any) -> bool:
        return not self.errors(message)


def validator(name: str) -> Checker:
    return Checker(name)


def _template(method: str, path: str) -> str | None:
    """The documented path template a concrete path falls under (for answers before routing)."""
    for template, operations in OPENAPI["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if method in operations and re.match(pattern, path):
            return str(template)
    return None


def test_every_status_an_operation_answered_in_the_tests_is_documented_for_it(
    wire_observed: Observed,
) -> None:
    observed: dict[tuple[str, str], set[int]] = defaultdict(set)
    for exchange in wire_observed.exchanges:
        route = exchange.route or _template(exchange.method, exchange.path)
        if route is not None and route in OPENAPI["paths"]:
            observed[(exchange.method, route)].add(exchange.status)
    if not observed:
        pytest.skip("no HTTP test ran in this session")
    undocumented = {
        (method, route, status)
        for (method, route), statuses in observed.items()
        for status in statuses
        if str(status) not in OPENAPI["paths"][route].get(method, {}).get("responses", {})
    }
    assert undocumented == set()


def test_the_refusals_of_the_recording_route_were_all_seen(wire_observed: Observed) -> None:
    seen = {
        e.status
        for e in wire_observed.exchanges
        if (e.method, e.route or _template(e.method, e.path))
        == ("post", "/v1/clients/{client_id}/events")
    }
    if len(seen) < 3:
        pytest.skip("the HTTP tests of the recording route did not run in this session")
    documented = set(OPENAPI["paths"]["/v1/clients/{client_id}/events"]["post"]["responses"])
    assert {str(s) for s in MUST_OBSERVE} <= documented
    assert MUST_OBSERVE - seen == set()


def _body(exchange: Any) -> dict[str, Any] | None:
    try:
        body = json.loads(exchange.body)
    except (TypeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    if exchange.route == "/v1/clients":
        body.setdefault("type", "ClientEnrolled")
    return body


def test_every_event_body_the_server_accepted_validates_and_no_valid_one_was_refused_for_shape(
    wire_observed: Observed,
) -> None:
    inbound = validator("care-event.inbound.schema.json")
    checked = 0
    for exchange in wire_observed.exchanges:
        body = _body(exchange) if exchange.body else None
        if body is None:
            continue
        checked += 1
        errors = inbound.errors(body)
        if exchange.status in (200, 201):
            assert errors == [], (exchange.path, body.get("type"))
        elif not errors and exchange.status == 422 and exchange.answer:
            problem = json.loads(exchange.answer)
            assert problem["code"] not in SHAPE_CODES, body.get("type")
            assert not [e for e in problem.get("errors", []) if "Extra inputs" in e["msg"]]
    if checked == 0:
        pytest.skip("no event was sent over HTTP in this session")


def test_every_kafka_message_ingest_accepts_validates_and_every_valid_one_is_accepted_by_shape(
    wire_observed: Observed,
) -> None:
    kafka = validator("care-event.kafka.schema.json")
    inbound = sample(
        [(k, v) for t, k, v in wire_observed.sent if t.endswith("care.events.inbound")],
        lambda message: (_type_of(message[1]), message[0] is None),
    )
    if not inbound:
        pytest.skip("no Kafka message was sent in this session")
    for offset, (key, value) in enumerate(inbound):
        outcome = event_from_message(value, topic="t", partition=0, offset=offset, key=key)
        try:
            body = json.loads(value or b"")
        except ValueError:
            continue
        valid = kafka.is_valid(body)
        if not isinstance(outcome, Rejection):
            assert valid, body.get("type") if isinstance(body, dict) else None
        elif valid:
            assert outcome.code not in {*SHAPE_CODES, "validation_error"}, outcome.reason


def test_every_published_message_validates_against_the_stored_event_schema(
    wire_observed: Observed,
) -> None:
    stored = validator("care-event.stored.schema.json")
    published = sample(
        [v for t, _, v in wire_observed.sent if t.endswith(("care.events", "care.flags")) and v],
        _type_of,
    )
    if not published:
        pytest.skip("nothing was published in this session")
    for value in published:
        message = json.loads(value)
        errors = stored.errors(message)
        assert errors == [], message.get("type")
