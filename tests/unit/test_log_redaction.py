"""No PHI in logs: whatever a caller passes, only allowlisted keys reach a log line."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from services.adapters.logging import configure_logging, keep_safe_keys


@pytest.fixture(autouse=True)
def _restore_structlog() -> Iterator[None]:
    yield
    structlog.reset_defaults()
    logging.getLogger().handlers.clear()


def test_a_check_in_note_passed_to_a_logger_never_reaches_the_log() -> None:
    # given the production configuration writing to a buffer
    configure_logging("debug", cache=False)
    buffer = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    log = structlog.get_logger("test")
    # when code carelessly logs an event's note, a name and a body beside safe fields
    log.info(
        "checkin.recorded",
        client_id="c-1",
        event_type="CheckInRecorded",
        note="I used again at my sister Jane's place",
        given_name="Jane",
        body={"phone": "555-0100"},
    )
    line = json.loads(buffer.getvalue())
    # then the line keeps the ids and the type and nothing else of what was passed
    assert line["event"] == "checkin.recorded"
    assert line["client_id"] == "c-1"
    assert line["event_type"] == "CheckInRecorded"
    assert "Jane" not in buffer.getvalue()
    assert "555-0100" not in buffer.getvalue()


def test_an_exception_is_logged_by_type_without_its_message() -> None:
    configure_logging("debug", cache=False)
    buffer = io.StringIO()
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(file=buffer))
    try:
        raise ValueError("DETAIL: Key (given_name)=(Jane) already exists")
    except ValueError:
        structlog.get_logger("test").exception("store.failed")
    line = json.loads(buffer.getvalue())
    assert line["error_type"] == "ValueError"
    assert "Jane" not in buffer.getvalue()


def test_the_allowlist_drops_unknown_keys() -> None:
    kept = keep_safe_keys(None, "info", {"event": "x", "count": 3, "substances": ["opioids"]})
    assert kept == {"event": "x", "count": 3}


def test_a_standard_library_log_record_keeps_only_its_type_and_no_exception_text(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("info", cache=False)
    try:
        raise RuntimeError("DETAIL: Key (phone)=(555-0100) already exists")
    except RuntimeError:
        logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    err = capsys.readouterr().err
    assert "Exception in ASGI application" in err
    assert "RuntimeError" in err
    assert "555-0100" not in err
