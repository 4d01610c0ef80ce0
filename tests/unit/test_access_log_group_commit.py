"""Group commit of access-log entries: callers arriving while a transaction is being written
wait, and the next transaction carries all of them; nobody returns before their entries are
written, and a failed write fails every caller of its group."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from services.adapters.access_log import AccessEntry, _GroupCommit


def _entry(actor: str) -> AccessEntry:
    return AccessEntry(
        at=datetime(2026, 1, 1, tzinfo=UTC),
        actor_id=actor,
        actor_role="counselor",
        actor_org="org",
        client_id=None,
        action="read_caseload",
        data_classes=(),
        purpose="treatment",
        outcome="allowed",
    )


class SlowWriter:
    """Writes groups; the first write waits until told to go on."""

    def __init__(self, fail: bool = False) -> None:
        self.groups: list[list[str]] = []
        self.first_started = threading.Event()
        self.go_on = threading.Event()
        self.fail = fail
        self.next_id = 1

    def __call__(self, entries: list[AccessEntry]) -> list[int]:
        if not self.groups:
            self.groups.append([e.actor_id for e in entries])
            self.first_started.set()
            self.go_on.wait(5)
        else:
            self.groups.append([e.actor_id for e in entries])
        if self.fail:
            raise ConnectionError("the database went away")
        ids = list(range(self.next_id, self.next_id + len(entries)))
        self.next_id += len(entries)
        return ids


def test_readers_arriving_during_a_commit_share_the_next_one() -> None:
    # given a first reader whose transaction is being written
    writer = SlowWriter()
    group = _GroupCommit(writer)
    answers: dict[str, list[int]] = {}
    first = threading.Thread(target=lambda: answers.update(a=group.submit([_entry("a")])))
    first.start()
    assert writer.first_started.wait(5)
    # when three more readers arrive meanwhile
    others = [
        threading.Thread(target=lambda n=n: answers.update({n: group.submit([_entry(n)])}))
        for n in ("b", "c", "d")
    ]
    for thread in others:
        thread.start()
    while len(group._pending) < 3:
        threading.Event().wait(0.01)
    writer.go_on.set()
    for thread in [first, *others]:
        thread.join(5)
    # then the three are written together in the second transaction, each with its own id
    assert writer.groups[0] == ["a"]
    assert sorted(writer.groups[1]) == ["b", "c", "d"]
    assert len(writer.groups) == 2
    assert sorted(i for ids in answers.values() for i in ids) == [1, 2, 3, 4]
    assert (group.batches, group.entries) == (2, 4)


def test_a_failed_write_fails_every_reader_of_its_group() -> None:
    writer = SlowWriter(fail=True)
    writer.go_on.set()
    group = _GroupCommit(writer)
    with pytest.raises(ConnectionError):
        group.submit([_entry("a")])
    # and the next reader leads a new transaction rather than waiting forever
    with pytest.raises(ConnectionError):
        group.submit([_entry("b")])
    assert writer.groups == [["a"], ["b"]]
