"""Who may do what with whose data: the pure half of authorization (decisions, no I/O).

Roles, each with its relationship to a client and what it may do:

- counselor, peer_specialist, case_manager, prescriber, crisis_clinician: related when on the
  care team (assigned, or the clinician who enrolled the client; matched on sub, org, role and
  the issuer the assignment names), while a break-the-glass grant
  of theirs runs, or as a member of the organization an open handoff goes to. They read the
  record and history and record care events (a handoff's receiver: only the handoff's steps).
  A peer specialist never reads counseling notes (minimum necessary, 45 CFR 164.502(b)).
- supervisor: related when the client's program organization, or a care-team member's, is
  theirs. Reads the record and history, staffs the team, closes flags, reads the access log,
  consents and disclosures of those clients (of a Part 2 client of another program: only under
  a consent covering their organization); records consents and requests and confirms erasures
  for their own program's clients.
- consent (42 CFR 2.31) is recorded only by the program organization that holds the record.
- auditor: oversight of every client: audit, access and disclosure logs, consents, the skeleton
  replay; no clinical detail. Requests and confirms erasures; rotates keys; verifies chains.
- analyst: related to no client: only the de-identified replay (and exports).
- service: related when its organization is the program's or a team member's: records care
  events on behalf of people; never reads.

Answers: no relationship (or no such client) is `not_found` with code `client_not_enrolled`,
the same answer as for an unknown client (42 CFR 2.13(c)); a relationship without the right is
`forbidden`; a Part 2 client read by a member of another organization without a consent
covering that organization, the purpose of use and every data class read is
`consent_required`. A covered read is a `Disclosure` (recorded by the gatekeeper, answered with
the 42 CFR 2.32 notice). A break-the-glass read from another organization is a disclosure in a
medical emergency (42 CFR 2.51), without a consent.

`decide_access` and `decide_stream` are pure (facts, principal, clock reading in; decision
out), so the table of roles by actions is unit-testable; services/app/gatekeeper.py adds the
I/O: it folds the facts from the store, appends the access log and records disclosures.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, get_args

from domain.access import AccessFacts
from domain.break_glass import DEFAULT_POLICY, BreakGlassPolicy, opened_classes
from domain.client import COUNSELING_NOTE_LABEL
from domain.consent_policy import (
    ConsentTerms,
    check_consent,
    consents_in_force,
    counseling_notes_consent,
)
from domain.envelope import CARE_TEAM_ROLES, Actor, PurposeOfUse
from domain.erasure import ERASED_DATA_CLASS

Outcome = Literal["allowed", "denied", "not_found"]


@dataclass(frozen=True, slots=True)
class Principal:
    """One authenticated caller: a person in a role at an organization, or a service; `issuer`
    is the identity provider that signed the token (its `iss`), when it names one."""

    sub: str
    role: str
    org: str
    issuer: str | None = None

    @property
    def is_service(self) -> bool:
        return self.role == "service"

    def as_actor(self) -> Actor:
        return Actor(
            id=self.sub,
            role=self.role,
            org=self.org,
            kind="service" if self.is_service else "human",
        )


PURPOSES: frozenset[str] = frozenset(get_args(PurposeOfUse))
NOT_FOUND_DETAIL = "No such client."  # the one body for "unknown" and "not yours"

# Data classes that are about access, not about the client's care: never part of a default read.
ACCESS_DATA_CLASSES = frozenset({"access", ERASED_DATA_CLASS})

# What a supervisor may record: staffing the team and closing the loop on flags.
SUPERVISOR_WRITES = frozenset(
    {
        "ConsentGranted",
        "ConsentRevoked",
        "CareTeamMemberAssigned",
        "CareTeamMemberReleased",
        "RiskFlagAcknowledged",
        "RiskFlagResolved",
    }
)
# What the program organization's own supervisors also record: the postvention review of a
# client's crisis or death is run by the program's supervisors (the Joint Commission's Sentinel
# Event Policy: a comprehensive systematic analysis of a suicide or death in care by the
# organization's leadership), not by a recipient organization's.
PROGRAM_SUPERVISOR_WRITES = frozenset({"PostventionReviewRecorded"})
# Consent is the program's to record: its clinicians, supervisors and services (not a recipient).
CONSENT_WRITES = frozenset({"ConsentGranted", "ConsentRevoked"})
# What the receiving side of an open handoff may record.
HANDOFF_WRITES = frozenset(
    {"HandoffAccepted", "HandoffDeclined", "HandoffCompleted", "HandoffFailed"}
)
ENROLLING_ROLES = CARE_TEAM_ROLES | {"supervisor", "service"}
# What a row of a list shows, for a Part 2 consent to cover: a caseload row, a flag.
CASELOAD_DATA_CLASSES = frozenset({"care_team", "check_in", "appointment", "risk_flag", "handoff"})
FLAG_DATA_CLASSES = frozenset({"risk_flag"})

# Minimum necessary (45 CFR 164.502(b), 164.514(d)): the data classes whose free-text notes
# (`note`/`notes`) each role reads; a role not named reads the notes of every class it may read.
# A peer specialist reads no clinical note of any kind (check-in, session, medication consult,
# flag note): grant a class here to open it. Counseling notes (label `counseling-note`) are
# further closed to another organization unless its consent names them (42 CFR 2.31(b)).
NOTE_CLASSES_BY_ROLE: dict[str, frozenset[str]] = {"peer_specialist": frozenset()}
NOTE_FIELDS = ("note", "notes")

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
    SEARCH_CLIENTS = "search_clients"
    MANAGE_CONSUMERS = "manage_consumers"


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
# The data classes a log read shows of a client (the audit trail: every class its history holds).
LOG_READ_CLASSES: dict[Action, frozenset[str]] = {
    Action.READ_CONSENTS: frozenset({"consent"}),
    Action.READ_ACCESS_LOG: frozenset({"access"}),
    Action.READ_DISCLOSURES: frozenset({"access"}),
}
WRITES = frozenset({Action.WRITE_EVENT, Action.ENROLL, Action.BREAK_GLASS})
# Actions on no one client in particular, and the roles that may take them.
STREAM_ROLES: dict[Action, frozenset[str]] = {
    Action.REPLAY: frozenset({"analyst", "auditor"}),
    Action.EXPORT: frozenset({"analyst", "auditor"}),
    Action.READ_ACCESS_LOG: frozenset({"auditor", "supervisor"}),
    Action.READ_AUDIT: frozenset({"auditor", "supervisor"}),
    Action.ROTATE_KEYS: frozenset({"auditor"}),
    Action.VERIFY_AUDIT: frozenset({"auditor"}),
    # the registry of downstream consumers of care.events: the privacy office
    Action.MANAGE_CONSUMERS: frozenset({"auditor"}),
    Action.READ_CASELOAD: CARE_TEAM_ROLES | {"supervisor"},
    Action.READ_ORG_CASELOAD: frozenset({"supervisor"}),
    Action.READ_FLAGS: CARE_TEAM_ROLES | {"supervisor"},
    # staff look clients up among those they have a relationship with (each match decided apart)
    Action.SEARCH_CLIENTS: CARE_TEAM_ROLES | {"supervisor"},
}


@dataclass(frozen=True, slots=True)
class Disclosure:
    """A read that discloses Part 2 data to another organization: what, to whom, under what."""

    program_org: str
    consent: ConsentTerms | None
    break_glass: bool
    # the stand-alone consent for counseling notes (42 CFR 2.31(b)) also in force, if any
    notes_consent: ConsentTerms | None = None


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
    # the answer shows only `data_classes` (a break-the-glass grant's scope, 42 CFR 2.51(a))
    scoped: bool = False

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
        if facts.is_on_team(sub, org, role, principal.issuer):
            return "care_team"
        if facts.grant_of(sub, org, now) is not None:
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


def notes_shown(
    principal: Principal,
    data_class: str,
    labels: Iterable[str],
    disclosure: Disclosure | None,
) -> bool:
    """Whether this caller reads the free-text notes of an entry of `data_class` with these
    security labels, under this decision's disclosure (None: no disclosure)."""
    by_role = NOTE_CLASSES_BY_ROLE.get(principal.role)
    if by_role is not None and data_class not in by_role:
        return False
    if COUNSELING_NOTE_LABEL not in frozenset(labels):
        return True
    if principal.role == "peer_specialist":
        return False
    if disclosure is None:
        return True
    return disclosure.notes_consent is not None  # its own consent, 42 CFR 2.31(b)


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
    break_glass: BreakGlassPolicy = DEFAULT_POLICY,
) -> Decision:
    """The decision for one request; pure, so the table of roles × actions is unit-testable.
    `break_glass` says who may break the glass into which program's records."""
    if action is Action.BREAK_GLASS and not break_glass.may_invoke_anywhere(principal.role):
        return _forbidden(None, "This role may not break the glass.")  # whoever the client
    if facts is None or not facts.enrolled:
        if action is Action.ENROLL and facts is None:
            return _enrollment(principal)
        return _not_found()
    if action is Action.ENROLL:
        action, event_type = Action.WRITE_EVENT, "ClientEnrolled"
    if action is Action.BREAK_GLASS:
        return _break_glass(principal, facts, now, break_glass)
    basis = relationship(principal, facts, now)
    if basis is None:
        return _not_found()
    if action in WRITES:
        return _write(principal, basis, facts, event_type)
    if action in CLINICAL_READS:
        wanted = (
            frozenset(data_classes) if data_classes is not None else default_data_classes(facts)
        )
        return _clinical_read(principal, facts, basis, purpose, wanted, now)
    if action in LOG_READS or action in (Action.ERASE, Action.ERASE_CONFIRM):
        return _oversight(principal, facts, basis, action, purpose, now)
    return _forbidden(basis, "This role may not do that.")


