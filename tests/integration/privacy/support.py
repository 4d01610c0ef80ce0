"""People, bodies and calls for the privacy tests (synthetic data only)."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from fastapi.testclient import TestClient

from services.adapters.access_log import LoggedAccess
from services.adapters.tokens import Principal
from services.wiring import Runtime
from tests.integration.http_support import bearer

PROGRAM_ORG = "harbor-counseling"
PEER_ORG = "harbor-peer"
OTHER_ORG = "bayside-crisis"


class Clock:
    """A clock the test moves; the runtime stamps recorded_at and judges expiry with it."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


@dataclass(frozen=True)
class Person:
    sub: str
    role: str
    org: str

    @property
    def principal(self) -> Principal:
        return Principal(self.sub, self.role, self.org)


COUNSELOR = Person("counselor-ines", "counselor", PROGRAM_ORG)
PRESCRIBER = Person("rx-okafor", "prescriber", PROGRAM_ORG)
PEER = Person("peer-sam", "peer_specialist", PEER_ORG)
STRANGER = Person("counselor-zed", "counselor", PROGRAM_ORG)
CASE_MANAGER_ELSEWHERE = Person("cm-lee", "case_manager", OTHER_ORG)
CRISIS = Person("crisis-noor", "crisis_clinician", OTHER_ORG)
SUPERVISOR = Person("sup-ada", "supervisor", PROGRAM_ORG)
SUPERVISOR_ELSEWHERE = Person("sup-bo", "supervisor", OTHER_ORG)
AUDITOR = Person("aud-kim", "auditor", "privacy-office")
ANALYST = Person("ana-eli", "analyst", "research-unit")
SERVICE = Person("ehr-bridge", "service", PROGRAM_ORG)
SERVICE_ELSEWHERE = Person("sms-gateway", "service", OTHER_ORG)


def headers(runtime: Runtime, person: Person, **extra: str) -> dict[str, str]:
    return {**bearer(runtime.settings, person.sub, person.role, person.org), **extra}


def iso(moment: datetime) -> str:
    return moment.isoformat()


def body(type_: str, occurred_at: datetime, **data: Any) -> dict[str, Any]:
    return {"event_id": str(uuid4()), "type": type_, "occurred_at": iso(occurred_at), "data": data}


def enrollment_body(
    occurred_at: datetime,
    *,
    given: str = "Test",
    family: str = "Client",
    phone: str = "555-0100",
    birth_date: date = date(1990, 1, 1),
    part2: bool = False,
    program: str = "outpatient-sud",
) -> dict[str, Any]:
    return body(
        "ClientEnrolled",
        occurred_at,
        program=program,
        part2=part2,
        given_name=given,
        family_name=family,
        birth_date=birth_date.isoformat(),
        phone=phone,
    )


def post(api: TestClient, runtime: Runtime, person: Person, path: str, payload: Any) -> Any:
    return api.post(path, json=payload, headers=headers(runtime, person))


def record(
    api: TestClient, runtime: Runtime, client: UUID, person: Person, type_: str, **data: Any
) -> dict[str, Any]:
    now = runtime.clock()
    answer = post(api, runtime, person, f"/v1/clients/{client}/events", body(type_, now, **data))
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
    answer = post(api, runtime, by, "/v1/clients", enrollment_body(runtime.clock(), **enrollment))
    assert answer.status_code == 201, answer.text
    client = UUID(answer.json()["client_id"])
    for member in team:
        record(
            api,
            runtime,
            client,
            by,
            "CareTeamMemberAssigned",
            member_id=member.sub,
            role=member.role,
            org=member.org,
        )
    record(
        api,
        runtime,
        client,
        by,
        "CheckInRecorded",
        mood=5,
        craving=4,
        sleep_hours=6.5,
        used_since_last=False,
    )
    record(
        api,
        runtime,
        client,
        by,
        "SessionHeld",
        kind="counseling",
        modality="telehealth",
        minutes=50,
        note="worked on triggers at work",
    )
    return client


def access_rows(runtime: Runtime, person: Person, client: UUID | None = None) -> list[LoggedAccess]:
    assert runtime.privacy is not None
    return runtime.privacy.access_log.entries(actor_id=person.sub, client_id=client, limit=1000)


def without_request_specifics(problem: dict[str, Any]) -> dict[str, Any]:
    """A problem body minus what differs per request (the path and the correlation id)."""
    return {k: v for k, v in problem.items() if k not in ("instance", "correlation_id")}
