"""A rebuild builds the next version beside the live one while queries keep being answered,
then swaps: every query sees the old version or the new one, never an error or a mixture."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from psycopg.sql import SQL

from projections.audit_trail import audit_page
from projections.caseload import caseload_of
from projections.early_warning import flags_page
from services.wiring import BY_NAME, Runtime, live_runner, read_models, rebuild
from tests.integration.read_models.support import Client, ReadSide, record_simulated
from tests.unit import builders as b

ROOT = Path(__file__).resolve().parents[3]
NAMES = ("caseload", "early_warning", "audit_trail")


def cli(url: str, *args: str) -> tuple[int, str]:
    env = {**os.environ, "CARE_DATABASE_URL": url, "CARE_LOG_LEVEL": "warning"}
    done = subprocess.run(
        [sys.executable, "-m", "services.cli.main", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return done.returncode, done.stdout


def test_queries_are_answered_throughout_a_rebuild_and_see_one_version_at_a_time(
    runtime: Runtime, read_side: ReadSide
) -> None:
    record_simulated(runtime, clients=30, days=20, seed=5)
    read_side.settle()
    with read_models(runtime).reading(["caseload"]) as (conn, tables):
        member = conn.execute(
            SQL("SELECT member_id FROM {caseload_members} LIMIT 1").format(**tables["caseload"])
        ).fetchone()
    assert member is not None
    reads = read_models(runtime)
    seen: list[tuple[tuple[int, ...], Any]] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def ask() -> None:
        while not stop.is_set():
            try:
                with reads.reading(NAMES) as (conn, tables):
                    versions = tuple(_version(tables[n]) for n in NAMES)
                    answer = (
                        caseload_of(conn, tables["caseload"], member["member_id"]),
                        flags_page(conn, tables["early_warning"], limit=50).items,
                        audit_page(conn, tables["audit_trail"], limit=50).items,
                    )
                seen.append((versions, answer))
            except BaseException as error:
                errors.append(error)

    asker = threading.Thread(target=ask)
    asker.start()
    try:
        for name in NAMES:
            assert rebuild(runtime, name, grace_seconds=1.0, out=io.StringIO()) == 0
    finally:
        stop.set()
        asker.join(timeout=30)

    assert errors == []
    first = tuple(BY_NAME[name].version for name in NAMES)
    assert seen[0][0] == first
    assert seen[-1][0] == tuple(version + 1 for version in first)
    versions = [v for v, _ in seen]
    assert versions == sorted(versions), "a query saw an old version after the new one"
    assert {repr(answer) for _, answer in seen} == {repr(seen[0][1])}


def _version(tables: Any) -> int:
    name = next(iter(tables.values())).as_string()
    return int(name.rsplit("_v", 1)[1].strip('"'))


def test_the_cli_shows_status_and_rebuilds_then_the_worker_follows_the_new_version(
    runtime: Runtime, read_db_url: str, read_side: ReadSide
) -> None:
    live_runner(runtime).catch_up()
    status, before = cli(read_db_url, "projections", "status")
    rebuilt, said = cli(read_db_url, "projections", "rebuild", "caseload", "--grace", "0")
    client = Client.enrolled(read_side)
    client.record(b.check_in)
    live_runner(runtime).catch_up()
    _, after = cli(read_db_url, "projections", "status")

    head = runtime.store.head()
    assert (status, rebuilt) == (0, 0)
    built = BY_NAME["caseload"].version + 1  # the module's first test rebuilt every projection
    assert f"caseload: version {built + 1} is live (was {built})" in said
    for name in NAMES:
        assert name in before
    caseload_line = next(line for line in after.splitlines() if line.startswith("caseload"))
    assert caseload_line.split()[1:5] == [f"v{built + 1}", str(head), str(head), "0"]
