"""Who may do what with whose data: the one place every route, the replay stream and the CLI ask.

Roles (DESIGN.md §8, issue 5), each with its relationship to a client and what it may do:

- counselor, peer_specialist, case_manager, prescriber, crisis_clinician — related when on the
  care team (assigned, or the clinician who enrolled the client), while a break-the-glass grant
  of theirs runs, or as a member of the organization an open handoff goes to. They read the
  record and history and record care events (a handoff's receiver: only the handoff's steps).
  A peer specialist never reads counseling notes (minimum necessary, R6).
- supervisor — related when the client's program organization, or a care-team member's, is
  theirs. Reads the record and history, staffs the team, closes flags, reads the access log,
  consents and disclosures of those clients; requests and confirms erasures.
- auditor — oversight of every client: audit, access and disclosure logs, consents, the skeleton
  replay; no clinical detail. Requests and confirms erasures; rotates keys; verifies chains.
- analyst — related to no client: only the de-identified replay (and exports).
- service — related when its organization is the program's or a team member's: records care
  events on behalf of people; never reads.

Answers: no relationship (or no such client) → 404 `client_not_enrolled`, the same body as for
an unknown client (42 CFR 2.13(c)); a relationship without the right → 403 `forbidden`; a Part 2
client read by a member of another organization without a consent covering that organization,
the purpose of use and every data class read → 403 `consent_required`. A covered read is a
disclosure: it is recorded (`DisclosureMade`) and the answer carries the 42 CFR 2.32 notice. A
break-the-glass read from another organization is a disclosure in a medical emergency (2.51),
recorded the same way without a consent.

`decide_access` is pure (facts, principal, clock in; decision out); `Gatekeeper` adds the I/O:
it folds the facts from the store, appends the access log (every read, every refusal) and
records disclosures.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Literal, get_args
from uuid import UUID, uuid4

import structlog

from domain.access import AccessFacts, access_facts
from domain.commands import RecordCareEvent
from domain.consent import DisclosureData, DisclosureMade
from domain.consent_policy import ConsentTerms, check_consent, consents_in_force
from domain.envelope import CARE_TEAM_ROLES, Actor, PurposeOfUse
from domain.erasure import ERASED_DATA_CLASS
from services.adapters.access_log import AccessEntry, AccessLog, Outcome
from services.adapters.store import EventStore
from services.adapters.tokens import Principal
from services.api.problems import Problem
from services.app.record import CareRecordHandler

log = structlog.get_logger(__name__)

PURPOSES: frozenset[str] = frozenset(get_args(PurposeOfUse))
DISCLOSURE_ACTOR_ID = "carecircle-disclosures"
NOT_FOUND_DETAIL = "No such client."  # the one body for "unknown" and "not yours"

# Data classes that are about access, not about the client's care: never part of a default read.
ACCESS_DATA_CLASSES = frozenset({"access", ERASED_DATA_CLASS})

# What a supervisor may record: staffing the team and closing the loop on flags.
SUPERVISOR_WRITES = frozenset(
    {
        "CareTeamMemberAssigned",
        "CareTeamMemberReleased",
        "RiskFlagAcknowledged",
        "RiskFlagResolved",
    }
)
# What the receiving side of an open handoff may record.
HANDOFF_WRITES = frozenset(
    {"HandoffAccepted", "HandoffDeclined", "HandoffCompleted", "HandoffFailed"}
)
ENROLLING_ROLES = CARE_TEAM_ROLES | {"supervisor", "service"}
# What a row of a list shows, for a Part 2 consent to cover: a caseload row, a flag.
CASELOAD_DATA_CLASSES = frozenset({"care_team", "check_in", "appointment", "risk_flag", "handoff"})
FLAG_DATA_CLASSES = frozenset({"risk_flag"})

Basis = Literal["care_team", "break_glass", "handoff", "organization", "oversight", "service_org"]


class Action(StrEnum):
    """What a caller asks to do; reads of client data are logged whatever the outcome."""

    READ_RECORD = "read_record"
    READ_RECORD_AS_OF = "read_record_as_of"
    READ_HISTORY = "read_history"
    READ_FHIR = "read_fhir"
    READ_CASELOAD = "read_caseload"
    READ_ORG_CASELOAD = "read_org_caseload"
    READ_FLAGS = "read_flags"
    READ_AUDIT = "read_audit"
    READ_DISCLOSURES = "read_disclosures"
    READ_CONSENTS = "read_consents"
    READ_ACCESS_LOG = "read_access_log"
    REPLAY = "replay"
    EXPORT = "export"
    WRITE_EVENT = "write_event"
    ENROLL = "enroll"
    BREAK_GLASS = "break_glass"
    ERASE = "erase"
    ERASE_CONFIRM = "erase_confirm"
    ROTATE_KEYS = "rotate_keys"
    VERIFY_AUDIT = "verify_audit"


CLINICAL_READS = frozenset(
    {
        Action.READ_RECORD,
        Action.READ_RECORD_AS_OF,
        Action.READ_HISTORY,
        Action.READ_FHIR,
        Action.READ_CASELOAD,
        Action.READ_FLAGS,
    }
)
LOG_READS = frozenset(
    {Action.READ_AUDIT, Action.READ_DISCLOSURES, Action.READ_CONSENTS, Action.READ_ACCESS_LOG}
)
WRITES = frozenset({Action.WRITE_EVENT, Action.ENROLL, Action.BREAK_GLASS})
# Actions on no one client in particular, and the roles that may take them.
STREAM_ROLES: dict[Action, frozenset[str]] = {
    Action.REPLAY: frozenset({"analyst", "auditor"}),
    Action.EXPORT: frozenset({"analyst", "auditor"}),
    Action.READ_ACCESS_LOG: frozenset({"auditor", "supervisor"}),
    Action.READ_AUDIT: frozenset({"auditor", "supervisor"}),
    Action.ROTATE_KEYS: frozenset({"auditor"}),
    Action.VERIFY_AUDIT: frozenset({"auditor"}),
    Action.READ_CASELOAD: CARE_TEAM_ROLES | {"supervisor"},
    Action.READ_ORG_CASELOAD: frozenset({"supervisor"}),
    Action.READ_FLAGS: CARE_TEAM_ROLES | {"supervisor"},
}


@dataclass(frozen=True, slots=True)
class Disclosure:
    """A read that discloses Part 2 data to another organization: what, to whom, under what."""

    program_org: str
    consent: ConsentTerms | None
    break_glass: bool


@dataclass(frozen=True, slots=True)
class Decision:
    """Allowed (with its basis and the data classes it may return) or refused with a code."""

    outcome: Outcome
    code: str | None = None
    basis: Basis | None = None
    data_classes: frozenset[str] = frozenset()
    disclosure: Disclosure | None = None
    erased: bool = False
    detail: str | None = None

    @property
    def allowed(self) -> bool:
        return self.outcome == "allowed"


def _not_found() -> Decision:
    return Decision(outcome="not_found", code="client_not_enrolled", detail=NOT_FOUND_DETAIL)


def _forbidden(basis: Basis | None, detail: str) -> Decision:
    return Decision(outcome="denied", code="forbidden", basis=basis, detail=detail)


def relationship(principal: Principal, facts: AccessFacts, now: datetime) -> Basis | None:
    """How the caller stands with this client, from the write side's facts (None: not at all)."""
    role, sub, org = principal.role, principal.sub, principal.org
    if role in CARE_TEAM_ROLES:
        if facts.is_on_team(sub):
            return "care_team"
        if facts.grant_of(sub, now) is not None:
            return "break_glass"
        if facts.open_handoff_to(org, sub) is not None:
            return "handoff"
        return None
    if role == "supervisor":
        return "organization" if org == facts.program_org or org in facts.team_orgs() else None
    if role == "auditor":
        return "oversight"
    if role == "service":
        return "service_org" if org == facts.program_org or org in facts.team_orgs() else None
    return None  # analyst: identified data is never theirs


