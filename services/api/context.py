"""What the API needs, built once by the wiring and put on app.state; nothing connects at import."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from projections.engine import ReadModels
from services.adapters.store import EventStore
from services.app.privacy import Privacy
from services.app.record import CareRecordHandler
from services.settings import Settings

ReadinessCheck = Callable[[], None]


@dataclass
class ApiContext:
    settings: Settings
    store: EventStore
    handler: CareRecordHandler
    clock: Callable[[], datetime]
    reads: ReadModels
    privacy: Privacy
    readiness: dict[str, ReadinessCheck] = field(default_factory=dict)
