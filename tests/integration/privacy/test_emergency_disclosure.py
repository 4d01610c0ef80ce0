"""Break the glass as 42 CFR 2.51 has it, on the real stack: the grant documents the person
making the disclosure, the recipient by name and affiliation and the nature of the emergency;
it opens only the data classes an emergency needs, for 60 minutes by default; each read under it
is a disclosure naming it; who may invoke is the program's setting; the same emergency again
extends nothing."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from services.wiring import Runtime, break_glass_policy
from tests.integration.privacy.support import (
    CASE_MANAGER_ELSEWHERE,
    CRISIS,
    OTHER_ORG,
    PROGRAM_ORG,
    SUPERVISOR,
    enroll,
    headers,
)
from tests.stories import Clock, Person

PRESCRIBER_ELSEWHERE = Person("rx-vale", "prescriber", OTHER_ORG)
EMERGENCY = "found unresponsive in the lobby, opioid overdose suspected"


def invoke(api: TestClient, runtime: Runtime, client: UUID, who: Person = CRISIS, **body: Any):
    return api.post(
        f"/v1/clients/{client}/break-glass",
        json={"reason": EMERGENCY, **body},
        headers=headers(runtime, who),
    )


def history(api: TestClient, runtime: Runtime, client: UUID) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/clients/{client}/events", headers=headers(runtime, SUPERVISOR))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


def test_the_grant_documents_who_disclosed_to_whom_and_the_emergency(
    api: TestClient, runtime: Runtime
) -> None:
    # given a Part 2 client of another program
    client = enroll(api, runtime, part2=True)

    # when a crisis clinician breaks the glass for the emergency physician who treats them
    answer = invoke(
        api, runtime, client, recipient_name="Dr. Ines Vale", recipient_affiliation="Bayside ED"
    )

    # then the grant names the person making the disclosure (the clinician of the token), the
    # recipient by name and affiliation, the nature of the emergency, 60 minutes by default
    assert answer.status_code == 201, answer.text
    granted = answer.json()
    assert (granted["disclosed_by"], granted["recipient_name"]) == (CRISIS.sub, "Dr. Ines Vale")
    assert granted["recipient_affiliation"] == "Bayside ED"
    assert granted["minutes"] == 60
    assert datetime.fromisoformat(granted["until"]) == runtime.clock() + timedelta(minutes=60)
    assert granted["data_classes"] == ["care_team", "crisis", "medication", "safety_plan"]
    invoked = [e for e in history(api, runtime, client) if e["type"] == "BreakGlassInvoked"]
    assert len(invoked) == 1
    data = invoked[0]["data"]
    assert data["reason"] == EMERGENCY
    assert data["disclosed_by"] == {
        "id": CRISIS.sub,
        "role": "crisis_clinician",
        "org": OTHER_ORG,
        "kind": "human",
    }
    assert data["disclosed_to"] == {
        "name": "Dr. Ines Vale",
        "affiliation": "Bayside ED",
        "id": None,
    }


def test_the_grant_opens_the_emergency_classes_only_and_each_read_names_it(
    api: TestClient, runtime: Runtime
) -> None:
    # given a Part 2 client with check-ins, a counseling session and a care team
    client = enroll(api, runtime, part2=True)
    grant = invoke(api, runtime, client).json()

    # when the crisis clinician reads the record and the history under the grant
    record = api.get(f"/v1/clients/{client}", headers=headers(runtime, CRISIS))
    events = api.get(f"/v1/clients/{client}/events", headers=headers(runtime, CRISIS))

    # then only the emergency's classes show: the care team, not check-ins, sessions or the name
    assert record.status_code == 200, record.text
    shown = record.json()
    assert "care_team" in shown
    for masked in ("last_check_in", "sessions_count", "demographics", "assessments"):
        assert masked not in shown
    assert shown["disclosure"]["break_glass"] is True
    types = {e["type"] for e in events.json()["items"]}
    assert "CareTeamMemberAssigned" in types
    assert not types & {"CheckInRecorded", "SessionHeld", "ClientEnrolled"}
    # and each read is a disclosure naming the grant, the recipient and the classes shown
    disclosures = [e for e in history(api, runtime, client) if e["type"] == "DisclosureMade"]
    assert len(disclosures) == 2
    for disclosure in disclosures:
        assert disclosure["data"]["grant_id"] == grant["event_id"]
        assert disclosure["data"]["recipient_name"] == CRISIS.sub
        assert disclosure["data"]["recipient_affiliation"] == OTHER_ORG
        assert disclosure["data"]["purpose"] == "emergency"
        assert set(disclosure["data"]["data_classes"]) <= {
            "care_team",
            "crisis",
            "medication",
            "safety_plan",
        }


def test_the_same_emergency_again_extends_nothing_and_a_new_one_is_a_new_grant(
    api: TestClient, runtime: Runtime, clock: Clock
) -> None:
    client = enroll(api, runtime, part2=True)
    first = invoke(api, runtime, client, minutes=30).json()
    clock.advance(minutes=20)

    # when the clinician states the same emergency again (other case and blanks)
    again = invoke(api, runtime, client, reason=f"  {EMERGENCY.upper()} ", minutes=60)

    # then it is refused with its code, and the first grant still ends when it did
    assert (again.status_code, again.json()["code"]) == (409, "break_glass_running")
    assert first["event_id"] in again.json()["detail"]
    clock.advance(minutes=11)
    assert api.get(f"/v1/clients/{client}", headers=headers(runtime, CRISIS)).status_code == 404
    # and while a grant runs, a new emergency is a grant of its own
    renewed = invoke(api, runtime, client)
    other = invoke(api, runtime, client, reason="second overdose in the car park")
    assert renewed.status_code == 201, renewed.text
    assert other.status_code == 201, other.text
    invoked = [e for e in history(api, runtime, client) if e["type"] == "BreakGlassInvoked"]
    assert len(invoked) == 3


def test_who_may_break_the_glass_is_the_programs_setting(api: TestClient, runtime: Runtime) -> None:
    client = enroll(api, runtime, part2=True)
    assert runtime.privacy is not None
    gate = runtime.privacy.gate
    default = gate.break_glass

    # by default: crisis clinicians and prescribers; a case manager is 403 forbidden
    by_case_manager = invoke(api, runtime, client, who=CASE_MANAGER_ELSEWHERE)
    assert (by_case_manager.status_code, by_case_manager.json()["code"]) == (403, "forbidden")
    assert invoke(api, runtime, client, who=PRESCRIBER_ELSEWHERE).status_code == 201

    # when the program names crisis clinicians only (CARE_BREAK_GLASS_ROLES_BY_ORG)
    gate.break_glass = break_glass_policy(
        runtime.settings.model_copy(
            update={"break_glass_roles_by_org": {PROGRAM_ORG: ["crisis_clinician"]}}
        )
    )
    try:
        refused = invoke(api, runtime, client, who=PRESCRIBER_ELSEWHERE, reason="another one")
        allowed = invoke(api, runtime, client, who=CRISIS)
    finally:
        gate.break_glass = default

    # then the prescriber (related through their running grant) is refused; the crisis
    # clinician may
    assert (refused.status_code, refused.json()["code"]) == (403, "forbidden")
    assert allowed.status_code == 201, allowed.text
