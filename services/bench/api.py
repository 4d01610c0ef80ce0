"""The HTTP measures on the filled store: single-event commands at 32 callers, the five reads
at 16 callers (each writing its access-log rows), a record of 100 against one of 10,000
events; beside bare FastAPI on the same server in the same run."""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

import httpx
import orjson
from pydantic import SecretStr

from demo.staff import COUNSELING_ORG
from services.bench.http import Load, Server, load, request
from services.bench.report import Figure, say
from services.settings import Settings
from services.wiring import development_token


def token(secret: str, sub: str, role: str, org: str) -> str:
    settings = Settings(jwt_secret=SecretStr(secret))
    return development_token(settings, sub=sub, role=role, org=org, hours=2)


def check_in_body() -> bytes:
    occurred = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    return orjson.dumps(
        {
            "type": "CheckInRecorded",
            "occurred_at": occurred,
            "data": {"mood": 5, "craving": 4, "sleep_hours": 7, "used_since_last": False},
        }
    )  # no event_id: the server assigns one, so every post records a new event


def enroll_clients(server: Server, bearer: str, n: int) -> list[str]:
    now = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    clients = []
    headers = {"Authorization": f"Bearer {bearer}"}
    with httpx.Client(base_url=server.base, headers=headers, timeout=30) as http:
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
                        "family_name": f"Writer{i}",
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


def _runs(
    server: Server, requests: list[bytes], callers: int, seconds: float, ok: int
) -> list[Load]:
    load(server, requests, min(callers, 4), min(1.0, seconds), ok)  # warm up caches
    return [load(server, requests, callers, seconds, ok) for _ in range(3)]


def write_figures(
    api: Server, bare: Server, secret: str, seconds: float, callers: int = 32
) -> list[Figure]:
    bearer = token(secret, "bench-counselor", "counselor", "bench")
    clients = enroll_clients(api, bearer, callers)
    body = check_in_body()
    ours = [request(api, "POST", f"/v1/clients/{c}/events", bearer, body) for c in clients]
    theirs = [request(bare, "POST", f"/v1/clients/{c}/events", bearer, body) for c in clients]
    runs = _runs(api, ours, callers, seconds, 201)
    base = _runs(bare, theirs, callers, seconds, 201)
    errors = sum(r.errors for r in runs)
    say(f"http writes: {[round(r.rate) for r in runs]}/s, errors {errors}")
    base_rate = statistics.median(r.rate for r in base)
    base_p99 = statistics.median(r.percentile(0.99) for r in base)
    base_cpu = statistics.median(r.cpu_ms_per_request for r in base)
    return [
        Figure(
            f"HTTP single-event commands, {callers} callers",
            "commands/s",
            [r.rate for r in runs],
            target=2000,
            baseline=base_rate,
            baseline_label="bare FastAPI",
            note=f"non-201 answers: {errors}" if errors else "",
        ),
        Figure(
            f"  p99 of those commands, {callers} callers",
            "ms",
            [r.percentile(0.99) for r in runs],
            target=50,
            better="lower",
            baseline=base_p99,
            baseline_label="bare FastAPI",
        ),
        Figure(
            "  server CPU per command",
            "ms",
            [r.cpu_ms_per_request for r in runs],
            better="lower",
            baseline=base_cpu,
            baseline_label="bare FastAPI",
        ),
    ]


def first_client_of(api: Server, bearer: str, member: str) -> str:
    headers = {"Authorization": f"Bearer {bearer}"}
    answer = httpx.get(f"{api.base}/v1/caseloads/{member}", headers=headers, timeout=60)
    answer.raise_for_status()
    return str(answer.json()["clients"][0]["client_id"])


def read_figures(
    api: Server, bare: Server, secret: str, seconds: float, window: tuple[datetime, datetime]
) -> list[Figure]:
    counselor = token(secret, "counselor-1", "counselor", COUNSELING_ORG)
    supervisor = token(secret, "bench-supervisor", "supervisor", COUNSELING_ORG)
    auditor = token(secret, "bench-auditor", "auditor", "bench-audit")
    client = first_client_of(api, counselor, "counselor-1")
    start, end = (t.isoformat().replace("+00:00", "Z") for t in window)
    routes = [
        ("a member's caseload", "/v1/caseloads/counselor-1", counselor),
        ("an organization's caseloads", f"/v1/orgs/{COUNSELING_ORG}/caseloads", supervisor),
        ("an organization's open flags", "/v1/flags?status=open", supervisor),
        ("an audit page by time range", f"/v1/audit?from={start}&to={end}", auditor),
        ("a client's record", f"/v1/clients/{client}", counselor),
    ]
    base_runs = _runs(bare, [request(bare, "GET", "/v1/caseloads/x", counselor)], 16, seconds, 200)
    base_p99 = statistics.median(r.percentile(0.99) for r in base_runs)
    figures = []
    for label, path, bearer in routes:
        runs = _runs(api, [request(api, "GET", path, bearer)], 16, seconds, 200)
        errors = sum(r.errors for r in runs)
        say(
            f"http read, {label}: p99 {[round(r.percentile(0.99), 1) for r in runs]} ms, "
            f"{[round(r.rate) for r in runs]}/s, errors {errors}"
        )
        figures.append(
            Figure(
                f"read p99, 16 callers: {label}",
                "ms",
                [r.percentile(0.99) for r in runs],
                target=20,
                better="lower",
                baseline=base_p99,
                baseline_label="bare FastAPI GET",
                note=(
                    f"{statistics.median(r.rate for r in runs):,.0f} reads/s, "
                    f"server CPU {statistics.median(r.cpu_ms_per_request for r in runs):.2f} ms "
                    "per read" + (f"; non-200 answers: {errors}" if errors else "")
                ),
            )
        )
    return figures


def record_size_figure(
    api: Server, secret: str, small: UUID, large: UUID, sizes: tuple[int, int]
) -> Figure:
    """Median ms of reading a client's record, one caller, large history over small."""
    bearer = token(secret, "bench-counselor", "counselor", "bench-clinic")
    headers = {"Authorization": f"Bearer {bearer}"}

    def median_ms(client: UUID) -> float:
        times = []
        with httpx.Client(base_url=api.base, headers=headers, timeout=60) as http:
            http.get(f"/v1/clients/{client}").raise_for_status()
            for _ in range(20):
                t0 = time.perf_counter()
                http.get(f"/v1/clients/{client}").raise_for_status()
                times.append((time.perf_counter() - t0) * 1000)
        return statistics.median(times)

    ratios, smalls = [], []
    for _ in range(3):
        s, big = median_ms(small), median_ms(large)
        smalls.append(s)
        ratios.append(big / s)
    return Figure(
        f"record read, {sizes[1]:,}-event client / {sizes[0]:,}-event client",
        "ratio",
        ratios,
        target=2.0,
        better="lower",
        note=f"{sizes[0]:,}-event record median {statistics.median(smalls):.1f} ms",
    )
