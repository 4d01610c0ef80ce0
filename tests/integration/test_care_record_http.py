"""The care record over HTTP on real PostgreSQL: the seed stories, bad input, idempotency, races."""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from domain.record import client_record
from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime, migrate
from tests.integration.http_support import live_server
from tests.stories import (
    ANALYST,
    CASE_MANAGER,
    COUNSELOR,
    MOUD_CLINIC,
    PEER,
    Enrollee,
    Person,
    Story,
    body,
    check_in_data,
    enrolled_with_team,
    parent_after_surgery,
    young_professional,
)


@pytest.fixture(scope="module")
def runtime(database_url: str) -> Iterator[Runtime]:
    settings = Settings(database_url=database_url, max_body_bytes=64 * 1024)
    runtime = build_runtime(settings, database_url)
    migrate(runtime)
    yield runtime
    runtime.close()


@pytest.fixture(scope="module")
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(build_api(runtime), raise_server_exceptions=False) as client:
        yield client


def as_(runtime: Runtime, who: Person) -> dict[str, str]:
    return who.headers(runtime.settings)


def stored_count(runtime: Runtime) -> int:
    with runtime.store.connection() as conn:
        row = conn.execute("SELECT count(*) AS n FROM care_events").fetchone()
        assert row is not None
        return int(row["n"])


def enroll_with_team(api: TestClient, runtime: Runtime, given: str, family: str) -> Story:
    story = enrolled_with_team(Story(), Enrollee(given, family))
    story.over_http(api, runtime.settings)
    return story


def check_in(mood: int, craving: int, sleep: float, **more: Any) -> dict[str, Any]:
    """A check-in body sent an hour ago."""
    return body("CheckInRecorded", **check_in_data(mood, craving, sleep, **more))


# ------------------------------------------------------------------------------ the seed stories


def test_the_young_professional_near_90_days_is_carried_by_the_circle_of_care(
    api: TestClient, runtime: Runtime
) -> None:
    # given a client near 90 days without alcohol, with a counselor, peer, case manager, prescriber
    # when stressors cascade, the peer notices distress by text, and the circle responds the same
    # day (telehealth, a sleep clinic by warm handoff, a skills group, a medication consult), the
    # next morning (peer call, counselor follow-up, safety review) and within 72 hours
    story = young_professional()
    last = story.over_http(api, runtime.settings)[-1]
    client = story.client_id

    # then the record shows the circle, the plan, the completed warm handoff and the latest check-in
    answer = api.get(f"/v1/clients/{client}", headers=as_(runtime, COUNSELOR))
    assert answer.status_code == 200
    chart = answer.json()
    assert chart["status"] == "in_care"
    assert chart["version"] == last["version"]
    assert {m["role"] for m in chart["care_team"]} == {
        "counselor",
        "peer_specialist",
        "case_manager",
        "prescriber",
    }
    assert chart["last_check_in"]["craving"] == 2
    assert chart["last_check_in"]["sleep_hours"] == 7.5
    assert [(h["handoff_id"], h["status"]) for h in chart["handoffs"]] == [("sleep-1", "completed")]
    assert chart["safety_plan"] is not None
    assert chart["sessions_count"] == 5
    # and the history lists every step in order, each with its version and position
    history = api.get(
        f"/v1/clients/{client}/events?limit=1000", headers=as_(runtime, COUNSELOR)
    ).json()
    types = [item["type"] for item in history["items"]]
    assert types[:2] == ["ClientEnrolled", "EpisodeOpened"]
    assert types[-1] == "CheckInRecorded"
    assert types.count("SessionHeld") == 5
    versions = [item["version"] for item in history["items"]]
    assert versions == list(range(1, len(versions) + 1))
    positions = [item["position"] for item in history["items"]]
    assert positions == sorted(positions)
    assert all(item["actor"]["id"] for item in history["items"])


