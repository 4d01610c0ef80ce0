"""The read side: the read models the API queries, the projection runner and the early-warning
evaluator of the `projections` worker, rebuilds, parked events and audit verification."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import structlog

from domain.early_warning import Thresholds, thresholds_from
from projections import CASELOAD, CORE, EARLY_WARNING, Projection
from projections.audit_trail import audit_trail
from projections.early_warning import FlagEvaluator, migrate_evaluations
from projections.engine import Pool, live_targets, versions_of
from projections.engine import migrate as migrate_projections
from projections.parking import Parked, ParkedSummary, live_parked, parked_counts, parked_summaries
from projections.reading import ReadModels
from projections.runner import Runner
from services.app.audit import Anchor, Anchoring, AuditReport, take_anchors, verify_all
from services.app.read_side import ProjectionWorker, flag_recorder, rebuild_projection
from services.app.read_side import retry_parked as retry_parked_events
from services.settings import Settings
from services.wiring.runtime import Runtime

log = structlog.get_logger(__name__)


# The read models' names, tables and DDL (migrations, status, queries); the audit trail in it
# chains under the development key: processes that apply events use `keyed_projections`.
PROJECTIONS: tuple[Projection, ...] = CORE
BY_NAME = {p.name: p for p in PROJECTIONS}


def keyed_projections(settings: Settings) -> tuple[Projection, ...]:
    """The read models as runners apply them: the audit trail chained under CARE_AUDIT_KEY."""
    return (CASELOAD, audit_trail(settings.audit_key_bytes()), EARLY_WARNING)


def pool_of(runtime: Runtime) -> Pool:
    pool: Pool = runtime.db.pool
    return pool


def migrate_read_side(runtime: Runtime) -> None:
    """The engine's tables, each projection's first version, the evaluator's bookmarks."""
    pool = pool_of(runtime)
    migrate_projections(pool, PROJECTIONS)
    migrate_evaluations(pool)


def read_models(runtime: Runtime) -> ReadModels:
    return ReadModels(
        pool_of(runtime),
        PROJECTIONS,
        wait_seconds=runtime.settings.read_wait_seconds,
        head=runtime.store.head,
    )


def thresholds_of(settings: Settings) -> Thresholds:
    return thresholds_from(settings.warning_thresholds)


def backlog_of(runtime: Runtime, batch_size: int | None) -> int:
    """Events per transaction behind the head: the setting, unless a caller chose one size."""
    return runtime.settings.projection_backlog_batch_size if batch_size is None else batch_size


def round_of(runtime: Runtime, batch_size: int | None) -> int:
    """Backlog batches a transaction: the setting, unless a caller chose one batch size."""
    return runtime.settings.projection_backlog_round if batch_size is None else 1


def live_runner(runtime: Runtime, *, batch_size: int | None = None) -> Runner:
    pool = pool_of(runtime)
    keyed = keyed_projections(runtime.settings)
    return Runner(
        runtime.store,
        pool,
        lambda: live_targets(pool, keyed),
        batch_size=batch_size or runtime.settings.projection_batch_size,
        backlog_batch_size=backlog_of(runtime, batch_size),
        backlog_round=round_of(runtime, batch_size),
    )


def evaluator(runtime: Runtime, *, thresholds: Thresholds | None = None) -> FlagEvaluator:
    return FlagEvaluator(
        pool_of(runtime),
        flag_recorder(runtime.handler),
        runtime.clock,
        thresholds or thresholds_of(runtime.settings),
    )


def run_projections(runtime: Runtime, _bootstrap: str | None, stop: threading.Event) -> None:
    """Worker role `projections`: every projection's live version and the evaluator."""
    migrate_read_side(runtime)
    runtime.watch_erasures()
    rebuild_outdated(runtime)
    worker = ProjectionWorker(live_runner(runtime), evaluator(runtime))
    log.info("projections.following", count=len(PROJECTIONS))
    worker.run(stop)


def projection_lag(runtime: Runtime) -> int:
    """Events between the store's head and the slowest live projection (0: all caught up)."""
    head = runtime.store.head()
    return max(0, head - slowest_projection(runtime))


