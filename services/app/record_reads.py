"""Reading a client's record from a snapshot: the record folded so far, kept per client in
memory, caught up with only the events after it (domain/record.py `RecordFold`), so a record
of 10,000 events is read in about the time of one of 100.

The store is append-only, so a snapshot is never wrong, only behind; it is caught up on every
read. An event that changes the past (entered in error, corrected, erased) folds the whole
history again, and an erased client's snapshot is dropped (this process forgets at erasure;
every other process is told by the erasure notice and drops it at once).
"""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from domain.record import ClientRecord, RecordFold, fold_record, resume_record
from domain.recorded import Recorded
from services.app.client_lru import ClientLru
from services.app.ports import ClientHistory


class RecordReads(ClientLru[RecordFold]):
    """Each recently read client's record fold, caught up with the store on every read."""

    def __init__(
        self,
        store: ClientHistory,
        *,
        size: int = 100_000,
        erased: Callable[[UUID], bool] = lambda _client: False,
    ) -> None:
        super().__init__(size, stays=lambda current, given: current.version > given.version)
        self._store = store
        self._erased = erased

    def current(self, client_id: UUID) -> tuple[ClientRecord | None, list[Recorded] | None]:
        """The client's record now; with the whole history when it was read (an erased or
        unknown client's answer needs it), else None."""
        if self._erased(client_id):
            self.forget(client_id)
            everything = self._store.load(client_id)
            return fold_record(everything).record(), everything
        cached = self.lookup(client_id)
        history: list[Recorded] | None = None
        fold = None
        if cached is not None:
            fold = resume_record(cached, self._store.load(client_id, after_version=cached.version))
        if fold is None:
            history = self._store.load(client_id)
            fold = fold_record(history)
        record = fold.record()
        if record is not None:
            self.keep(client_id, fold)
        return record, history
