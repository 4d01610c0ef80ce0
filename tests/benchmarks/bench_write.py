"""Single-event HTTP commands per second at 1 and 32 concurrent callers, with p50/p99 latency,
beside the library's plain one-save-per-event rate measured in the same run; with one API
process, also the server's CPU per command beside bare FastAPI's (services/bench/bare.py, the
framework's own cost) measured the same way in the same run.

Run: `.venv/bin/python tests/benchmarks/bench_write.py [--seconds 10]` (CARE_DATABASE_URL or an
embedded PostgreSQL; the API runs as `carecircle serve` in its own process, the callers here).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import httpx
import orjson
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from infra.embedded import (
    create_database,
    database_url_or_embedded,
    drop_database,
    free_loopback_port,
)
from services.adapters.tokens import issue_token
from services.bench.http import bare_server, cpu_seconds, load, request
from services.settings import Settings
from services.wiring import build_runtime, migrate

SECRET = "bench-secret-" + secrets.token_hex(16)


class CheckInLog(Aggregate):
    """The library's own style: a mutable aggregate saved once per event."""

    @event("Opened")
    def __init__(self) -> None:
        self.count = 0

    @event("CheckedIn")
    def check_in(self, mood: int, craving: int) -> None:
        self.count += 1


def library_baseline(url: str, seconds: float) -> float:
    """Events/s of `app.save(aggregate)` once per event, on the same PostgreSQL."""
    from psycopg.conninfo import conninfo_to_dict

    p = conninfo_to_dict(url)
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": str(p["dbname"]),
        "POSTGRES_HOST": str(p.get("host", "127.0.0.1")),
        "POSTGRES_PORT": str(p.get("port", "5432")),
        "POSTGRES_USER": str(p.get("user", "postgres")),
        "POSTGRES_PASSWORD": str(p.get("password", "")),
    }
    app: Application[UUID] = Application(env=env)
    log = CheckInLog()
    app.save(log)
    saved = 0
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        log.check_in(mood=5, craving=4)
        app.save(log)
        saved += 1
    rate = saved / (time.perf_counter() - started)
    app.close()
    return rate


def bare_cpu_ms(clients: list[str], headers: dict[str, str], seconds: float) -> float:
    """Bare FastAPI's CPU per POST at 32 callers (median of 3)."""
    with bare_server() as bare:
        token = headers["Authorization"].removeprefix("Bearer ")
        body = orjson.dumps({"type": "CheckInRecorded"})
        posts = [request(bare, "POST", f"/v1/clients/{c}/events", token, body) for c in clients]
        load(bare, posts, 4, 1.0, 201)
        runs = [load(bare, posts, 32, seconds, 201).cpu_ms_per_request for _ in range(3)]
    return statistics.median(runs)


