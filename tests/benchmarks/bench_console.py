"""Console pages under the simulated set of 1,000 clients: p50 and p99 of each page, one caller
at a time, over HTTP to uvicorn (the API process serving the console), with the read models
caught up and every page's reads authorized and appended to the access log as in production.

Pages: the supervisor's shift view (every open flag of the organization, named), the
organization's caseloads, a member's caseload (named), a client's timeline (a different client
each time, charts drawn), a name search, the audit-and-access page of a client, and the
auditor's audit-and-access page.

Run: `.venv/bin/python tests/benchmarks/bench_console.py [--clients 1000] [--days 30]
[--requests 200]` (CARE_DATABASE_URL or an embedded PostgreSQL; a fresh database is created
and dropped).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import random
import secrets
import socket
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import uvicorn

from demo.simulate import care_events, command_for
from demo.staff import COUNSELING_ORG
from infra.embedded import create_database, database_url_or_embedded, drop_database
from services.adapters.logging import configure_logging
from services.settings import Settings
from services.wiring import (
    Runtime,
    build_api,
    build_runtime,
    development_token,
    evaluator,
    live_runner,
    migrate,
    tune_garbage_collector,
)


@contextlib.contextmanager
def live_server(app: Any) -> Iterator[str]:
    """The app on uvicorn on a free loopback port, in a thread, for the block."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    configure_logging("warning", cache=False)  # JSON on stderr, warnings only: the table alone
    tune_garbage_collector()  # as `carecircle serve` and `up` do for the API process
    with (
        tempfile.TemporaryDirectory() as tmp,
        database_url_or_embedded(pgdata=Path(tmp) / "pgdata") as server_url,
    ):
        name = f"carecircle_bench_console_{secrets.token_hex(4)}"
        url = create_database(server_url, name)
        try:
            run(url, args.clients, args.days, args.requests)
        finally:
            with contextlib.suppress(Exception):
                drop_database(server_url, name)


def run(url: str, clients: int, days: int, requests: int) -> None:
    settings = Settings(database_url=url, log_level="warning")
    runtime = build_runtime(settings, url)
    migrate(runtime)
    start = (datetime.now(UTC) - timedelta(days=days + 1)).replace(microsecond=0)
    stream = care_events(clients=clients, days=days, seed=15, start=start)
    began, stored = time.perf_counter(), 0
    while batch := [command_for(p) for p in itertools.islice(stream, 2000)]:
        recorded, _refused = runtime.handler.record_batch(batch)
        stored += len(recorded)
    say(
        f"recorded {stored:,} events for {clients:,} clients in {time.perf_counter() - began:.0f} s"
    )
    runner, flags = live_runner(runtime), evaluator(runtime)
    runner.catch_up()
    while flags.sweep():
        runner.catch_up()
    client_ids = _clients(runtime)
    app = build_api(runtime)
    with live_server(app) as base:
        supervisor = _browser(base, settings, "sup-1", "supervisor", COUNSELING_ORG)
        auditor = _browser(base, settings, "aud-1", "auditor", "state-oversight")
        member = _busiest_member(supervisor)
        rng = random.Random(7)
        pages: list[tuple[str, httpx.Client, Callable[[], str]]] = [
            ("shift view (all open flags of the org)", supervisor, lambda: "/console/shift"),
            ("org caseloads", supervisor, lambda: "/console/caseloads"),
            ("a member's caseload", supervisor, lambda: f"/console/caseloads/{member}"),
            ("client timeline", supervisor, lambda: f"/console/clients/{rng.choice(client_ids)}"),
            ("client search", supervisor, lambda: "/console/search?q=ar"),
            (
                "audit and access of a client",
                supervisor,
                lambda: f"/console/audit?client_id={rng.choice(client_ids)}",
            ),
            ("auditor's access log", auditor, lambda: "/console/audit"),
        ]
        say(f"{'page':<40}{'first ms':>10}{'p50 ms':>10}{'p99 ms':>10}{'max ms':>10}{'bytes':>10}")
        for title, browser, path in pages:
            timings, size = [], 0
            for _ in range(requests):
                began = time.perf_counter()
                answer = browser.get(path())
                timings.append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200, (title, answer.status_code)
                size = len(answer.content)
            say(
                f"{title:<40}{timings[0]:>10.1f}{statistics.median(timings):>10.1f}"
                f"{percentile(timings, 0.99):>10.1f}{max(timings):>10.1f}{size:>10,}"
            )
            slow = sorted(range(len(timings)), key=lambda i: -timings[i])[:3]
            worst = ", ".join(f"#{i} {timings[i]:.0f} ms" for i in slow)
            say(f"    slowest requests: {worst}")
    runtime.close()


def _clients(runtime: Runtime) -> list[str]:
    with runtime.db.connection() as conn:
        rows = conn.execute(
            "SELECT DISTINCT originator_id FROM care_events WHERE originator_version = 1"
        ).fetchall()
    return [str(row["originator_id"]) for row in rows]


def _browser(base: str, settings: Settings, sub: str, role: str, org: str) -> httpx.Client:
    token = development_token(settings, sub=sub, role=role, org=org, hours=2)
    cookies = {"carecircle_session": token, "carecircle_csrf": secrets.token_urlsafe(24)}
    return httpx.Client(base_url=base, cookies=cookies, timeout=30)


def _busiest_member(supervisor: httpx.Client) -> str:
    page = supervisor.get("/console/caseloads").text
    found = sorted({s.split('"')[0] for s in page.split('href="/console/caseloads/')[1:]})
    return found[0]


if __name__ == "__main__":
    main()
