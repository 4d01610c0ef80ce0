"""What the projection worker evaluates after a step: the clients of a batch that reached the head
at once, but nothing after a round of backlog batches (the clock is ahead of the signs there);
the next idle moment sweeps what changed."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, cast
from uuid import UUID, uuid4

from projections.engine import Stored
from projections.runner import Step
from services.app.read_side import ProjectionWorker
from tests.unit import builders as b


class Evaluations:
    def __init__(self) -> None:
        self.evaluated: list[set[UUID]] = []

    def evaluate_clients(self, client_ids: Collection[UUID]) -> int:
        self.evaluated.append(set(client_ids))
        return 0


def batch_of(client_id: UUID) -> list[Stored]:
    history = b.stored(b.enrolled(client_id=client_id), b.check_in(client_id=client_id, craving=9))
    return [Stored(recorded, "care", b"") for recorded in history]


def worker(flags: Evaluations) -> ProjectionWorker:
    worker = ProjectionWorker(cast(Any, None), cast(Any, flags))
    worker._sweep_pending = False  # the start's sweep done
    return worker


def test_a_batch_that_reached_the_head_has_its_clients_evaluated_at_once() -> None:
    # given a worker following live
    flags = Evaluations()
    following = worker(flags)
    client_id = uuid4()
    # when a batch of one client's events reaches the head
    following._after_batch(Step(batch_of(client_id), caught_up=True))
    # then that client is evaluated, and no sweep is left pending
    assert flags.evaluated == [{client_id}]
    assert not following._sweep_pending


def test_a_round_of_backlog_batches_that_reached_the_head_leaves_a_sweep_instead() -> None:
    # given a worker following live
    flags = Evaluations()
    following = worker(flags)
    # when a round ends at the head after earlier backlog batches in the same transaction
    following._after_batch(Step(batch_of(uuid4()), caught_up=True, earlier=20_000))
    # then nothing is evaluated at once: the clients of the earlier batches are not in the
    # step, so the next idle moment sweeps every client that changed
    assert flags.evaluated == []
    assert following._sweep_pending
