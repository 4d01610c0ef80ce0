"""Every role × every route: allowed calls work; refused ones are in the access log and answer
404 without a relationship (the same body as for an unknown client, 42 CFR 2.13(c)) or 403 with
their code when there is one."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from services.wiring import Runtime
from tests.integration.privacy.support import (
    AUDITOR,
    CASE_MANAGER_ELSEWHERE,
    CRISIS,
    PRESCRIBER,
    SERVICE,
    SERVICE_ELSEWHERE,
    STRANGER,
    SUPERVISOR,
    SUPERVISOR_ELSEWHERE,
    access_rows,
    enroll,
    headers,
    without_request_specifics,
)
from tests.stories import ANALYST, COUNSELOR, PEER, Clock, Person, Story, body, check_in_data

Call = Callable[[TestClient, Runtime, Person, UUID], httpx.Response]


def _get(path: str) -> Call:
    def call(api: TestClient, runtime: Runtime, who: Person, client: UUID) -> httpx.Response:
        return api.get(path.format(client=client), headers=headers(runtime, who))

    return call


def _enroll(api: TestClient, runtime: Runtime, who: Person, client: UUID) -> httpx.Response:
    payload = Story(Clock(runtime.clock())).enrolled().last
    return api.post("/v1/clients", json=payload, headers=headers(runtime, who))


def _write(api: TestClient, runtime: Runtime, who: Person, client: UUID) -> httpx.Response:
    check_in = body("CheckInRecorded", runtime.clock(), **check_in_data(6, 3, 7))
    return api.post(f"/v1/clients/{client}/events", json=check_in, headers=headers(runtime, who))


def _as_of(api: TestClient, runtime: Runtime, who: Person, client: UUID) -> httpx.Response:
    at = runtime.clock().isoformat()
    return api.get(f"/v1/clients/{client}", params={"as_of": at}, headers=headers(runtime, who))


def _break_glass(api: TestClient, runtime: Runtime, who: Person, client: UUID) -> httpx.Response:
    return api.post(
        f"/v1/clients/{client}/break-glass",
        json={"reason": "unresponsive at the front desk", "minutes": 30},
        headers=headers(runtime, who),
    )


ROUTES: dict[str, tuple[str, Call]] = {
    # name: (access-log action, call)
    "enroll": ("enroll", _enroll),
    "record an event": ("write_event", _write),
    "read the record": ("read_record", _get("/v1/clients/{client}")),
    "read the record as of": ("read_record_as_of", _as_of),
    "read the history": ("read_history", _get("/v1/clients/{client}/events")),
    "accounting of disclosures": ("read_disclosures", _get("/v1/clients/{client}/disclosures")),
    "consents": ("read_consents", _get("/v1/clients/{client}/consents")),
    "access log of the client": ("read_access_log", _get("/v1/access-log?client_id={client}")),
    "access log": ("read_access_log", _get("/v1/access-log")),
    "replay": ("replay", _get("/v1/replay?limit=1")),
    "break the glass": ("break_glass", _break_glass),
    "caseload of the counselor": ("read_caseload", _get(f"/v1/caseloads/{COUNSELOR.sub}")),
    "caseloads of the program": ("read_org_caseload", _get(f"/v1/orgs/{COUNSELOR.org}/caseloads")),
    "flags of the client": ("read_flags", _get("/v1/flags?client_id={client}")),
    "audit trail of the client": ("read_audit", _get("/v1/audit?client_id={client}")),
}

ROLES: dict[str, Person] = {
    "counselor on the team": COUNSELOR,
    "prescriber on the team": PRESCRIBER,
    "peer on the team, other org": PEER,
    "counselor of the program, not on the team": STRANGER,
    "case manager elsewhere": CASE_MANAGER_ELSEWHERE,
    "crisis clinician elsewhere": CRISIS,
    "supervisor of the program": SUPERVISOR,
    "supervisor elsewhere": SUPERVISOR_ELSEWHERE,
    "auditor": AUDITOR,
    "analyst": ANALYST,
    "service of the program": SERVICE,
    "service elsewhere": SERVICE_ELSEWHERE,
}

OK, CREATED, NOT_FOUND, FORBIDDEN = 200, 201, 404, 403
# Per route, the answer for each role (in ROLES order).
EXPECTED: dict[str, tuple[int, ...]] = {
    "enroll": (201, 201, 201, 201, 201, 201, 201, 201, 403, 403, 201, 201),
    "record an event": (201, 201, 201, 404, 404, 404, 403, 404, 403, 404, 201, 404),
    "read the record": (200, 200, 200, 404, 404, 404, 200, 404, 403, 404, 403, 404),
    "read the record as of": (200, 200, 200, 404, 404, 404, 200, 404, 403, 404, 403, 404),
    "read the history": (200, 200, 200, 404, 404, 404, 200, 404, 403, 404, 403, 404),
    "accounting of disclosures": (200, 200, 403, 404, 404, 404, 200, 404, 200, 404, 403, 404),
    "consents": (200, 200, 403, 404, 404, 404, 200, 404, 200, 404, 403, 404),
    "access log of the client": (403, 403, 403, 404, 404, 404, 200, 404, 200, 404, 403, 404),
    "access log": (403, 403, 403, 403, 403, 403, 200, 200, 200, 403, 403, 403),
    "replay": (403, 403, 403, 403, 403, 403, 403, 403, 200, 200, 403, 403),
    "break the glass": (403, 201, 403, 403, 403, 201, 403, 403, 403, 403, 403, 403),
    "caseload of the counselor": (200, 403, 403, 403, 403, 403, 200, 200, 403, 403, 403, 403),
    "caseloads of the program": (403, 403, 403, 403, 403, 403, 200, 403, 403, 403, 403, 403),
    "flags of the client": (200, 200, 200, 404, 404, 404, 200, 404, 403, 404, 403, 404),
    "audit trail of the client": (403, 403, 403, 404, 404, 404, 200, 404, 200, 404, 403, 404),
}
CASES = [
    (route, role, EXPECTED[route][index]) for route in ROUTES for index, role in enumerate(ROLES)
]


@pytest.fixture(scope="module")
def a_client(api: TestClient, runtime: Runtime) -> UUID:
    return enroll(api, runtime)


@pytest.fixture(scope="module")
def unknown_answer(api: TestClient, runtime: Runtime) -> dict[str, Any]:
    answer = api.get(f"/v1/clients/{uuid4()}", headers=headers(runtime, COUNSELOR))
    assert answer.status_code == 404
    body: dict[str, Any] = answer.json()
    return without_request_specifics(body)


@pytest.mark.parametrize(("route", "role", "status"), CASES, ids=[f"{r}|{p}" for r, p, _ in CASES])
def test_each_role_on_each_route(
    api: TestClient,
    runtime: Runtime,
    a_client: UUID,
    unknown_answer: dict[str, Any],
    route: str,
    role: str,
    status: int,
) -> None:
    # given a client of the program with a team (a fresh one where the call would open it)
    who = ROLES[role]
    action, call = ROUTES[route]
    client = enroll(api, runtime) if route == "break the glass" else a_client
    before = {row.entry_id for row in access_rows(runtime, who)}

    # when the role calls the route
    answer = call(api, runtime, who, client)

    # then the answer is as the table says
    assert answer.status_code == status, answer.text
    logged = [row for row in access_rows(runtime, who) if row.entry_id not in before]
    if status >= 400:
        problem = answer.json()
        # and a refusal is in the access log with its outcome
        assert [(r.entry.action, r.entry.outcome) for r in logged] == [
            (action, "not_found" if status == 404 else "denied")
        ]
        if status == 404:
            # and "no relationship" is word for word "no such client"
            assert without_request_specifics(problem) == unknown_answer
        else:
            assert problem["code"] == "forbidden"
            assert logged[0].entry.code == "forbidden"
    elif action not in ("enroll", "write_event"):
        # and every read is in the access log too
        assert logged, "an allowed read must be logged"
        assert {r.entry.outcome for r in logged} == {"allowed"}


def test_an_unknown_client_is_logged_as_not_found(api: TestClient, runtime: Runtime) -> None:
    nobody = uuid4()

    answer = api.get(f"/v1/clients/{nobody}/events", headers=headers(runtime, SUPERVISOR))

    assert answer.status_code == 404
    rows = access_rows(runtime, SUPERVISOR, nobody)
    assert [(r.entry.action, r.entry.outcome) for r in rows] == [("read_history", "not_found")]