def default_data_classes(facts: AccessFacts) -> frozenset[str]:
    """A read that names no data class reads every class of care the client's history holds."""
    return facts.data_classes - ACCESS_DATA_CLASSES


def decide_access(
    principal: Principal,
    action: Action,
    facts: AccessFacts | None,
    *,
    now: datetime,
    purpose: str = "treatment",
    data_classes: Iterable[str] | None = None,
    event_type: str | None = None,
) -> Decision:
    """The decision for one request; pure, so the table of roles × actions is unit-testable."""
    if facts is None or not facts.enrolled:
        if action is Action.ENROLL and facts is None:
            return _enrollment(principal)
        return _not_found()
    if action is Action.ENROLL:
        action, event_type = Action.WRITE_EVENT, "ClientEnrolled"
    if action is Action.BREAK_GLASS:
        return _break_glass(principal, facts, now)
    basis = relationship(principal, facts, now)
    if basis is None:
        return _not_found()
    if action in WRITES:
        return _write(basis, facts, event_type)
    if action in CLINICAL_READS:
        wanted = (
            frozenset(data_classes) if data_classes is not None else default_data_classes(facts)
        )
        return _clinical_read(principal, facts, basis, purpose, wanted, now)
    if action in LOG_READS or action in (Action.ERASE, Action.ERASE_CONFIRM):
        return _oversight(principal, facts, basis, action)
    return _forbidden(basis, "This role may not do that.")


