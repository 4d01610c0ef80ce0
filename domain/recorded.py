"""A care event as the store holds it: its place in the client's stream and in the global order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from domain.catalogue import CareEvent


@dataclass(frozen=True, slots=True)
class Recorded:
    """The event, the client's version after it, its global position and when it was stored."""

    event: CareEvent
    version: int
    position: int
    recorded_at: datetime
