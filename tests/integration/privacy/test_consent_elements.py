"""A Part 2 consent as 42 CFR 2.31 (2024) writes it, on the real stack: a new consent lacking an
element is refused with that element's code; counseling notes take a consent of their own; a
consent that expires on discharge ends at the `EpisodeClosed`; a written revocation closes the
record at once; the consents read back as the signed form."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from services.wiring import Runtime
from tests.integration.privacy.support import PEER_ORG, SUPERVISOR, enroll, headers, record
from tests.stories import CASE_MANAGER, COUNSELOR, PEER, body, consent_terms, revocation


@pytest.fixture
def part2_client(api: TestClient, runtime: Runtime) -> UUID:
    # a Part 2 client of harbor-counseling; the peer (harbor-peer) is on the care team
    return enroll(api, runtime, part2=True, program="opioid-treatment")


def grant(api: TestClient, runtime: Runtime, client: UUID, terms: dict[str, Any]) -> Any:
    return api.post(
        f"/v1/clients/{client}/events",
        json=body("ConsentGranted", runtime.clock(), **terms),
        headers=headers(runtime, COUNSELOR),
    )


def peer_reads(api: TestClient, runtime: Runtime, client: UUID) -> Any:
    return api.get(f"/v1/clients/{client}", headers=headers(runtime, PEER))


MISSING: dict[str, tuple[dict[str, Any], str]] = {
    # element left out: (what changes, the code it is refused with)
    "2.31(a)(2) who may disclose": (
        {"disclosing_party": None},
        "consent_disclosing_party_required",
    ),
    "2.31(a)(4) recipients": ({"recipients": []}, "consent_recipients_required"),
    "2.31(a)(5) purposes": ({"purposes": []}, "consent_purposes_required"),
    "2.31(a)(5) other purpose's text": ({"purposes": ["other"]}, "consent_purpose_text_required"),
    "2.31(a)(6) how to revoke": (
        {"revocation_instructions": None},
        "consent_revocation_instructions_required",
    ),
    "2.31(a)(7) expiry": ({"expires_at": None}, "consent_expiry_required"),
    "2.31(a)(8) signer": ({"signed_by": None}, "consent_signature_required"),
    "2.31(a)(8) representative's authority": (
        {"signed_by": "representative"},
        "consent_representative_authority_required",
    ),
    "2.31(a)(9) date signed": ({"signed_on": None}, "consent_signed_on_required"),
}


@pytest.mark.parametrize("element", list(MISSING))
def test_a_consent_without_an_element_is_refused_with_its_code(
    api: TestClient, runtime: Runtime, part2_client: UUID, element: str
) -> None:
    change, code = MISSING[element]
    terms = {**consent_terms("c-missing", PEER_ORG), **change}

    answer = grant(api, runtime, part2_client, terms)

    assert answer.status_code == 422, answer.text
    assert answer.json()["code"] == code
    assert peer_reads(api, runtime, part2_client).json()["code"] == "consent_required"


def test_a_counseling_notes_consent_must_stand_alone(api: TestClient, runtime: Runtime) -> None:
    # given a Part 2 client with a case manager of another organization on the team, and a
    # session with a counseling note
    client = enroll(api, runtime, part2=True, team=(CASE_MANAGER,))
    note = "talked through the relapse at the reunion"
    record(
        api, runtime, client, COUNSELOR, "SessionHeld",
        kind="counseling", modality="in_person", minutes=50, note=note,
    )  # fmt: skip
    org = CASE_MANAGER.org

    # when one consent names counseling notes together with sessions
    combined = consent_terms("c-both", org, classes=("session", "counseling_note"))
    refused = grant(api, runtime, client, combined)

    # then it is refused (42 CFR 2.31(b)(2))
    assert refused.status_code == 422
    assert refused.json()["code"] == "counseling_notes_consent_must_stand_alone"

    # and with two consents, one for all records and one for the notes alone, the notes open
    def history() -> Any:
        answer = api.get(f"/v1/clients/{client}/events", headers=headers(runtime, CASE_MANAGER))
        assert answer.status_code == 200, answer.text
        return answer

    assert grant(api, runtime, client, consent_terms("c-all", org)).status_code == 201
    assert note not in history().text  # "all" does not name counseling notes
    notes_only = consent_terms("c-notes", org, classes=("counseling_note",))
    assert grant(api, runtime, client, notes_only).status_code == 201
    opened = history()
    assert note in opened.text
    assert opened.json()["disclosure"]["counseling_notes_consent_id"] == "c-notes"


def test_a_consent_that_expires_on_discharge_ends_at_the_episode_closed(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    # given a consent that ends at the end of the treatment
    terms = consent_terms("c-episode", PEER_ORG, expires_on_event="EpisodeClosed")
    assert grant(api, runtime, part2_client, terms).status_code == 201
    assert peer_reads(api, runtime, part2_client).status_code == 200

    # when the client is discharged
    record(api, runtime, part2_client, COUNSELOR, "EpisodeClosed", reason="completed")

    # then the peer's organization reads no more
    after = peer_reads(api, runtime, part2_client)
    assert after.status_code == 403
    assert after.json()["code"] == "consent_required"


def test_a_written_revocation_stops_disclosure_at_once(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    assert grant(api, runtime, part2_client, consent_terms("c-rev", PEER_ORG)).status_code == 201
    assert peer_reads(api, runtime, part2_client).status_code == 200

    # a revocation that says not who revoked or how is refused
    incomplete = body("ConsentRevoked", runtime.clock(), consent_id="c-rev")
    refused = api.post(
        f"/v1/clients/{part2_client}/events", json=incomplete, headers=headers(runtime, COUNSELOR)
    )
    assert refused.json()["code"] == "consent_revocation_incomplete"

    record(api, runtime, part2_client, SUPERVISOR, "ConsentRevoked", **revocation("c-rev"))

    assert peer_reads(api, runtime, part2_client).json()["code"] == "consent_required"


def test_the_consents_read_as_the_signed_form(
    api: TestClient, runtime: Runtime, part2_client: UUID
) -> None:
    assert grant(api, runtime, part2_client, consent_terms("c-form", PEER_ORG)).status_code == 201

    answer = api.get(f"/v1/clients/{part2_client}/consents", headers=headers(runtime, COUNSELOR))

    assert answer.status_code == 200, answer.text
    (form,) = answer.json()["forms"]
    sections = [line["section"] for line in form["lines"]]
    assert sections == [f"2.31(a)({n})" for n in range(1, 10)]
    text = {line["label"]: line["text"] for line in form["lines"]}
    assert text["Patient"] == "Test Client"
    assert text["To"] == f"Organization {PEER_ORG}"
    assert text["For"] == "treatment"
    assert text["Information"].startswith("all of my substance use disorder records")
    assert "in writing" in text["Revocation"]
