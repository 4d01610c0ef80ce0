"""Naming and finding clients: the display names a list shows, and staff search.

A client's name is on its enrollment (`ClientEnrolled`, data class `demographics`), so naming a
row of a list (a flag, a caseload, a search hit) reads that one event of each client, never a
whole history. Every client named is decided by the gatekeeper first and the read is logged in
the access log like any other (one row per client shown), so a supervisor who sees a name on the
shift view has read it, on the record.

Search (`GET /v1/clients?q=`, the console's search box) looks among the clients the caller stands
in a relationship with: the read models give the candidates (a clinician's caseload and open
handoffs to them, a supervisor's organization), the query narrows them by name or id, and the
gatekeeper decides each match again on the write side's facts, exactly as a read of the record.
A client the caller has no relationship with never appears, whether or not it exists: the same
"no such client" as the API's 404 (42 CFR 2.13(c)). Only the clients shown are logged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from domain.access_policy import Action, Decision, Principal
from domain.enrollment import ClientEnrolled
from projections.caseload import clients_related
from projections.reading import ReadModels
from services.app.client_lru import ClientLru
from services.app.gatekeeper import AccessRequest, Gatekeeper
from services.app.ports import ClientHistory

NAME_CLASSES = frozenset({"demographics"})
MAX_QUERY = 100


@dataclass(frozen=True, slots=True)
class ClientName:
    """What a list shows to name a client."""

    client_id: UUID
    given_name: str
    family_name: str
    program: str
    program_org: str
    enrolled_at: datetime

    @property
    def display_name(self) -> str:
        return f"{self.given_name} {self.family_name}"


class NameCache(ClientLru[tuple[ClientName, float]]):
    """Names decrypted once, kept in memory (least recently used out past `size`), so a list or
    a search does not decrypt the same enrollments on every request. A name is read from the
    enrollment, which no later event rewrites, so an entry never goes stale; it is dropped when
    the client is erased, at once, by the erasure notice every process listens for
    (`forget`, `clear` on a reconnect), and it is never a source of truth: the gatekeeper
    decides every client before a cached name is shown (`named`). `seconds` bounds an entry's
    life when set (None: until erased or pushed out); an earlier 30 s bound made every list
    decrypt its clients' enrollments again twice a minute, the console's slowest requests."""

    def __init__(self, seconds: float | None = None, size: int = 100_000) -> None:
        super().__init__(size)
        self.seconds = seconds

    def get(self, client_ids: Iterable[UUID]) -> tuple[dict[UUID, ClientName], list[UUID]]:
        now = time.monotonic()
        found: dict[UUID, ClientName] = {}
        missing: list[UUID] = []
        for client_id in client_ids:
            item = self.lookup(client_id)
            if item is not None and (self.seconds is None or now - item[1] < self.seconds):
                found[client_id] = item[0]
            else:
                missing.append(client_id)
        return found, missing

    def put(self, names: Iterable[ClientName]) -> None:
        now = time.monotonic()
        for name in names:
            self.keep(name.client_id, (name, now))


NAMES = NameCache()


def names_of(
    store: ClientHistory, client_ids: Iterable[UUID], cache: NameCache = NAMES
) -> dict[UUID, ClientName]:
    """The enrollment names of these clients (erased or unknown clients are left out). Callers
    decide and log the reads first (`named`)."""
    out, missing = cache.get(set(client_ids))
    loaded: list[ClientName] = []
    for client_id, first in store.load_first(missing).items():
        event = first.event
        if isinstance(event, ClientEnrolled):
            data = event.data
            loaded.append(
                ClientName(
                    client_id=client_id,
                    given_name=data.given_name,
                    family_name=data.family_name,
                    program=data.program,
                    program_org=event.actor.org,
                    enrolled_at=event.occurred_at,
                )
            )
    cache.put(loaded)
    out.update((name.client_id, name) for name in loaded)
    return out


def named(
    gate: Gatekeeper,
    store: ClientHistory,
    principal: Principal,
    client_ids: Iterable[UUID],
    *,
    action: Action,
    purpose: str,
    correlation_id: str | None,
    data_classes: frozenset[str] = frozenset(),
    decided: dict[UUID, Decision] | None = None,
) -> dict[UUID, ClientName]:
    """The clients of a list this caller may see named, each decided and logged as a read of
    their `demographics` (and of `data_classes`, what the row shows besides the name). The
    decisions of the clients named go into `decided` when given (a disclosure among them needs
    the 42 CFR 2.32 notice: services/app/disclosure.py `rows_notice`)."""
    decisions = gate.check_many(
        principal,
        action,
        client_ids,
        purpose=purpose,
        data_classes=NAME_CLASSES | data_classes,
        correlation_id=correlation_id,
    )
    allowed = [c for c, d in decisions.items() if d.allowed and not d.erased]
    names = names_of(store, allowed)
    if decided is not None:
        decided.update((client, decisions[client]) for client in names)
    return names


def _terms(query: str) -> list[str]:
    return [term for term in re.split(r"\s+", query.casefold()) if term]


def _matches(name: ClientName, terms: list[str]) -> bool:
    words = f"{name.given_name} {name.family_name}".casefold()
    return all(term in words for term in terms)


def search_clients(
    gate: Gatekeeper,
    store: ClientHistory,
    reads: ReadModels,
    principal: Principal,
    query: str,
    *,
    limit: int,
    purpose: str,
    correlation_id: str | None,
    decided: dict[UUID, Decision] | None = None,
) -> list[ClientName]:
    """Clients the caller has a relationship with whose name holds every word of `query` (or
    whose id it is), sorted by family then given name; at most `limit`. An empty query lists
    them all (up to `limit`). The decisions of the clients shown go into `decided`."""
    decisions: dict[UUID, Decision] = {}
    asking = AccessRequest(principal, Action.SEARCH_CLIENTS, None, purpose)
    gate.check(replace(asking, correlation_id=correlation_id))
    text = query.strip()[:MAX_QUERY]
    try:
        by_id: UUID | None = UUID(text)
    except ValueError:
        by_id = None
    if by_id is not None:
        candidates = [by_id]
        wanted = [by_id]
    else:
        candidates = _candidates(reads, principal)
        terms = _terms(text)
        found = names_of(store, candidates)  # matched in memory; nothing is shown or logged yet
        hits = sorted(
            (n for n in found.values() if _matches(n, terms)),
            key=lambda n: (n.family_name.casefold(), n.given_name.casefold(), str(n.client_id)),
        )
        wanted = [n.client_id for n in hits[: limit * 2]]  # room for refusals below
    shown = named(
        gate,
        store,
        principal,
        wanted,
        action=Action.READ_RECORD,
        purpose=purpose,
        correlation_id=correlation_id,
        decided=decisions,
    )
    ordered = [shown[c] for c in wanted if c in shown][:limit]
    if decided is not None:
        decided.update((n.client_id, decisions[n.client_id]) for n in ordered)
    return ordered


def _candidates(reads: ReadModels, principal: Principal) -> list[UUID]:
    member = None if principal.role == "supervisor" else principal.sub
    with reads.reading(["caseload"]) as (conn, tables):
        found = clients_related(conn, tables["caseload"], member_id=member, org=principal.org)
    return list(dict.fromkeys(found))