@contextmanager
def api_process(url: str, workers: int = 1) -> Iterator[tuple[str, int]]:
    port = free_loopback_port()
    env = {
        **os.environ,
        "CARE_DATABASE_URL": url,
        "CARE_HTTP_PORT": str(port),
        "CARE_JWT_SECRET": SECRET,
        "CARE_LOG_LEVEL": "warning",
    }
    carecircle = Path(sys.executable).with_name("carecircle")
    proc = subprocess.Popen(
        [str(carecircle), "serve", "--workers", str(workers)], env=env, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not become ready")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def enroll_clients(base: str, headers: dict[str, str], n: int) -> list[str]:
    now = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    clients = []
    with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
        for i in range(n):
            answer = http.post(
                "/v1/clients",
                json={
                    "type": "ClientEnrolled",
                    "occurred_at": now,
                    "data": {
                        "program": "bench",
                        "part2": False,
                        "given_name": "Bench",
                        "family_name": f"Client{i}",
                        "birth_date": "1990-01-01",
                    },
                },
            )
            answer.raise_for_status()
            client = answer.json()["client_id"]
            http.post(
                f"/v1/clients/{client}/events",
                json={
                    "type": "CareTeamMemberAssigned",
                    "occurred_at": now,
                    "data": {"member_id": "bench-counselor", "role": "counselor", "org": "bench"},
                },
            ).raise_for_status()
            clients.append(client)
    return clients


def http_load(
    base: str, headers: dict[str, str], clients: list[str], callers: int, seconds: float
) -> tuple[float, list[float], int]:
    """Each caller posts check-ins (to its own client) back to back for `seconds`.

    The callers are asyncio tasks on raw keep-alive HTTP/1.1 connections: a Python load
    generator built from threads and a full HTTP client measures itself, not the server.
    """
    return asyncio.run(_load(base, headers, clients, callers, seconds))


async def _load(
    base: str, headers: dict[str, str], clients: list[str], callers: int, seconds: float
) -> tuple[float, list[float], int]:
    host, port = base.removeprefix("http://").split(":")
    occurred = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    body = orjson.dumps(
        {
            "type": "CheckInRecorded",
            "occurred_at": occurred,
            "data": {"mood": 5, "craving": 4, "sleep_hours": 7, "used_since_last": False},
        }
    )  # no event_id: the server assigns one, so every post records a new event
    auth = headers["Authorization"]
    latencies: list[float] = []
    errors = 0
    stop_at = time.perf_counter() + seconds

    async def caller(index: int) -> None:
        nonlocal errors
        client = clients[index % len(clients)]
        request = (
            f"POST /v1/clients/{client}/events HTTP/1.1\r\nHost: {host}\r\n"
            f"Authorization: {auth}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode() + body
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            while time.perf_counter() < stop_at:
                t0 = time.perf_counter()
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
                latencies.append(time.perf_counter() - t0)
                if status != 201:
                    errors += 1
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(caller(i) for i in range(callers)))
    elapsed = time.perf_counter() - started
    return len(latencies) / elapsed, latencies, errors


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="API processes")
    args = parser.parse_args()
    name = f"carecircle_bench_{secrets.token_hex(4)}"
    with (
        tempfile.TemporaryDirectory() as tmp,
        database_url_or_embedded(pgdata=Path(tmp) / "pgdata") as server,
    ):
        url = create_database(server, name)
        try:
            runtime = build_runtime(Settings(database_url=url), url)
            migrate(runtime)
            runtime.close()
            baseline = library_baseline(url, args.seconds)
            token = issue_token(
                SECRET, sub="bench-counselor", role="counselor", org="bench", ttl=timedelta(hours=1)
            )
            headers = {"Authorization": f"Bearer {token}"}
            print(f"library baseline: one save() per event, 1 caller: {baseline:,.0f} events/s")
            clients: list[str] = []
            for workers in args.workers:
                with api_process(url, workers) as (base, pid):
                    clients = clients or enroll_clients(base, headers, 32)
                    http_load(base, headers, clients, 4, 2.0)  # warm up
                    for callers in (1, 32):
                        cpu = cpu_seconds(pid)
                        rate, latencies, errors = http_load(
                            base, headers, clients, callers, args.seconds
                        )
                        cpu_ms = (cpu_seconds(pid) - cpu) * 1000 / max(1, len(latencies))
                        print(
                            f"HTTP single-event commands, {workers} API process(es), "
                            f"{callers:>2} callers: {rate:,.0f}/s "
                            f"({rate / baseline:.2f}x baseline), "
                            f"p50 {percentile(latencies, 0.5):.1f} ms, "
                            f"p99 {percentile(latencies, 0.99):.1f} ms, non-201: {errors}"
                            + (f", server CPU {cpu_ms:.3f} ms per command" if workers == 1 else "")
                        )
            bare = bare_cpu_ms(clients, headers, min(args.seconds, 5.0))
            print(f"bare FastAPI, 32 callers: server CPU {bare:.3f} ms per POST")
        finally:
            drop_database(server, name)


if __name__ == "__main__":
    main()
