"""The read side's use cases: the `projections` worker's loop, rebuilds, audit verification.

`projections/` holds the read models and the engine and knows nothing of this layer; here the
event store, the connection pool and the command handler (for the flags the rules raise) are
passed in by services/wiring/, which also builds the runner and the evaluator.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import KW_ONLY, dataclass, field
from typing import TextIO

import structlog

from domain.commands import RecordCareEvent
from projections import Projection
from projections.audit_trail import AUDIT_TRAIL
from projections.early_warning import FlagEvaluator, RecordFlags
from projections.engine import Pool, Target, analyze, begin_rebuild, drop_version, swap
from projections.parking import live_parked
from projections.runner import Runner, Step
from services.adapters.store import EVENTS_TABLE, UNAVAILABLE_ERRORS, EventStore
from services.app.audit import verdict_line, verify_trail
from services.app.record import CareRecordHandler

log = structlog.get_logger(__name__)

FIRST_PAUSE = 0.25  # seconds after a failure of the projection worker
MAX_PAUSE = 2.0  # the cap: back within a couple of seconds of the database's return


def flag_recorder(handler: CareRecordHandler) -> RecordFlags:
    """The command path for the rules' flags, in one transaction per evaluation round."""

    def record(commands: Sequence[RecordCareEvent]) -> None:
        _recorded, refused = handler.record_batch(commands)
        for refusal in refused:
            log.warning(
                "early_warning.refused",
                code=refusal.error.code,
                event_type=commands[refusal.index].event.type,
                client_id=str(commands[refusal.index].event.client_id),
            )

    return record


