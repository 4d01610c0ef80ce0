"""What the API needs, built once by the wiring and put on app.state; nothing connects at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from domain.early_warning import Thresholds
from projections.reading import ReadModels
from services.app.authentication import Authenticate
from services.app.ports import ClientHistory, MetricsSource
from services.app.privacy import Privacy
from services.app.record import CareRecordHandler
from services.app.record_reads import RecordReads
from services.app.workers import WorkerState
from services.settings import Settings

ReadinessCheck = Callable[[], None]
# answers why the service is degraded (still ready: e.g. a projection parked events), or None
DegradationCheck = Callable[[], str | None]
MintToken = Callable[[str, str, str], str]  # (sub, role, org) -> a development bearer token
# the worker threads of this process by name (`carecircle up`); none in `carecircle serve`
WorkerStates = Callable[[], dict[str, WorkerState]]


def no_workers() -> dict[str, WorkerState]:
    return {}


@dataclass
class ApiContext:
    settings: Settings
    store: ClientHistory
    handler: CareRecordHandler
    clock: Callable[[], datetime]
    reads: ReadModels
    privacy: Privacy
    authenticate: Authenticate
    metrics: MetricsSource
    records: RecordReads
    # exceptions that mean "the database is not reachable now": 503, never a client error
    unavailable_errors: tuple[type[Exception], ...] = ()
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
    degradation: dict[str, DegradationCheck] = field(default_factory=dict)
    workers: WorkerStates = no_workers
    # The console (services/api/console): the key of its CSRF tokens, the development sign-in
    # (mints a token for a chosen person; None in production), the thresholds its charts draw.
    console_key: bytes = b""
    mint_token: MintToken | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)
