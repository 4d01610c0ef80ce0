"""Issue 6 acceptance: the replay stream resumed from any position yields exactly the rest of
the store, in order (the route is services/api/replay.py; this checks it against the store)."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient

from services.wiring import Runtime
from tests.stories import ANALYST, parent_after_surgery, young_professional


def replay_positions(api: TestClient, runtime: Runtime, **params: Any) -> list[int]:
    answer = api.get("/v1/replay", params=params, headers=ANALYST.headers(runtime.settings))
    assert answer.status_code == 200, answer.text
    return [orjson.loads(line)["position"] for line in answer.content.splitlines() if line]


def stored_positions(runtime: Runtime) -> list[int]:
    with runtime.store.connection() as conn:
        rows = conn.execute("SELECT position FROM care_event_index ORDER BY position").fetchall()
    return [int(row["position"]) for row in rows]


def test_a_replay_resumed_from_any_position_yields_exactly_the_rest_of_the_store_in_order(
    api: TestClient, runtime: Runtime
) -> None:
    # given a store holding both seed stories
    young_professional().over_http(api, runtime.settings)
    parent_after_surgery().over_http(api, runtime.settings)
    stored = stored_positions(runtime)
    assert len(stored) > 40
    # when an analyst resumes the stream after each position, and after the head
    for after in [0, *stored]:
        # then it yields exactly the stored events after it, in position order
        assert replay_positions(api, runtime, after=after, limit=100_000) == [
            p for p in stored if p > after
        ], after
    # and page by page (a small limit each time) the pages add up to the whole store
    pages: list[int] = []
    after = 0
    while page := replay_positions(api, runtime, after=after, limit=7):
        pages.extend(page)
        after = page[-1]
    assert pages == stored