def _enrollment(principal: Principal) -> Decision:
    if principal.role in ENROLLING_ROLES:
        return Decision(outcome="allowed", basis="care_team")
    return _forbidden(None, "This role does not enroll clients.")


def decide_stream(
    principal: Principal,
    action: Action,
    *,
    member_id: str | None = None,
    org: str | None = None,
    actor_id: str | None = None,
) -> Decision:
    """An action on no one client: replay, export, key rotation, the access log and audit trail
    (supervisors: their organization's staff), a caseload (a clinician's own; a supervisor's
    organization), the flags of one's own clients or organization."""
    if principal.role not in STREAM_ROLES.get(action, frozenset()):
        return _forbidden(None, "This role may not do that.")
    basis: Basis | None = "oversight" if principal.role in ("auditor", "supervisor") else None
    clinician = principal.role in CARE_TEAM_ROLES
    if action in (Action.READ_CASELOAD, Action.READ_FLAGS) and clinician:
        if member_id not in (None, principal.sub):
            return _forbidden(None, "A clinician reads their own caseload and flags.")
        basis = "care_team"
    if principal.role == "supervisor":
        if org not in (None, principal.org):
            return _forbidden(basis, "A supervisor reads their own organization.")
        if action is Action.READ_AUDIT and actor_id is None:
            return _forbidden(basis, "Name a client or a member of your organization.")
    return Decision(outcome="allowed", basis=basis)


def _break_glass(principal: Principal, facts: AccessFacts, now: datetime) -> Decision:
    basis = relationship(principal, facts, now)
    if principal.role == "crisis_clinician" and not facts.erased:
        return Decision(outcome="allowed", basis=basis or "break_glass")
    if basis is None or facts.erased:
        return _not_found()
    return _forbidden(basis, "Only a crisis clinician may break the glass.")


def _write(basis: Basis, facts: AccessFacts, event_type: str | None) -> Decision:
    if facts.erased:
        return _not_found()  # nothing more is recorded for an erased client
    allowed = {
        "care_team": True,
        "break_glass": True,
        "service_org": True,
        "handoff": event_type in HANDOFF_WRITES,
        "organization": event_type in SUPERVISOR_WRITES,
        "oversight": False,
    }[basis]
    if allowed:
        return Decision(outcome="allowed", basis=basis)
    return _forbidden(basis, "This role may not record that for this client.")


def _clinical_read(
    principal: Principal,
    facts: AccessFacts,
    basis: Basis,
    purpose: str,
    wanted: frozenset[str],
    now: datetime,
) -> Decision:
    if basis in ("oversight", "service_org"):
        return _forbidden(basis, "This role does not read clinical records.")
    erased = facts.erased
    if not facts.part2 or principal.org == facts.program_org or erased:
        return Decision(outcome="allowed", basis=basis, data_classes=wanted, erased=erased)
    program_org = facts.program_org or ""
    if basis == "break_glass":  # medical emergency, 42 CFR 2.51: no consent needed, recorded
        disclosure = Disclosure(program_org=program_org, consent=None, break_glass=True)
        return Decision(outcome="allowed", basis=basis, data_classes=wanted, disclosure=disclosure)
    consents = consents_in_force(facts.consent_events, now)
    check = check_consent(
        consents, recipient_org=principal.org, purpose=purpose, data_classes=wanted
    )
    if check.consent is None:
        return Decision(
            outcome="denied",
            code="consent_required",
            basis=basis,
            data_classes=wanted,
            detail="No consent of the client covers this organization, purpose and data.",
        )
    disclosure = Disclosure(program_org=program_org, consent=check.consent, break_glass=False)
    return Decision(outcome="allowed", basis=basis, data_classes=wanted, disclosure=disclosure)


def _oversight(principal: Principal, facts: AccessFacts, basis: Basis, action: Action) -> Decision:
    erasing = action in (Action.ERASE, Action.ERASE_CONFIRM)
    if basis == "oversight" or (
        basis == "organization" and (not erasing or principal.org == facts.program_org)
    ):
        return Decision(outcome="allowed", basis=basis)
    own_program = basis == "care_team" and principal.org == facts.program_org
    if own_program and action in (Action.READ_DISCLOSURES, Action.READ_CONSENTS):
        return Decision(outcome="allowed", basis=basis)
    return _forbidden(basis, "This role may not read that for this client.")


# ------------------------------------------------------------------------------------------- I/O


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


