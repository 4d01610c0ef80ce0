"""`carecircle replay --as-of`: the caseload and flags as they stood on the night of the crisis."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient
from psycopg.sql import SQL, Identifier

from projections.caseload import CASELOAD, caseload_of
from projections.early_warning import EARLY_WARNING, flags_page
from projections.engine import Tables
from services.app.time_travel import TimeTravelRefused, rebuild_as_of
from services.cli.analysts import cmd_replay
from services.cli.main import build_parser
from services.settings import Settings
from services.wiring import Runtime, evaluator, live_runner, read_models
from tests.stories import (
    TEAM,
    Story,
    young_professional_after_the_night,
    young_professional_before_the_night,
)


def settle(runtime: Runtime) -> None:
    """What the projections worker does: project, let the rules raise flags, project those."""
    runner = live_runner(runtime, batch_size=500)
    flags = evaluator(runtime)
    for _round in range(5):
        runner.catch_up()
        if not flags.sweep():
            return
    raise AssertionError("the rules kept recording flags")


def views(conn: Any, caseload: Tables, early_warning: Tables, client_id: UUID) -> dict[str, Any]:
    """What the caseload and flag queries answer for the story's team and client."""
    return {
        "caseloads": {
            member.sub: [
                row for row in caseload_of(conn, caseload, member.sub) if row.client_id == client_id
            ]
            for member in TEAM
        },
        "flags": flags_page(conn, early_warning, client_id=client_id).items,
    }


def live_views(runtime: Runtime, client_id: UUID) -> dict[str, Any]:
    reads = read_models(runtime)
    with reads.reading(["caseload", "early_warning"]) as (conn, tables):
        return views(conn, tables["caseload"], tables["early_warning"], client_id)


@contextmanager
def same_runtime(runtime: Runtime) -> Iterator[Any]:
    @contextmanager
    def runtime_for(_settings: Settings) -> Iterator[Runtime]:
        yield runtime

    yield runtime_for


def test_the_caseload_and_flags_as_of_the_night_equal_what_the_live_projection_showed(
    api: TestClient, runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    # given the young professional's story up to the night of the crisis, projected live
    story = young_professional_before_the_night(Story())
    story.over_http(api, runtime.settings)
    settle(runtime)
    client_id = story.client_id
    assert client_id is not None
    # and what the caseload and the flags showed that night, captured then
    that_night = live_views(runtime, client_id)
    night = datetime.now(UTC)
    assert [f.rule_id for f in that_night["flags"] if f.status == "open"]
    assert all(that_night["caseloads"].values())
    # when the story goes on (sessions, handoff, safety plan, a better check-in) and is projected
    young_professional_after_the_night(story).over_http(api, runtime.settings)
    settle(runtime)
    assert live_views(runtime, client_id) != that_night  # the present differs from that night
    # and the read models are rebuilt as of that night into a review schema, by the CLI
    schema = f"review_{secrets.token_hex(4)}"
    args = build_parser().parse_args(
        [
            "replay",
            "--as-of",
            night.isoformat(),
            "--projection",
            "caseload",
            "--projection",
            "early_warning",
            "--into",
            schema,
        ]
    )
    with same_runtime(runtime) as runtime_for:
        assert cmd_replay(args, runtime.settings, runtime_for) == 0
    out = capsys.readouterr().out
    assert f"caseload v{CASELOAD.version} as of {night.isoformat()}" in out
    # then the same queries over the review schema answer exactly what was captured that night
    caseload = {b: Identifier(schema, f"{b}_v{CASELOAD.version}") for b in CASELOAD.tables}
    early = {b: Identifier(schema, f"{b}_v{EARLY_WARNING.version}") for b in EARLY_WARNING.tables}
    with runtime.store.connection() as conn:
        assert views(conn, caseload, early, client_id) == that_night
    # and the live read models are untouched: they still show the present
    assert live_views(runtime, client_id) != that_night


def test_an_existing_schema_is_refused_and_only_a_review_schema_is_replaced(
    runtime: Runtime,
) -> None:
    now = datetime.now(UTC)
    schema = f"review_{secrets.token_hex(4)}"
    rebuild_as_of(
        runtime.store, runtime.database_url, as_of=now, projections=[CASELOAD], schema=schema
    )
    with pytest.raises(TimeTravelRefused) as again:
        rebuild_as_of(
            runtime.store, runtime.database_url, as_of=now, projections=[CASELOAD], schema=schema
        )
    assert again.value.code == "schema_exists"
    replaced = rebuild_as_of(
        runtime.store,
        runtime.database_url,
        as_of=now,
        projections=[CASELOAD],
        schema=schema,
        replace=True,
    )
    assert replaced[0].schema == schema
    foreign = f"someone_{secrets.token_hex(4)}"
    with runtime.store.connection() as conn:
        conn.execute(SQL("CREATE SCHEMA {}").format(Identifier(foreign)))
    with pytest.raises(TimeTravelRefused) as theirs:
        rebuild_as_of(
            runtime.store,
            runtime.database_url,
            as_of=now,
            projections=[CASELOAD],
            schema=foreign,
            replace=True,
        )
    assert theirs.value.code == "schema_not_ours"
    for live in ("public", "pg_catalog", "Robert'); DROP TABLE care_events;--"):
        with pytest.raises(TimeTravelRefused):
            rebuild_as_of(
                runtime.store, runtime.database_url, as_of=now, projections=[CASELOAD], schema=live
            )


def test_a_moment_before_anything_was_recorded_is_explained_not_just_empty(
    runtime: Runtime, capsys: pytest.CaptureFixture[str]
) -> None:
    # given a store whose first event was recorded recently (the seed stories, the demo data)
    first = runtime.store.read(after=0, limit=1)
    assert first
    # when an analyst travels to a moment before it
    schema = f"review_{secrets.token_hex(4)}"
    before = "2000-01-01T00:00:00+00:00"
    args = build_parser().parse_args(
        ["replay", "--as-of", before, "--projection", "caseload", "--into", schema]
    )
    with same_runtime(runtime) as runtime_for:
        assert cmd_replay(args, runtime.settings, runtime_for) == 0
    # then the answer says why it is empty and when the store's first event was recorded
    out = capsys.readouterr().out
    assert "0 events up to position 0" in out
    assert f"the store's first event was recorded at {first[0].recorded_at.isoformat()}" in out
    assert "recorded time, not occurred_at" in out


def test_an_existing_review_schema_is_refused_by_its_name(runtime: Runtime) -> None:
    schema = f"review_{secrets.token_hex(4)}"
    now = datetime.now(UTC)
    rebuild_as_of(
        runtime.store, runtime.database_url, as_of=now, projections=[CASELOAD], schema=schema
    )
    with pytest.raises(TimeTravelRefused) as again:
        rebuild_as_of(
            runtime.store, runtime.database_url, as_of=now, projections=[CASELOAD], schema=schema
        )
    assert again.value.message == f"Schema {schema} exists; pass --replace to rebuild it."
