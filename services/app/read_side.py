"""The read side wired together: projections, their worker, rebuilds, status, audit verification.

`projections/` holds the read models and the engine and knows nothing of this layer; here the
event store, the connection pool, the command handler (for the flags the rules raise), the
clock and the settings are passed in. The worker role `projections` runs every projection's
live version and the early-warning evaluator; `carecircle projections status|rebuild` and
`carecircle audit verify` are the operator's commands.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from functools import partial
from typing import TYPE_CHECKING, TextIO

import structlog

from domain.commands import RecordCareEvent
from domain.early_warning import Thresholds, thresholds_from
from projections import CORE, Projection
from projections.audit_trail import AUDIT_TRAIL, Verdict, verify
from projections.early_warning import FlagEvaluator, RecordFlags, migrate_evaluations
from projections.engine import (
    Pool,
    ReadModels,
    Runner,
    Step,
    Target,
    begin_rebuild,
    drop_version,
    live_targets,
    migrate,
    status,
    swap,
    versions_of,
)
from services.adapters.store import EVENTS_TABLE
from services.app.record import CareRecordHandler
from services.settings import Settings

if TYPE_CHECKING:
    from services.wiring import Runtime

log = structlog.get_logger(__name__)

PROJECTIONS: tuple[Projection, ...] = CORE
BY_NAME = {p.name: p for p in PROJECTIONS}


def pool_of(runtime: Runtime) -> Pool:
    pool: Pool = runtime.store.datastore.pool
    return pool


def migrate_read_side(runtime: Runtime) -> None:
    """The engine's tables, each projection's first version, the evaluator's bookmarks."""
    pool = pool_of(runtime)
    migrate(pool, PROJECTIONS)
    migrate_evaluations(pool)


def read_models(runtime_pool: Pool, settings: Settings) -> ReadModels:
    return ReadModels(runtime_pool, PROJECTIONS, wait_seconds=settings.read_wait_seconds)


def thresholds_of(settings: Settings) -> Thresholds:
    return thresholds_from(settings.warning_thresholds)


def batch_size_of(settings: Settings) -> int:
    return settings.projection_batch_size


def record_flags(handler: CareRecordHandler) -> RecordFlags:
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


def live_runner(runtime: Runtime, *, batch_size: int | None = None) -> Runner:
    pool = pool_of(runtime)
    return Runner(
        runtime.store,
        pool,
        lambda: live_targets(pool, PROJECTIONS),
        batch_size=batch_size or batch_size_of(runtime.settings),
    )


def evaluator(runtime: Runtime, *, thresholds: Thresholds | None = None) -> FlagEvaluator:
    return FlagEvaluator(
        pool_of(runtime),
        record_flags(runtime.handler),
        runtime.clock,
        thresholds or thresholds_of(runtime.settings),
    )