@dataclass
class FactsCache:
    """Each recently asked client's facts at a version, and when they were last caught up with
    the store. The store is append-only, so newer events are folded on top and a stale entry is
    never wrong, only behind."""

    size: int = 20_000
    _items: OrderedDict[UUID, tuple[AccessFacts, float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def entry(self, client_id: UUID) -> tuple[AccessFacts, float] | None:
        with self._lock:
            item = self._items.get(client_id)
            if item is not None:
                self._items.move_to_end(client_id)
            return item

    def get(self, client_id: UUID) -> AccessFacts | None:
        item = self.entry(client_id)
        return None if item is None else item[0]

    def put(self, facts: AccessFacts, caught_up_at: float = 0.0) -> None:
        with self._lock:
            current = self._items.get(facts.client_id)
            if current is not None and current[0].version > facts.version:
                return
            self._items[facts.client_id] = (facts, caught_up_at)
            self._items.move_to_end(facts.client_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def forget(self, client_id: UUID) -> None:
        with self._lock:
            self._items.pop(client_id, None)


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
    ) -> None:
        self.store = store
        self.handler = handler
        self.access_log = access_log
        self.clock = clock
        self.cache = cache or FactsCache()
        self._erased = erased
        # A write is authorized on facts caught up at most this long ago (seconds); a refusal
        # is always decided again on facts read fresh. Reads always catch up first.
        self.write_freshness = write_freshness
        self._monotonic = monotonic

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
        cached = {client: self.cache.get(client) for client in set(client_ids)}
        newer = self.store.load_many(
            {client: 0 if facts is None else facts.version for client, facts in cached.items()}
        )
        out: dict[UUID, AccessFacts | None] = {}
        for client, facts in cached.items():
            events = newer.get(client, [])
            if facts is None and not events:
                out[client] = None
                continue
            folded = access_facts(client, (r.event for r in events), facts)
            if facts is not None and not facts.erased and folded.erased:
                folded = access_facts(client, (r.event for r in self.store.load(client)))
            self.cache.put(folded, self._monotonic())
            out[client] = folded
        return out

    def forget(self, client_id: UUID) -> None:
        self.cache.forget(client_id)

    def check_many(
        self,
        principal: Principal,
        action: Action,
        client_ids: Iterable[UUID],
        *,
        purpose: str,
        data_classes: frozenset[str],
        correlation_id: str | None,
    ) -> dict[UUID, Decision]:
        """Decide each client of a list the caller asked for (rows of a caseload, flags); every
        decision is logged, allowed Part 2 rows for another organization are disclosures."""
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
                AccessEntry(
                    at=now,
                    actor_id=principal.sub,
                    actor_role=principal.role,
                    actor_org=principal.org,
                    client_id=client,
                    action=str(action),
                    data_classes=tuple(sorted(data_classes)),
                    purpose=purpose,
                    outcome=decision.outcome,
                    code=decision.code,
                    basis=decision.basis,
                    correlation_id=correlation_id,
                )
                for client, decision in decisions.items()
            ]
        )
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

    def check(self, request: AccessRequest) -> Decision:
        """Decide, log (reads always, refusals always), and raise the Problem of a refusal."""
        now = self.clock()
        if request.purpose not in PURPOSES:
            raise Problem(
                "validation_error",
                "X-Purpose-Of-Use is one of treatment, operations, emergency.",
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
            )
        if not decision.allowed or request.action not in WRITES - {Action.BREAK_GLASS}:
            self.log(request, decision, now)
        if not decision.allowed:
            log.info(
                "access.refused",
                code=decision.code,
                status=404 if decision.outcome == "not_found" else 403,
            )
            raise Problem(decision.code or "forbidden", decision.detail)
        if decision.disclosure is not None and facts is not None:
            self._record_disclosure(request, decision, decision.disclosure, facts, now)
        return decision

    def log(self, request: AccessRequest, decision: Decision, now: datetime) -> None:
        classes = decision.data_classes or request.data_classes or frozenset()
        self.access_log.append(
            [
                AccessEntry(
                    at=now,
                    actor_id=request.principal.sub,
                    actor_role=request.principal.role,
                    actor_org=request.principal.org,
                    client_id=request.client_id,
                    action=str(request.action),
                    data_classes=tuple(sorted(classes)),
                    purpose=request.purpose,
                    outcome=decision.outcome,
                    code=decision.code,
                    basis=decision.basis,
                    correlation_id=request.correlation_id,
                )
            ]
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
        self.access_log.append(
            [
                AccessEntry(
                    at=now,
                    actor_id=principal.sub,
                    actor_role=principal.role,
                    actor_org=principal.org,
                    client_id=client_id,
                    action=str(action),
                    data_classes=tuple(sorted(classes)),
                    purpose=purpose,
                    outcome="allowed",
                    basis=basis,
                    correlation_id=correlation_id,
                )
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
            ),
        )
        self.handler.record(RecordCareEvent(event, now=now))
        log.info("disclosure.recorded", client_id=str(request.client_id), count=1)
