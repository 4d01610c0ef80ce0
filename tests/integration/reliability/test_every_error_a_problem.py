"""Every error a problem (issue 10): no input the API can be sent answers 5xx, a refusal names
its place by the schema's own names (never a submitted key or path), and every answer — a 500
included — carries the correlation id. The hand cases of the attack; schemathesis covers the
rest of the OpenAPI document (tests/integration/reliability/test_schemathesis.py)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient

from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime, migrate
from tests.stories import COUNSELOR, TEAM, Enrollee, Person, Story, body, enrolled_with_team

PHI_KEY = "Jordan Vale 1991-03-14"


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[Runtime]:
    settings = Settings(database_url=database_url)
    runtime = build_runtime(settings, database_url)
    migrate(runtime)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def api(runtime: Runtime) -> Iterator[TestClient]:
    app = build_api(runtime)
    broken = APIRouter()

    @broken.get("/v1/broken")
    async def _broken() -> None:
        raise RuntimeError("a bug")

    app.include_router(broken)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def story(api: TestClient, runtime: Runtime) -> Story:
    story = enrolled_with_team(Story(), Enrollee("Avery", "Stone"))
    story.over_http(api, runtime.settings)
    return story


def stored_count(runtime: Runtime) -> int:
    with runtime.store.connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM care_events").fetchone()
        assert row is not None
        return int(row["n"])


def token(settings: Settings, **claims: Any) -> dict[str, str]:
    now = datetime.now(UTC)
    payload = {"iat": now, "exp": now + timedelta(hours=1), **claims}
    signed = jwt.encode(payload, settings.jwt_secret.get_secret_value(), algorithm="HS256")
    return {"Authorization": f"Bearer {signed}"}


def assert_problem(answer: Any, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = answer.json()
    assert problem["code"] == code
    assert answer.headers["x-correlation-id"] == problem["correlation_id"]
    return problem


# ---------------------------------------------------------------- NUL: the poison pill refused


@pytest.mark.parametrize(
    ("field", "value"),
    [("member_id", "m\u0000x"), ("org", "harbor\u0000counseling"), ("member_id", "m\ud800x")],
)
def test_a_care_team_member_with_text_postgresql_cannot_store_is_refused_before_it_is_stored(
    api: TestClient, runtime: Runtime, story: Story, field: str, value: str
) -> None:
    # given an enrolled client and a counselor assigning a member whose id or org holds a NUL
    data = {"member_id": "peer-kai", "role": "peer_specialist", "org": "harbor-peer", field: value}
    before = stored_count(runtime)
    # when the assignment is sent (a lone surrogate as a JSON escape, which orjson refuses)
    answer = api.post(
        f"/v1/clients/{story.client_id}/events",
        content=_json_with_escapes(body("CareTeamMemberAssigned", **data)),
        headers={**COUNSELOR.headers(runtime.settings), "content-type": "application/json"},
    )
    # then it is a 4xx problem naming the field by the schema's name, and nothing is stored
    assert 400 <= answer.status_code < 500, answer.text
    problem = answer.json()
    if answer.status_code == 422:
        assert problem["errors"][0]["loc"] == ["CareTeamMemberAssigned", "data", field]
    assert stored_count(runtime) == before


def _json_with_escapes(payload: dict[str, Any]) -> bytes:
    import json

    return json.dumps(payload).encode()


@pytest.mark.parametrize("claim", ["sub", "org"])
def test_a_token_whose_claims_hold_a_nul_is_refused_as_invalid(
    api: TestClient, runtime: Runtime, story: Story, claim: str
) -> None:
    # given a signed token whose sub or org holds a NUL
    claims = {"sub": COUNSELOR.sub, "role": COUNSELOR.role, "org": COUNSELOR.org}
    claims[claim] = claims[claim] + "\u0000x"
    # when it reads a record
    answer = api.get(f"/v1/clients/{story.client_id}", headers=token(runtime.settings, **claims))
    # then 401, not a 500 from the access log
    assert_problem(answer, 401, "invalid_token")


def test_a_role_claim_sent_as_a_list_is_an_invalid_token(
    api: TestClient, runtime: Runtime, story: Story
) -> None:
    headers = token(runtime.settings, sub=COUNSELOR.sub, role=["counselor"], org=COUNSELOR.org)

    answer = api.get(f"/v1/clients/{story.client_id}", headers=headers)

    assert_problem(answer, 401, "invalid_token")


@pytest.mark.parametrize(
    "path",
    ["/v1/caseloads/m%00x", "/v1/orgs/harbor%00counseling/caseloads"],
)
def test_a_nul_in_a_path_segment_is_a_validation_problem(
    api: TestClient, runtime: Runtime, path: str
) -> None:
    answer = api.get(path, headers=COUNSELOR.headers(runtime.settings))

    problem = assert_problem(answer, 422, "validation_error")
    assert problem["errors"][0]["loc"] == ["path"]
    assert "m\u0000x" not in answer.text
    assert "harbor" not in answer.text


def test_a_nul_in_a_data_class_or_an_actor_query_is_a_validation_problem(
    api: TestClient, runtime: Runtime, story: Story
) -> None:
    headers = COUNSELOR.headers(runtime.settings)

    record = api.get(f"/v1/clients/{story.client_id}?data_class=check%00in", headers=headers)
    log = api.get("/v1/access-log?actor_id=a%00b", headers=headers)

    assert assert_problem(record, 422, "validation_error")["errors"][0]["loc"] == ["query"]
    assert assert_problem(log, 422, "validation_error")["errors"][0]["loc"] == ["query"]


@pytest.mark.parametrize("types", ["a%00b", "NotAnEvent"])
def test_replay_types_that_name_no_event_are_refused_before_the_stream_starts(
    api: TestClient, runtime: Runtime, types: str
) -> None:
    analyst = Person("ana-eli", "analyst", "research-unit")

    answer = api.get(f"/v1/replay?types={types}", headers=analyst.headers(runtime.settings))

    assert 400 <= answer.status_code < 500
    assert answer.headers["content-type"] == "application/problem+json"


# ---------------------------------------------------------------- If-Match


@pytest.mark.parametrize(
    "if_match", [b"7" * 4301, b"\xb2", "\u0663".encode(), b'"-1"', b"1e3", b"\xb9\xb2"]
)
def test_an_if_match_that_is_no_version_number_is_a_400(
    api: TestClient, runtime: Runtime, story: Story, if_match: bytes
) -> None:
    # (headers arrive as latin-1: b"\xb2" is "²", which str.isdigit accepts and int() refuses)
    check_in = body("CheckInRecorded", mood=6, craving=2, sleep_hours=7, used_since_last=False)

    answer = api.post(
        f"/v1/clients/{story.client_id}/events",
        json=check_in,
        headers={**COUNSELOR.headers(runtime.settings), "If-Match": if_match},
    )

    assert_problem(answer, 400, "invalid_if_match")


# ---------------------------------------------------------------- places, never submitted keys


def test_an_unknown_key_is_never_echoed_in_the_errors_or_the_instance(
    api: TestClient, runtime: Runtime, story: Story
) -> None:
    # given a check-in carrying a key that is itself PHI, at the top and inside data
    check_in = body("CheckInRecorded", mood=6, craving=2, sleep_hours=7, used_since_last=False)
    check_in[PHI_KEY] = 1
    check_in["data"][PHI_KEY] = 1
    # when it is sent
    top = api.post(
        f"/v1/clients/{story.client_id}/events",
        json=check_in,
        headers=COUNSELOR.headers(runtime.settings),
    )
    del check_in[PHI_KEY]
    inner = api.post(
        f"/v1/clients/{story.client_id}/events",
        json=check_in,
        headers=COUNSELOR.headers(runtime.settings),
    )
    # then both are refused at a place named `*`, and the path is not repeated either
    for answer, place in ((top, ["*"]), (inner, ["CheckInRecorded", "data", "*"])):
        problem = assert_problem(answer, 422, "validation_error")
        assert [error["loc"] for error in problem["errors"]] == [place]
        assert PHI_KEY not in answer.text
        assert str(story.client_id) not in problem["instance"]
        assert problem["instance"] == f"urn:carecircle:request:{problem['correlation_id']}"


def test_an_unknown_key_in_a_request_model_is_never_echoed(
    api: TestClient, runtime: Runtime, story: Story
) -> None:
    answer = api.post(
        f"/v1/clients/{story.client_id}/break-glass",
        json={"reason": "overdose in the waiting room", "minutes": 30, PHI_KEY: True},
        headers=TEAM[0].headers(runtime.settings),
    )

    problem = assert_problem(answer, 422, "validation_error")
    assert PHI_KEY not in answer.text
    assert ["body", "*"] in [error["loc"] for error in problem["errors"]]


# ---------------------------------------------------------------- the correlation id, always


def test_an_unexpected_failure_is_a_problem_with_the_correlation_id(api: TestClient) -> None:
    answer = api.get("/v1/broken", headers={"X-Correlation-Id": "req-42"})

    problem = assert_problem(answer, 500, "internal_error")
    assert problem["correlation_id"] == "req-42"
    assert "a bug" not in answer.text


@pytest.mark.parametrize("path", ["/v1/flags", "/v1/audit", "/v1/caseloads/counselor-ines"])
def test_a_min_position_no_write_answered_is_a_validation_problem_not_a_503(
    api: TestClient, runtime: Runtime, path: str
) -> None:
    # given a position far beyond the store's head (no write ever answered it)
    beyond = runtime.store.head() + 10**9
    # when a read waits for it
    answer = api.get(f"{path}?min_position={beyond}", headers=_auditor(runtime, path))
    # then it is the caller's mistake, answered at once
    assert_problem(answer, 422, "validation_error")


def _auditor(runtime: Runtime, path: str) -> dict[str, str]:
    who = Person("aud-1", "auditor", "harbor-counseling") if "audit" in path else COUNSELOR
    return who.headers(runtime.settings)
