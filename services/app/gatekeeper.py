"""Authorizing a request for real: the impure half of authorization.

The decisions are pure and live in domain/access_policy.py (roles, relationships, Part 2
consent, break-the-glass). `Gatekeeper` adds the I/O around them: it folds each client's access
facts from the store (cached, caught up on every read), appends the access log (every read,
every refusal), records the disclosures a decision makes (`DisclosureMade`), and raises
`AccessRefused` for a refusal, which each edge turns into its own answer (HTTP: 404
`client_not_enrolled` exactly as for an unknown client, 403 `forbidden` or `consent_required`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID, uuid4

import structlog

from domain.access import AccessFacts, access_facts
from domain.access_policy import (
    CASELOAD_DATA_CLASSES,
    FLAG_DATA_CLASSES,
    PURPOSES,
    WRITES,
    Action,
    Basis,
    Decision,
    Disclosure,
    Principal,
    decide_access,
    decide_stream,
)
from domain.accounting import recipient_named
from domain.break_glass import DEFAULT_POLICY, BreakGlassPolicy
from domain.catalogue import CareEvent
from domain.commands import RecordCareEvent
from domain.consent import DisclosureData, DisclosureMade
from domain.envelope import Actor
from services.adapters.access_log import AccessEntry, AccessLog
from services.adapters.store import EventStore
from services.app.client_lru import ClientLru
from services.app.errors import AccessRefused
from services.app.record import CareRecordHandler

# The pure policy's names, for the modules that ask the gatekeeper (one import for both halves).
__all__ = [
    "CASELOAD_DATA_CLASSES",
    "FLAG_DATA_CLASSES",
    "AccessRefused",
    "AccessRequest",
    "Action",
    "Basis",
    "Decision",
    "FactsCache",
    "Gatekeeper",
    "Principal",
]

# a list read's own allowed entry, kept to be appended with its rows' entries
Deferred = list[AccessEntry]

log = structlog.get_logger(__name__)

DISCLOSURE_ACTOR_ID = "carecircle-disclosures"
PURPOSE_DETAIL = "X-Purpose-Of-Use is one of treatment, operations, emergency."


@dataclass(frozen=True, slots=True)
class AccessRequest:
    """One request to authorize, with what the log needs to say about it."""

    principal: Principal
    action: Action
    client_id: UUID | None = None
    purpose: str = "treatment"
    data_classes: frozenset[str] | None = None
    event_type: str | None = None
    correlation_id: str | None = None
    member_id: str | None = None  # the scope of a request about no one client
    org: str | None = None
    actor_id: str | None = None


def _entry(
    principal: Principal,
    action: Action,
    client_id: UUID | None,
    data_classes: Iterable[str],
    decision: Decision,
    at: datetime,
    purpose: str,
    correlation_id: str | None,
) -> AccessEntry:
    """The access-log row of one decision about one client."""
    return AccessEntry(
        at=at,
        actor_id=principal.sub,
        actor_role=principal.role,
        actor_org=principal.org,
        client_id=client_id,
        action=str(action),
        data_classes=tuple(sorted(data_classes)),
        purpose=purpose,
        outcome=decision.outcome,
        code=decision.code,
        basis=decision.basis,
        correlation_id=correlation_id,
    )


class FactsCache(ClientLru[tuple[AccessFacts, float]]):
    """Each recently asked client's facts at a version, and when they were last caught up with
    the store. The store is append-only, so newer events are folded on top and a stale entry is
    never wrong, only behind."""

    def __init__(self, size: int = 100_000) -> None:
        super().__init__(size, stays=lambda current, given: current[0].version > given[0].version)

    def entry(self, client_id: UUID) -> tuple[AccessFacts, float] | None:
        return self.lookup(client_id)

    def get(self, client_id: UUID) -> AccessFacts | None:
        item = self.lookup(client_id)
        return None if item is None else item[0]

    def get_many(self, client_ids: Iterable[UUID]) -> dict[UUID, AccessFacts | None]:
        return {
            client: None if item is None else item[0]
            for client, item in self.lookup_many(client_ids).items()
        }

    def put(self, facts: AccessFacts, caught_up_at: float = 0.0) -> None:
        self.keep(facts.client_id, (facts, caught_up_at))

    def put_many(self, many: Iterable[AccessFacts], caught_up_at: float) -> None:
        self.keep_many((facts.client_id, (facts, caught_up_at)) for facts in many)


class Gatekeeper:
    """Authorizes requests against the write side, logs them, and records disclosures."""

    def __init__(
        self,
        store: EventStore,
        handler: CareRecordHandler,
        access_log: AccessLog,
        clock: Callable[[], datetime],
        *,
        cache: FactsCache | None = None,
        erased: Callable[[UUID], bool] = lambda _client: False,
        write_freshness: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
        break_glass: BreakGlassPolicy = DEFAULT_POLICY,
    ) -> None:
        self.store = store
        self.break_glass = break_glass  # who may invoke it, per program organization
        self.handler = handler
        self.access_log = access_log
        self.clock = clock
        self.cache = cache or FactsCache()
        self._erased = erased
        # A write is authorized on facts caught up at most this long ago (seconds); a refusal
        # is always decided again on facts read fresh. Reads always catch up first.
        self.write_freshness = write_freshness
        self._monotonic = monotonic
        # One cold load at a time: concurrent list reads of clients not cached yet (a burst of
        # supervisors after a restart) would each fold the same whole histories; the second
        # finds them cached once the first is done (16 callers on a cold page of flags took
        # 16 s before, each folding 67 clients' histories).
        self._cold = threading.Lock()

    def facts(self, client_id: UUID) -> AccessFacts | None:
        """The client's access facts, None for a client with no events at all."""
        cached = self.cache.get(client_id)
        version = 0 if cached is None else cached.version
        newer = self.store.load(client_id, after_version=version)
        if cached is None and not newer:
            return None
        facts = access_facts(client_id, (r.event for r in newer), cached)
        if cached is not None and not cached.erased and (facts.erased or self._erased(client_id)):
            # erased by another process since these facts were folded: read them again
            self.cache.forget(client_id)
            everything = self.store.load(client_id)
            facts = access_facts(client_id, (r.event for r in everything))
        self.cache.put(facts, self._monotonic())
        return facts

    def facts_many(self, client_ids: Iterable[UUID]) -> dict[UUID, AccessFacts | None]:
        """Several clients' facts, caught up with one query (a caseload, a page of flags)."""
        cached = self.cache.get_many(set(client_ids))
        if all(facts is not None for facts in cached.values()):
            return self._caught_up(cached)
        with self._cold:
            missing = [client for client, facts in cached.items() if facts is None]
            cached.update(self.cache.get_many(missing))  # a read before this one's lock
            return self._caught_up(cached)

    def _caught_up(self, cached: dict[UUID, AccessFacts | None]) -> dict[UUID, AccessFacts | None]:
        newer = self.store.load_many(
            {client: 0 if facts is None else facts.version for client, facts in cached.items()}
        )
        out: dict[UUID, AccessFacts | None] = {}
        for client, facts in cached.items():
            events = newer.get(client)
            if facts is None and not events:
                out[client] = None
                continue
            folded = access_facts(client, (r.event for r in events or ()), facts)
            if facts is not None and not facts.erased and folded.erased:
                folded = access_facts(client, (r.event for r in self.store.load(client)))
            out[client] = folded
        self.cache.put_many((f for f in out.values() if f is not None), self._monotonic())
        return out

    def forget(self, client_id: UUID) -> None:
        """The client was erased: their facts are never cached again (read fresh, as erased)."""
        self.cache.erased(client_id)

    def knows_client(self, event: CareEvent, client_id: UUID) -> bool:
        """Whether the writer of `event` stands in a relationship with `client_id` (any answer
        but "no such client"): the handler's test before it tells a writer that an event_id is
        another client's (services/app/record.py `sees_client`). Not logged: nothing is read."""
        actor = event.actor
        principal = Principal(actor.id, actor.role, actor.org)
        facts = self.facts(client_id)
        decision = decide_access(principal, Action.READ_RECORD, facts, now=self.clock())
        return decision.outcome != "not_found"

    def check_many(
        self,
        principal: Principal,
        action: Action,
        client_ids: Iterable[UUID],
        *,
        purpose: str,
        data_classes: frozenset[str],
        correlation_id: str | None,
        also: Sequence[AccessEntry] = (),
    ) -> dict[UUID, Decision]:
        """Decide each client of a list the caller asked for (rows of a caseload, flags); every
        decision is logged (after `also`, in the same append: the list request's own entry),
        allowed Part 2 rows for another organization are disclosures."""
        now = self.clock()
        facts = self.facts_many(client_ids)
        decisions = {
            client: decide_access(
                principal, action, known, now=now, purpose=purpose, data_classes=data_classes
            )
            for client, known in facts.items()
        }
        self.access_log.append(
            [
                *also,
                *(
                    _entry(
                        principal, action, client, data_classes, decision, now, purpose,
                        correlation_id,
                    )
                    for client, decision in decisions.items()
                ),
            ]
        )  # fmt: skip
        for client, decision in decisions.items():
            known = facts[client]
            if decision.allowed and decision.disclosure is not None and known is not None:
                request = AccessRequest(
                    principal, action, client, purpose, data_classes, None, correlation_id
                )
                self._record_disclosure(request, decision, decision.disclosure, known, now)
        return decisions

    def quick_check(self, request: AccessRequest) -> Decision | None:
        """A write allowed on recently caught-up facts, without any I/O; None: ask `check`."""
        if request.action not in (Action.WRITE_EVENT, Action.ENROLL) or request.client_id is None:
            return None
        if request.purpose not in PURPOSES:
            return None
        entry = self.cache.entry(request.client_id)
        if entry is None or self._monotonic() - entry[1] > self.write_freshness:
            return None
        decision = decide_access(
            request.principal,
            request.action,
            entry[0],
            now=self.clock(),
            purpose=request.purpose,
            event_type=request.event_type,
        )
        return decision if decision.allowed else None

    def check(
        self, request: AccessRequest, *, deferred: list[AccessEntry] | None = None
    ) -> Decision:
        """Decide, log (reads always, refusals always), and raise AccessRefused for a refusal.
        `deferred`: an allowed read's entry goes there instead, to be appended with the entries
        of the rows the read then shows (one append for the whole read: `check_many`'s `also`);
        a refusal is logged at once all the same."""
        now = self.clock()
        if request.purpose not in PURPOSES:
            raise AccessRefused(
                "validation_error",
                PURPOSE_DETAIL,
                errors=[{"loc": ["header", "X-Purpose-Of-Use"], "msg": "Unknown purpose"}],
            )
        facts = None if request.client_id is None else self.facts(request.client_id)
        if request.client_id is None and request.action is not Action.ENROLL:
            decision = decide_stream(
                request.principal,
                request.action,
                member_id=request.member_id,
                org=request.org,
                actor_id=request.actor_id,
            )
        else:
            decision = decide_access(
                request.principal,
                request.action,
                facts,
                now=now,
                purpose=request.purpose,
                data_classes=request.data_classes,
                event_type=request.event_type,
                break_glass=self.break_glass,
            )
        if not decision.allowed or request.action not in WRITES - {Action.BREAK_GLASS}:
            if decision.allowed and deferred is not None:
                deferred.append(self.entry_of(request, decision, now))
            else:
                self.log(request, decision, now)
        if not decision.allowed:
            log.info(
                "access.refused",
                code=decision.code,
                status=404 if decision.outcome == "not_found" else 403,
            )
            raise AccessRefused(decision.code or "forbidden", decision.detail)
        if decision.disclosure is not None and facts is not None:
            self._record_disclosure(request, decision, decision.disclosure, facts, now)
        return decision

    def log(self, request: AccessRequest, decision: Decision, now: datetime) -> None:
        self.access_log.append([self.entry_of(request, decision, now)])

    @staticmethod
    def entry_of(request: AccessRequest, decision: Decision, now: datetime) -> AccessEntry:
        classes = decision.data_classes or request.data_classes or frozenset()
        return _entry(
            request.principal,
            request.action,
            request.client_id,
            classes,
            decision,
            now,
            request.purpose,
            request.correlation_id,
        )

    def log_reads(
        self,
        principal: Principal,
        action: Action,
        classes_by_client: dict[UUID, frozenset[str]],
        *,
        purpose: str,
        basis: Basis | None,
        correlation_id: str | None,
    ) -> None:
        """One allowed-read row per client a stream or list showed (replay, caseload, export)."""
        now = self.clock()
        allowed = Decision("allowed", basis=basis)
        self.access_log.append(
            [
                _entry(principal, action, client_id, classes, allowed, now, purpose, correlation_id)
                for client_id, classes in classes_by_client.items()
            ]
        )

    def _record_disclosure(
        self,
        request: AccessRequest,
        decision: Decision,
        disclosure: Disclosure,
        facts: AccessFacts,
        now: datetime,
    ) -> None:
        assert request.client_id is not None
        principal = request.principal
        grant = (
            facts.grant_of(principal.sub, principal.org, now) if disclosure.break_glass else None
        )
        if grant is not None:  # 42 CFR 2.51(c)(1): the recipient the grant named
            name = grant.recipient_name or principal.sub
            affiliation = grant.recipient_affiliation or principal.org
        else:
            form = None if disclosure.consent is None else disclosure.consent.form
            name, affiliation = recipient_named(form, principal.org, principal.sub)
        event = DisclosureMade(
            event_id=uuid4(),
            client_id=request.client_id,
            occurred_at=now,
            actor=Actor(
                id=DISCLOSURE_ACTOR_ID, role="service", org=disclosure.program_org, kind="service"
            ),
            purpose_of_use="emergency" if disclosure.break_glass else request.purpose,
            correlation_id=request.correlation_id,
            data=DisclosureData(
                recipient_org=principal.org,
                recipient_id=principal.sub,
                purpose="emergency" if disclosure.break_glass else request.purpose,
                data_classes=decision.data_classes,
                consent_id=None if disclosure.consent is None else disclosure.consent.consent_id,
                break_glass=disclosure.break_glass,
                recipient_name=name,
                recipient_affiliation=affiliation,
                grant_id=None if grant is None else grant.grant_id,
            ),
        )
        self.handler.record(RecordCareEvent(event, now=now))
        log.info("disclosure.recorded", client_id=str(request.client_id), count=1)
