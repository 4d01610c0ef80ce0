"""Demo data through the real command path: every simulated event is stored, none refused."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import pytest

from demo.simulate import simulate
from domain.commands import RecordCareEvent
from services.adapters.store import EventStore, open_database
from services.app.record import CareRecordHandler, Refused

START = datetime(2026, 2, 2, tzinfo=UTC)


@pytest.fixture
def handler(database_url: str) -> Iterator[CareRecordHandler]:
    database = open_database(database_url)
    try:
        store = EventStore(database)
        store.migrate()
        yield CareRecordHandler(store)
    finally:
        database.close()


class HandlerPort:
    """The port `run_simulation` wires, keeping the refusals for the test to see."""

    def __init__(self, handler: CareRecordHandler) -> None:
        self.handler = handler
        self.refused: list[Refused] = []

    def __call__(self, commands: Sequence[RecordCareEvent]) -> int:
        recorded, refused = self.handler.record_batch(commands)
        self.refused += refused
        return len(recorded)


def test_every_simulated_event_is_stored_and_none_is_refused(handler: CareRecordHandler) -> None:
    port = HandlerPort(handler)
    head_before = handler.store.head()

    summary = simulate(port, clients=10, days=14, seed=20260202, start=START, batch_size=200)

    episodes = summary.by_type.get("ClientEnrolled", 0) + summary.by_type.get("ClientReadmitted", 0)
    assert [r.error.code for r in port.refused] == []
    assert summary.events == summary.commands + episodes  # each opening adds EpisodeOpened
    assert handler.store.head() - head_before == summary.events


def test_simulating_the_same_seed_again_stores_nothing_new(handler: CareRecordHandler) -> None:
    port = HandlerPort(handler)
    first = simulate(port, clients=3, days=7, seed=77, start=START)
    head = handler.store.head()

    again = simulate(port, clients=3, days=7, seed=77, start=START)

    assert first.events > 0
    assert again.events == 0
    assert again.commands == first.commands
    assert port.refused == []
    assert handler.store.head() == head
