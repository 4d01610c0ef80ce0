"""Crypto-shredding: `carecircle client erase` asks one authorized person and is confirmed by
another; then no byte of the client's PHI can be read back from PostgreSQL, the record shows
the skeleton of who did what when, readers do not crash, and the chains still verify."""

from __future__ import annotations

import re
from datetime import date
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from services.cli.main import build_parser
from services.settings import Settings
from services.wiring import Runtime, evaluator, live_runner, verify_audit
from tests.integration.http_support import bearer
from tests.integration.privacy.support import (
    AUDITOR,
    CRISIS,
    PEER_ORG,
    SUPERVISOR,
    enroll,
    headers,
    record,
)
from tests.stories import COUNSELOR, PEER, Person, consent_terms

GIVEN, FAMILY, PHONE, BORN = "Odalys", "Thornquist", "555-0187", date(1979, 6, 2)
NOTE = "Odalys asked that her sister Wren not be called"
SECRETS = (GIVEN, FAMILY, PHONE, BORN.isoformat(), "Wren")


def cli(settings: Settings, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str]:
    """Run one `carecircle` command in this process (without reconfiguring logging)."""
    args = build_parser().parse_args(list(argv))
    code: int = args.run(args, settings)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def token(runtime: Runtime, person: Person) -> str:
    return bearer(runtime.settings, person.sub, person.role, person.org)["Authorization"][7:]


def every_table(runtime: Runtime) -> list[str]:
    with runtime.store.connection() as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables"
            " WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        ).fetchall()
    return [row["table_name"] for row in rows]


def found_in_the_database(runtime: Runtime, needles: tuple[str, ...]) -> dict[str, list[str]]:
    """Every table's rows as text, and every bytea value's raw bytes, searched for the needles."""
    hits: dict[str, list[str]] = {}
    with runtime.store.connection() as conn:
        for table in every_table(runtime):
            name = sql.Identifier(table)
            as_text = conn.execute(sql.SQL("SELECT t::text AS row FROM {} t").format(name))
            texts = [r["row"] for r in as_text.fetchall()]
            raw = conn.execute(sql.SQL("SELECT * FROM {}").format(name)).fetchall()
            blobs = [bytes(v) for r in raw for v in r.values() if isinstance(v, bytes | memoryview)]
            for needle in needles:
                if any(needle in text for text in texts) or any(
                    needle.encode() in blob for blob in blobs
                ):
                    hits.setdefault(table, []).append(needle)
    return hits


@pytest.fixture(scope="module")
def cli_settings(settings: Settings) -> Settings:
    return settings


@pytest.fixture(scope="module")
def a_client_with_a_history(api: TestClient, runtime: Runtime) -> UUID:
    client = enroll(
        api, runtime, given=GIVEN, family=FAMILY, phone=PHONE, birth_date=BORN, part2=True
    )
    record(
        api,
        runtime,
        client,
        COUNSELOR,
        "SessionHeld",
        kind="family",
        modality="in_person",
        minutes=60,
        note=NOTE,
    )
    record(
        api,
        runtime,
        client,
        COUNSELOR,
        "ConsentGranted",
        **consent_terms("c-1", PEER_ORG),
    )
    peer_read = api.get(f"/v1/clients/{client}", headers=headers(runtime, PEER))
    assert peer_read.status_code == 200  # a disclosure is recorded too
    glass = api.post(
        f"/v1/clients/{client}/break-glass",
        json={"reason": "Odalys found unresponsive", "minutes": 15},
        headers=headers(runtime, CRISIS),
    )
    assert glass.status_code == 201
    live_runner(runtime).catch_up()  # the read models have seen it all
    return client


def test_erasure_takes_two_authorized_people(
    runtime: Runtime,
    cli_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    a_client_with_a_history: UUID,
) -> None:
    client = str(a_client_with_a_history)
    # a clinician may not even ask
    code, out = cli(
        cli_settings,
        capsys,
        "client",
        "erase",
        client,
        "--request",
        "--reason",
        "ticket PRIV-7",
        "--token",
        token(runtime, COUNSELOR),
    )
    assert (code, "forbidden" in out) == (2, True)
    # a supervisor of the program asks and gets a code
    code, out = cli(
        cli_settings,
        capsys,
        "client",
        "erase",
        client,
        "--request",
        "--reason",
        "ticket PRIV-7",
        "--token",
        token(runtime, SUPERVISOR),
    )
    assert code == 0, out
    confirmation = re.search(r"--confirm (\S+)", out)
    assert confirmation is not None
    # the same person cannot confirm, a wrong code confirms nothing
    code, out = cli(
        cli_settings,
        capsys,
        "client",
        "erase",
        client,
        "--confirm",
        confirmation.group(1),
        "--token",
        token(runtime, SUPERVISOR),
    )
    assert (code, "second_person_required" in out) == (2, True)
    code, out = cli(
        cli_settings,
        capsys,
        "client",
        "erase",
        client,
        "--confirm",
        "0000-0000-0000",
        "--token",
        token(runtime, AUDITOR),
    )
    assert (code, "unknown_code" in out) == (2, True)
    assert found_in_the_database(runtime, (GIVEN,)) == {}  # sealed all along, erased or not
    assert runtime.privacy is not None
    assert runtime.privacy.keys is not None
    assert not runtime.privacy.keys.is_erased(a_client_with_a_history)

    # another authorized person confirms
    code, out = cli(
        cli_settings,
        capsys,
        "client",
        "erase",
        client,
        "--confirm",
        confirmation.group(1),
        "--token",
        token(runtime, AUDITOR),
    )

    assert code == 0, out
    assert runtime.privacy.keys.is_erased(a_client_with_a_history)
    erasure = runtime.privacy.erasures.erasure_of(a_client_with_a_history)
    assert erasure is not None
    assert (erasure.requested_by, erasure.confirmed_by) == (SUPERVISOR.sub, AUDITOR.sub)


