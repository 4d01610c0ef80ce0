"""Recovery after a database restart (issue 10, bullet 5): with the API (`carecircle serve`) and
the projection worker (`carecircle worker projections`) running as their own processes, a
PostgreSQL of the test's own (embedded, under the test's temp dir: never the shared server) is
restarted with `pg_ctl restart`, in fast mode and in immediate mode (a crash: recovery from the
WAL at start). A PHQ-9 written after the database is back raises its flag, and the flag is
visible over HTTP within 5 seconds of the database's return."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from infra.embedded import EmbeddedPostgres, free_loopback_port
from services.settings import Settings
from tests.stories import Clock, Person, Story, body

ROOT = Path(__file__).resolve().parents[3]
VISIBLE_WITHIN_S = 5.0  # the operating contract: flags visible within 5 s of the return
PHQ9_ITEM_9_ANSWERED = [0, 0, 0, 0, 0, 0, 0, 0, 1]  # SUI-1, high
COUNSELOR = Person("restart-counselor", "counselor", "restart-org")


class Stack:
    """An embedded PostgreSQL, the API and the projection worker, each a process of its own."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.pg = EmbeddedPostgres(base / "pgdata")
        self.port = free_loopback_port()
        self.processes: list[subprocess.Popen[bytes]] = []
        self.env: dict[str, str] = {}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.pg.start()
        database = self.pg.ensure_database("restart")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
        self.env.update(
            CARE_DATABASE_URL=database,
            CARE_HTTP_PORT=str(self.port),
            CARE_LOG_LEVEL="warning",
            CARE_DATA_DIR=str(self.base / "data"),
        )
        self._cli("db", "migrate").wait(timeout=300)
        self.processes = [self._cli("serve"), self._cli("worker", "projections")]
        deadline = time.monotonic() + 300
        while not self._ready():
            assert time.monotonic() < deadline, "the API did not become ready"
            assert all(p.poll() is None for p in self.processes), "a process exited"
            time.sleep(0.2)

    def _cli(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.base / f"{args[-1]}.log").open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "services.cli.main", *args],
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )

    def _ready(self) -> bool:
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def restart_postgres(self, mode: str) -> None:
        """`pg_ctl restart -m MODE -w`: returns once the server accepts connections again."""
        self.pg.restart(mode)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.pg.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("restart"))
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()


def post_until_answered(http: httpx.Client, path: str, event: dict[str, object]) -> None:
    """Send, and re-send with the same event id until answered 201 (a careful client: the first
    requests after a restart may meet a connection the restart broke, a 503)."""
    deadline = time.monotonic() + 60
    while True:
        answer = http.post(path, json=event, headers=COUNSELOR.headers(Settings()))
        if answer.status_code == 201:
            return
        assert answer.status_code == 503, answer.text
        assert time.monotonic() < deadline, "the write was never answered"
        time.sleep(0.05)


def flag_visible(http: httpx.Client, client_id: str) -> bool:
    answer = http.get(
        "/v1/flags", params={"client_id": client_id}, headers=COUNSELOR.headers(Settings())
    )
    if answer.status_code != 200:
        return False
    return any(flag["rule_id"] == "SUI-1" for flag in answer.json()["items"])


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_a_flag_written_after_a_postgresql_restart_is_visible_within_5_seconds(
    stack: Stack, mode: str
) -> None:
    with httpx.Client(base_url=stack.url, timeout=30) as http:
        # given a client enrolled by a counselor, and the API and worker settled
        story = Story(clock=Clock()).by(COUNSELOR).at(hours=-2).enrolled()
        story.over_http(http, Settings())
        client = str(story.client_id)

        # when PostgreSQL restarts (fast: a clean shutdown; immediate: a crash and recovery)
        stack.restart_postgres(mode)
        returned = time.monotonic()
        # and the counselor records a PHQ-9 with item 9 answered right after its return
        phq9 = body("AssessmentRecorded", instrument="PHQ-9", answers=PHQ9_ITEM_9_ANSWERED)
        post_until_answered(http, f"/v1/clients/{client}/events", phq9)

        # then the flag it raises is visible within 5 s of the database's return
        deadline = returned + VISIBLE_WITHIN_S
        visible = flag_visible(http, client)
        while not visible and time.monotonic() < deadline:
            time.sleep(0.05)
            visible = flag_visible(http, client)
        assert visible, f"no SUI-1 flag {time.monotonic() - returned:.1f} s after the return"
