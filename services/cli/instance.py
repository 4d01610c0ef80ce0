"""One `carecircle up` per data directory, its stop signals and its startup banner.

A second `up` on the same data directory would start a second broker and workers beside the
first and then fail on the port; worse, on its way out it would remove files the first one
still uses. So `up` takes an exclusive lock on `<data dir>/up.lock` before it starts anything and
holds it for its life (the kernel releases it when the process ends, however it ends). Whoever
finds it taken is told who holds it, from `<data dir>/up.json`, and touches nothing.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

LOCK_FILE = "up.lock"
INFO_FILE = "up.json"


class AlreadyRunning(Exception):
    """Another `carecircle up` holds the data directory."""

    def __init__(self, data_dir: Path, pid: int | None, api: str | None) -> None:
        self.data_dir, self.pid, self.api = data_dir, pid, api
        holder = f"pid {pid}" if pid else "another process"
        where = f", API at {api}" if api else ""
        super().__init__(
            f"already running in {data_dir} ({holder}{where}); use that one, "
            "stop it (Ctrl-C in its terminal, or kill -TERM its pid), or start this one with "
            "another CARE_DATA_DIR and CARE_HTTP_PORT."
        )


@contextlib.contextmanager
def sole_instance(data_dir: Path, api: str) -> Iterator[None]:
    """Hold the data directory for the block, or raise AlreadyRunning without touching it."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = (data_dir / LOCK_FILE).open("a+")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        holder = _holder(data_dir)
        raise AlreadyRunning(data_dir, holder.get("pid"), holder.get("api")) from None
    info = data_dir / INFO_FILE
    info.write_text(json.dumps({"pid": os.getpid(), "api": api}))
    try:
        yield
    finally:
        info.unlink(missing_ok=True)
        fcntl.flock(handle, fcntl.LOCK_UN)
        handle.close()


def probe(data_dir: Path) -> None:
    """Raise AlreadyRunning if an `up` holds `data_dir` now; create nothing if none does."""
    lock = data_dir / LOCK_FILE
    if not lock.exists():
        return
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _holder(data_dir)
            raise AlreadyRunning(data_dir, holder.get("pid"), holder.get("api")) from None
        fcntl.flock(handle, fcntl.LOCK_UN)


def running(data_dir: Path) -> dict[str, Any] | None:
    """Who holds `data_dir` now (`pid`, `api`), or None if no `up` does; creates nothing."""
    try:
        probe(data_dir)
    except AlreadyRunning:
        return _holder(data_dir)
    return None


def _holder(data_dir: Path) -> dict[str, Any]:
    try:
        holder = json.loads((data_dir / INFO_FILE).read_text())
    except (OSError, ValueError):
        return {}
    return holder if isinstance(holder, dict) else {}


class Stopping(KeyboardInterrupt):
    """SIGTERM or SIGHUP before the API serves: unwind like Ctrl-C, stopping what started."""


def stop_on_signals() -> None:
    """SIGINT, SIGTERM and SIGHUP (a closed terminal) all stop the stack cleanly: before the
    API serves they unwind the startup; while it serves uvicorn shuts down gracefully and then
    the workers, the broker and the database stop, in that order."""

    def unwind(signum: int, frame: object) -> None:
        raise Stopping

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, unwind)


def while_serving() -> None:
    """uvicorn handles SIGINT and SIGTERM itself and re-raises them after its graceful
    shutdown: those re-raises must return here, so the parts behind it are stopped in order.
    SIGHUP becomes SIGTERM, which uvicorn knows."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: None)
    signal.signal(signal.SIGHUP, lambda *_: signal.raise_signal(signal.SIGTERM))


def banner(api: str, *, head: list[str]) -> str:
    """What an operator needs once the stack is up: `head` (the console and how to sign in),
    then the API, a token, the database and how to stop."""
    lines = [
        "",
        *head,
        f"  API        {api}/v1   (health {api}/readyz, metrics {api}/metrics, "
        f"OpenAPI {api}/openapi.json)",
        "  a token    .venv/bin/carecircle token --sub counselor-1 --role counselor "
        "--org harbor-counseling",
        "  database   .venv/bin/carecircle db shell   (its URL: carecircle db url)",
        f"  stop       Ctrl-C, or kill -TERM {os.getpid()} (a closed terminal stops it too)",
        "",
    ]
    return "\n".join(lines) + "\n"


class _KafkaStopping(logging.Filter):
    """While the workers close their Kafka clients, kafka-python logs the connections it closes
    under its own feet (an in-flight metadata refresh, "Transport closed for writes") at error
    level; on a requested stop that is expected, so it is a warning."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name.startswith("kafka") and record.levelno == logging.ERROR:
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def quiet_kafka_while_stopping() -> None:
    for handler in logging.getLogger().handlers:
        handler.addFilter(_KafkaStopping())


def say(text: str) -> None:
    sys.stderr.write(text)
    sys.stderr.flush()
