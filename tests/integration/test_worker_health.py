"""A dead worker thread is seen (issue 10): inside `carecircle up` the projections, ingest and
publish loops run as threads beside the API. One that died used to leave `/readyz` at 200 and
`carecircle status` blaming nothing; now `/readyz` answers 503 naming the worker, and `status`
shows which worker died and of what error type, never the error's message."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
import pytest
import uvicorn

import consumers.ingest
from infra.embedded import free_loopback_port
from services.cli import instance
from services.cli.main import _start_roles as start_roles
from services.wiring import Runtime, build_api, build_runtime, migrate, roles
from tests.integration.kafka_support import (
    REPO,
    a_client,
    environment,
    kafka_settings,
    message,
    produce,
    wait_until,
)


@pytest.fixture
def runtime(database_url: str, kafka_bootstrap: str, tmp_path: Path) -> Iterator[Runtime]:
    settings = kafka_settings(database_url, kafka_bootstrap, data_dir=tmp_path / "data")
    runtime = build_runtime(settings, database_url)
    migrate(runtime)
    yield runtime
    runtime.close()


@pytest.fixture
def workers(runtime: Runtime) -> Iterator[None]:
    """The worker roles started as `carecircle up` starts them: threads beside the API."""
    stop = threading.Event()
    threads = start_roles(list(roles().values()), runtime, runtime.settings.kafka_bootstrap, stop)
    yield
    stop.set()
    for thread in threads:
        thread.join(timeout=60)


@pytest.fixture
def api(runtime: Runtime) -> Iterator[str]:
    """The API served over HTTP, as `carecircle up` does, holding the data directory."""
    port = free_loopback_port()
    server = uvicorn.Server(
        uvicorn.Config(build_api(runtime), host="127.0.0.1", port=port, log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_until(lambda: server.started, "the API to listen")
    url = f"http://127.0.0.1:{port}"
    with instance.sole_instance(Path(runtime.settings.data_dir).resolve(), url):
        yield url
    server.should_exit = True
    thread.join(timeout=30)


def a_bug(*_args: Any, **_kwargs: Any) -> Any:
    raise ZeroDivisionError("SECRET-VALUE must never be shown")


def status(runtime: Runtime) -> str:
    env = {**environment(runtime.settings), "CARE_DATA_DIR": str(runtime.settings.data_dir)}
    env["CARE_LOG_LEVEL"] = "warning"
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", "status"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_dead_ingest_thread_fails_readiness_and_status_says_what_died(
    runtime: Runtime, workers: None, api: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    bootstrap = runtime.settings.kafka_bootstrap
    assert bootstrap is not None
    # given the stack ready with its workers running
    wait_until(lambda: httpx.get(f"{api}/readyz", timeout=10).status_code == 200, "the stack ready")
    before = httpx.get(f"{api}/readyz", timeout=10).json()
    assert {name: w["status"] for name, w in before["workers"].items()} == {
        "anchor": "running",
        "ingest": "running",
        "projections": "running",
        "publish": "running",
    }
    # when the ingest thread meets a bug on the next message
    monkeypatch.setattr(consumers.ingest, "event_from_message", a_bug)
    enrollment = a_client(uuid4()).on_kafka()[0]
    produce(bootstrap, runtime.settings.kafka_inbound_topic, [message(enrollment)])
    wait_until(lambda: runtime.workers.states()["ingest"].state == "died", "ingest to die")
    # then /readyz answers 503 naming the worker and its error type
    ready = httpx.get(f"{api}/readyz", timeout=10)
    assert ready.status_code == 503
    body = ready.json()
    assert body["status"] == "unavailable"
    assert body["checks"]["worker:ingest"].startswith("died: ZeroDivisionError at ")
    assert body["workers"]["ingest"]["error_type"] == "ZeroDivisionError"
    assert body["workers"]["ingest"]["where"].endswith("in a_bug")
    assert body["workers"]["projections"]["status"] == "running"
    assert "SECRET" not in ready.text
    # and `carecircle status` shows what died and why
    out = status(runtime)
    assert "workers (carecircle up" in out
    assert "  ingest       died: ZeroDivisionError at " in out
    assert "  projections  running" in out
    assert "SECRET" not in out


def test_status_says_when_no_up_holds_the_data_directory(runtime: Runtime) -> None:
    out = status(runtime)
    assert "workers: no carecircle up holds" in out