def may_name_client_id(principal: Principal) -> bool:
    """Whether an enrollment may name its own client id: only a service (whose system mints
    the ids). A person's enrollment gets a fresh id, so no person can probe whether an id is
    already some client's (an existence oracle, 42 CFR 2.13(c))."""
    return principal.is_service


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


def _break_glass(
    principal: Principal, facts: AccessFacts, now: datetime, policy: BreakGlassPolicy
) -> Decision:
    """Who may invoke is the program organization's setting (domain/break_glass.py). A role no
    organization names was refused before the client was looked at; a role this program does
    not name is `forbidden` to those related to the client, and the unknown client's answer to
    everyone else (42 CFR 2.13(c))."""
    basis = relationship(principal, facts, now)
    if facts.erased:
        return _not_found()
    if policy.may_invoke(principal.role, facts.program_org):
        return Decision(outcome="allowed", basis=basis or "break_glass")
    if basis is None:
        return _not_found()
    return _forbidden(basis, "This role may not break the glass into this program's records.")


def _write(
    principal: Principal, basis: Basis, facts: AccessFacts, event_type: str | None
) -> Decision:
    if facts.erased:
        return _not_found()  # nothing more is recorded for an erased client
    if event_type in CONSENT_WRITES:
        return _consent_write(principal, basis, facts)
    allowed = {
        "care_team": True,
        "break_glass": True,
        "service_org": True,
        "handoff": event_type in HANDOFF_WRITES,
        "organization": event_type in SUPERVISOR_WRITES
        or (event_type in PROGRAM_SUPERVISOR_WRITES and principal.org == facts.program_org),
        "oversight": False,
    }[basis]
    if allowed:
        return Decision(outcome="allowed", basis=basis)
    return _forbidden(basis, "This role may not record that for this client.")