@dataclass
class ProjectionWorker:
    """Catch up, follow live, and keep the early-warning flags in step with the clock.

    After a batch that reached the head, the clients it touched are evaluated at once (an
    event's flag is visible within two batches). While catching up a backlog nothing is
    evaluated (the clock is ahead of the signs); the next idle moment sweeps every client that
    changed. Each idle moment also evaluates the clients whose next time-based moment passed,
    and every `full_sweep_seconds` everything that changed, in case a bookmark was lost.
    """

    runner: Runner
    flags: FlagEvaluator | None
    _: KW_ONLY
    channel: str = EVENTS_TABLE
    poll_seconds: float = 1.0
    full_sweep_seconds: float = 60.0
    monotonic: Callable[[], float] = time.monotonic
    unavailable: tuple[type[Exception], ...] = UNAVAILABLE_ERRORS
    _sweep_pending: bool = field(default=True, init=False)
    _next_full: float = field(default=0.0, init=False)

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: the one catch-all of this process boundary, with a short, capped pause.

        When the database went away (a restart, a failover), every pooled connection is stale:
        the pool is checked at once — each idle connection tested, the broken ones replaced —
        instead of discarding one stale connection per retry. The pause doubles from
        `FIRST_PAUSE` to `MAX_PAUSE` seconds only, so the worker is back within a few seconds
        of the database's return (flags are meant to be visible within seconds).
        """
        pause = FIRST_PAUSE
        while not stop.is_set():
            try:
                self.runner.follow(
                    stop,
                    channel=self.channel,
                    poll_seconds=self.poll_seconds,
                    after_batch=self._after_batch,
                    when_idle=self._when_idle,
                )
            except Exception as error:
                log.error("projections.failed", error_type=type(error).__name__)
                self._sweep_pending = True
                if isinstance(error, self.unavailable):
                    self._reset_pool()
                stop.wait(pause)
                pause = min(pause * 2, MAX_PAUSE)
            else:
                pause = FIRST_PAUSE
        self._drain()

    def _drain(self) -> None:
        """On a graceful stop, project one more batch: the flags this worker's last sweep
        recorded are then in the read models before it exits (without it a stop right after a
        sweep left them to the next start — the race tests/integration/read_models/
        test_recovery.py saw as "caseload_flags: N rows differ from a rebuild")."""
        try:
            self.runner.step()
        except Exception as error:  # the next start applies it: positions are exactly-once
            log.warning("projections.drain_failed", error_type=type(error).__name__)

    def _reset_pool(self) -> None:
        try:
            self.runner.pool.check()
        except Exception as error:  # the database may still be away: the next retry checks again
            log.warning("projections.pool_check_failed", error_type=type(error).__name__)

    def _after_batch(self, step: Step) -> None:
        log.debug("projections.batch", count=step.count, position=step.items[-1].position)
        if self.flags is None:
            return
        if step.caught_up and not step.earlier and not self._sweep_pending:
            self.flags.evaluate_clients({item.recorded.event.client_id for item in step.items})
        else:
            self._sweep_pending = True

    def _when_idle(self) -> None:
        if self.flags is None:
            return
        if self._sweep_pending or self.monotonic() >= self._next_full:
            self.flags.sweep()
            self._sweep_pending = False
            self._next_full = self.monotonic() + self.full_sweep_seconds
        else:
            self.flags.sweep_due()


# --- rebuild --------------------------------------------------------------------------------------


def rebuild_projection(
    store: EventStore,
    pool: Pool,
    projection: Projection,
    *,
    grace_seconds: float = 10.0,
    batch_size: int,
    backlog_batch_size: int | None = None,
    backlog_round: int = 1,
    audit_key: bytes,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Build the next version beside the live one, swap atomically, drop the old one later."""
    name = projection.name
    if projection.name == AUDIT_TRAIL.name:
        verdict = verify_trail(pool, audit_key)
        if not verdict.ok:
            out.write(verdict_line(verdict) + "\nrefusing to rebuild the chain over it\n")
            return 1
    version = begin_rebuild(pool, projection)
    runner = Runner(
        store,
        pool,
        lambda: [Target(projection, version)],
        batch_size=batch_size,
        backlog_batch_size=backlog_batch_size,
        backlog_round=backlog_round,
    )
    started = time.perf_counter()
    count = runner.catch_up()
    analyze(pool, projection.tables_of(version).values())  # planned well from its first read
    old = swap(pool, name, version)
    count += runner.catch_up()  # what came in meanwhile, until the worker takes over
    seconds = time.perf_counter() - started
    out.write(f"{name}: version {version} is live (was {old}); {count} events in {seconds:.1f} s\n")
    log.info("projections.swapped", projection=name, version=version, count=count)
    sleep(grace_seconds)  # queries that read the old version's name may still be running
    for _attempt in range(5):
        try:
            drop_version(pool, projection, old)
            break
        except Exception as error:  # busy: a query or the worker still holds the old tables
            log.warning("projections.drop_retry", projection=name, error_type=type(error).__name__)
            sleep(grace_seconds)
    return 0


def retry_parked(
    store: EventStore,
    pool: Pool,
    projections: Sequence[Projection],
    *,
    grace_seconds: float = 10.0,
    batch_size: int,
    backlog_batch_size: int | None = None,
    backlog_round: int = 1,
    audit_key: bytes,
    out: TextIO = sys.stdout,
) -> int:
    """`carecircle projections retry`: after a fix, every projection whose live version parked
    events is rebuilt beside it (all events again, in position order) and swapped; what still
    fails is parked again in the new version. Answers the number still parked."""
    chosen = {projection.name for projection in projections}
    with pool.connection() as conn:
        parked = [p for p in live_parked(conn) if p.name in chosen]
    names = {p.name for p in parked}
    if not names:
        out.write("no parked events\n")
        return 0
    for projection in projections:
        if projection.name not in names:
            continue
        count = sum(1 for p in parked if p.name == projection.name)
        out.write(f"{projection.name}: {count} parked; rebuilding\n")
        rebuild_projection(
            store,
            pool,
            projection,
            grace_seconds=grace_seconds,
            batch_size=batch_size,
            backlog_batch_size=backlog_batch_size,
            backlog_round=backlog_round,
            audit_key=audit_key,
            out=out,
        )
    with pool.connection() as conn:
        left = [p for p in live_parked(conn) if p.name in names]
    for p in left:
        out.write(f"{p.name}: position {p.position} ({p.event_type}) still parked: {p.reason}\n")
    return len(left)
