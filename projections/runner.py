"""The runner: reads the global order in batches and applies each batch to the projection
versions behind it, exactly once, in one transaction with their positions
(`projection_positions`, locked FOR UPDATE first): a crash at any instant leaves either the
batch and its positions or neither, and two runners on the same projection take turns instead
of applying an event twice. It catches up, then follows live on LISTEN (NOTIFY is only a
wake-up; a timeout poll backs it up). Behind the head it applies rounds of larger batches (the
`Runner` docstring); an event a batch cannot apply is parked (projections/parking.py).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import structlog
from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from domain.recorded import Recorded
from projections.engine import POSITIONS, EventSource, Held, Pool, Stored, Target
from projections.parking import apply_or_park, parkable
from projections.upkeep import maintain

log = structlog.get_logger(__name__)

# events a runner applies between two upkeeps of its tables (vacuum, analyze as autovacuum
# would): often enough that the rows its updates leave behind stay a fraction of a table (a
# vacuumed table keeps its size for new rows; one upkeep per 100,000 events left the caseload's
# client table at 4 times the size it has with one per 10,000, and its organization-wide
# read at 19.6 ms against 3.2)
MAINTAIN_EVERY = 20_000


@dataclass(frozen=True, slots=True)
class Step:
    """What one transaction did: its last batch's events, how many events its earlier batches
    of the same round applied (0 at the head), and whether the head was reached."""

    items: Sequence[Stored]
    caught_up: bool
    earlier: int = 0

    @property
    def count(self) -> int:
        return self.earlier + len(self.items)


_LOCK_POSITIONS = SQL(
    "SELECT p.name, p.version, p.position FROM {positions} p"
    " JOIN unnest(%s::text[], %s::integer[]) AS t(name, version) USING (name, version)"
    " ORDER BY p.name, p.version FOR UPDATE OF p"
).format(positions=POSITIONS)
_READ_POSITIONS = SQL(
    "SELECT p.name, p.version, p.position FROM {positions} p"
    " JOIN unnest(%s::text[], %s::integer[]) AS t(name, version) USING (name, version)"
).format(positions=POSITIONS)
_MOVE_POSITION = SQL(
    "UPDATE {positions} SET position = %s, recorded_at = %s WHERE name = %s AND version = %s"
).format(positions=POSITIONS)


class _RoundFailed(Exception):
    """A round of backlog batches failed for its events' sake and was rolled back: the events
    up to `until` are applied again one batch a transaction, where failures are parked."""

    def __init__(self, until: int) -> None:
        super().__init__(until)
        self.until = until


def _read(source: EventSource, after: int, limit: int) -> list[Stored]:
    return [Stored(*row) for row in source.read_stored(after=after, limit=limit)]


class _ReadAhead:
    """The next backlog batch, read and decoded on a thread of its own while the runner applies
    the one before it: a batch's statements wait on PostgreSQL for a third of its time or more,
    and decoding the next batch fills that wait. The runner takes it only if the batch it
    applied left every target where the read-ahead starts (a failed batch, a target added
    meanwhile or a smaller limit throw it away and read again)."""

    def __init__(self, source: EventSource, after: int, limit: int) -> None:
        self.after = after
        self.limit = limit
        self._done = threading.Event()
        self._items: list[Stored] = []
        self._error: BaseException | None = None
        threading.Thread(
            target=self._read, args=(source,), name="projections-read-ahead", daemon=True
        ).start()

    def _read(self, source: EventSource) -> None:
        try:
            self._items = _read(source, self.after, self.limit)
        except BaseException as error:  # handed to the runner's thread in items()
            self._error = error
        finally:
            self._done.set()

    def items(self) -> list[Stored]:
        self._done.wait()
        if self._error is not None:
            raise self._error
        return self._items


class Runner:
    """Applies batches of events to some projection versions, exactly once each.

    At the head a batch holds up to `batch_size` events (a flag follows its event quickly) and
    is one transaction. Behind it, after a full batch, a batch holds up to `backlog_batch_size`
    events, and up to `backlog_round` of them are applied in one transaction, a round: each
    batch is decoded and applied in turn (memory holds one batch, and the next read ahead), but
    what a projection can hold back (its handlers' statements, the early-warning signs) is
    written once at the round's end. A client's signs document is then rewritten once per
    round, not once per batch, and a client's raises of a row merge over the whole round. A
    round stops early at `round_clients` distinct clients (the signs it holds are in memory
    until it ends). Catching up 300,000 events of a 1,000,000-event store ran at 3,527 events/s
    in batches of 2,000 and 5,323 in batches of 20,000; the whole 1,000,000-event store at 5,845
    and 5,884 events/s a batch of 20,000 a transaction, 6,445 and 6,477 in rounds of five, with
    a third less of PostgreSQL's time (docs/benchmarks.md, seventh pass).

    A round that fails for its events' sake is rolled back and applied again one batch a
    transaction, where a batch that fails is applied event by event and the failing event is
    parked (projections/parking.py).
    """

    def __init__(
        self,
        source: EventSource,
        pool: Pool,
        targets: Callable[[], Sequence[Target]],
        *,
        batch_size: int = 2000,
        backlog_batch_size: int | None = None,
        backlog_round: int = 1,
        round_clients: int = 20_000,
        maintain_every: int = MAINTAIN_EVERY,
        read_ahead: bool = True,
    ) -> None:
        self.source = source
        self.pool = pool
        self.targets = targets
        self.batch_size = batch_size
        self.backlog_batch_size = max(batch_size, backlog_batch_size or batch_size)
        self.backlog_round = max(1, backlog_round)
        self.round_clients = round_clients
        self.maintain_every = maintain_every
        self.read_ahead = read_ahead
        self._behind = False  # the last batch was full: more are waiting
        self._ahead: _ReadAhead | None = None
        self._since_maintained = 0
        self._one_batch_until = 0  # a round up to here failed: one batch a transaction

    def step(self) -> Step:
        """Read one batch (a round of them behind the head) after the lowest position and
        apply it to every target behind it, in one transaction."""
        targets = list(self.targets())
        if not targets:
            return Step((), caught_up=True)
        names = [t.projection.name for t in targets]
        versions = [t.version for t in targets]
        limit = self.backlog_batch_size if self._behind else self.batch_size
        with self.pool.connection() as conn:
            rows = conn.execute(_READ_POSITIONS, (names, versions)).fetchall()
            start = min((row["position"] for row in rows), default=0)
            items = self._batch(start, limit)
            if not items:
                return Step((), caught_up=True)
            rounds = self.backlog_round if self._behind and start >= self._one_batch_until else 1
            try:
                step = self._apply(conn, targets, (names, versions), items, rounds)
            except _RoundFailed as failed:
                self._one_batch_until = failed.until
                self._ahead = None
                return Step((), caught_up=False)
        self._since_maintained += step.count
        if self._since_maintained >= self.maintain_every:
            self.maintain(targets)
        return step

    def _batch(self, after: int, limit: int) -> list[Stored]:
        """The batch after `after`: the one read ahead if it starts there, else read now; and,
        when it is full, the next one started on the read-ahead thread."""
        ahead, self._ahead = self._ahead, None
        if ahead is not None and (ahead.after, ahead.limit) == (after, limit):
            items = ahead.items()
        else:
            items = _read(self.source, after, limit)
        self._behind = len(items) >= limit
        if self._behind and self.read_ahead and items:
            self._ahead = _ReadAhead(self.source, items[-1].position, self.backlog_batch_size)
        return items

    def _apply(
        self,
        conn: Connection[DictRow],
        targets: Sequence[Target],
        keys: tuple[list[str], list[int]],
        items: list[Stored],
        rounds: int,
    ) -> Step:
        """Apply `items`, and behind the head up to `rounds` batches in all, in one transaction
        with the targets' positions."""
        held = {t.key: Held() for t in targets} if rounds > 1 else None
        earlier = 0
        clients: set[object] = set()
        try:
            with conn.transaction(), conn.cursor() as cur:
                locked = {
                    (row["name"], row["version"]): row["position"]
                    for row in cur.execute(_LOCK_POSITIONS, keys).fetchall()
                }
                reached: dict[tuple[str, int], Recorded] = {}
                for batch in itertools.count(1):
                    self._apply_batch(conn, cur, targets, locked, items, held, reached)
                    if not self._behind or batch >= rounds:
                        break
                    clients.update(item.recorded.event.client_id for item in items)
                    if len(clients) >= self.round_clients:
                        break
                    following = self._batch(items[-1].position, self.backlog_batch_size)
                    if not following:
                        break
                    earlier += len(items)
                    items = following
                for target in targets:
                    if held is not None and target.key in reached:
                        target.settle(cur, held[target.key])
                for (name, version), last in reached.items():
                    cur.execute(_MOVE_POSITION, (last.position, last.recorded_at, name, version))
        except Exception as error:
            if held is None or not parkable(error):
                raise
            until = items[-1].position
            log.warning("projections.round_failed", error_type=type(error).__name__, until=until)
            raise _RoundFailed(until) from error
        return Step(items, caught_up=not self._behind, earlier=earlier)

    @staticmethod
    def _apply_batch(
        conn: Connection[DictRow],
        cur: Cursor[DictRow],
        targets: Sequence[Target],
        locked: Mapping[tuple[str, int], int],
        items: Sequence[Stored],
        held: Mapping[tuple[str, int], Held] | None,
        reached: dict[tuple[str, int], Recorded],
    ) -> None:
        """One batch to each target behind it: alone, under a savepoint that parks the events
        that fail; in a round, into what the target holds (a failure fails the round)."""
        for target in targets:
            position = locked.get(target.key)
            if position is None:
                continue  # dropped meanwhile
            todo = [item for item in items if item.position > position]
            if not todo:
                continue
            if held is None:
                apply_or_park(conn, cur, target.key, todo, target.apply)
            else:
                target.apply(cur, todo, held[target.key])
            reached[target.key] = todo[-1].recorded

    def maintain(self, targets: Sequence[Target]) -> None:
        """Vacuum and analyze the targets' tables as autovacuum would (projections/upkeep.py),
        after the transaction that brought the events applied to `maintain_every` or more,
        behind the head and at it (behind it, that is once a round)."""
        done = maintain(self.pool, (table for t in targets for table in t.tables.values()))
        log.info(
            "projections.maintained",
            events=self._since_maintained,
            vacuumed=sum(1 for upkeep in done.values() if upkeep == "vacuum"),
            analyzed=sum(1 for upkeep in done.values() if upkeep == "analyze"),
        )
        self._since_maintained = 0

    def catch_up(self, stop: threading.Event | None = None) -> int:
        """Apply batches until the head (as it was when each batch was read) is reached."""
        total = 0
        while stop is None or not stop.is_set():
            step = self.step()
            total += step.count
            if step.caught_up:
                break
        return total

    def follow(
        self,
        stop: threading.Event,
        *,
        channel: str,
        poll_seconds: float = 1.0,
        after_batch: Callable[[Step], None] | None = None,
        when_idle: Callable[[], None] | None = None,
    ) -> None:
        """Catch up, then wait on LISTEN (or the poll timeout) for more, until `stop` is set."""
        with self.pool.connection() as listener:
            listener.execute(SQL("LISTEN {}").format(Identifier(channel)))
            while not stop.is_set():
                step = self.step()
                if step.count and after_batch is not None:
                    after_batch(step)
                if not step.caught_up:
                    continue
                if when_idle is not None:
                    when_idle()
                for _ in listener.notifies(timeout=poll_seconds, stop_after=1):
                    pass
