"""Every error a problem, over the whole OpenAPI document (issue 10, bullet 6): schemathesis
generates requests for every operation, valid and invalid (its positive and negative modes), and
sends each with a token of every role to the API served by uvicorn on loopback, on real
PostgreSQL with the projection worker running. Every answer must be below 500, carry the
correlation id, and, when it refuses, be a well-formed problem document (RFC 9457) whose
`instance` is the request's urn, never its path.

Each example draws its role at random. Short form (the normal suite): a few examples per
operation, about a minute. Long form:
`CARE_SCHEMATHESIS_MINUTES=10 pytest tests/integration/reliability/test_schemathesis.py`
spreads that many minutes over the operations, each running batches of fresh examples until its
share is spent; `CARE_SCHEMATHESIS_REPORT=FILE` writes the figures (examples
per operation and role, answers by status, 5xx count, duration) as JSON. docs/reliability.md
has the last long run's command and figures.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode

from services.adapters.tokens import ROLES as TOKEN_ROLES
from services.app.read_side import ProjectionWorker
from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime, evaluator, live_runner, migrate
from tests.integration.http_support import live_server
from tests.stories import TEAM, Enrollee, Person, Story, enrolled_with_team

ROOT = Path(__file__).resolve().parents[3]
DOCUMENT = json.loads((ROOT / "docs" / "openapi.json").read_text())
OPERATIONS = [
    (method.upper(), path)
    for path, item in DOCUMENT["paths"].items()
    for method in item
    if method in ("get", "post", "put", "patch", "delete")
]
ROLES: tuple[str, ...] = tuple(sorted(TOKEN_ROLES))  # every role a token may carry
MINUTES = float(os.environ.get("CARE_SCHEMATHESIS_MINUTES", "0") or 0)
SHORT_EXAMPLES = 18  # per operation in the short form (each with a role drawn at random)
BATCH = 50  # examples per batch in the long form
CORRELATION = "x-correlation-id"
PROBLEM_FIELDS = {"type", "title", "status", "code", "instance"}


def principal(role: str) -> Person:
    """A care-team role as the member the seed client's team names (so requests about that
    client reach past authorization); every other role as someone of the counselor's org."""
    for member in TEAM:
        if member.role == role:
            return member
    return Person(f"st-{role}", role, TEAM[0].org)


@dataclass
class Figures:
    examples: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: list[str] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, label: str, role: str, status: int) -> None:
        with self.lock:
            self.examples[f"{label} as {role}"] += 1
            self.statuses[status] += 1
            if status >= 500:
                self.server_errors.append(f"{label} as {role}: {status}")

    def report(self) -> dict[str, Any]:
        return {
            "minutes_asked": MINUTES,
            "duration_s": round(time.monotonic() - self.started, 1),
            "operations": len({k.split(" as ")[0] for k in self.examples}),
            "roles": len({k.split(" as ")[1] for k in self.examples}),
            "examples": sum(self.examples.values()),
            "fewest_examples_per_operation_and_role": min(self.examples.values(), default=0),
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "server_errors": len(self.server_errors),
        }


FIGURES = Figures()


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[Runtime]:
    runtime = build_runtime(Settings(database_url=database_url), database_url)
    migrate(runtime)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def served(runtime: Runtime) -> Iterator[tuple[str, schemathesis.BaseSchema, str]]:
    """The API on loopback with the projection worker behind it, the document the app serves,
    and a client enrolled with the seed team (so some requests name a real client)."""
    app = build_api(runtime)
    stop = threading.Event()
    worker = threading.Thread(
        target=ProjectionWorker(live_runner(runtime), evaluator(runtime), poll_seconds=0.2).run,
        args=(stop,),
        daemon=True,
    )
    worker.start()
    try:
        with live_server(app) as url:
            with requests.Session() as http:
                story = enrolled_with_team(Story(), Enrollee("Rowan", "Ellis"))
                story.check_in(6, 3, 7.0).over_http(_Posting(http, url), runtime.settings)
            schema = schemathesis.openapi.from_dict(app.openapi())
            yield url, schema, str(story.client_id)
    finally:
        stop.set()
        worker.join(timeout=30)
        _write_report()


