"""`carecircle export` of a simulated store of 100,000+ events, read back by DuckDB and pandas."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import duckdb
import pandas as pd
import pytest

from demo.simulate import simulate
from domain.commands import RecordCareEvent
from services.adapters.tokens import issue_token
from services.cli.analysts import cmd_export
from services.cli.main import build_parser
from services.settings import Settings
from services.wiring import Runtime
from tests.stories import ANALYST


def record_simulated(runtime: Runtime, *, clients: int, days: int, seed: int) -> int:
    """Realistic demo data through the command path, 2,000 commands per transaction."""

    def record(commands: Sequence[RecordCareEvent]) -> int:
        recorded, _refused = runtime.handler.record_batch(commands)
        return len(recorded)

    start = (runtime.clock() - timedelta(days=days + 1)).replace(microsecond=0)
    summary = simulate(record, clients=clients, days=days, seed=seed, start=start, batch_size=2000)
    return summary.events


def store_counts(runtime: Runtime) -> dict[str, int]:
    with runtime.store.connection() as conn:
        rows = conn.execute(
            "SELECT type, count(*) AS n FROM care_event_index GROUP BY type"
        ).fetchall()
    return {row["type"]: int(row["n"]) for row in rows}


def export(runtime: Runtime, directory: Path, *extra: str) -> int:
    token = issue_token(
        runtime.settings.jwt_secret.get_secret_value(),
        sub=ANALYST.sub,
        role=ANALYST.role,
        org=ANALYST.org,
        ttl=timedelta(hours=1),
    )
    args = build_parser().parse_args(
        ["export", "--to", str(directory), "--token", token, "--deidentify", *extra]
    )

    @contextmanager
    def runtime_for(_settings: Settings) -> Iterator[Runtime]:
        yield runtime

    return cmd_export(args, runtime.settings, runtime_for)


def duckdb_counts(directory: Path) -> dict[str, int]:
    rows = duckdb.sql(
        f"SELECT type, count(*) FROM read_parquet('{directory}/events/*.parquet') GROUP BY type"
    ).fetchall()
    return {str(kind): int(n) for kind, n in rows}


def test_an_export_of_100k_events_reads_back_in_duckdb_and_pandas_and_resumes_with_exactly_the_new(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a simulated store of more than 100,000 events
    stored = record_simulated(runtime, clients=640, days=90, seed=11)
    expected = store_counts(runtime)
    assert sum(expected.values()) >= 100_000
    directory = tmp_path / "export"

    # when an analyst exports it as Parquet
    assert export(runtime, directory) == 0
    out, err = capsys.readouterr()

    # then DuckDB reads the events table with the store's counts per type
    assert duckdb_counts(directory) == expected
    # and every per-type table holds exactly that type's events, read by DuckDB and pandas
    for kind, count in expected.items():
        table = directory / kind
        found = duckdb.sql(f"SELECT count(*) FROM read_parquet('{table}/*.parquet')").fetchall()
        assert found == [(count,)], kind
    events = pd.read_parquet(directory / "events")
    assert events["type"].value_counts().to_dict() == expected
    assert events["position"].is_unique
    checkins = pd.read_parquet(directory / "CheckInRecorded")
    assert {"mood", "craving", "sleep_hours", "used_since_last", "substances"} <= set(checkins)
    assert str(checkins["occurred_at"].dtype) == "datetime64[us, UTC]"
    # and the rows are de-identified: pseudonyms, no names or free text
    enrolled = pd.read_parquet(directory / "ClientEnrolled")
    assert not {"given_name", "family_name", "birth_date", "phone"} & set(enrolled)
    assert events["client_id"].str.startswith("c-").all()
    real_ids = {str(c) for c in _client_ids(runtime)}
    assert not real_ids & set(events["client_id"])
    # and a progress line went to stderr and a summary with the counts to stdout
    assert "export 100.0%" in err
    assert stored == sum(expected.values())
    assert f"exported {stored:,} events after position 0" in out
    for kind, count in expected.items():
        assert re.search(rf"^  {kind} +{count:,}$", out, re.MULTILINE), kind

    # given more events recorded after the export
    added = record_simulated(runtime, clients=25, days=20, seed=12)
    assert added > 0
    # when the export runs again into the same directory
    assert export(runtime, directory) == 0
    out, _err = capsys.readouterr()
    # then it added exactly the new events: the counts per type equal the store's again
    after = store_counts(runtime)
    assert duckdb_counts(directory) == after
    assert f"exported {added:,} events after position" in out
    both = pd.read_parquet(directory / "events")
    assert len(both) == sum(after.values())
    assert both["position"].is_unique


def test_an_export_refuses_a_directory_that_holds_something_else(
    runtime: Runtime, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    directory = tmp_path / "busy"
    directory.mkdir()
    (directory / "notes.txt").write_text("not an export")
    assert export(runtime, directory) == 2
    assert "directory_not_empty" in capsys.readouterr().err
    assert sorted(p.name for p in directory.iterdir()) == ["notes.txt"]


def _client_ids(runtime: Runtime) -> list[UUID]:
    with runtime.store.connection() as conn:
        rows = conn.execute("SELECT DISTINCT client_id FROM care_event_index").fetchall()
    return [row["client_id"] for row in rows]
