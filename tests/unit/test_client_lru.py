"""The per-client memory behind the state, access-facts and record caches."""

from __future__ import annotations

from uuid import UUID, uuid4

from services.app.client_lru import ClientLru


def versions(size: int) -> ClientLru[int]:
    """A memory of client versions where a later version is never replaced by an earlier one."""
    return ClientLru(size, stays=lambda current, given: current > given)


def test_a_client_asked_again_is_a_hit_and_an_unknown_one_a_miss() -> None:
    # given a memory that keeps one client at version 3
    memory, client = versions(10), uuid4()
    memory.keep(client, 3)
    # when it is asked for that client and for another
    found, missing = memory.lookup(client), memory.lookup(uuid4())
    # then the first is a hit with its version and the second a miss
    assert (found, missing) == (3, None)
    assert (memory.hits, memory.misses) == (1, 1)


def test_a_later_version_stays_when_a_slower_writer_brings_an_earlier_one() -> None:
    memory, client = versions(10), uuid4()
    memory.keep(client, 5)
    memory.keep(client, 4)
    assert memory.lookup(client) == 5
    memory.keep(client, 6)
    assert memory.lookup(client) == 6


def test_the_least_recently_used_client_is_dropped_first() -> None:
    # given a memory of two clients, the first asked again after both were kept
    memory = versions(2)
    first, second, third = uuid4(), uuid4(), uuid4()
    memory.keep(first, 1)
    memory.keep(second, 1)
    memory.lookup(first)
    # when a third client is kept
    memory.keep(third, 1)
    # then the second (used longest ago) is gone, and the memory holds its capacity
    assert memory.lookup(second) is None
    assert memory.lookup(first) == 1
    assert memory.lookup(third) == 1
    assert len(memory) == memory.capacity == 2


def test_an_erased_client_is_forgotten_and_a_missed_notice_clears_everything() -> None:
    memory = versions(10)
    clients: list[UUID] = [uuid4() for _ in range(3)]
    for client in clients:
        memory.keep(client, 1)
    memory.forget(clients[0])
    assert memory.lookup(clients[0]) is None
    assert len(memory) == 2
    memory.clear()
    assert len(memory) == 0


def test_an_erased_client_is_never_kept_again() -> None:
    # given a memory that keeps a client, and the client's erasure
    memory, client = versions(10), uuid4()
    memory.keep(client, 3)
    memory.erased(client)
    # when a request that read the client before the erasure finishes and keeps what it read
    memory.keep(client, 4)
    # then nothing of the client is kept, even after the whole memory is cleared
    memory.clear()
    memory.keep(client, 5)
    assert memory.lookup(client) is None
