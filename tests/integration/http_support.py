"""Helpers for tests that talk to the API: tokens, event bodies, a live server on loopback."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import uvicorn
from fastapi import FastAPI

from services.adapters.tokens import issue_token
from services.settings import Settings


def bearer(settings: Settings, sub: str, role: str, org: str) -> dict[str, str]:
    token = issue_token(
        settings.jwt_secret.get_secret_value(), sub=sub, role=role, org=org, ttl=timedelta(hours=1)
    )
    return {"Authorization": f"Bearer {token}"}


def at(days: float = 0, hours: float = 0) -> str:
    """A time relative to now (negative: the past), ISO 8601 with an offset."""
    return (datetime.now(UTC) + timedelta(days=days, hours=hours)).isoformat()


def event(type_: str, occurred_at: str | None = None, **data: Any) -> dict[str, Any]:
    return {
        "event_id": str(uuid4()),
        "type": type_,
        "occurred_at": occurred_at or at(hours=-1),
        "data": data,
    }


def enrollment(
    given: str, family: str, *, part2: bool = False, program: str = "outpatient"
) -> dict[str, Any]:
    return event(
        "ClientEnrolled",
        at(days=-10),
        program=program,
        part2=part2,
        given_name=given,
        family_name=family,
        birth_date="1991-03-14",
        phone="555-0142",
    )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free loopback port, in a thread, for the block."""
    port = _free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