def test_the_parent_using_opioids_after_surgery_enters_integrated_care(
    api: TestClient, runtime: Runtime
) -> None:
    # given a parent who signals withdrawal and then renewed use of prescribed opioids
    # when the peer meets them, the counselor coordinates MOUD with the prescriber, the case
    # manager schedules intake at a local clinic with a warm handoff, the team distributes
    # naloxone, teaches the family and writes a crisis card, and weekly counseling follows
    story = parent_after_surgery()
    phq9 = story.over_http(api, runtime.settings)[-1]
    client = story.client_id

    # then the record shows MOUD started, naloxone in the family's hands, the handoff completed
    chart = api.get(f"/v1/clients/{client}", headers=as_(runtime, COUNSELOR)).json()
    assert chart["part2"] is True
    assert [(m["medication"], m["category"]) for m in chart["medications"]] == [
        ("buprenorphine", "moud")
    ]
    assert chart["naloxone_kits"] == 2
    assert [(h["handoff_id"], h["status"]) for h in chart["handoffs"]] == [("moud-1", "completed")]
    assert chart["last_check_in"]["used_since_last"] is True
    phq = [a for a in chart["assessments"] if a["instrument"] == "PHQ-9"]
    assert phq
    assert phq[0]["total"] == 8
    assert phq[0]["band"] == "mild"
    # and every stored entry of this Part 2 client carries the 42 CFR Part 2 label
    history = api.get(
        f"/v1/clients/{client}/events?limit=1000", headers=as_(runtime, COUNSELOR)
    ).json()
    assert history["items"][-1]["version"] == phq9["version"]
    assert all("42CFRPart2" in item["security_labels"] for item in history["items"])


# ------------------------------------------------------------------------------ bad input


@pytest.fixture(scope="module")
def a_client(api: TestClient, runtime: Runtime) -> str:
    story = enrolled_with_team(Story(), Enrollee("Casey", "Stone"))
    story.by(CASE_MANAGER).at(days=-2).handoff_initiated(
        "h-decided", to=MOUD_CLINIC, service="intake", reason="MOUD"
    )
    story.by(MOUD_CLINIC).at(days=-2, hours=1).handoff_declined("h-decided", reason="no capacity")
    story.over_http(api, runtime.settings)
    return str(story.client_id)


@pytest.fixture(scope="module")
def a_discharged_client(api: TestClient, runtime: Runtime) -> str:
    story = enrolled_with_team(Story(), Enrollee("Riley", "North"))
    story.by(COUNSELOR).at(days=-1).discharged(reason="completed program")
    story.over_http(api, runtime.settings)
    return str(story.client_id)


