"""The long-running roles' collector: survivors of a full collection are frozen, so the next full
collection walks only what came since (a full walk over warm caches paused requests ~450 ms)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from services.wiring import tune_garbage_collector


@pytest.fixture
def tuned() -> Iterator[None]:
    thresholds = gc.get_threshold()
    callbacks = list(gc.callbacks)
    tune_garbage_collector()
    yield
    gc.callbacks[:] = callbacks
    gc.set_threshold(*thresholds)
    gc.unfreeze()


def test_a_full_collection_freezes_what_survives_it(tuned: None) -> None:
    # given objects made after start-up that stay alive (a cache filling)
    cache = [[n] for n in range(10_000)]  # lists: always tracked by the collector
    frozen_before = gc.get_freeze_count()

    # when a full collection runs
    gc.collect()

    # then what survived it is frozen out of the next ones
    assert gc.get_freeze_count() >= frozen_before + len(cache)


def test_tuning_twice_installs_the_freeze_once(tuned: None) -> None:
    tune_garbage_collector()

    assert (
        sum(
            1 for c in gc.callbacks if getattr(c, "__name__", "") == "_freeze_after_full_collection"
        )
        == 1
    )
