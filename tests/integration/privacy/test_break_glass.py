"""Break the glass: a crisis clinician with no relationship opens one client's record for a stated
reason and a limited time; it is recorded, visible in the trail, raises a review flag, expires."""

from __future__ import annotations

from uuid import UUID

from fastapi.testclient import TestClient

from services.app.disclosure import CONSENT_HEADER, NOTICE_HEADER
from services.wiring import Runtime, live_runner
from tests.integration.privacy.support import (
    AUDITOR,
    CRISIS,
    OTHER_ORG,
    PROGRAM_ORG,
    SUPERVISOR,
    access_rows,
    enroll,
    headers,
)
from tests.stories import COUNSELOR, Clock


def reads(api: TestClient, runtime: Runtime, client: UUID) -> int:
    return api.get(f"/v1/clients/{client}", headers=headers(runtime, CRISIS)).status_code


def break_glass(api: TestClient, runtime: Runtime, client: UUID, minutes: int = 30):
    return api.post(
        f"/v1/clients/{client}/break-glass",
        json={"reason": "found unresponsive, overdose suspected", "minutes": minutes},
        headers=headers(runtime, CRISIS),
    )


def test_break_the_glass_opens_the_record_for_its_time_then_closes_it(
    api: TestClient, runtime: Runtime, clock: Clock
) -> None:
    # given a Part 2 client the crisis clinician (another organization) has no relationship with
    client = enroll(api, runtime, part2=True)
    assert reads(api, runtime, client) == 404

    # when they break the glass for 30 minutes
    answer = break_glass(api, runtime, client, minutes=30)

    # then the record opens, as an emergency disclosure (42 CFR 2.51) with the notice
    assert answer.status_code == 201, answer.text
    opened = api.get(f"/v1/clients/{client}", headers=headers(runtime, CRISIS))
    assert opened.status_code == 200
    assert opened.headers[CONSENT_HEADER] == "emergency"
    assert NOTICE_HEADER in opened.headers
    assert opened.json()["disclosure"]["break_glass"] is True
    clock.advance(minutes=29)
    assert reads(api, runtime, client) == 200

    # and after the time is up it is closed again
    clock.advance(minutes=2)
    assert reads(api, runtime, client) == 404
    outcomes = [(r.entry.action, r.entry.outcome) for r in access_rows(runtime, CRISIS, client)]
    assert outcomes == [
        ("read_record", "not_found"),
        ("break_glass", "allowed"),
        ("read_record", "allowed"),
        ("read_record", "allowed"),
        ("read_record", "not_found"),
    ]
    assert access_rows(runtime, CRISIS, client)[1].entry.basis == "break_glass"


def test_break_the_glass_leaves_its_trail_and_a_review_flag_for_the_supervisor(
    api: TestClient, runtime: Runtime
) -> None:
    client = enroll(api, runtime)

    answer = break_glass(api, runtime, client)

    assert answer.status_code == 201
    flag_id = answer.json()["flag_id"]
    history = api.get(f"/v1/clients/{client}/events", headers=headers(runtime, SUPERVISOR)).json()[
        "items"
    ]
    invoked = [e for e in history if e["type"] == "BreakGlassInvoked"]
    flags = [e for e in history if e["type"] == "RiskFlagRaised"]
    assert len(invoked) == 1
    assert invoked[0]["actor"] == {
        "id": CRISIS.sub,
        "role": "crisis_clinician",
        "org": OTHER_ORG,
        "kind": "human",
    }
    assert invoked[0]["purpose_of_use"] == "emergency"
    assert invoked[0]["data"]["reason"] == "found unresponsive, overdose suspected"
    assert len(flags) == 1
    assert flags[0]["data"]["rule_id"] == "BTG-1"
    assert flags[0]["data"]["flag_id"] == flag_id
    assert flags[0]["data"]["evidence_event_ids"] == [invoked[0]["event_id"]]
    assert flags[0]["actor"]["kind"] == "rule"
    assert flags[0]["actor"]["org"] == PROGRAM_ORG
    record = api.get(f"/v1/clients/{client}", headers=headers(runtime, SUPERVISOR)).json()
    assert [f["rule_id"] for f in record["open_flags"]] == ["BTG-1"]
    # and once the read side caught up: in the audit trail and among the supervisor's flags
    live_runner(runtime).catch_up()
    trail = api.get(
        "/v1/audit", params={"client_id": str(client)}, headers=headers(runtime, AUDITOR)
    ).json()["items"]
    flags = api.get(
        "/v1/flags", params={"status": "open"}, headers=headers(runtime, SUPERVISOR)
    ).json()["items"]
    assert [(i["type"], i["actor"]["id"]) for i in trail if i["type"] == "BreakGlassInvoked"] == [
        ("BreakGlassInvoked", CRISIS.sub)
    ]
    assert flag_id in [f["flag_id"] for f in flags if f["client_id"] == str(client)]
    # and the supervisor closes the review like any flag
    ack = api.post(
        f"/v1/clients/{client}/events",
        json={
            "type": "RiskFlagResolved",
            "occurred_at": runtime.clock().isoformat(),
            "data": {"flag_id": flag_id, "note": "reviewed: justified"},
        },
        headers=headers(runtime, SUPERVISOR),
    )
    assert ack.status_code == 201, ack.text


def test_only_a_crisis_clinician_breaks_the_glass_and_only_for_so_long(
    api: TestClient, runtime: Runtime
) -> None:
    client = enroll(api, runtime)

    too_long = break_glass(
        api, runtime, client, minutes=runtime.settings.break_glass_max_minutes + 1
    )
    by_counselor = api.post(
        f"/v1/clients/{client}/break-glass",
        json={"reason": "curious", "minutes": 10},
        headers=headers(runtime, COUNSELOR),
    )
    sent_as_event = api.post(
        f"/v1/clients/{client}/events",
        json={
            "type": "BreakGlassInvoked",
            "occurred_at": runtime.clock().isoformat(),
            "data": {"reason": "backdoor", "minutes": 600},
        },
        headers=headers(runtime, COUNSELOR),
    )

    assert too_long.status_code == 422
    assert (by_counselor.status_code, by_counselor.json()["code"]) == (403, "forbidden")
    assert (sent_as_event.status_code, sent_as_event.json()["code"]) == (
        422,
        "event_not_recordable",
    )


def test_breaking_the_glass_for_a_discharged_client_leaves_no_flag(
    api: TestClient, runtime: Runtime
) -> None:
    client = enroll(api, runtime)
    api.post(
        f"/v1/clients/{client}/events",
        json={
            "type": "EpisodeClosed",
            "occurred_at": runtime.clock().isoformat(),
            "data": {"reason": "completed"},
        },
        headers=headers(runtime, COUNSELOR),
    )

    answer = break_glass(api, runtime, client)

    assert (answer.status_code, answer.json()["code"]) == (409, "episode_closed")
    history = api.get(f"/v1/clients/{client}/events", headers=headers(runtime, SUPERVISOR)).json()[
        "items"
    ]
    assert not [e for e in history if e["type"] in ("BreakGlassInvoked", "RiskFlagRaised")]
