"""A record read resumes from the record folded so far (a snapshot held by the reader): folding
the newer events onto it gives exactly the record folded from the whole history, and an event
that changes the past (entered in error, corrected, erased) makes the reader fold it all again."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from uuid import UUID, uuid4

from demo.simulate import care_events
from domain.catalogue import parse_event
from domain.record import client_record, fold_record, resume_record
from domain.recorded import Recorded

START = datetime(2026, 1, 5, tzinfo=UTC)


def simulated_histories() -> dict[UUID, list[Recorded]]:
    histories: dict[UUID, list[Recorded]] = defaultdict(list)
    for position, payload in enumerate(
        care_events(clients=4, days=45, seed=3, start=START), start=1
    ):
        event = parse_event(payload)
        history = histories[event.client_id]
        history.append(Recorded(event, len(history) + 1, position, event.occurred_at))
    return histories


def test_resuming_at_any_point_gives_the_record_of_the_whole_history() -> None:
    # given simulated clients' histories, each split at every point
    for history in simulated_histories().values():
        whole = client_record(history)
        for cut in range(0, len(history) + 1, max(1, len(history) // 25)):
            # when the reader folded the first part, then resumes with the rest
            resumed = resume_record(fold_record(history[:cut]), history[cut:])
            # then the record is the same as folding everything at once
            assert resumed is not None
            assert resumed.record() == whole
            assert resumed.version == len(history)


def test_resuming_never_changes_the_fold_it_started_from() -> None:
    history = max(simulated_histories().values(), key=len)
    half = fold_record(history[: len(history) // 2])
    before = half.record()
    resume_record(half, history[len(history) // 2 :])
    assert half.record() == before


def test_an_entry_entered_in_error_makes_the_reader_fold_everything_again() -> None:
    history = max(simulated_histories().values(), key=len)
    fold = fold_record(history)
    target = history[-1].event
    voiding = parse_event(
        {
            "event_id": str(uuid4()),
            "type": "EntryEnteredInError",
            "client_id": str(target.client_id),
            "occurred_at": target.occurred_at.isoformat(),
            "actor": target.actor.model_dump(mode="json"),
            "data": {"target_event_id": str(target.event_id), "reason": "wrong client"},
        }
    )
    newer = [Recorded(voiding, len(history) + 1, 10**6, target.occurred_at)]
    assert resume_record(fold, newer) is None


def test_events_that_do_not_follow_the_fold_are_not_folded_onto_it() -> None:
    history = max(simulated_histories().values(), key=len)
    fold = fold_record(history[:10])
    assert resume_record(fold, history[11:]) is None
