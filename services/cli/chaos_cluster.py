"""The fault suite's cluster and load: real processes on a PostgreSQL and a broker of their own.

`Cluster` starts an embedded PostgreSQL (infra/embedded.py, under its own data dir: never the
machine's shared server) and a Tansu broker of its own, migrates, and runs the API
(`carecircle serve`) and the workers (`carecircle worker projections|ingest|publish`) as
separate processes, each restartable and killable with SIGKILL. `Load` drives a fixed clinical
mix against it from threads: check-ins over HTTP (each with its own event id, re-sent with the
same id until answered, as a careful client does), check-ins over Kafka, and reads of records
and caseloads; it writes down what was acknowledged (HTTP 2xx; Kafka offsets are acknowledged
when the store tracks them) and how long each answer took.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any
from uuid import uuid4

import httpx
import orjson

from infra.embedded import EmbeddedPostgres, TansuBroker, create_topics, free_loopback_port
from services.settings import Settings
from services.wiring import development_token

ROLES = ("api", "projections", "ingest", "publish")
INBOUND = "care.events.inbound"
COUNSELOR = {"id": "chaos-counselor", "role": "counselor", "org": "chaos-org"}


class Cluster:
    """PostgreSQL, a broker, the API and the three workers, each a process of its own."""

    def __init__(self, base: Path, *, partitions: int = 3) -> None:
        self.base = base
        self.pg = EmbeddedPostgres(base / "pgdata")
        self.broker = TansuBroker(base / "tansu", port=free_loopback_port())
        self.http_port = free_loopback_port()
        self.partitions = partitions
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: dict[str, IO[bytes]] = {}
        self.url = ""
        self.env: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    def start(self) -> None:
        (self.base / "logs").mkdir(parents=True, exist_ok=True)
        self.pg.start()
        self.url = self.pg.ensure_database("chaos")
        self.broker.start()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("CARE_")}
        self.env.update(
            CARE_DATABASE_URL=self.url,
            CARE_KAFKA_BOOTSTRAP=self.broker.bootstrap,
            CARE_HTTP_PORT=str(self.http_port),
            CARE_LOG_LEVEL="warning",
            CARE_DATA_DIR=str(self.base / "data"),
            CARE_KAFKA_TOPIC_PARTITIONS=str(self.partitions),
            CARE_KAFKA_INGEST_INSTANCE_ID="chaos-ingest-0",
            CARE_POOL_SIZE="4",
            CARE_POOL_MAX_OVERFLOW="8",
        )
        self._cli("db", "migrate")
        self.create_topics()
        for role in ROLES:
            self.spawn(role)
        self.wait_ready()

    def create_topics(self) -> None:
        """Before any client: a consumer subscribed to a topic that does not exist yet is only
        assigned its partitions at its next metadata refresh (kafka-python: 5 minutes)."""
        settings = self.settings()
        names = [
            settings.kafka_inbound_topic,
            settings.kafka_deadletter_topic,
            settings.kafka_events_topic,
            settings.kafka_flags_topic,
        ]
        create_topics(self.broker.bootstrap, names, partitions=self.partitions)

    def settings(self) -> Settings:
        return Settings(
            database_url=self.url,
            kafka_bootstrap=self.broker.bootstrap,
            kafka_topic_partitions=self.partitions,
        )

    def _cli(self, *args: str) -> None:
        subprocess.run(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "services.cli.main", *args],
            env=self.env,
            check=True,
            capture_output=True,
            timeout=300,
        )

    def spawn(self, role: str) -> None:
        argv = [sys.executable, "-m", "services.cli.main"]
        argv += ["serve"] if role == "api" else ["worker", role]
        log = self._logs.get(role) or (self.base / "logs" / f"{role}.log").open("ab")
        self._logs[role] = log
        self.processes[role] = subprocess.Popen(  # noqa: S603 - ourselves
            argv, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )

    def wait_ready(self, timeout_s: float = 300.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base_url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the API did not become ready")

    def kill(self, role: str) -> None:
        """kill -9, then start it again."""
        process = self.processes[role]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        self.spawn(role)

    def restart_postgres(self, down_s: float = 2.0) -> None:
        self.pg.stop()
        time.sleep(down_s)
        self.pg.start()

    def restart_broker(
        self, down_s: float = 1.0, while_down: Callable[[], None] | None = None
    ) -> None:
        """A memory-only broker: every message on it is gone after this. `while_down` runs once
        the old broker's process is gone."""
        self.broker.stop()
        if while_down is not None:
            while_down()
        time.sleep(down_s)
        self.broker.start()
        self.create_topics()  # as an operator's cluster has them

    def pids(self) -> dict[str, int]:
        return {role: p.pid for role, p in self.processes.items()}

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self._logs.values():
            log.close()
        self.broker.stop()
        self.pg.stop()


