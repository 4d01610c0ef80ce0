"""The privacy tests' cast (beside the story's people) and calls (synthetic data only)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from services.adapters.access_log import LoggedAccess
from services.wiring import Runtime
from tests.stories import COUNSELOR, PEER, Clock, Person, Story, body

PROGRAM_ORG = "harbor-counseling"
PEER_ORG = "harbor-peer"
OTHER_ORG = "bayside-crisis"


PRESCRIBER = Person("rx-okafor", "prescriber", PROGRAM_ORG)
STRANGER = Person("counselor-zed", "counselor", PROGRAM_ORG)
CASE_MANAGER_ELSEWHERE = Person("cm-lee", "case_manager", OTHER_ORG)
CRISIS = Person("crisis-noor", "crisis_clinician", OTHER_ORG)
SUPERVISOR = Person("sup-ada", "supervisor", PROGRAM_ORG)
SUPERVISOR_ELSEWHERE = Person("sup-bo", "supervisor", OTHER_ORG)
AUDITOR = Person("aud-kim", "auditor", "privacy-office")
SERVICE = Person("ehr-bridge", "service", PROGRAM_ORG)
SERVICE_ELSEWHERE = Person("sms-gateway", "service", OTHER_ORG)


def headers(runtime: Runtime, person: Person, **extra: str) -> dict[str, str]:
    return person.headers(runtime.settings, **extra)


def post(api: TestClient, runtime: Runtime, person: Person, path: str, payload: Any) -> Any:
    return api.post(path, json=payload, headers=headers(runtime, person))


def record(
    api: TestClient, runtime: Runtime, client: UUID, person: Person, type_: str, **data: Any
) -> dict[str, Any]:
    """One event about `client`, sent by `person` at the runtime's clock."""
    payload = body(type_, runtime.clock(), **data)
    answer = post(api, runtime, person, f"/v1/clients/{client}/events", payload)
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def enroll(
    api: TestClient,
    runtime: Runtime,
    *,
    by: Person = COUNSELOR,
    team: tuple[Person, ...] = (PEER, PRESCRIBER),
    **enrollment: Any,
) -> UUID:
    """A client enrolled by `by`, with a care team, one check-in and one session with a note."""
    story = Story(Clock(runtime.clock())).by(by).enrolled(**enrollment).team(*team)
    story.check_in(5, 4, 6.5).session(
        "counseling", "telehealth", 50, note="worked on triggers at work"
    )
    story.over_http(api, runtime.settings)
    assert story.client_id is not None
    return story.client_id


def access_rows(runtime: Runtime, person: Person, client: UUID | None = None) -> list[LoggedAccess]:
    assert runtime.privacy is not None
    return runtime.privacy.access_log.entries(actor_id=person.sub, client_id=client, limit=1000)


def without_request_specifics(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem body minus what differs per request (the path and the correlation id)."""
    return {k: v for k, v in problem.items() if k not in ("instance", "correlation_id")}
