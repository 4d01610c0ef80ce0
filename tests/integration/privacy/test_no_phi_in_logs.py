"""No PHI in logs: both seed stories of the shared seed text, with consents, disclosures, refusals,
break-the-glass, bad input and a replay, run through the API with debug logging in the production
configuration; the names, phones, birth dates and notes are nowhere in what was logged."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator
from datetime import date
from uuid import UUID

import pytest
import structlog
from fastapi.testclient import TestClient

from services.adapters.logging import configure_logging
from services.wiring import Runtime
from tests.integration.privacy.support import (
    ANALYST,
    COUNSELOR,
    CRISIS,
    PEER,
    PEER_ORG,
    PRESCRIBER,
    STRANGER,
    SUPERVISOR,
    Person,
    body,
    enrollment_body,
    headers,
)

YOUNG = ("Marisol", "Quenby", "555-0111", date(1996, 3, 9))
PARENT = ("Teodor", "Halvorsen", "555-0122", date(1983, 10, 21))
NOTES = (
    "Marisol says the breakup with Ansel is why she cannot sleep",
    "Teodor's daughter Pernille keeps the naloxone in her backpack",
)
SECRETS = (
    *YOUNG[:3],
    YOUNG[3].isoformat(),
    *PARENT[:3],
    PARENT[3].isoformat(),
    "Ansel",
    "Pernille",
)


@pytest.fixture
def log_output(capfd: pytest.CaptureFixture[str]) -> Iterator[io.StringIO]:
    """The production logging configuration at debug level, writing into a buffer."""
    buffer = io.StringIO()
    configure_logging("debug", cache=False)
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(buffer)
    yield buffer
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def send(api: TestClient, runtime: Runtime, who: Person, client: UUID, type_: str, **data: object):
    answer = api.post(
        f"/v1/clients/{client}/events",
        json=body(type_, runtime.clock(), **data),
        headers=headers(runtime, who),
    )
    assert answer.status_code == 201, answer.text


def enroll_person(api: TestClient, runtime: Runtime, person: tuple, *, part2: bool, program: str):
    given, family, phone, born = person
    answer = api.post(
        "/v1/clients",
        json=enrollment_body(
            runtime.clock(),
            given=given,
            family=family,
            phone=phone,
            birth_date=born,
            part2=part2,
            program=program,
        ),
        headers=headers(runtime, COUNSELOR),
    )
    assert answer.status_code == 201, answer.text
    client = UUID(answer.json()["client_id"])
    for member in (PEER, PRESCRIBER):
        send(
            api,
            runtime,
            COUNSELOR,
            client,
            "CareTeamMemberAssigned",
            member_id=member.sub,
            role=member.role,
            org=member.org,
        )
    return client


def young_professional(api: TestClient, runtime: Runtime) -> UUID:
    """Near 90 days without alcohol: stressors cascade, the team carries them (seed story 1)."""
    client = enroll_person(api, runtime, YOUNG, part2=False, program="outpatient-aud")
    send(api, runtime, COUNSELOR, client, "CheckInPlanSet", cadence_hours=24, channel="text")
    for mood, craving, sleep in ((6, 3, 7), (4, 6, 4.5), (3, 8, 3.5)):
        send(
            api,
            runtime,
            PEER,
            client,
            "CheckInRecorded",
            mood=mood,
            craving=craving,
            sleep_hours=sleep,
            used_since_last=False,
            note=NOTES[0],
        )
    send(
        api,
        runtime,
        COUNSELOR,
        client,
        "SessionHeld",
        kind="counseling",
        modality="telehealth",
        minutes=50,
        note=NOTES[0],
    )
    send(
        api,
        runtime,
        PRESCRIBER,
        client,
        "MedicationConsultRecorded",
        medication="hydroxyzine",
        notes=NOTES[0],
    )
    send(
        api,
        runtime,
        COUNSELOR,
        client,
        "SafetyPlanRecorded",
        warning_signs=["not sleeping since Ansel left"],
        crisis_lines=["988"],
    )
    return client


def parent_after_surgery(api: TestClient, runtime: Runtime) -> UUID:
    """Opioids after surgery: MOUD, a warm handoff, naloxone for the family (seed story 2)."""
    client = enroll_person(api, runtime, PARENT, part2=True, program="opioid-treatment")
    send(
        api,
        runtime,
        PEER,
        client,
        "SessionHeld",
        kind="peer_support",
        modality="in_person",
        minutes=45,
        note=NOTES[1],
    )
    send(
        api,
        runtime,
        PRESCRIBER,
        client,
        "MedicationStarted",
        medication="buprenorphine",
        category="moud",
        reason="Teodor asked for help after Pernille found him",
    )
    send(
        api,
        runtime,
        COUNSELOR,
        client,
        "NaloxoneDistributed",
        kits=2,
        recipient="family",
        training_given=True,
    )
    send(
        api,
        runtime,
        COUNSELOR,
        client,
        "CrisisContactRecorded",
        crisis_id="c-1",
        channel="call",
        risk_level="high",
        suicidality=False,
        overdose_danger=True,
        interventions=["naloxone on hand"],
        disposition="Teodor stayed with Pernille",
    )
    send(
        api,
        runtime,
        COUNSELOR,
        client,
        "ConsentGranted",
        consent_id="c-peer",
        recipient_org=PEER_ORG,
        purpose="treatment",
        data_classes=["all"],
    )
    return client


def test_the_seed_stories_leave_no_phi_in_the_logs(
    api: TestClient,
    runtime: Runtime,
    log_output: io.StringIO,
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    # given both stories recorded through the API
    young = young_professional(api, runtime)
    parent = parent_after_surgery(api, runtime)

    # when everyone reads, is refused, discloses, breaks the glass and sends bad input
    for who, client in (
        (COUNSELOR, young),
        (PEER, parent),
        (SUPERVISOR, parent),
        (STRANGER, young),
        (CRISIS, parent),
    ):
        api.get(f"/v1/clients/{client}", headers=headers(runtime, who))
        api.get(f"/v1/clients/{client}/events", headers=headers(runtime, who))
    api.post(
        f"/v1/clients/{parent}/break-glass",
        json={"reason": "Teodor unresponsive, Pernille called", "minutes": 20},
        headers=headers(runtime, CRISIS),
    )
    api.get(f"/v1/clients/{parent}", headers=headers(runtime, CRISIS))
    bad = api.post(
        "/v1/clients",
        json=enrollment_body(
            runtime.clock(), given="Marisol", family="Quenby", phone="call Marisol at 555-0111"
        ),
        headers=headers(runtime, COUNSELOR),
    )
    assert bad.status_code == 422
    api.get("/v1/replay", params={"limit": 10_000}, headers=headers(runtime, ANALYST))
    api.get(f"/v1/clients/{parent}/disclosures", headers=headers(runtime, SUPERVISOR))

    # then something was logged, and none of it is PHI
    captured = capfd.readouterr()
    logged = "\n".join((log_output.getvalue(), captured.out, captured.err, caplog.text))
    assert "request.finished" in logged
    assert "access.refused" in logged
    assert [s for s in SECRETS if s in logged] == []
    assert [n for n in NOTES if n in logged] == []
    assert [s for s in SECRETS if s in bad.text] == []