def rss_mb(pid: int) -> float:
    """Resident memory of a process (Linux /proc), in MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


# --- the load -------------------------------------------------------------------------------------


@dataclass
class Ledger:
    """What the load sent and what it was told."""

    http_acked: dict[str, str] = field(default_factory=dict)  # event id -> client id
    sent_to: dict[str, set[str]] = field(default_factory=dict)  # client id -> event ids sent
    kafka_sent: list[tuple[int, int, str]] = field(default_factory=list)  # partition, offset, id
    latencies: list[tuple[float, float]] = field(default_factory=list)  # (when, seconds)
    requests: int = 0
    errors: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, started: float, ok: bool) -> None:
        with self.lock:
            self.requests += 1
            self.latencies.append((started, time.monotonic() - started))
            if not ok:
                self.errors += 1


def _now(minutes_ago: float = 1.0) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes_ago)).isoformat()


def check_in_data(rng: random.Random) -> dict[str, Any]:
    return {
        "mood": rng.randint(1, 10),
        "craving": rng.randint(0, 10),
        "sleep_hours": rng.choice([4, 5, 6, 7, 8]),
        "used_since_last": rng.random() < 0.1,
    }


class Load:
    """A fixed clinical mix from `callers` threads until stopped: per 10 steps, 6 check-ins over
    HTTP, 1 over Kafka, 2 record reads and 1 caseload read."""

    def __init__(self, cluster: Cluster, *, clients: int = 12, callers: int = 4, seed: int = 7):
        self.cluster = cluster
        self.ledger = Ledger()
        self.rng = random.Random(seed)  # noqa: S311 - a load's mix, not secrets
        self.callers = callers
        self.stop = threading.Event()
        self.running = threading.Event()
        self.running.set()
        settings = cluster.settings()
        self.token = development_token(
            settings, sub=COUNSELOR["id"], role="counselor", org=COUNSELOR["org"], hours=12
        )
        self.clients = self._enroll(clients)
        self._threads: list[threading.Thread] = []
        self._producer: Any = None

    def _http(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.cluster.base_url,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=15,
        )

    def _enroll(self, n: int) -> list[str]:
        clients = []
        with self._http() as http:
            for i in range(n):
                client = self._retry(
                    http,
                    "/v1/clients",
                    {
                        "event_id": str(uuid4()),
                        "type": "ClientEnrolled",
                        "occurred_at": _now(24 * 60),
                        "data": {
                            "program": "chaos",
                            "part2": False,
                            "given_name": "Chaos",
                            "family_name": f"Client{i}",
                            "birth_date": "1990-01-01",
                        },
                    },
                )["client_id"]
                self._retry(
                    http,
                    f"/v1/clients/{client}/events",
                    {
                        "event_id": str(uuid4()),
                        "type": "CareTeamMemberAssigned",
                        "occurred_at": _now(24 * 60),
                        "data": {
                            "member_id": COUNSELOR["id"],
                            "role": "counselor",
                            "org": COUNSELOR["org"],
                        },
                    },
                )
                self.ledger.sent_to[client] = set()
                clients.append(client)
        return clients

    def _retry(self, http: httpx.Client, path: str, body: dict[str, Any]) -> dict[str, Any]:
        for _attempt in range(200):
            try:
                answer = http.post(path, json=body)
                if answer.status_code < 300:
                    result: dict[str, Any] = answer.json()
                    return result
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError("the API never answered the enrollment")

    def start(self) -> None:
        from kafka import KafkaProducer  # the provider's side: a plain client, not ours

        self._producer = KafkaProducer(
            bootstrap_servers=self.cluster.broker.bootstrap,
            acks="all",
            retries=5,
            reconnect_backoff_max_ms=2000,
        )
        for index in range(self.callers):
            thread = threading.Thread(target=self._caller, args=(index,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def pause(self) -> None:
        """Callers finish the request in hand and wait (the checks need a quiet store)."""
        self.running.clear()
        time.sleep(1.0)
        if self._producer is not None:
            with contextlib.suppress(Exception):  # a broker restarting: those are unacknowledged
                self._producer.flush(timeout=20)

    def resume(self) -> None:
        self.running.set()

    def halt(self) -> None:
        self.stop.set()
        for thread in self._threads:
            thread.join(timeout=60)
        if self._producer is not None:
            with contextlib.suppress(Exception):  # a broker restarting: those are unacknowledged
                self._producer.flush(timeout=30)
            self._producer.close(timeout=10)

    def _caller(self, index: int) -> None:
        rng = random.Random(index * 7919)  # noqa: S311
        with self._http() as http:
            while not self.stop.is_set():
                if not self.running.wait(0.2):
                    continue
                step = rng.randrange(10)
                client = rng.choice(self.clients)
                if step < 6:
                    self._check_in_http(http, client, rng)
                elif step < 7:
                    self._check_in_kafka(client, rng)
                elif step < 9:
                    self._read(http, f"/v1/clients/{client}")
                else:
                    self._read(http, f"/v1/caseloads/{COUNSELOR['id']}")

    def _check_in(self, client: str, rng: random.Random) -> dict[str, Any]:
        """A check-in for the client, its event id noted as sent before it goes."""
        event_id = str(uuid4())
        with self.ledger.lock:
            self.ledger.sent_to[client].add(event_id)
        return {
            "event_id": event_id,
            "type": "CheckInRecorded",
            "occurred_at": _now(),
            "data": check_in_data(rng),
        }

    def _check_in_http(self, http: httpx.Client, client: str, rng: random.Random) -> None:
        body = self._check_in(client, rng)
        event_id = body["event_id"]
        for _attempt in range(40):  # the same event id until answered: a re-send stores nothing
            started = time.monotonic()
            try:
                answer = http.post(f"/v1/clients/{client}/events", json=body)
                ok = answer.status_code < 300
            except httpx.HTTPError:
                ok = False
            self.ledger.answered(started, ok)
            if ok:
                with self.ledger.lock:
                    self.ledger.http_acked[event_id] = client
                return
            if self.stop.wait(0.25) or not self.running.is_set():
                return  # unanswered: maybe stored, never acknowledged

    def _check_in_kafka(self, client: str, rng: random.Random) -> None:
        body = self._check_in(client, rng)
        body.update(client_id=client, actor=COUNSELOR, purpose_of_use="treatment")
        event_id = body["event_id"]
        try:
            meta = self._producer.send(INBOUND, key=client.encode(), value=orjson.dumps(body)).get(
                timeout=10
            )
        except Exception:
            return
        with self.ledger.lock:
            self.ledger.kafka_sent.append((meta.partition, meta.offset, event_id))

    def _read(self, http: httpx.Client, path: str) -> None:
        started = time.monotonic()
        try:
            ok = http.get(path).status_code < 300
        except httpx.HTTPError:
            ok = False
        self.ledger.answered(started, ok)
