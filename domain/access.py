"""Who stands in a relationship with a client, folded from the client's own history.

Authorization (services/app/gatekeeper.py) asks this fold, never a read model: the write side is
the truth about who is on the care team. Facts:

- the **program organization** is the organization of whoever enrolled the client; the enrolling
  clinician counts as a member of the care team in the role of their enrollment, until a
  `CareTeamMemberReleased` names them (assign, then release, to take them off);
- the **care team**: members assigned and not released, each with their own organization;
- **break-the-glass grants**: a crisis clinician's emergency access, until `occurred_at + minutes`;
- **open handoffs**: the receiving organization (or member) may answer and complete them;
- the **consent events** (and discharges, which end consents that expire on them), for
  domain/consent_policy.py;
- whether the client is in a **Part 2** program (the `42CFRPart2` label every entry carries).

The enrollment's actor and labels are envelope facts, so they survive crypto-shredding: an
erased client's program organization and Part 2 status are still known, its team is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import reduce
from uuid import UUID

from domain.break_glass import Grant
from domain.catalogue import CareEvent, data_class_of
from domain.consent import BreakGlassInvoked, ConsentGranted, ConsentRevoked
from domain.enrollment import (
    CareTeamMemberAssigned,
    CareTeamMemberReleased,
    ClientEnrolled,
    ClientReadmitted,
    EpisodeClosed,
)
from domain.envelope import CARE_TEAM_ROLES, PART2_LABEL
from domain.erasure import ErasedEntry
from domain.handoff import (
    HandoffAccepted,
    HandoffCompleted,
    HandoffDeclined,
    HandoffFailed,
    HandoffInitiated,
)

OPEN_HANDOFF_PHASES = frozenset({"initiated", "accepted"})


@dataclass(frozen=True, slots=True)
class TeamMember:
    """One member of the care team as the assignment named them: the person (their token's
    `sub`), the clinical role, the organization, and the token issuer when the assignment
    names one (None: the issuer the deployment pins, CARE_JWT_ISSUER)."""

    member_id: str
    role: str
    org: str
    issuer: str | None = None

    def is_(self, member_id: str, org: str, role: str, issuer: str | None) -> bool:
        """Whether a caller is this member: same person, organization and role (and issuer
        when the assignment names one). A token with the same `sub` and another `org` or
        `role` is someone else."""
        return (
            self.member_id == member_id
            and self.org == org
            and self.role == role
            and (self.issuer is None or self.issuer == issuer)
        )


@dataclass(frozen=True, slots=True)
class PendingHandoff:
    handoff_id: str
    to_org: str
    to_member_id: str | None
    phase: str


@dataclass(frozen=True, slots=True)
class AccessFacts:
    """What authorization needs to know about one client, as of its last folded event."""

    client_id: UUID
    enrolled: bool = False
    program_org: str | None = None
    enroller: TeamMember | None = None
    part2: bool = False
    discharged: bool = False
    erased: bool = False
    care_team: frozenset[TeamMember] = frozenset()
    grants: tuple[Grant, ...] = ()
    handoffs: tuple[PendingHandoff, ...] = ()
    consent_events: tuple[ConsentGranted | ConsentRevoked | EpisodeClosed, ...] = ()
    data_classes: frozenset[str] = frozenset()
    version: int = 0

    def is_on_team(self, member_id: str, org: str, role: str, issuer: str | None = None) -> bool:
        """Whether the caller (sub, org, role, issuer) is a member the team names."""
        if self.enroller is not None and self.enroller.is_(member_id, org, role, issuer):
            return True
        return any(m.is_(member_id, org, role, issuer) for m in self.care_team)

    def team_orgs(self) -> frozenset[str]:
        orgs = {m.org for m in self.care_team}
        if self.enroller is not None:
            orgs.add(self.enroller.org)
        return frozenset(orgs)

    def grant_of(self, member_id: str, org: str, now: datetime) -> Grant | None:
        """The member's break-the-glass grant (same person and organization) still running at
        `now`, if any."""
        running = self.grants_of(member_id, org, now)
        return max(running, key=lambda g: g.until) if running else None

    def grants_of(self, member_id: str, org: str, now: datetime) -> tuple[Grant, ...]:
        """Every break-the-glass grant of the member (same person and organization) still
        running at `now`."""
        return tuple(
            g for g in self.grants if (g.member_id, g.org) == (member_id, org) and g.until > now
        )

    def open_handoff_to(self, org: str, member_id: str) -> PendingHandoff | None:
        for handoff in self.handoffs:
            if (
                handoff.phase in OPEN_HANDOFF_PHASES
                and handoff.to_org == org
                and handoff.to_member_id in (None, member_id)
            ):
                return handoff
        return None


def access_facts(
    client_id: UUID, events: Iterable[CareEvent], facts: AccessFacts | None = None
) -> AccessFacts:
    """The facts after these events, from scratch or from earlier facts."""
    return reduce(evolve_access, events, facts or AccessFacts(client_id=client_id))


def evolve_access(facts: AccessFacts, event: CareEvent) -> AccessFacts:
    """The facts after one more event; never raises."""
    facts = replace(
        facts,
        version=facts.version + 1,
        data_classes=facts.data_classes | {data_class_of(event.type)},
    )
    match event:
        case ClientEnrolled():
            return _enrolled(facts, event)
        case ErasedEntry():
            facts = replace(facts, erased=True)
            if event.data.original_type == "ClientEnrolled":
                return _enrolled(facts, event)
            return facts
        case EpisodeClosed():  # also ends consents that expire on discharge
            return replace(facts, discharged=True, consent_events=(*facts.consent_events, event))
        case ClientReadmitted():
            return replace(facts, discharged=False)
        case CareTeamMemberAssigned():
            member = TeamMember(
                event.data.member_id, event.data.role, event.data.org, event.data.issuer
            )
            return replace(facts, care_team=facts.care_team | {member})
        case CareTeamMemberReleased():
            member = TeamMember(event.data.member_id, event.data.role, event.data.org)
            enroller = facts.enroller
            if enroller is not None and enroller.member_id == member.member_id:
                enroller = None
            team = frozenset(
                m
                for m in facts.care_team
                if (m.member_id, m.role) != (member.member_id, member.role)
            )
            return replace(facts, care_team=team, enroller=enroller)
        case BreakGlassInvoked():
            to = event.data.disclosed_to
            grant = Grant(
                member_id=event.actor.id,
                org=event.actor.org,
                until=event.occurred_at + timedelta(minutes=event.data.minutes),
                grant_id=str(event.event_id),
                reason=event.data.reason,
                data_classes=event.data.data_classes,
                recipient_name=None if to is None else to.name,
                recipient_affiliation=None if to is None else to.affiliation,
            )
            return replace(facts, grants=(*facts.grants, grant))
        case HandoffInitiated():
            handoff = PendingHandoff(
                event.data.handoff_id, event.data.to_org, event.data.to_member_id, "initiated"
            )
            return replace(facts, handoffs=(*facts.handoffs, handoff))
        case HandoffAccepted():
            return _handoff_phase(facts, event.data.handoff_id, "accepted")
        case HandoffDeclined():
            return _handoff_phase(facts, event.data.handoff_id, "declined")
        case HandoffCompleted():
            return _handoff_phase(facts, event.data.handoff_id, "completed")
        case HandoffFailed():
            return _handoff_phase(facts, event.data.handoff_id, "failed")
        case ConsentGranted() | ConsentRevoked():
            return replace(facts, consent_events=(*facts.consent_events, event))
        case _:
            return facts


def _enrolled(facts: AccessFacts, event: ClientEnrolled | ErasedEntry) -> AccessFacts:
    if facts.enrolled:
        return facts
    actor = event.actor
    is_clinician = actor.kind == "human" and actor.role in CARE_TEAM_ROLES
    enroller = TeamMember(actor.id, actor.role, actor.org) if is_clinician else None
    return replace(
        facts,
        enrolled=True,
        program_org=actor.org,
        enroller=enroller,
        part2=PART2_LABEL in event.security_labels,
    )


def _handoff_phase(facts: AccessFacts, handoff_id: str, phase: str) -> AccessFacts:
    return replace(
        facts,
        handoffs=tuple(
            replace(h, phase=phase) if h.handoff_id == handoff_id else h for h in facts.handoffs
        ),
    )