def _bad(
    kind: str, client: str, discharged: str
) -> tuple[str, dict[str, Any] | bytes, dict[str, str]]:
    check = check_in(5, 5, 6)
    table: dict[str, tuple[str, dict[str, Any] | bytes, dict[str, str]]] = {
        "unknown type": (client, {**check, "type": "FeelingsRecorded"}, {}),
        "missing field": (
            client,
            {**check, "data": {"mood": 5, "craving": 5, "used_since_last": False}},
            {},
        ),
        "extra field": (client, {**check, "data": {**check["data"], "diagnosis": "x"}}, {}),
        "mistyped field": (client, {**check, "data": {**check["data"], "mood": "low"}}, {}),
        "out-of-range scale": (client, {**check, "data": {**check["data"], "craving": 11}}, {}),
        "wrong answer count": (
            client,
            body("AssessmentRecorded", instrument="PHQ-9", answers=[1] * 8),
            {},
        ),
        "unknown client": (str(uuid4()), check, {}),
        "discharged client": (discharged, check, {}),
        "handoff decided twice": (client, body("HandoffAccepted", handoff_id="h-decided"), {}),
        "unknown crisis": (
            client,
            body("PostventionReviewRecorded", crisis_id="never-happened"),
            {},
        ),
        "future occurred_at": (
            client,
            {**check, "occurred_at": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
            {},
        ),
        "malformed JSON": (client, b'{"type": "CheckInRecorded", ', {}),
        "body over the limit": (
            client,
            {**check, "data": {**check["data"], "note": "x" * 70_000}},
            {},
        ),
        "missing token": (client, check, {"Authorization": ""}),
        "invalid token": (client, check, {"Authorization": "Bearer not.a.token"}),
        "system-only type": (
            client,
            body(
                "RiskFlagRaised",
                flag_id="f",
                rule_id="SUI-1",
                rule_version=1,
                severity="high",
                reason="x",
            ),
            {},
        ),
        "actor in a person's body": (
            client,
            {**check, "actor": {"id": "someone-else", "role": "counselor", "org": "x"}},
            {},
        ),
    }
    return table[kind]


@pytest.mark.parametrize(
    ("kind", "status", "code"),
    [
        ("unknown type", 422, "unknown_event_type"),
        ("missing field", 422, "validation_error"),
        ("extra field", 422, "validation_error"),
        ("mistyped field", 422, "validation_error"),
        ("out-of-range scale", 422, "validation_error"),
        ("wrong answer count", 422, "invalid_answers"),
        ("unknown client", 404, "client_not_enrolled"),
        ("discharged client", 409, "episode_closed"),
        ("handoff decided twice", 409, "handoff_already_decided"),
        ("unknown crisis", 422, "unknown_crisis"),
        ("future occurred_at", 422, "occurred_in_future"),
        ("malformed JSON", 400, "malformed_json"),
        ("body over the limit", 413, "payload_too_large"),
        ("missing token", 401, "missing_token"),
        ("invalid token", 401, "invalid_token"),
        ("system-only type", 422, "event_not_recordable"),
        ("actor in a person's body", 422, "actor_not_allowed"),
    ],
)
def test_bad_input_gets_a_problem_with_a_stable_code_and_stores_nothing(
    api: TestClient,
    runtime: Runtime,
    a_client: str,
    a_discharged_client: str,
    kind: str,
    status: int,
    code: str,
) -> None:
    # given a store in a known state
    client, payload, headers = _bad(kind, a_client, a_discharged_client)
    before = stored_count(runtime)
    auth = headers if "Authorization" in headers else as_(runtime, COUNSELOR)
    auth = {k: v for k, v in auth.items() if v}
    # when the bad request arrives
    if isinstance(payload, bytes):
        answer = api.post(
            f"/v1/clients/{client}/events",
            content=payload,
            headers={**auth, "Content-Type": "application/json"},
        )
    else:
        answer = api.post(f"/v1/clients/{client}/events", json=payload, headers=auth)
    # then it is refused with an RFC 9457 problem naming the reason, and nothing is stored
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["code"] == code
    assert problem["status"] == status
    assert problem["type"].endswith(code.replace("_", "-"))
    assert problem["instance"] == f"urn:carecircle:request:{problem['correlation_id']}"
    assert stored_count(runtime) == before


def test_a_validation_problem_says_where_without_echoing_the_submitted_value(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    payload = check_in(5, 5, 6, note="I relapsed at my sister's place")
    payload["data"]["craving"] = 987654321
    answer = api.post(
        f"/v1/clients/{a_client}/events", json=payload, headers=as_(runtime, COUNSELOR)
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"][-1] == "craving"
    assert "987654321" not in answer.text
    assert "sister" not in answer.text
    assert all("input" not in error for error in answer.json()["errors"])


# ------------------------------------------------------------------------------ idempotency


def test_the_same_event_id_twice_stores_one_event_and_answers_alike(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    payload = check_in(6, 4, 7)
    first = api.post(f"/v1/clients/{a_client}/events", json=payload, headers=as_(runtime, PEER))
    count = stored_count(runtime)
    again = api.post(f"/v1/clients/{a_client}/events", json=payload, headers=as_(runtime, PEER))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert stored_count(runtime) == count


def test_the_same_event_id_sent_concurrently_stores_one_event(
    runtime: Runtime, a_client: str
) -> None:
    # given one check-in that a flaky provider sends sixteen times at once
    payload = check_in(5, 6, 6)
    before = stored_count(runtime)
    with live_server(build_api(runtime)) as base, httpx.Client(base_url=base, timeout=30) as http:

        def send(_: int) -> httpx.Response:
            return http.post(
                f"/v1/clients/{a_client}/events", json=payload, headers=as_(runtime, PEER)
            )

        with ThreadPoolExecutor(max_workers=16) as pool:
            answers = list(pool.map(send, range(16)))
    # then exactly one was created, every answer names the same stored event
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * 15 + [201]
    assert (
        len({(a.json()["event_id"], a.json()["version"], a.json()["position"]) for a in answers})
        == 1
    )
    assert stored_count(runtime) == before + 1


def test_a_re_send_to_a_second_api_process_whose_cache_predates_it_stores_nothing(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    # given a second API process on the same store, which has read the client before
    second_runtime = build_runtime(runtime.settings, runtime.settings.database_url)
    try:
        with TestClient(build_api(second_runtime), raise_server_exceptions=False) as second:
            second_runtime.handler.state_of(UUID(a_client))
            # and a check-in the first process records after that
            payload = check_in(4, 5, 6)
            path = f"/v1/clients/{a_client}/events"
            first = api.post(path, json=payload, headers=as_(runtime, PEER))
            count = stored_count(runtime)
            # when the provider re-sends it to the second process (its cached ids lack it)
            again = second.post(path, json=payload, headers=as_(runtime, PEER))
    finally:
        second_runtime.close()
    # then it is answered as recorded already, the same event, and stored once
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert stored_count(runtime) == count


def test_fifty_concurrent_writers_to_one_client_lose_no_update(
    runtime: Runtime, api: TestClient
) -> None:
    # given a client in care
    client = enroll_with_team(api, runtime, "Avery", "Quinn").client_id
    start = api.get(f"/v1/clients/{client}", headers=as_(runtime, COUNSELOR)).json()["version"]
    bodies = [check_in(i % 11, (i * 3) % 11, 6) for i in range(50)]
    # when fifty writers record a check-in each at the same moment
    with (
        live_server(build_api(runtime)) as base,
        httpx.Client(base_url=base, timeout=60) as http,
        ThreadPoolExecutor(max_workers=50) as pool,
    ):
        answers = list(
            pool.map(
                lambda b: http.post(
                    f"/v1/clients/{client}/events", json=b, headers=as_(runtime, PEER)
                ),
                bodies,
            )
        )
    # then every one is stored, each at its own version, none lost
    assert [a.status_code for a in answers] == [201] * 50
    assert sorted(a.json()["version"] for a in answers) == list(range(start + 1, start + 51))
    history = api.get(
        f"/v1/clients/{client}/events?limit=1000", headers=as_(runtime, COUNSELOR)
    ).json()
    stored_ids = {item["event_id"] for item in history["items"]}
    assert {b["event_id"] for b in bodies} <= stored_ids


def test_if_match_with_a_stale_version_is_a_conflict_and_stores_nothing(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    version = api.get(f"/v1/clients/{a_client}", headers=as_(runtime, COUNSELOR)).json()["version"]
    fresh = api.post(
        f"/v1/clients/{a_client}/events",
        json=check_in(5, 5, 5),
        headers={**as_(runtime, PEER), "If-Match": f'"{version}"'},
    )
    assert fresh.status_code == 201
    assert fresh.json()["version"] == version + 1
    before = stored_count(runtime)
    stale = api.post(
        f"/v1/clients/{a_client}/events",
        json=check_in(5, 5, 5),
        headers={**as_(runtime, PEER), "If-Match": f'"{version}"'},
    )
    assert stale.status_code == 409
    assert stale.json()["code"] == "version_conflict"
    assert stored_count(runtime) == before
    # and the conflict says where the record is now, in the body and as the ETag
    assert stale.json()["current_version"] == version + 1
    assert stale.headers["ETag"] == f'"{version + 1}"'
    assert f"version {version + 1}, not {version}" in stale.json()["detail"]


# ------------------------------------------------------------------------------ the way out


def test_a_body_over_the_limit_is_told_the_limit(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    check = check_in(5, 5, 6)
    answer = api.post(
        f"/v1/clients/{a_client}/events",
        json={**check, "data": {**check["data"], "note": "x" * 70_000}},
        headers=as_(runtime, COUNSELOR),
    )
    assert answer.status_code == 413
    assert "65536 bytes" in answer.json()["detail"]


def test_an_unknown_event_type_is_pointed_at_the_list_of_types(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    answer = api.post(
        f"/v1/clients/{a_client}/events",
        json={**check_in(5, 5, 6), "type": "FeelingsRecorded"},
        headers=as_(runtime, COUNSELOR),
    )
    assert answer.json()["code"] == "unknown_event_type"
    assert "docs/schemas/care-event.inbound.schema.json" in answer.json()["detail"]
    assert "/openapi.json" in answer.json()["detail"]


def test_an_expired_token_is_told_to_request_a_new_one(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    from services.adapters.tokens import issue_token

    expired = issue_token(
        runtime.settings.jwt_secret.get_secret_value(),
        sub=COUNSELOR.sub,
        role=COUNSELOR.role,
        org=COUNSELOR.org,
        ttl=timedelta(seconds=-60),
    )
    answer = api.get(f"/v1/clients/{a_client}", headers={"Authorization": f"Bearer {expired}"})
    assert answer.status_code == 401
    assert answer.json()["code"] == "token_expired"
    assert "request a new one" in answer.json()["detail"]
    assert "carecircle token" in answer.json()["detail"]


@pytest.mark.parametrize(
    ("raw", "line", "column"),
    [
        (b'{"type": "CheckInRecorded", ', 1, 29),
        (b'{\n  "type": "CheckInRecorded",\n  "data": }', 3, 11),
    ],
)
def test_malformed_json_is_told_the_line_and_column(
    api: TestClient, runtime: Runtime, a_client: str, raw: bytes, line: int, column: int
) -> None:
    answer = api.post(
        f"/v1/clients/{a_client}/events",
        content=raw,
        headers={**as_(runtime, COUNSELOR), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["detail"].endswith(f"line {line}, column {column}.")


def test_malformed_json_to_a_route_with_a_typed_body_is_malformed_json_too(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    answer = api.post(
        f"/v1/clients/{a_client}/break-glass",
        content=b'{"reason": \n  oops}',
        headers={**as_(runtime, COUNSELOR), "Content-Type": "application/json"},
    )
    assert answer.status_code == 400
    assert answer.json()["code"] == "malformed_json"
    assert "line 2, column 3" in answer.json()["detail"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_that_is_not_json_is_an_unsupported_media_type_and_stores_nothing(
    api: TestClient, runtime: Runtime, a_client: str, content_type: str | None
) -> None:
    import json

    before = stored_count(runtime)
    headers = as_(runtime, COUNSELOR)
    if content_type is not None:
        headers["Content-Type"] = content_type
    answer = api.post(
        f"/v1/clients/{a_client}/events", content=json.dumps(check_in(5, 5, 6)), headers=headers
    )
    assert answer.status_code == 415
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["code"] == "unsupported_media_type"
    assert "application/json" in answer.json()["detail"]
    assert stored_count(runtime) == before


def test_a_supervisor_oversees_but_does_not_record_a_check_in(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    supervisor = Person("sup-ada", "supervisor", COUNSELOR.org)
    answer = api.post(
        f"/v1/clients/{a_client}/events", json=check_in(5, 5, 6), headers=as_(runtime, supervisor)
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


def test_an_analyst_does_not_enroll_clients(api: TestClient, runtime: Runtime) -> None:
    answer = api.post(
        "/v1/clients",
        json=body("ClientEnrolled", program="outpatient-sud", part2=True),
        headers=as_(runtime, ANALYST),
    )
    assert answer.status_code == 403


# ------------------------------------------------------------------------------ time travel


def test_the_record_as_of_a_past_time_equals_the_events_recorded_up_to_then(
    api: TestClient, runtime: Runtime
) -> None:
    # given a record that changes step by step, read live after each step
    story = enroll_with_team(api, runtime, "Drew", "Harper")
    client = story.client_id
    assert client is not None
    snapshots: list[tuple[str, dict[str, Any]]] = []
    for mood, craving in [(6, 2), (4, 6), (2, 9)]:
        [answer] = (
            story.by(PEER).at(hours=-1).check_in(mood, craving, 6).over_http(api, runtime.settings)
        )
        live = api.get(f"/v1/clients/{client}", headers=as_(runtime, COUNSELOR)).json()
        snapshots.append((answer["recorded_at"], live))
        time.sleep(0.01)  # distinct recorded times between steps, not a wait for anything
    story.by(COUNSELOR).discharged(reason="moved away").over_http(api, runtime.settings)
    # when the record is read as of each step's recorded time
    for recorded_at, live in snapshots:
        past = api.get(
            f"/v1/clients/{client}", params={"as_of": recorded_at}, headers=as_(runtime, COUNSELOR)
        )
        # then it equals what was shown live then, and the fold of the events recorded up to then
        assert past.status_code == 200
        assert past.json() == live
        folded = client_record(
            r for r in runtime.store.load(client) if r.recorded_at.isoformat() <= recorded_at
        )
        assert folded is not None
        assert folded.to_dict() == past.json()
    now = api.get(f"/v1/clients/{client}", headers=as_(runtime, COUNSELOR)).json()
    assert now["status"] == "discharged"
    assert snapshots[-1][1]["status"] == "in_care"


def test_the_openapi_document_describes_every_route_with_examples(api: TestClient) -> None:
    doc = api.get("/openapi.json").json()
    assert {"/v1/clients", "/v1/clients/{client_id}/events", "/v1/clients/{client_id}"} <= set(
        doc["paths"]
    )
    request = doc["paths"]["/v1/clients/{client_id}/events"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert request["examples"]
    assert "CareEvent" in doc["components"]["schemas"]
    assert "bearerAuth" in str(doc["components"].get("securitySchemes", {})) or "HTTPBearer" in str(
        doc["components"]
    )


def test_readiness_checks_the_database_and_liveness_only_the_process(api: TestClient) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"]["postgres"] == "ok"


def test_a_malformed_client_id_in_the_url_is_a_validation_problem_that_quotes_nothing(
    api: TestClient, runtime: Runtime
) -> None:
    answer = api.get("/v1/clients/not-a-uuid-JaneRoe", headers=as_(runtime, COUNSELOR))
    assert answer.status_code == 422
    assert answer.json()["code"] == "validation_error"
    assert "JaneRoe" not in str(answer.json()["errors"])
    assert "JaneRoe" not in answer.json()["detail"]


def test_metrics_show_the_caches_hit_rates_and_the_access_logs_group_commits(
    api: TestClient, runtime: Runtime, a_client: str
) -> None:
    # given a client whose record was just read twice (its access facts cached by the first)
    for _ in range(2):
        assert api.get(f"/v1/clients/{a_client}", headers=as_(runtime, COUNSELOR)).is_success
    # when an operator scrapes /metrics
    text = api.get("/metrics").text
    # then each cache's hits, misses, hit ratio and capacity are there, and the access log's
    # commits never outnumber its entries
    facts = runtime.privacy.gate.cache
    assert facts.hits >= 1
    assert 'carecircle_cache_hits_total{cache="access_facts"}' in text
    assert 'carecircle_cache_hit_ratio{cache="client_state"}' in text
    capacity = float(runtime.settings.facts_cache_size)
    assert f'carecircle_cache_entries{{cache="access_facts",of="capacity"}} {capacity}' in text
    commits, entries = runtime.privacy.access_log.batches
    assert 1 <= commits <= entries
    assert "carecircle_access_log_entries_total" in text


def test_a_record_read_again_shows_what_was_recorded_since_and_drops_an_entry_in_error(
    api: TestClient, runtime: Runtime
) -> None:
    # given a client whose record a counselor has read (the API keeps its folded record)
    story = enrolled_with_team(Story(), Enrollee("Jordan", "Vale"))
    story.over_http(api, runtime.settings)
    path = f"/v1/clients/{story.client_id}"
    first = api.get(path, headers=as_(runtime, COUNSELOR)).json()
    # when a check-in is recorded and the record is read again
    sent = check_in(3, 8, 4.5)
    posted = api.post(f"{path}/events", json=sent, headers=as_(runtime, COUNSELOR))
    assert posted.status_code == 201
    again = api.get(path, headers=as_(runtime, COUNSELOR)).json()
    # then the record shows it, at the new version
    assert again["version"] == first["version"] + 1
    assert again["last_check_in"]["craving"] == 8
    # and when that check-in is entered in error, the record read next no longer shows it
    voided = body("EntryEnteredInError", target_event_id=sent["event_id"], reason="wrong client")
    answer = api.post(f"{path}/events", json=voided, headers=as_(runtime, COUNSELOR))
    assert answer.status_code == 201
    last = api.get(path, headers=as_(runtime, COUNSELOR)).json()
    assert last["version"] == first["version"] + 2
    assert last["last_check_in"] == first["last_check_in"]
    assert sent["event_id"] in last["entries_in_error"]
