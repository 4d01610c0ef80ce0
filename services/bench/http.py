"""HTTP load against `carecircle serve` in its own process: single-event commands at 32
callers and reads at 16, with p50/p99 latency and the server's CPU per request, beside bare
FastAPI (services/bench/bare.py) measured the same way in the same run.

The callers are asyncio tasks on raw keep-alive HTTP/1.1 connections: a Python load generator
built from threads and a full HTTP client measures itself, not the server.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Server:
    base: str
    pid: int

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.base.removeprefix("http://").split(":")
        return host, int(port)


@dataclass(frozen=True, slots=True)
class Load:
    """What a load run measured: requests/s, latencies (s), errors, server CPU per request."""

    rate: float
    latencies: list[float]
    errors: int
    cpu_ms_per_request: float

    def percentile(self, q: float) -> float:
        """In milliseconds."""
        ordered = sorted(self.latencies)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its reaped children (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(v) for v in fields[11:15]) / TICKS


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def process(argv: Sequence[str], env: Mapping[str, str], port: int) -> Iterator[Server]:
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        list(argv), env=dict(env), stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code in (200, 404):
                    break
            except httpx.HTTPError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the server did not become ready")
            time.sleep(0.1)
        yield Server(base, proc.pid)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@contextmanager
def api_server(database_url: str, secret: str, extra: Mapping[str, str] = {}) -> Iterator[Server]:
    """`carecircle serve` (one process) on a free port of the loopback."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
    env.update(
        CARE_DATABASE_URL=database_url,
        CARE_HTTP_PORT=str(port),
        CARE_JWT_SECRET=secret,
        CARE_LOG_LEVEL="warning",
        **extra,
    )
    with process([sys.executable, "-m", "services.cli.main", "serve"], env, port) as server:
        yield server


@contextmanager
def bare_server() -> Iterator[Server]:
    """Bare FastAPI on the same uvicorn: the framework's own cost."""
    port = free_port()
    argv = [
        sys.executable, "-m", "uvicorn", "services.bench.bare:app",
        "--port", str(port), "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    with process(argv, os.environ, port) as server:
        yield server


def load(
    server: Server, requests: Sequence[bytes], callers: int, seconds: float, ok: int = 200
) -> Load:
    """Each caller sends its request (`requests[i % len]`) back to back for `seconds`."""
    before = cpu_seconds(server.pid)
    latencies, errors, elapsed = asyncio.run(_load(server, requests, callers, seconds, ok))
    cpu = cpu_seconds(server.pid) - before
    count = max(1, len(latencies))
    return Load(len(latencies) / elapsed, latencies, errors, cpu * 1000 / count)


def request(
    server: Server, method: str, path: str, token: str, body: bytes = b"", **headers: str
) -> bytes:
    host = server.base.removeprefix("http://")
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}", f"Authorization: Bearer {token}"]
    lines += [f"{k.replace('_', '-')}: {v}" for k, v in headers.items()]
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _load(
    server: Server, requests: Sequence[bytes], callers: int, seconds: float, ok: int
) -> tuple[list[float], int, float]:
    host, port = server.host_port
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def caller(index: int) -> None:
        nonlocal errors
        message = requests[index % len(requests)]
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                writer.write(message)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if status != ok:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(callers)))
    return latencies, errors, time.perf_counter() - started
