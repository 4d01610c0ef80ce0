"""Reading a client's record from a snapshot: the record folded so far, kept per client in
memory, caught up with only the events after it (domain/record.py `RecordFold`), so a record
of 10,000 events is read in about the time of one of 100.

The store is append-only, so a snapshot is never wrong, only behind; it is caught up on every
read. An event that changes the past (entered in error, corrected, erased) folds the whole
history again, and an erased client's snapshot is dropped (this process forgets at erasure;
every other process is told by the erasure notice and drops it at once).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable
from uuid import UUID

from domain.record import ClientRecord, RecordFold, fold_record, resume_record
from domain.recorded import Recorded
from services.app.ports import ClientHistory


class RecordReads:
    """Each recently read client's record fold, caught up with the store on every read."""

    def __init__(
        self,
        store: ClientHistory,
        *,
        size: int = 100_000,
        erased: Callable[[UUID], bool] = lambda _client: False,
    ) -> None:
        self._store = store
        self._size = size
        self._erased = erased
        self._items: OrderedDict[UUID, RecordFold] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __len__(self) -> int:
        return len(self._items)

    @property
    def capacity(self) -> int:
        return self._size

    def current(self, client_id: UUID) -> tuple[ClientRecord | None, list[Recorded] | None]:
        """The client's record now; with the whole history when it was read (an erased or
        unknown client's answer needs it), else None."""
        if self._erased(client_id):
            self.forget(client_id)
            everything = self._store.load(client_id)
            return fold_record(everything).record(), everything
        with self._lock:
            cached = self._items.get(client_id)
            if cached is not None:
                self._items.move_to_end(client_id)
                self.hits += 1
            else:
                self.misses += 1
        history: list[Recorded] | None = None
        fold = None
        if cached is not None:
            fold = resume_record(cached, self._store.load(client_id, after_version=cached.version))
        if fold is None:
            history = self._store.load(client_id)
            fold = fold_record(history)
        record = fold.record()
        if record is not None:
            self._put(client_id, fold)
        return record, history

    def forget(self, client_id: UUID) -> None:
        with self._lock:
            self._items.pop(client_id, None)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def _put(self, client_id: UUID, fold: RecordFold) -> None:
        with self._lock:
            current = self._items.get(client_id)
            if current is not None and current.version > fold.version:
                return
            self._items[client_id] = fold
            self._items.move_to_end(client_id)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