class ProjectionWorker:
    """Catch up, follow live, and keep the early-warning flags in step with the clock.

    After a batch that reached the head, the clients it touched are evaluated at once (an
    event's flag is visible within two batches). While catching up a backlog nothing is
    evaluated (the clock is ahead of the signs); the next idle moment sweeps every client that
    changed. Each idle moment also evaluates the clients whose next time-based moment passed,
    and every `full_sweep_seconds` everything that changed, in case a bookmark was lost.
    """

    def __init__(
        self,
        runner: Runner,
        flags: FlagEvaluator | None,
        *,
        channel: str = EVENTS_TABLE,
        poll_seconds: float = 1.0,
        full_sweep_seconds: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.runner = runner
        self.flags = flags
        self.channel = channel
        self.poll_seconds = poll_seconds
        self.full_sweep_seconds = full_sweep_seconds
        self._monotonic = monotonic
        self._sweep_pending = True
        self._next_full = 0.0

    def run(self, stop: threading.Event) -> None:
        """Until `stop`: the one catch-all of this process boundary, with a growing pause."""
        pause = 0.5
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
                stop.wait(pause)
                pause = min(pause * 2, 30.0)
            else:
                pause = 0.5

    def _after_batch(self, step: Step) -> None:
        log.debug("projections.batch", count=step.count, position=step.items[-1].position)
        if self.flags is None:
            return
        if step.caught_up and not self._sweep_pending:
            self.flags.evaluate_clients({item.recorded.event.client_id for item in step.items})
        else:
            self._sweep_pending = True

    def _when_idle(self) -> None:
        if self.flags is None:
            return
        if self._sweep_pending or self._monotonic() >= self._next_full:
            self.flags.sweep()
            self._sweep_pending = False
            self._next_full = self._monotonic() + self.full_sweep_seconds
        else:
            self.flags.sweep_due()


def run_projections(runtime: Runtime, _bootstrap: str | None, stop: threading.Event) -> None:
    """Worker role `projections`: every projection's live version and the evaluator."""
    migrate_read_side(runtime)
    worker = ProjectionWorker(live_runner(runtime), evaluator(runtime))
    log.info("projections.following", count=len(PROJECTIONS))
    worker.run(stop)


# --- rebuild --------------------------------------------------------------------------------------


def rebuild(
    runtime: Runtime,
    name: str,
    *,
    grace_seconds: float = 10.0,
    batch_size: int | None = None,
    out: TextIO = sys.stdout,
    sleep: Callable[[float], None] = time.sleep,
) -> int:
    """Build the next version beside the live one, swap atomically, drop the old one later."""
    projection = BY_NAME[name]
    pool = pool_of(runtime)
    if projection is AUDIT_TRAIL:
        verdict = verify_audit(runtime)
        if not verdict.ok:
            out.write(_verdict_line(verdict) + "\nrefusing to rebuild the chain over it\n")
            return 1
    version = begin_rebuild(pool, projection)
    runner = Runner(
        runtime.store,
        pool,
        lambda: [Target(projection, version)],
        batch_size=batch_size or batch_size_of(runtime.settings),
    )
    started = time.perf_counter()
    count = runner.catch_up()
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


# --- audit ----------------------------------------------------------------------------------------


def verify_audit(runtime: Runtime) -> Verdict:
    pool = pool_of(runtime)
    with pool.connection() as conn:
        live = versions_of(conn, AUDIT_TRAIL.name).live
        return verify(conn, AUDIT_TRAIL.tables_of(live), EVENTS_TABLE)


def _verdict_line(verdict: Verdict) -> str:
    if verdict.ok:
        return (
            f"audit trail verified: {verdict.checked} entries up to position "
            f"{verdict.last_position}; {verdict.unchained} stored events not chained yet"
        )
    return (
        f"audit trail broken at position {verdict.position}: {verdict.problem} "
        f"({verdict.detail}); {verdict.checked} entries before it verified"
    )


# --- commands -------------------------------------------------------------------------------------

RuntimeFor = Callable[[Settings], AbstractContextManager["Runtime"]]


def cmd_status(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        rows = status(pool_of(runtime), runtime.store, PROJECTIONS)
    out: TextIO = sys.stdout
    out.write(
        f"{'projection':<14}{'live':>6}{'position':>12}{'head':>12}{'lag':>10}{'lag_s':>10}"
        f"  building\n"
    )
    for row in rows:
        building = (
            f"v{row.building} at {row.building_position}" if row.building is not None else "-"
        )
        out.write(
            f"{row.name:<14}{'v' + str(row.live):>6}{row.position:>12}{row.head:>12}"
            f"{row.lag_events:>10}{row.lag_seconds:>10.1f}  {building}\n"
        )
    return 0


def cmd_rebuild(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        return rebuild(runtime, args.name, grace_seconds=args.grace, batch_size=args.batch_size)


def cmd_verify(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        verdict = verify_audit(runtime)
        # the access log's own chain (adapters/access_log.py) is checked by the same command
        access = runtime.privacy.access_log.verify() if runtime.privacy is not None else None
    sys.stdout.write(_verdict_line(verdict) + "\n")
    if access is not None:
        sys.stdout.write(access.line() + "\n")
    return 0 if verdict.ok and (access is None or access.ok) else 1


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], runtime_for: RuntimeFor
) -> None:
    """`carecircle projections status|rebuild NAME` and `carecircle audit verify`."""
    projections = sub.add_parser("projections", help="read models: status and rebuilds")
    commands = projections.add_subparsers(dest="projections", required=True)
    commands.add_parser("status", help="position, head and lag of each").set_defaults(
        run=partial(cmd_status, runtime_for=runtime_for)
    )
    build = commands.add_parser("rebuild", help="build the next version beside, then swap")
    build.add_argument("name", choices=sorted(BY_NAME))
    build.add_argument("--grace", type=float, default=10.0, help="seconds before dropping")
    build.add_argument("--batch-size", type=int, default=None)
    build.set_defaults(run=partial(cmd_rebuild, runtime_for=runtime_for))

    audit = sub.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit", required=True)
    audit_commands.add_parser(
        "verify", help="check the hash chain against the store; non-zero names the bad position"
    ).set_defaults(run=partial(cmd_verify, runtime_for=runtime_for))
