"""The read side over HTTP (docs/projections.md): caseloads, flags and the audit trail, with
`min_position` for read-your-writes, on real PostgreSQL with the projection worker running."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient

from services.app.read_side import ProjectionWorker
from services.wiring import Runtime, build_api, evaluator, live_runner
from tests.integration.http_support import bearer
from tests.integration.read_models.support import Client, ReadSide
from tests.unit import builders as b

SUPERVISOR = ("sup-1", "supervisor", "harbor-clinic")


@pytest.fixture(scope="module")
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(build_api(runtime), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def worker(runtime: Runtime) -> Iterator[None]:
    """The projections worker, as `carecircle worker projections` runs it, in a thread."""
    stop = threading.Event()
    thread = threading.Thread(
        target=ProjectionWorker(live_runner(runtime), evaluator(runtime), poll_seconds=0.2).run,
        args=(stop,),
        daemon=True,
    )
    thread.start()
    yield
    stop.set()
    thread.join(timeout=10)


def get(
    api: TestClient, runtime: Runtime, path: str, who: tuple[str, ...] = SUPERVISOR, **params: Any
) -> Any:
    response = api.get(path, params=params, headers=bearer(runtime.settings, *who))
    assert response.status_code == 200, response.text
    return response.json()


def test_a_members_caseload_shows_role_contacts_next_touchpoint_flags_and_handoffs(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    member = f"counselor-{uuid4().hex[:8]}"
    client = Client.enrolled(read_side, member_id=member, role="counselor", org="harbor-clinic")
    start = read_side.clock()
    client.record(b.check_in_plan_set, 24)
    client.record(b.session_held, actor=b.a_counselor(member))
    client.record(b.appointment_scheduled, "a1", scheduled_for=start + timedelta(hours=6))
    client.record(b.handoff_initiated, "h1", actor=b.a_counselor(member))
    read_side.clock.advance(minutes=5)
    last = client.record(b.phq9, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    read_side.settle()

    body = get(api, runtime, f"/v1/caseloads/{member}", min_position=runtime.store.head())

    (row,) = body["clients"]
    assert body["member_id"] == member
    assert row["client_id"] == str(client.client_id)
    assert row["role"] == "counselor"
    assert row["next_due_at"].startswith((start + timedelta(hours=6)).isoformat()[:19])
    assert row["last_contact_at"].startswith(read_side.clock().isoformat()[:19])  # the PHQ-9
    assert row["last_contact_by_member_at"].startswith(start.isoformat()[:19])
    assert (row["open_flags"], row["highest_severity"]) == (1, "high")
    assert (row["open_handoffs"], row["open_handoffs_out"], row["open_handoffs_in"]) == (1, 1, 0)
    assert last is not None


def test_an_organizations_caseloads_count_clients_and_overdue_touchpoints_per_member(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    org = f"org-{uuid4().hex[:8]}"
    member = f"peer-{uuid4().hex[:8]}"
    due, not_due = (
        Client.enrolled(read_side, member_id=member, role="peer_specialist", org=org)
        for _ in range(2)
    )
    due.record(b.check_in_plan_set, 24)
    not_due.record(b.check_in_plan_set, 24 * 7)
    read_side.clock.advance(hours=25)
    read_side.settle()

    org_supervisor = ("sup-2", "supervisor", org)  # a supervisor reads their own organization
    body = get(
        api, runtime, f"/v1/orgs/{org}/caseloads", org_supervisor, min_position=runtime.store.head()
    )

    assert body == {
        "org": org,
        "members": [
            {"member_id": member, "role": "peer_specialist", "client_count": 2, "overdue_count": 1}
        ],
    }


def test_flags_are_read_by_client_member_org_severity_and_status_and_acknowledged(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    member = f"counselor-{uuid4().hex[:8]}"
    client = Client.enrolled(read_side, member_id=member, role="counselor", org="harbor-clinic")
    evidence = client.record(b.phq9, 0, 0, 0, 0, 0, 0, 0, 0, 1)
    read_side.settle()
    head = runtime.store.head()

    by_client = get(api, runtime, "/v1/flags", client_id=str(client.client_id), min_position=head)
    by_member = get(api, runtime, "/v1/flags", member_id=member, status="open")
    none_low = get(api, runtime, "/v1/flags", member_id=member, severity="low")
    (flag,) = by_client["items"]
    assert by_member["items"] == [flag]
    assert none_low["items"] == []
    assert flag["rule_id"] == "SUI-1"
    assert flag["rule_version"] == 1
    assert flag["status"] == "open"
    assert flag["severity"] == "high"
    assert flag["evidence_event_ids"] == [str(evidence)]
    assert {"flag_id", "client_id", "raised_at", "reason"} <= set(flag)

    acknowledged = api.post(
        f"/v1/flags/{flag['flag_id']}/acknowledge",
        json={"note": "called the client"},
        headers=bearer(runtime.settings, member, "counselor", "harbor-clinic"),
    )
    assert acknowledged.status_code == 201, acknowledged.text
    read_side.settle()
    after = get(
        api,
        runtime,
        "/v1/flags",
        org="harbor-clinic",
        client_id=str(client.client_id),
        min_position=acknowledged.json()["position"],
    )
    assert [f["status"] for f in after["items"]] == ["acknowledged"]
    unknown = api.post(
        "/v1/flags/no-such-flag/acknowledge", headers=bearer(runtime.settings, *SUPERVISOR)
    )
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")


def test_the_audit_trail_pages_a_clients_events_in_order_with_actor_and_hash(
    read_side: ReadSide, api: TestClient, runtime: Runtime
) -> None:
    client = Client.enrolled(read_side)
    for craving in (1, 2, 3):
        client.record(b.check_in, craving=craving)
    read_side.settle()

    first = get(api, runtime, "/v1/audit", client_id=str(client.client_id), limit=3)
    rest = get(api, runtime, "/v1/audit", client_id=str(client.client_id), after=first["next"])
    by_peer = get(api, runtime, "/v1/audit", client_id=str(client.client_id), actor_id="peer-17")

    items = first["items"] + rest["items"]
    assert [i["type"] for i in items] == [
        "ClientEnrolled",
        "EpisodeOpened",
        "CareTeamMemberAssigned",
        "CheckInRecorded",
        "CheckInRecorded",
        "CheckInRecorded",
    ]
    assert rest["next"] is None
    positions = [i["position"] for i in items]
    assert positions == sorted(positions)
    assert items[3]["actor"] == {
        "id": "peer-17",
        "role": "peer_specialist",
        "org": "harbor-peer",
        "kind": "human",
    }
    assert all(len(i["hash"]) == 64 for i in items)
    assert len(by_peer["items"]) == 3


def test_min_position_answers_once_caught_up_and_refuses_a_position_no_write_answered(
    worker: None, api: TestClient, runtime: Runtime, read_side: ReadSide
) -> None:
    client = Client.enrolled(read_side)
    outcome = read_side.record(
        b.check_in(client_id=client.client_id, occurred_at=read_side.clock(), craving=4)
    )

    fresh = get(
        api, runtime, "/v1/audit", client_id=str(client.client_id), min_position=outcome.position
    )
    ahead = api.get(
        "/v1/caseloads/anyone",
        params={"min_position": outcome.position + 1_000_000},
        headers=bearer(runtime.settings, *SUPERVISOR),
    )

    assert fresh["items"][-1]["position"] == outcome.position
    # beyond the store's head: the caller's mistake (422), not the read models' lag (503)
    assert ahead.status_code == 422
    assert ahead.json()["code"] == "validation_error"


def test_read_routes_need_a_token(api: TestClient) -> None:
    for path in ("/v1/caseloads/x", "/v1/orgs/x/caseloads", "/v1/flags", "/v1/audit"):
        assert api.get(path).status_code == 401
