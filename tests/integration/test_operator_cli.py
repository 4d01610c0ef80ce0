"""The operator's `carecircle up`, run as an operator runs it: a real process on real PostgreSQL,
with its own local broker under its own data directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _environment(database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    env.update(
        CARE_DATABASE_URL=database_url,
        CARE_DATA_DIR=str(data_dir),
        CARE_HTTP_PORT=str(port),
        CARE_KAFKA_TOPIC_PARTITIONS="1",
    )
    return env


def _carecircle(*args: str) -> list[str]:
    return [sys.executable, "-m", "services.cli.entry", *args]


def _children(pid: int) -> set[int]:
    """Every process whose parent is `pid` (the broker, uvicorn's helpers), from /proc."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.fixture
def first_up(database_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], Path]]:
    """`carecircle up` running and ready, its stderr in a file."""
    port = _free_port()
    data_dir = tmp_path / "data"
    env = _environment(database_url, data_dir, port)
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            _carecircle("up"),
            cwd=REPO,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    deadline = time.monotonic() + 180
    while "CareCircle is up" not in log_path.read_text(errors="replace"):
        assert process.poll() is None, log_path.read_text(errors="replace")
        assert time.monotonic() < deadline, "carecircle up did not come up"
        time.sleep(0.2)
    try:
        yield process, log_path
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=60)


def test_a_second_up_on_the_same_data_dir_is_refused_and_the_first_keeps_working(
    first_up: tuple[subprocess.Popen[bytes], Path], database_url: str, tmp_path: Path
) -> None:
    first, _ = first_up
    data_dir = tmp_path / "data"
    port = json.loads((data_dir / "up.json").read_text())["api"].rsplit(":", 1)[1]
    env = _environment(database_url, data_dir, int(port))
    bootstrap_before = (data_dir / "tansu" / "bootstrap").read_text()
    # when a second `up` starts in the same folder
    started = time.monotonic()
    second = subprocess.run(
        _carecircle("up"), cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    seconds = time.monotonic() - started
    # then it is refused, naming the first instance, and touched none of its files
    assert second.returncode == 1
    assert f"already running in {data_dir} (pid {first.pid}, API at http://127.0.0.1:{port})" in (
        second.stderr
    )
    assert (data_dir / "tansu" / "bootstrap").read_text() == bootstrap_before
    assert json.loads((data_dir / "up.json").read_text())["pid"] == first.pid
    print(f"second up refused after {seconds:.2f} s")  # noqa: T201 — the figure, for the report
    # and the first instance still answers, its broker found by the operator's commands
    assert httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
    status = subprocess.run(
        _carecircle("status"), cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert status.returncode == 0, status.stderr
    assert "consumer group: no broker" not in status.stdout
    assert "not reachable" not in status.stdout
    letters = subprocess.run(
        _carecircle("deadletter", "list"),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert letters.returncode == 0, letters.stderr


def test_a_closed_terminal_stops_the_whole_stack_in_order_and_cleanly(
    first_up: tuple[subprocess.Popen[bytes], Path],
) -> None:
    first, log_path = first_up
    stack = _children(first.pid)
    assert stack, "up runs its broker as a child process"
    # when the terminal closes (SIGHUP)
    first.send_signal(signal.SIGHUP)
    assert first.wait(timeout=120) == 0
    # then no process of the stack is left
    assert [pid for pid in stack if _alive(pid)] == []
    # and the workers stopped before the broker, with no error on the way
    lines = [
        json.loads(line)
        for line in log_path.read_text(errors="replace").splitlines()
        if line.startswith("{")
    ]
    events = [line.get("event") for line in lines]
    assert events.index("workers.stopped") < events.index("tansu.stopped")
    assert [line for line in lines if line.get("level") in ("error", "critical")] == []