def _consent_write(principal: Principal, basis: Basis, facts: AccessFacts) -> Decision:
    """The patient's consent is taken by the program that holds the record (42 CFR 2.31: the
    consent authorizes the Part 2 program's disclosure): only the program organization's
    clinicians on the team, its supervisors, or its own services record or revoke it. A member
    of a recipient organization never grants to itself."""
    own_program = principal.org == facts.program_org
    if own_program and basis in ("care_team", "organization", "service_org"):
        return Decision(outcome="allowed", basis=basis)
    return _forbidden(basis, "Consent is recorded by the program that holds the record.")


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
    scoped = basis == "break_glass"
    if scoped:  # only the classes the grants open (42 CFR 2.51(a): to the extent necessary)
        wanted = opened_classes(facts.grants_of(principal.sub, principal.org, now), wanted)
    if not facts.part2 or principal.org == facts.program_org or erased:
        return Decision(
            outcome="allowed", basis=basis, data_classes=wanted, erased=erased, scoped=scoped
        )
    if scoped:  # medical emergency, 42 CFR 2.51: no consent needed, recorded
        disclosure = Disclosure(program_org=facts.program_org or "", consent=None, break_glass=True)
        return Decision(
            outcome="allowed", basis=basis, data_classes=wanted, disclosure=disclosure, scoped=True
        )
    return _under_consent(principal, facts, basis, purpose, wanted, now)


