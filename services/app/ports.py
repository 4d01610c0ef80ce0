"""What the edges read of the store, as the use cases declare it: the HTTP routers and the
metrics endpoint depend on these protocols, the wiring passes the event store in."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol
from uuid import UUID

from prometheus_client import CollectorRegistry

from domain.recorded import Recorded


class ClientHistory(Protocol):
    """A client's stored events in version order, clients' first events, the store's head."""

    def load(
        self, client_id: UUID, *, after_version: int = 0, limit: int | None = None
    ) -> list[Recorded]: ...

    def load_first(self, client_ids: Iterable[UUID]) -> dict[UUID, Recorded]: ...

    def head(self) -> int: ...


class MetricsSource(Protocol):
    """What /metrics serves: a registry to render, refreshed from the store before each scrape."""

    @property
    def registry(self) -> CollectorRegistry: ...

    @property
    def refresh(self) -> Callable[[], None]: ...
