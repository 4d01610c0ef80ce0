"""The analysts' replay holds no direct identifier of any client, its pseudonyms join across
events, it resumes from a position; auditors get the skeleton; nobody else gets it."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import orjson
import pytest
from fastapi.testclient import TestClient

from domain.enrollment import ClientEnrolled
from services.wiring import Runtime
from tests.integration.privacy.support import (
    AUDITOR,
    SUPERVISOR,
    access_rows,
    enroll,
    headers,
    record,
)
from tests.stories import ANALYST, COUNSELOR, PEER

PEOPLE = [
    ("Ysolde", "Marchbanks", "555-0161", date(1968, 11, 30)),
    ("Caspian", "Oyelaran", "555-0172", date(2001, 2, 17)),
    ("Brigid", "Faulconer", "555-0193", date(1994, 7, 8)),
]


@pytest.fixture(scope="module")
def clients(api: TestClient, runtime: Runtime) -> list[UUID]:
    made = []
    for given, family, phone, born in PEOPLE:
        client = enroll(api, runtime, given=given, family=family, phone=phone, birth_date=born)
        record(
            api,
            runtime,
            client,
            PEER,
            "CheckInRecorded",
            mood=3,
            craving=8,
            sleep_hours=3.5,
            used_since_last=True,
            substances=["alcohol"],
            note=f"{given} called from {family} street",
        )
        record(
            api,
            runtime,
            client,
            COUNSELOR,
            "SafetyPlanRecorded",
            warning_signs=["not sleeping"],
            coping_strategies=["walk outside"],
            reasons_for_living=[f"{given}'s kids"],
            crisis_lines=["988"],
        )
        made.append(client)
    return made


def replay(
    api: TestClient, runtime: Runtime, who: Any = ANALYST, **params: Any
) -> list[dict[str, Any]]:
    answer = api.get("/v1/replay", params=params, headers=headers(runtime, who))
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/x-ndjson")
    return [orjson.loads(line) for line in answer.content.splitlines() if line]


def identifiers_of_every_enrolled_client(runtime: Runtime) -> set[str]:
    found = set()
    for item in runtime.store.read(after=0, limit=1_000_000):
        if isinstance(item.event, ClientEnrolled):
            data = item.event.data
            found |= {data.given_name, data.family_name, data.birth_date.isoformat()}
            if data.phone:
                found.add(data.phone)
    return found


def test_the_analysts_replay_holds_no_direct_identifier(
    api: TestClient, runtime: Runtime, clients: list[UUID]
) -> None:
    # given every name, phone and birth date ever enrolled in this store
    identifiers = identifiers_of_every_enrolled_client(runtime)
    assert {"Ysolde", "Marchbanks", "555-0161", "1968-11-30"} <= identifiers

    # when an analyst replays everything
    answer = api.get("/v1/replay", params={"limit": 100_000}, headers=headers(runtime, ANALYST))

    # then none of them is in it, nor a client id, nor any free text
    text = answer.text
    assert answer.status_code == 200
    assert [i for i in identifiers if i in text] == []
    assert [str(c) for c in clients if str(c) in text] == []
    assert "street" not in text
    assert "kids" not in text


def test_pseudonyms_join_across_events_and_dates_keep_their_intervals(
    api: TestClient, runtime: Runtime, clients: list[UUID]
) -> None:
    rows = replay(api, runtime, limit=100_000)
    by_client: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_client.setdefault(row["client_id"], []).append(row)
    stored = {c: runtime.store.load(c) for c in clients}

    # each client's events carry one pseudonym, and as many as the store holds
    pseudonyms = {}
    for client, history in stored.items():
        enrolled = [
            r
            for r in rows
            if r["type"] == "ClientEnrolled" and r["position"] == history[0].position
        ]
        assert len(enrolled) == 1
        pseudonyms[client] = enrolled[0]["client_id"]
        assert len(by_client[pseudonyms[client]]) == len(history)
        shown = by_client[pseudonyms[client]]

        # intervals between a client's events are kept exactly
        def gap(a: dict[str, Any], b: dict[str, Any]) -> float:
            return (
                datetime.fromisoformat(b["occurred_at"]) - datetime.fromisoformat(a["occurred_at"])
            ).total_seconds()

        real = (history[-1].event.occurred_at - history[0].event.occurred_at).total_seconds()
        assert gap(shown[0], shown[-1]) == real
        assert shown[0]["occurred_at"] != history[0].event.occurred_at.isoformat()
    assert len(set(pseudonyms.values())) == len(clients)
    # a staff member is the same pseudonym as an actor and as an assigned member
    assigned = {r["data"]["member_id"] for r in rows if r["type"] == "CareTeamMemberAssigned"}
    peer_actor = {r["actor"]["id"] for r in rows if r["actor"]["role"] == "peer_specialist"}
    assert peer_actor
    assert peer_actor <= assigned
    assert not [r for r in rows if PEER.sub in orjson.dumps(r).decode()]
    # check-ins keep their scores, lose their note; safety plans become counts
    check_in = next(
        r
        for r in by_client[pseudonyms[clients[0]]]
        if r["type"] == "CheckInRecorded" and r["data"]["craving"] == 8
    )
    assert check_in["data"] == {
        "mood": 3,
        "craving": 8,
        "sleep_hours": 3.5,
        "used_since_last": True,
        "substances": ["alcohol"],
    }
    plan = next(r for r in by_client[pseudonyms[clients[0]]] if r["type"] == "SafetyPlanRecorded")
    assert plan["data"]["reasons_for_living_count"] == 1


def test_a_replay_resumes_after_the_last_position_read(
    api: TestClient, runtime: Runtime, clients: list[UUID]
) -> None:
    whole = replay(api, runtime, limit=100_000)
    first = replay(api, runtime, limit=5)
    rest = replay(api, runtime, after=first[-1]["position"], limit=100_000)

    assert [r["position"] for r in whole] == sorted(r["position"] for r in whole)
    assert first + rest == whole


def test_a_replay_of_some_types_only(
    api: TestClient, runtime: Runtime, clients: list[UUID]
) -> None:
    rows = replay(api, runtime, limit=100_000, types="CheckInRecorded,SessionHeld")

    assert rows
    assert {r["type"] for r in rows} == {"CheckInRecorded", "SessionHeld"}


def test_auditors_replay_the_skeleton_and_every_page_is_in_the_access_log(
    api: TestClient, runtime: Runtime, clients: list[UUID]
) -> None:
    rows = replay(api, runtime, AUDITOR, limit=100_000)

    assert rows
    assert all("data" not in r for r in rows)
    assert {r["client_id"] for r in rows} >= {str(c) for c in clients}
    logged = {
        r.entry.client_id for r in access_rows(runtime, AUDITOR) if r.entry.action == "replay"
    }
    assert set(clients) <= logged


@pytest.mark.parametrize("who", [COUNSELOR, SUPERVISOR, PEER])
def test_nobody_else_replays(api: TestClient, runtime: Runtime, who: Any) -> None:
    answer = api.get("/v1/replay", headers=headers(runtime, who))

    assert (answer.status_code, answer.json()["code"]) == (403, "forbidden")
