"""The 42 CFR 2.32 notice on every route: walked through the app's own OpenAPI document as
members of another organization (a peer specialist on the care team, and the supervisor of
their organization), every answer that serves a Part 2 client's data carries the notice (the
`X-Redisclosure-Notice` header and the full statement in the body), and without a consent no
answer serves it at all. A new route fails here until the walk knows how to call it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import UUID, uuid4

import httpx
import pytest
from fastapi.testclient import TestClient

from interop.fhir_codes import REDISCLOSURE_NOTICE
from services.app.disclosure import NOTICE, NOTICE_HEADER, NOTICE_HEADER_TEXT
from services.wiring import Runtime, evaluator, live_runner
from tests.integration.privacy.support import PEER_ORG, PRESCRIBER, headers, record
from tests.stories import COUNSELOR, PEER, Clock, Person, Story, body, check_in_data, consent_terms

PEER_SUPERVISOR = Person("sup-pia", "supervisor", PEER_ORG)
YES, NO = True, False

# What each operation is called with beyond its path (the walk fails on one it does not know).
BODIES: dict[tuple[str, str], Any] = {
    ("POST", "/v1/clients"): "enrollment",
    ("POST", "/v1/clients/{client_id}/events"): "check_in",
    ("POST", "/v1/clients/{client_id}/break-glass"): {"reason": "overdose on scene", "minutes": 30},
    ("POST", "/v1/flags/{flag_id}/acknowledge"): {"note": "calling now"},
    ("POST", "/v1/flags/{flag_id}/resolve"): {"note": "seen today, safe"},
    ("POST", "/v1/clients/{client_id}/disclosures/provided"): {"provided_to": "patient"},
}


# The disclosing routes each caller reaches under the consent (the walk must reach them).
REACHED = {
    "peer_specialist": {
        "GET /v1/clients",
        "GET /v1/clients/{client_id}",
        "GET /v1/clients/{client_id}/events",
        "GET /v1/clients/{client_id}/fhir",
        "GET /v1/caseloads/{member_id}",
        "GET /v1/flags",
    },
    "supervisor": {
        "GET /v1/clients/{client_id}",
        "GET /v1/audit",
        "GET /v1/access-log",
        "GET /v1/clients/{client_id}/consents",
    },
}


@dataclass(frozen=True)
class Seeded:
    """A Part 2 client of harbor-counseling with the peer (harbor-peer) on the team, a flag."""

    client_id: UUID
    given: str
    family: str
    flag_id: str


def seed(api: TestClient, runtime: Runtime, given: str, family: str, *, consent: bool) -> Seeded:
    story = Story(Clock(runtime.clock())).by(COUNSELOR)
    story.enrolled(given, family, part2=True, program="opioid-treatment").team(PEER, PRESCRIBER)
    story.check_in(4, 8, 4.0, note="craving after the funeral")
    story.assessment("C-SSRS-SCREEN", [YES, YES, NO, YES, NO, NO])
    story.over_http(api, runtime.settings)
    client = story.client_id
    assert client is not None
    if consent:
        terms = consent_terms(f"c-{family.lower()}", PEER_ORG)
        record(api, runtime, client, COUNSELOR, "ConsentGranted", **terms)
    live_runner(runtime).catch_up()
    evaluator(runtime).sweep()
    live_runner(runtime).catch_up()
    flags = api.get(
        "/v1/flags", params={"client_id": str(client)}, headers=headers(runtime, COUNSELOR)
    )
    assert flags.status_code == 200, flags.text
    assert flags.json()["items"], "the C-SSRS screen raises a flag"
    return Seeded(client, given, family, flags.json()["items"][0]["flag_id"])


@pytest.fixture(scope="module")
def with_consent(api: TestClient, runtime: Runtime) -> Seeded:
    return seed(api, runtime, "Quillon", "Ashgrove", consent=True)


@pytest.fixture(scope="module")
def without_consent(api: TestClient, runtime: Runtime) -> Seeded:
    return seed(api, runtime, "Perpetua", "Vanterpool", consent=False)


def operations(api: TestClient) -> Iterator[tuple[str, str, dict[str, Any]]]:
    document = api.app.openapi()  # type: ignore[attr-defined]
    for path, item in document["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def call(
    api: TestClient,
    runtime: Runtime,
    who: Person,
    seeded: Seeded,
    method: str,
    path: str,
    operation: dict[str, Any],
) -> httpx.Response:
    """One operation as `who`, about the seeded client wherever it takes one."""
    fill = {
        "client_id": str(seeded.client_id),
        "flag_id": seeded.flag_id,
        "member_id": PEER.sub,
        "org": who.org,
        "q": seeded.family,
    }
    url = path.format(**{k: fill[k] for k in fill if "{" + k + "}" in path})
    params = {
        p["name"]: fill[p["name"]]
        for p in operation.get("parameters", [])
        if p["in"] == "query" and p["name"] in fill
    }
    if method == "GET":
        return api.get(url, params=params, headers=headers(runtime, who))
    given = BODIES[(method, path)]
    if given == "enrollment":
        payload: Any = Story(Clock(runtime.clock())).enrolled().last
    elif given == "check_in":
        payload = body("CheckInRecorded", runtime.clock(), **check_in_data(6, 3, 7))
    else:
        payload = {**given, "event_id": str(uuid4())} if "note" in given else given
    return api.request(method, url, params=params, json=payload, headers=headers(runtime, who))


def carries_the_notice(answer: httpx.Response) -> bool:
    if answer.headers.get(NOTICE_HEADER) != NOTICE_HEADER_TEXT or NOTICE not in answer.text:
        return False
    if answer.headers.get("content-type", "").startswith("application/fhir+json"):
        meta = json.loads(answer.text).get("meta", {})
        return any(e.get("url") == REDISCLOSURE_NOTICE for e in meta.get("extension", []))
    return True


def test_the_walk_knows_every_operation(api: TestClient) -> None:
    writes = {(m, p) for m, p, _ in operations(api) if m != "GET"}
    assert writes == set(BODIES), "a new write route: tell the walk how to call it"


@pytest.mark.parametrize("who", [PEER, PEER_SUPERVISOR], ids=["peer", "peer's supervisor"])
def test_every_answer_serving_part2_data_to_another_organization_carries_the_notice(
    api: TestClient, runtime: Runtime, with_consent: Seeded, who: Person
) -> None:
    served, missing = [], []
    for method, path, operation in operations(api):
        answer = call(api, runtime, who, with_consent, method, path, operation)
        assert answer.status_code < 500, (method, path, answer.text)
        # a read that names the client, or any answer that shows their name
        shows = answer.is_success and (
            with_consent.given in answer.text
            or with_consent.family in answer.text
            or (method == "GET" and str(with_consent.client_id) in answer.text)
        )
        if shows:
            served.append(f"{method} {path}")
            if not carries_the_notice(answer):
                missing.append(f"{method} {path}")
    assert missing == []
    assert REACHED[who.role] <= set(served)  # the walk did reach the disclosing routes


@pytest.mark.parametrize("who", [PEER, PEER_SUPERVISOR], ids=["peer", "peer's supervisor"])
def test_without_a_consent_no_answer_serves_the_part2_client(
    api: TestClient, runtime: Runtime, without_consent: Seeded, who: Person
) -> None:
    served = []
    for method, path, operation in operations(api):
        answer = call(api, runtime, who, without_consent, method, path, operation)
        assert answer.status_code < 500, (method, path, answer.text)
        named = without_consent.given in answer.text or without_consent.family in answer.text
        about = method == "GET" and str(without_consent.client_id) in answer.text
        if answer.is_success and (named or about):
            served.append(f"{method} {path}")
    assert served == []


def test_a_flag_row_of_a_part2_client_for_another_organization_carries_the_notice(
    api: TestClient, runtime: Runtime, with_consent: Seeded
) -> None:
    # when the peer lists their flags, and the flags of the one client
    client = str(with_consent.client_id)
    for params in ({}, {"client_id": client}):
        answer = api.get("/v1/flags", params=params, headers=headers(runtime, PEER))
        assert answer.status_code == 200, answer.text
        rows = [row for row in answer.json()["items"] if row["client_id"] == client]

        # then the row is there, and the answer carries the notice naming the client and consent
        assert rows
        notice = answer.json()["disclosure"]
        assert notice["notice"] == NOTICE
        covered = {c["client_id"]: c for c in notice["clients"]}
        assert covered[client]["consent"]["consent_id"] == "c-ashgrove"
        assert answer.headers[NOTICE_HEADER] == NOTICE_HEADER_TEXT
