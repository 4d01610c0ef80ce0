"""No PHI in logs: both seed stories (tests/stories.py) told with PHI in names and notes, with
consents, disclosures, refusals, break-the-glass, bad input and a replay, run through the API with
debug logging in the production configuration; the names, phones, birth dates and notes are
nowhere in what was logged."""

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
from tests import stories
from tests.integration.privacy.support import (
    CRISIS,
    PEER_ORG,
    STRANGER,
    SUPERVISOR,
    headers,
)
from tests.stories import ANALYST, COUNSELOR, PEER, Clock, Enrollee, Story, consent_terms

YOUNG = Enrollee("Marisol", "Quenby", "555-0111", date(1996, 3, 9))
PARENT = Enrollee("Teodor", "Halvorsen", "555-0122", date(1983, 10, 21))
NOTES = (
    "Marisol says the breakup with Ansel is why she cannot sleep",
    "Teodor's daughter Pernille keeps the naloxone in her backpack",
)
SECRETS = (
    *(YOUNG.given, YOUNG.family, YOUNG.phone, YOUNG.birth_date.isoformat()),
    *(PARENT.given, PARENT.family, PARENT.phone, PARENT.birth_date.isoformat()),
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


def young_professional(api: TestClient, runtime: Runtime) -> UUID:
    """Seed story 1, told with PHI in the names and every note, plus a medication consult note
    and a safety plan that name people."""
    story = stories.young_professional(Story(Clock(runtime.clock()), note=NOTES[0]), who=YOUNG)
    story.by(stories.PRESCRIBER).medication_consult("hydroxyzine", notes=NOTES[0])
    story.by(COUNSELOR).safety_plan(
        warning_signs=["not sleeping since Ansel left"],
        coping_strategies=["call Ansel's sister"],
        crisis_lines=["988"],
    )
    story.over_http(api, runtime.settings)
    assert story.client_id is not None
    return story.client_id


def parent_after_surgery(api: TestClient, runtime: Runtime) -> UUID:
    """Seed story 2 (a Part 2 program), told with PHI in the names and every note, plus a
    MOUD reason, a crisis contact and a consent that name people."""
    story = stories.parent_after_surgery(Story(Clock(runtime.clock()), note=NOTES[1]), who=PARENT)
    story.by(stories.PRESCRIBER).medication_started(
        "buprenorphine", "moud", reason="Teodor asked for help after Pernille found him"
    )
    story.by(COUNSELOR).crisis(
        "c-1",
        channel="call",
        risk_level="high",
        suicidality=False,
        overdose_danger=True,
        interventions=["naloxone on hand"],
        disposition="Teodor stayed with Pernille",
    )
    story.event(
        "ConsentGranted",
        **consent_terms("c-peer", PEER_ORG),
    )
    story.over_http(api, runtime.settings)
    assert story.client_id is not None
    return story.client_id


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
        json=Story(Clock(runtime.clock()))
        .enrolled("Marisol", "Quenby", phone="call Marisol at 555-0111")
        .last,
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
