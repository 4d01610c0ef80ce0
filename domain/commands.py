"""Commands: requests that the care record may accept (as events) or refuse (as a DomainError)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from domain.catalogue import CareEvent

DEFAULT_CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class RecordCareEvent:
    """Record what happened: the edge built the event from the wire, time comes from the edge."""

    event: CareEvent
    now: datetime
    max_clock_skew: timedelta = DEFAULT_CLOCK_SKEW