def _under_consent(
    principal: Principal,
    facts: AccessFacts,
    basis: Basis,
    purpose: str,
    wanted: frozenset[str],
    now: datetime,
) -> Decision:
    """A Part 2 read by another organization: allowed as a disclosure under the one consent in
    force that covers the organization, the purpose and every class read (42 CFR 2.31, 2.33),
    else `consent_required`."""
    program_org = facts.program_org or ""
    consents = consents_in_force(facts.consent_events, now)
    treating = basis in ("care_team", "handoff")
    org, sub = principal.org, principal.sub
    check = check_consent(
        consents,
        recipient_org=org,
        recipient_id=sub,
        purpose=purpose,
        data_classes=wanted,
        treating=treating,
    )
    if check.consent is None:
        return Decision(
            outcome="denied",
            code="consent_required",
            basis=basis,
            data_classes=wanted,
            detail="No consent of the client covers this organization, purpose and data.",
        )
    notes = counseling_notes_consent(
        consents, recipient_org=org, recipient_id=sub, purpose=purpose, treating=treating
    )
    disclosure = Disclosure(
        program_org=program_org, consent=check.consent, break_glass=False, notes_consent=notes
    )
    return Decision(outcome="allowed", basis=basis, data_classes=wanted, disclosure=disclosure)


def _oversight(
    principal: Principal,
    facts: AccessFacts,
    basis: Basis,
    action: Action,
    purpose: str,
    now: datetime,
) -> Decision:
    erasing = action in (Action.ERASE, Action.ERASE_CONFIRM)
    if basis == "oversight":
        return Decision(outcome="allowed", basis=basis)
    if basis == "organization" and (not erasing or principal.org == facts.program_org):
        if facts.part2 and principal.org != facts.program_org and not facts.erased:
            # another organization's supervisor: the trail, consents and access log of a Part 2
            # client are Part 2 records too (42 CFR 2.11 "records"); only under a consent
            wanted = LOG_READ_CLASSES.get(action) or default_data_classes(facts)
            return _under_consent(principal, facts, basis, purpose, wanted, now)
        return Decision(outcome="allowed", basis=basis)
    own_program = basis == "care_team" and principal.org == facts.program_org
    if own_program and action in (Action.READ_DISCLOSURES, Action.READ_CONSENTS):
        return Decision(outcome="allowed", basis=basis)
    return _forbidden(basis, "This role may not read that for this client.")
