"""The bounded per-client memory behind the process's caches of client state, access facts,
record folds and names: the most recently used entries by client id, under one lock, with the
hit and miss counts /metrics shows (services/adapters/metrics.py `CacheReading`).

Each cache says which entry stays when two writers race (`stays`): the store is append-only, so
an entry at a later version is never replaced by one at an earlier version.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar
from uuid import UUID

V = TypeVar("V")


def _never(_current: object, _given: object) -> bool:
    return False


class ClientLru(Generic[V]):
    """At most `size` entries by client id; the least recently used is dropped first."""

    def __init__(self, size: int, *, stays: Callable[[V, V], bool] = _never) -> None:
        self.size = size
        self._stays = stays
        self._items: OrderedDict[UUID, V] = OrderedDict()
        self._gone: set[UUID] = set()  # clients erased: never kept again
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def capacity(self) -> int:
        return self.size

    def lookup(self, client_id: UUID) -> V | None:
        """The client's entry, counted as a hit (and made the most recent) or a miss."""
        with self._lock:
            item = self._items.get(client_id)
            if item is not None:
                self.hits += 1
                self._items.move_to_end(client_id)
            else:
                self.misses += 1
            return item

    def lookup_many(self, client_ids: Iterable[UUID]) -> dict[UUID, V | None]:
        """`lookup` of each client under one lock (a list read asks for a page of clients)."""
        out: dict[UUID, V | None] = {}
        with self._lock:
            items = self._items
            for client_id in client_ids:
                item = out[client_id] = items.get(client_id)
                if item is not None:
                    items.move_to_end(client_id)
            found = sum(1 for item in out.values() if item is not None)
            self.hits += found
            self.misses += len(out) - found
        return out

    def keep(self, client_id: UUID, value: V) -> None:
        """Keep `value` for the client unless the entry already there `stays`."""
        self.keep_many([(client_id, value)])

    def keep_many(self, values: Iterable[tuple[UUID, V]]) -> None:
        """`keep` of each (client, value) under one lock."""
        with self._lock:
            items = self._items
            for client_id, value in values:
                if client_id in self._gone:  # brought by a request in flight when it was erased
                    continue
                current = items.get(client_id)
                if current is not None and self._stays(current, value):
                    continue
                items[client_id] = value
                items.move_to_end(client_id)
            while len(items) > self.size:
                items.popitem(last=False)

    def forget(self, client_id: UUID) -> None:
        with self._lock:
            self._items.pop(client_id, None)

    def erased(self, client_id: UUID) -> None:
        """The client was erased: drop the entry, and never keep one again (a request that read
        the client before the erasure and finishes after it would bring back what it read)."""
        with self._lock:
            self._gone.add(client_id)
            self._items.pop(client_id, None)

    def clear(self) -> None:
        """Forget everything (a missed erasure notice can no longer matter)."""
        with self._lock:
            self._items.clear()