class _Posting:
    """`Story.over_http` speaks httpx's `post(path, json=, headers=)`; this is requests'."""

    def __init__(self, http: requests.Session, url: str) -> None:
        self.http, self.url = http, url

    def post(self, path: str, *, json: Any, headers: dict[str, str]) -> requests.Response:
        return self.http.post(self.url + path, json=json, headers=headers, timeout=60)


def _write_report() -> None:
    report = FIGURES.report()
    target = os.environ.get("CARE_SCHEMATHESIS_REPORT")
    if target:
        Path(target).write_text(json.dumps(report, indent=2) + "\n")


def check_answer(case: Case, response: schemathesis.Response) -> None:
    """Below 500, with the correlation id; a refusal is a well-formed problem document."""
    where = f"{case.method} {case.formatted_path}"
    assert response.status_code < 500, f"{where}: {response.status_code} {response.text[:300]}"
    correlation = response.headers.get(CORRELATION)
    assert correlation, f"{where}: {response.status_code} without {CORRELATION}"
    assert correlation[0], f"{where}: an empty {CORRELATION}"
    if response.status_code < 400:
        return
    media = (response.headers.get("content-type") or [""])[0]
    assert media.startswith("application/problem+json"), f"{where}: {media!r}"
    problem = response.json()
    assert set(problem) >= PROBLEM_FIELDS, f"{where}: {sorted(problem)}"
    assert problem["status"] == response.status_code, where
    assert isinstance(problem["code"], str), where
    assert problem["code"], where
    assert problem["instance"] == f"urn:carecircle:request:{correlation[0]}", where
    for error in problem.get("errors", []):  # where and what, by the schema's names
        assert {"loc", "msg"} <= set(error), f"{where}: {error}"
        assert all(isinstance(part, str) for part in error["loc"]), f"{where}: {error}"


def strategy_for(
    schema: schemathesis.BaseSchema, method: str, path: str, client_id: str
) -> st.SearchStrategy[Case]:
    operation = schema[path][method]
    known = {"client_id": client_id} if "{client_id}" in path else None
    strategies = [
        operation.as_strategy(generation_mode=mode, path_parameters=fixed)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
        for fixed in ((None,) if known is None else (None, known))
    ]
    return st.one_of(strategies)


def run_batch(
    strategy: st.SearchStrategy[tuple[Case, str]],
    examples: int,
    seed_value: int,
    body: Callable[[tuple[Case, str]], None],
) -> None:
    @seed(seed_value)
    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
    )
    @given(drawn=strategy)
    def batch(drawn: tuple[Case, str]) -> None:
        body(drawn)

    batch()


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
def test_no_request_is_answered_with_a_server_error(
    served: tuple[str, schemathesis.BaseSchema, str], runtime: Runtime, method: str, path: str
) -> None:
    url, schema, client_id = served
    tokens = {role: principal(role).headers(runtime.settings) for role in ROLES}
    label = f"{method} {path}"
    strategy = st.tuples(strategy_for(schema, method, path, client_id), st.sampled_from(ROLES))

    with requests.Session() as http:

        def call(drawn: tuple[Case, str]) -> None:
            case, role = drawn
            # when schemathesis sends a generated request with a token of the role
            response = case.call(base_url=url, session=http, headers=tokens[role], timeout=60)
            FIGURES.answered(label, role, response.status_code)
            # then it is answered below 500, with the correlation id, refusals as problems
            check_answer(case, response)

        if MINUTES <= 0:
            run_batch(strategy, SHORT_EXAMPLES, random.randrange(2**32), call)
            return
        deadline = time.monotonic() + MINUTES * 60 / len(OPERATIONS)
        while time.monotonic() < deadline:
            run_batch(strategy, BATCH, random.randrange(2**32), call)

    assert sum(n for k, n in FIGURES.examples.items() if k.startswith(f"{label} as ")) > 0
