"""The documents other systems build on — docs/openapi.json and docs/schemas/ — are the code's.

An integrating team generates a client from the OpenAPI document and validates its messages with
the JSON Schemas; both must say what the server does, in standard form.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from domain.wire_schema import INBOUND, KAFKA, STORED, schema_text, wire_schemas
from services.api.app import openapi_document
from services.api.examples import ENROLL_EXAMPLES, EVENT_EXAMPLES
from services.api.problems import MEDIA_TYPE, PROBLEMS

ROOT = Path(__file__).resolve().parents[2]
OPENAPI = ROOT / "docs" / "openapi.json"
SCHEMAS = ROOT / "docs" / "schemas"
REGENERATE = "regenerate with: carecircle openapi > docs/openapi.json"


def validator(name: str) -> Draft202012Validator:
    """A standard 2020-12 validator for one published schema, the others resolvable by $id."""
    schemas = wire_schemas()
    registry: Registry = Registry().with_resources(
        (schema["$id"], Resource.from_contents(schema)) for schema in schemas.values()
    )
    return Draft202012Validator(schemas[name], registry=registry)


def keywords(node: Any) -> set[str]:
    if isinstance(node, dict):
        return set(node) | {k for v in node.values() for k in keywords(v)}
    if isinstance(node, list):
        return {k for v in node for k in keywords(v)}
    return set()


def test_the_published_openapi_document_is_the_one_the_server_serves() -> None:
    # given docs/openapi.json, when the app's document is built, then they are the same
    assert json.loads(OPENAPI.read_text()) == json.loads(json.dumps(openapi_document())), REGENERATE


def test_every_error_status_of_every_operation_is_a_problem_with_an_example_per_code() -> None:
    document = openapi_document()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    problem = document["components"]["schemas"]["Problem"]
    assert set(problem["properties"]["code"]["enum"]) == set(PROBLEMS)
    examples = document["components"]["examples"]
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation["responses"].items():
                if int(status) < 400 or path == "/readyz":
                    continue
                content = response["content"]
                assert list(content) == [MEDIA_TYPE], (method, path, status)
                assert content[MEDIA_TYPE]["schema"] == {"$ref": "#/components/schemas/Problem"}
                for code, ref in content[MEDIA_TYPE]["examples"].items():
                    example = examples[ref["$ref"].rsplit("/", 1)[1]]["value"]
                    assert example["code"] == code
                    assert example["status"] == int(status) == PROBLEMS[code][0]


def test_metrics_are_documented_as_text() -> None:
    metrics = openapi_document()["paths"]["/metrics"]["get"]
    assert list(metrics["responses"]["200"]["content"]) == ["text/plain"]


@pytest.mark.parametrize("name", [INBOUND, KAFKA, STORED])
def test_the_published_event_schemas_are_the_code_s_and_standard(name: str) -> None:
    # given the schema in docs/schemas/, when the code's is generated, then they are the same
    assert (SCHEMAS / name).read_text() == schema_text(wire_schemas()[name]), (
        "regenerate with: carecircle schema --write docs/schemas"
    )
    schema = json.loads((SCHEMAS / name).read_text())
    # and a standard validator compiles it, with no OpenAPI-only keyword
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(name)
    assert "discriminator" not in keywords(schema)


def test_the_openapi_examples_are_valid_inbound_events() -> None:
    inbound = validator(INBOUND)
    for example in EVENT_EXAMPLES.values():
        inbound.validate(example["value"])
    for example in ENROLL_EXAMPLES.values():
        inbound.validate({"type": "ClientEnrolled", **example["value"]})


def test_a_kafka_message_must_name_its_client_event_and_actor() -> None:
    body = next(iter(EVENT_EXAMPLES.values()))["value"]
    assert validator(INBOUND).is_valid(body)
    assert not validator(KAFKA).is_valid(body)
    actor = {"id": "dana", "role": "counselor", "org": "north"}
    message = {**body, "client_id": "3f2b8c1e-5d4a-4e7b-9c61-2a9d8e7f6b50", "actor": actor}
    assert validator(KAFKA).is_valid(message)
    # a field only the transport sets is not part of what a sender may send
    assert not validator(KAFKA).is_valid({**message, "source": {"topic": "t", "partition": 0}})


def test_a_third_party_generator_builds_a_client_that_reads_the_problems(tmp_path: Path) -> None:
    # given the published document, when openapi-python-client generates a client from it
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps(
            {
                "project_name_override": "carecircle_client",
                "package_name_override": "carecircle_client",
                "content_type_overrides": {"application/x-ndjson": "application/octet-stream"},
            }
        )
    )
    bin_dir = Path(sys.executable).parent
    generated = subprocess.run(
        [
            str(bin_dir / "openapi-python-client"),
            "generate",
            "--path",
            str(OPENAPI),
            "--config",
            str(config),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "carecircle_client"),
            "--fail-on-warning",
        ],
        capture_output=True,
        text=True,
        env={**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"},
        timeout=240,
        check=False,
    )
    # then it generates without a warning
    assert generated.returncode == 0, generated.stdout + generated.stderr
    # and its operations read a refusal as the Problem model, code included
    sys.path.insert(0, str(tmp_path))
    try:
        models = importlib.import_module("carecircle_client.models")
        record = importlib.import_module(
            "carecircle_client.api.clients.record_event_v1_clients_client_id_events_post"
        )
    finally:
        sys.path.remove(str(tmp_path))
    source = Path(record.__file__ or "").read_text()
    for status in (400, 401, 403, 404, 409, 413, 415, 422, 503):
        assert f"response_{status} = Problem.from_dict" in source, status
    problem = models.Problem.from_dict(
        {
            "type": "https://carecircle.dev/problems/version-conflict",
            "title": "Version conflict",
            "status": 409,
            "detail": "The client is at version 8, not 7.",
            "code": "version_conflict",
            "current_version": 8,
        }
    )
    assert problem.current_version == 8


OUTSIDE = ("DESIGN.md", "DESIGN §", "care-domain.md", "../shared", "STYLE.md", "notes/")
TRACKED = ("*.py", "*.md", "*.toml", "*.yaml", "*.sh", "dev", ".ci/run")


def test_no_file_of_the_repository_cites_a_document_outside_it() -> None:
    files = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", *TRACKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    this = Path(__file__).relative_to(ROOT).as_posix()
    citing = [
        (name, needle)
        for name in files
        if name != this and (ROOT / name).is_file()
        for needle in OUTSIDE
        if needle in (ROOT / name).read_text(errors="replace")
    ]
    assert citing == []


def test_the_domain_page_names_every_event_type_and_every_rule() -> None:
    from domain.catalogue import EVENT_TYPES
    from domain.early_warning import RULES

    page = (ROOT / "docs" / "domain.md").read_text()
    assert [t for t in sorted(EVENT_TYPES) if f"`{t}`" not in page] == []
    assert [r for r in sorted(RULES) if f"| {r} |" not in page] == []
