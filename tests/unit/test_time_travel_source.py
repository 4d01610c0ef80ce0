"""The store cut at a moment (services/app/time_travel.py AsOfSource), over a fake store."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from domain.recorded import Recorded
from services.app.time_travel import AsOfSource
from tests.unit import builders as b


class FakeStore:
    """The store's global order with its stored topic and bytes (unit tests only)."""

    def __init__(self, items: list[Recorded]) -> None:
        self.items = items

    def read_stored(self, *, after: int, limit: int) -> list[tuple[Recorded, str, bytes]]:
        found = [r for r in self.items if r.position > after][:limit]
        return [(r, r.event.type, b"") for r in found]


def test_the_cut_keeps_what_was_recorded_by_then_and_fills_each_batch_past_what_it_skips() -> None:
    # given events whose recorded times are not in position order (two writers raced)
    checks = [b.check_in(occurred_at=b.T0 + timedelta(hours=h)) for h in range(10)]
    items = b.stored(b.enrolled(), *checks)
    moment = items[0].recorded_at + timedelta(hours=5, minutes=30)
    items[2] = replace(items[2], recorded_at=moment + timedelta(seconds=1))  # stamped late
    bound = items[7].position
    source = AsOfSource(FakeStore(items), moment, bound)  # type: ignore[arg-type]
    # when the runner reads it in batches of 2
    seen: list[Any] = []
    after = 0
    while True:
        batch = source.read_stored(after=after, limit=2)
        seen.extend(r.position for r, _topic, _state in batch)
        if len(batch) < 2:
            break
        after = batch[-1][0].position
    # then it got every event recorded by the moment, none after, each batch full until the end
    wanted = [r.position for r in items if r.recorded_at <= moment and r.position <= bound]
    assert seen == wanted
    assert items[2].position not in seen
    assert source.head() == bound