def slowest_projection(runtime: Runtime) -> int:
    """The position the slowest live projection reached (0 before any)."""
    with runtime.db.connection() as conn:
        row = conn.execute(
            "SELECT min(p.position) AS position FROM projection_positions p"
            " JOIN projection_versions v ON v.name = p.name AND v.live = p.version"
        ).fetchone()
    return 0 if row is None or row["position"] is None else int(row["position"])


def verify_audit(runtime: Runtime, anchors: Sequence[Anchor] = ()) -> AuditReport:
    """Both audit chains, and each anchor against them (`carecircle audit verify`)."""
    return verify_all(
        pool_of(runtime), runtime.privacy.access_log, runtime.settings.audit_key_bytes(), anchors
    )


def anchor_audit(runtime: Runtime) -> Anchoring:
    """Signed checkpoints of both chains' heads (`carecircle audit anchor`)."""
    return take_anchors(
        pool_of(runtime),
        runtime.privacy.access_log,
        runtime.settings.audit_key_bytes(),
        runtime.clock,
    )


def rebuild_outdated(runtime: Runtime, *, grace_seconds: float = 10.0) -> None:
    """A projection whose live tables predate its code (a new version, e.g. the audit trail's
    keyed chain) is rebuilt beside and swapped in before the worker follows: stores made by an
    older release migrate by rebuild. One that cannot be (a v1 audit chain that does not
    verify) stays behind, logged, and the other read models go on."""
    with pool_of(runtime).connection() as conn:
        outdated = [p.name for p in PROJECTIONS if versions_of(conn, p.name).live < p.version]
    for name in outdated:
        log.warning("projections.rebuilding_outdated", projection=name)
        rebuild(runtime, name, grace_seconds=grace_seconds)


def retry_parked(
    runtime: Runtime,
    names: Sequence[str] = (),
    *,
    grace_seconds: float = 10.0,
    projections: Sequence[Projection] = PROJECTIONS,
    **kwargs: Any,
) -> int:
    """Rebuild the projections whose live version parked events (services/app/read_side.py)."""
    chosen = [p for p in projections if not names or p.name in names]
    return retry_parked_events(
        runtime.store,
        pool_of(runtime),
        chosen,
        grace_seconds=grace_seconds,
        batch_size=runtime.settings.projection_batch_size,
        backlog_batch_size=backlog_of(runtime, None),
        backlog_round=round_of(runtime, None),
        audit_key=runtime.settings.audit_key_bytes(),
        **kwargs,
    )


def parked_summary(runtime: Runtime) -> str | None:
    """`/readyz`'s degradation: how many events projections parked, or None."""
    counts = parked_counts(pool_of(runtime))
    if not counts:
        return None
    return "parked events: " + ", ".join(f"{name} {n}" for name, n in sorted(counts.items()))


def parked_by_projection(runtime: Runtime) -> dict[str, ParkedSummary]:
    """Per projection with parked events, how many and the oldest position (`status`)."""
    return parked_summaries(pool_of(runtime))


def parked(runtime: Runtime) -> list[Parked]:
    """The events each projection's live version parked (`carecircle projections status`)."""
    with pool_of(runtime).connection() as conn:
        return live_parked(conn)


def rebuild(
    runtime: Runtime,
    name: str,
    *,
    grace_seconds: float = 10.0,
    batch_size: int | None = None,
    **kwargs: Any,
) -> int:
    """Build the next version of a read model beside the live one, then swap (services/app)."""
    keyed = {p.name: p for p in keyed_projections(runtime.settings)}
    return rebuild_projection(
        runtime.store,
        pool_of(runtime),
        keyed[name],
        grace_seconds=grace_seconds,
        batch_size=batch_size or runtime.settings.projection_batch_size,
        backlog_batch_size=backlog_of(runtime, batch_size),
        backlog_round=round_of(runtime, batch_size),
        audit_key=runtime.settings.audit_key_bytes(),
        **kwargs,
    )
