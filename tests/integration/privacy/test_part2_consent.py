"""A member of another organization reads a Part 2 client only under a consent that covers their
organization, the purpose of use and every data class read; each such read is a recorded
disclosure that carries the 42 CFR 2.32 notice; revocation and expiry close it again."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.app.disclosure import CONSENT_HEADER, NOTICE, NOTICE_HEADER, NOTICE_HEADER_TEXT
from services.wiring import Runtime, live_runner
from tests.integration.privacy.support import (
    AUDITOR,
    OTHER_ORG,
    PEER_ORG,
    SUPERVISOR,
    access_rows,
    enroll,
    headers,
    record,
)
from tests.stories import COUNSELOR, PEER, Clock, consent_terms, revocation


def grant(
    api: TestClient,
    runtime: Runtime,
    client: UUID,
    consent_id: str,
    *,
    org: str = PEER_ORG,
    purpose: str = "treatment",
    classes: tuple[str, ...] = ("all",),
    expires_in: timedelta | None = None,
) -> None:
    expires = runtime.clock() + (expires_in or timedelta(days=365))
    terms = consent_terms(consent_id, org, purposes=(purpose,), classes=classes, expires_at=expires)
    record(api, runtime, client, COUNSELOR, "ConsentGranted", **terms)


def peer_reads(
    api: TestClient, runtime: Runtime, client: UUID, path: str = "", **params: Any
) -> Any:
    extra = {"X-Purpose-Of-Use": params.pop("purpose")} if "purpose" in params else {}
    return api.get(
        f"/v1/clients/{client}{path}", params=params, headers=headers(runtime, PEER, **extra)
    )


def disclosures(api: TestClient, runtime: Runtime, client: UUID) -> list[dict[str, Any]]:
    answer = api.get(f"/v1/clients/{client}/disclosures", headers=headers(runtime, AUDITOR))
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


@pytest.fixture
def part2_client(api: TestClient, runtime: Runtime) -> UUID:
    # a client of a Part 2 program at harbor-counseling; the peer (harbor-peer) is on the team
    client = enroll(api, runtime, part2=True, program="opioid-treatment")
    record(
        api,
        runtime,
        client,
        COUNSELOR,
        "MedicationStarted",
        medication="buprenorphine",
        category="moud",
    )
    return client


def test_without_consent_another_organization_is_refused_and_logged(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    answer = peer_reads(api, runtime, part2_client)

    assert answer.status_code == 403
    assert answer.json()["code"] == "consent_required"
    assert NOTICE_HEADER not in answer.headers
    rows = access_rows(runtime, PEER, part2_client)
    assert [(r.entry.outcome, r.entry.code) for r in rows] == [("denied", "consent_required")]
    assert disclosures(api, runtime, part2_client) == []


def test_the_program_itself_reads_without_consent_and_without_disclosure(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    answer = api.get(f"/v1/clients/{part2_client}", headers=headers(runtime, COUNSELOR))

    assert answer.status_code == 200
    assert "disclosure" not in answer.json()
    assert disclosures(api, runtime, part2_client) == []


def test_a_consent_for_another_org_purpose_or_data_class_does_not_open_it(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    # given consents that each miss one thing
    grant(api, runtime, part2_client, "c-other-org", org=OTHER_ORG)
    grant(api, runtime, part2_client, "c-operations", purpose="operations")
    grant(api, runtime, part2_client, "c-medication", classes=("medication",))

    # when the peer reads for treatment: the record, a class not consented, the history
    whole = peer_reads(api, runtime, part2_client)
    check_ins = peer_reads(api, runtime, part2_client, data_class="check_in")
    history = peer_reads(api, runtime, part2_client, "/events")

    # then each is refused
    for answer in (whole, check_ins, history):
        assert answer.status_code == 403
        assert answer.json()["code"] == "consent_required"
    assert disclosures(api, runtime, part2_client) == []

    # and what IS covered opens, narrowed to it: medications for treatment, all for operations
    meds = peer_reads(api, runtime, part2_client, data_class="medication")
    assert meds.status_code == 200
    assert set(meds.json()) == {
        "client_id",
        "version",
        "position",
        "last_recorded_at",
        "medications",
        "disclosure",
    }
    assert meds.json()["disclosure"]["consent"]["consent_id"] == "c-medication"
    ops = peer_reads(api, runtime, part2_client, purpose="operations")
    assert ops.status_code == 200
    assert ops.headers[CONSENT_HEADER] == "c-operations"
    recorded = disclosures(api, runtime, part2_client)
    assert [(d["consent_id"], d["purpose"]) for d in recorded] == [
        ("c-medication", "treatment"),
        ("c-operations", "operations"),
    ]


def test_a_matching_consent_opens_the_record_with_the_notice_and_a_recorded_disclosure(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    # given the client's consent for the peer's organization, for treatment, all data
    grant(api, runtime, part2_client, "c-peer")

    # when the peer reads the record and the history
    answer = peer_reads(api, runtime, part2_client)
    history = peer_reads(api, runtime, part2_client, "/events")

    # then both answer with the redisclosure notice, in a header and in the body
    assert answer.status_code == 200, answer.text
    record_body = answer.json()
    assert answer.headers[NOTICE_HEADER] == NOTICE_HEADER_TEXT
    assert answer.headers[CONSENT_HEADER] == "c-peer"
    assert record_body["disclosure"]["notice"] == NOTICE
    assert record_body["disclosure"]["consent"]["recipient_org"] == PEER_ORG
    assert record_body["demographics"]["given_name"] == "Test"
    assert history.status_code == 200
    assert history.headers[NOTICE_HEADER] == NOTICE_HEADER_TEXT
    assert history.json()["disclosure"]["notice"] == NOTICE
    # and the counseling note is not disclosed (it needs its own consent), nor shown to a peer
    sessions = [i for i in history.json()["items"] if i["type"] == "SessionHeld"]
    assert sessions
    assert all("note" not in s["data"] for s in sessions)
    # and each read is a disclosure in the accounting, with recipient, purpose, classes, consent
    recorded = disclosures(api, runtime, part2_client)
    assert len(recorded) == 2
    assert {d["recipient_org"] for d in recorded} == {PEER_ORG}
    assert {d["recipient_id"] for d in recorded} == {PEER.sub}
    assert {d["consent_id"] for d in recorded} == {"c-peer"}
    assert "medication" in recorded[0]["data_classes"]
    rows = access_rows(runtime, PEER, part2_client)
    assert [r.entry.outcome for r in rows] == ["allowed", "allowed"]


def test_revocation_closes_it_again(api: TestClient, runtime: Runtime, part2_client: UUID) -> None:
    grant(api, runtime, part2_client, "c-peer")
    assert peer_reads(api, runtime, part2_client).status_code == 200

    record(api, runtime, part2_client, COUNSELOR, "ConsentRevoked", **revocation("c-peer"))
    answer = peer_reads(api, runtime, part2_client)

    assert answer.status_code == 403
    assert answer.json()["code"] == "consent_required"
    assert len(disclosures(api, runtime, part2_client)) == 1


def test_expiry_closes_it_again(
    api: TestClient, runtime: Runtime, clock: Clock, part2_client: UUID
) -> None:
    grant(api, runtime, part2_client, "c-hour", expires_in=timedelta(hours=1))
    assert peer_reads(api, runtime, part2_client).status_code == 200

    clock.advance(hours=2)
    answer = peer_reads(api, runtime, part2_client)

    assert answer.status_code == 403
    assert answer.json()["code"] == "consent_required"


def test_the_consent_state_as_of_a_past_date_is_reconstructed(
    api: TestClient, runtime: Runtime, clock: Clock, part2_client: UUID
) -> None:
    grant(api, runtime, part2_client, "c-then")
    clock.advance(minutes=10)
    while_in_force = runtime.clock()
    clock.advance(minutes=10)
    record(api, runtime, part2_client, COUNSELOR, "ConsentRevoked", **revocation("c-then"))
    clock.advance(minutes=1)

    def in_force(at: str | None) -> list[str]:
        params = {"at": at} if at else {}
        answer = api.get(
            f"/v1/clients/{part2_client}/consents",
            params=params,
            headers=headers(runtime, SUPERVISOR),
        )
        assert answer.status_code == 200, answer.text
        return [c["consent_id"] for c in answer.json()["in_force"]]

    assert in_force(while_in_force.isoformat()) == ["c-then"]
    assert in_force(None) == []


def test_a_caseload_row_of_a_part2_client_is_a_disclosure_too(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    def peers_caseload() -> list[str]:
        live_runner(runtime).catch_up()
        answer = api.get(f"/v1/caseloads/{PEER.sub}", headers=headers(runtime, PEER))
        assert answer.status_code == 200, answer.text
        return [row["client_id"] for row in answer.json()["clients"]]

    # the peer is on the team, but their organization has no consent: the row is left out
    assert str(part2_client) not in peers_caseload()
    grant(api, runtime, part2_client, "c-peer")
    assert str(part2_client) in peers_caseload()

    outcomes = [
        (r.entry.action, r.entry.outcome)
        for r in access_rows(runtime, PEER, part2_client)
        if r.entry.action == "read_caseload"
    ]
    assert outcomes == [("read_caseload", "denied"), ("read_caseload", "allowed")]
    (disclosed,) = disclosures(api, runtime, part2_client)
    assert disclosed["consent_id"] == "c-peer"
    assert "risk_flag" in disclosed["data_classes"]

    # and the answer carries the 42 CFR 2.32 notice once, naming the client and the consent
    answer = api.get(f"/v1/caseloads/{PEER.sub}", headers=headers(runtime, PEER))
    notice = answer.json()["disclosure"]
    assert notice["notice"] == NOTICE
    covered = {c["client_id"]: c for c in notice["clients"]}
    assert str(part2_client) in covered  # (other Part 2 clients of this module's tests too)
    assert set(covered) <= {row["client_id"] for row in answer.json()["clients"]}
    assert covered[str(part2_client)]["consent"]["consent_id"] == "c-peer"
    assert answer.headers[NOTICE_HEADER] == NOTICE_HEADER_TEXT
    assert "c-peer" in answer.headers[CONSENT_HEADER].split(",")