@pytest.fixture
def erased(
    runtime: Runtime,
    cli_settings: Settings,
    capsys: pytest.CaptureFixture[str],
    a_client_with_a_history: UUID,
) -> UUID:
    if (
        not runtime.privacy
        or not runtime.privacy.keys
        or not runtime.privacy.keys.is_erased(a_client_with_a_history)
    ):
        client = str(a_client_with_a_history)
        _, out = cli(
            cli_settings,
            capsys,
            "client",
            "erase",
            client,
            "--request",
            "--reason",
            "ticket PRIV-7",
            "--token",
            token(runtime, AUDITOR),
        )
        found = re.search(r"--confirm (\S+)", out)
        assert found is not None
        code, out = cli(
            cli_settings,
            capsys,
            "client",
            "erase",
            client,
            "--confirm",
            found.group(1),
            "--token",
            token(runtime, SUPERVISOR),
        )
        assert code == 0, out
    return a_client_with_a_history


def test_after_erasure_no_byte_of_the_phi_is_in_any_table(runtime: Runtime, erased: UUID) -> None:
    tables = every_table(runtime)
    assert {"care_events", "access_log", "client_keys", "audit_trail_v3"} <= set(tables)

    assert found_in_the_database(runtime, SECRETS) == {}


def test_after_erasure_the_record_shows_who_did_what_when_and_nothing_else(
    api: TestClient, runtime: Runtime, erased: UUID
) -> None:
    answer = api.get(f"/v1/clients/{erased}", headers=headers(runtime, SUPERVISOR))
    history = api.get(f"/v1/clients/{erased}/events", headers=headers(runtime, SUPERVISOR))

    assert answer.status_code == 200, answer.text
    skeleton = answer.json()
    assert skeleton["status"] == "erased"
    kinds = [entry["type"] for entry in skeleton["entries"]]
    assert kinds[:2] == ["ClientEnrolled", "EpisodeOpened"]
    assert {"SessionHeld", "DisclosureMade", "BreakGlassInvoked", "RiskFlagRaised"} <= set(kinds)
    enrolled = skeleton["entries"][0]
    assert enrolled["actor"]["id"] == COUNSELOR.sub
    assert enrolled["occurred_at"]
    assert enrolled["recorded_at"]
    assert history.status_code == 200
    assert {item["type"] for item in history.json()["items"]} == {"ErasedEntry"}
    for text in (answer.text, history.text):
        assert not [s for s in SECRETS if s in text]


def test_after_erasure_the_team_is_gone_and_nothing_more_is_recorded(
    api: TestClient, runtime: Runtime, erased: UUID
) -> None:
    peer = api.get(f"/v1/clients/{erased}", headers=headers(runtime, PEER))
    write = api.post(
        f"/v1/clients/{erased}/events",
        json={
            "type": "CheckInRecorded",
            "occurred_at": runtime.clock().isoformat(),
            "data": {"mood": 5, "craving": 5, "sleep_hours": 5, "used_since_last": False},
        },
        headers=headers(runtime, COUNSELOR),
    )

    assert peer.status_code == 404
    assert (write.status_code, write.json()["code"]) == (404, "client_not_enrolled")


def test_readers_do_not_crash_on_an_erased_client_and_the_chains_still_verify(
    runtime: Runtime, cli_settings: Settings, capsys: pytest.CaptureFixture[str], erased: UUID
) -> None:
    everything = runtime.store.read(after=0, limit=100_000)
    mine = [r for r in everything if r.event.client_id == erased]
    assert mine
    assert {r.event.type for r in mine} == {"ErasedEntry"}
    live_runner(runtime).catch_up()
    evaluator(runtime).sweep()

    assert verify_audit(runtime).ok
    code, out = cli(cli_settings, capsys, "audit", "verify")
    assert code == 0, out
    assert "audit trail verified" in out
    assert "access log verified" in out
    code, out = cli(cli_settings, capsys, "access-log", "verify")
    assert code == 0, out
    assert "verified" in out
