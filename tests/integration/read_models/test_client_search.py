"""Staff find clients by name or id (`GET /v1/clients?q=`), only among those they serve; every
client shown is a logged read, and a stranger's client never appears (404 semantics)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.app.clients import NAMES
from services.wiring import Runtime, build_api
from tests.integration.read_models.support import ReadSide
from tests.stories import (
    COUNSELOR,
    PEER,
    Enrollee,
    Person,
    Story,
    parent_after_surgery,
    young_professional,
)

SUPERVISOR = Person("sup-dana", "supervisor", "harbor-counseling")
STRANGER = Person("counselor-kai", "counselor", "elm-street-clinic")
AUDITOR = Person("aud-ruth", "auditor", "state-oversight")


@pytest.fixture(scope="module")
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(build_api(runtime), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="module")
def told(api: TestClient, runtime: Runtime, read_side: ReadSide) -> dict[str, UUID]:
    """Jordan and Morgan in the harbor circle of care; Alex Vale at another clinic."""
    jordan = young_professional(Story(clock=read_side.clock))
    jordan.over_http(api, runtime.settings)
    morgan = parent_after_surgery(Story(clock=read_side.clock))
    morgan.over_http(api, runtime.settings)
    alex = Story(clock=read_side.clock).by(STRANGER).at(days=-5)
    alex.enrolled("Alex", "Vale").over_http(api, runtime.settings)
    read_side.settle()
    ids = {"jordan": jordan.client_id, "morgan": morgan.client_id, "alex": alex.client_id}
    return {name: client for name, client in ids.items() if client is not None}


def search(api: TestClient, runtime: Runtime, who: Person, q: str) -> Any:
    return api.get("/v1/clients", params={"q": q}, headers=who.headers(runtime.settings))


def names(api: TestClient, runtime: Runtime, who: Person, q: str) -> list[str]:
    answer = search(api, runtime, who, q)
    assert answer.status_code == 200, answer.text
    return [item["display_name"] for item in answer.json()["items"]]


def test_a_counselor_finds_their_client_by_part_of_the_name(
    api: TestClient, runtime: Runtime, told: dict[str, UUID]
) -> None:
    assert names(api, runtime, COUNSELOR, "jor") == ["Jordan Vale"]
    assert names(api, runtime, COUNSELOR, "VALE jordan") == ["Jordan Vale"]
    # Alex Vale is another clinic's client: the harbor counselor never sees them
    assert names(api, runtime, COUNSELOR, "vale") == ["Jordan Vale"]
    assert names(api, runtime, STRANGER, "vale") == ["Alex Vale"]


def test_by_id_a_client_appears_only_to_those_who_serve_them(
    api: TestClient, runtime: Runtime, told: dict[str, UUID]
) -> None:
    jordan = str(told["jordan"])
    assert names(api, runtime, COUNSELOR, jordan) == ["Jordan Vale"]
    assert names(api, runtime, STRANGER, jordan) == []
    # an id nobody enrolled answers exactly as a stranger's client does
    assert names(api, runtime, STRANGER, "00000000-0000-4000-8000-000000000000") == []


def test_a_supervisor_finds_the_clients_of_their_organization(
    api: TestClient, runtime: Runtime, told: dict[str, UUID]
) -> None:
    assert names(api, runtime, SUPERVISOR, "") == ["Morgan Reyes", "Jordan Vale"]


def test_a_part2_client_does_not_appear_to_another_organization_without_consent(
    api: TestClient, runtime: Runtime, told: dict[str, UUID]
) -> None:
    # the peer (harbor-peer) serves both; Morgan's Part 2 program is harbor-counseling's
    assert names(api, runtime, PEER, "") == ["Jordan Vale"]


def test_auditors_and_analysts_do_not_search_clients(
    api: TestClient, runtime: Runtime, told: dict[str, UUID]
) -> None:
    answer = search(api, runtime, AUDITOR, "vale")
    assert answer.status_code == 403
    assert answer.json()["code"] == "forbidden"


def test_every_client_shown_is_a_logged_read_and_a_strangers_lookup_a_logged_refusal(
    api: TestClient, runtime: Runtime, told: dict[str, UUID]
) -> None:
    log = runtime.privacy.access_log
    before = max((row.entry_id for row in log.entries(limit=100_000)), default=0)
    names(api, runtime, COUNSELOR, "jordan")
    names(api, runtime, STRANGER, str(told["jordan"]))

    rows = [row.entry for row in log.entries(after=before)]
    reads = [(r.actor_id, r.client_id, r.action, r.outcome) for r in rows if r.client_id]
    assert reads == [
        (COUNSELOR.sub, told["jordan"], "read_record", "allowed"),
        (STRANGER.sub, told["jordan"], "read_record", "not_found"),
    ]
    assert next(r for r in rows if r.client_id).data_classes == ("demographics",)
    assert [r.action for r in rows if r.client_id is None] == ["search_clients"] * 2


def test_the_enrollment_names_a_client_without_reading_the_whole_history(
    runtime: Runtime, told: dict[str, UUID]
) -> None:
    first = runtime.store.load_first([told["morgan"], told["alex"]])
    assert {c: r.event.type for c, r in first.items()} == {
        told["morgan"]: "ClientEnrolled",
        told["alex"]: "ClientEnrolled",
    }
    assert Enrollee("Morgan", "Reyes").given == first[told["morgan"]].event.data.given_name  # type: ignore[union-attr]


def test_an_erased_clients_name_leaves_every_cache_at_once_and_no_search_shows_it(
    api: TestClient, runtime: Runtime, read_side: ReadSide
) -> None:
    # given Quinn Marsh, found by name by the supervisor (the name decrypted and kept in memory)
    quinn = Story(clock=read_side.clock).by(COUNSELOR).at(days=-3)
    quinn.enrolled("Quinn", "Marsh").over_http(api, runtime.settings)
    read_side.settle()
    assert quinn.client_id is not None
    assert names(api, runtime, SUPERVISOR, "marsh") == ["Quinn Marsh"]
    assert quinn.client_id in NAMES.get([quinn.client_id])[0]

    # when an auditor asks for the erasure and the supervisor confirms it
    erasures = runtime.privacy.erasures
    code = erasures.request(AUDITOR.principal, quinn.client_id, "ticket PRIV-9")
    erasures.confirm(SUPERVISOR.principal, quinn.client_id, code)

    # then the erasure notice drops the cached name (no expiry to wait for) ...
    deadline = time.monotonic() + 5
    while quinn.client_id in NAMES.get([quinn.client_id])[0] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert NAMES.get([quinn.client_id]) == ({}, [quinn.client_id])
    # ... and no search shows the client, by name or by id
    assert names(api, runtime, SUPERVISOR, "marsh") == []
    assert names(api, runtime, SUPERVISOR, str(quinn.client_id)) == []
