"""The replay stream: stored events in position order, one JSON line each, as the role may see them.

- analyst: de-identified (domain/deidentify.py): pseudonyms, shifted dates, no free text;
- auditor: the skeleton an audit trail shows (who did what when), no `data` at all.

Each line carries `position`; a consumer resumes with `after=` the last position it read. Each
page the stream reads is logged in the access log, one row per client it showed.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

import orjson

from domain.catalogue import data_class_of
from domain.erasure import ErasedEntry
from domain.recorded import Recorded
from services.adapters.tokens import Principal
from services.app.gatekeeper import Action, Decision
from services.app.privacy import Privacy

PAGE = 500


def skeleton_row(item: Recorded) -> dict[str, Any]:
    """What the audit shows of an event: envelope facts, never its data."""
    event = item.event
    kind = event.data.original_type if isinstance(event, ErasedEntry) else event.type
    return {
        "position": item.position,
        "version": item.version,
        "event_id": str(event.event_id),
        "client_id": str(event.client_id),
        "type": kind,
        "erased": isinstance(event, ErasedEntry),
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": item.recorded_at.isoformat(),
        "actor": event.actor.model_dump(mode="json"),
        "purpose_of_use": event.purpose_of_use,
        "security_labels": sorted(event.security_labels),
    }


def read_page(privacy: Privacy, *, after: int, limit: int, types: Sequence[str]) -> list[Recorded]:
    """Up to `limit` stored events after a position, of the given types (all when empty)."""
    return privacy.gate.store.read(after=after, limit=limit, types=types)


def replay_lines(
    privacy: Privacy,
    principal: Principal,
    decision: Decision,
    *,
    after: int,
    limit: int,
    types: Sequence[str],
    purpose: str,
    correlation_id: str | None,
) -> Iterator[bytes]:
    """NDJSON lines of the replay, page by page; each page is in the access log first."""
    analyst = principal.role == "analyst"
    remaining, position = limit, after
    while remaining > 0:
        page = read_page(privacy, after=position, limit=min(PAGE, remaining), types=types)
        if not page:
            return
        shown: dict[UUID, set[str]] = {}
        for item in page:
            shown.setdefault(item.event.client_id, set()).add(data_class_of(item.event.type))
        privacy.gate.log_reads(
            principal,
            Action.REPLAY,
            {client: frozenset(classes) for client, classes in shown.items()},
            purpose=purpose,
            basis=decision.basis,
            correlation_id=correlation_id,
        )
        for item in page:
            row = privacy.deidentifier.recorded(item) if analyst else skeleton_row(item)
            yield orjson.dumps(row) + b"\n"
        position = page[-1].position
        remaining -= len(page)
