"""Who stands in a relationship with a client, folded from the client's own history.

Authorization (services/app/gatekeeper.py) asks this fold, never a read model: the write side is
the truth about who is on the care team. Facts:

- the **program organization** is the organization of whoever enrolled the client;
- the **care team** (domain/care_team.py, the one fold the read models share): the enrolling
  clinician and the members assigned, each with their own organization, until released;
- **break-the-glass grants**: a crisis clinician's emergency access, until `occurred_at + minutes`;
- **open handoffs**: the receiving organization (or member) may answer and complete them;
- the **consent events** (and discharges, which end consents that expire on them), for
  domain/consent_policy.py;
- whether the client is in a **Part 2** program (the `42CFRPart2` label every entry carries).

The enrollment's actor and labels are envelope facts, so they survive crypto-shredding: an
erased client's program organization, Part 2 status and enrolling clinician are still known,
its assigned members are not.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import reduce
from uuid import UUID

from domain.break_glass import Grant
from domain.care_team import CareTeam, evolve_team
from domain.catalogue import CareEvent, data_class_of
from domain.consent import BreakGlassInvoked, ConsentGranted, ConsentRevoked
from domain.enrollment import ClientEnrolled, ClientReadmitted, EpisodeClosed
from domain.envelope import PART2_LABEL
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
    part2: bool = False
    discharged: bool = False
    erased: bool = False
    care_team: CareTeam = ()
    grants: tuple[Grant, ...] = ()
    handoffs: tuple[PendingHandoff, ...] = ()
    consent_events: tuple[ConsentGranted | ConsentRevoked | EpisodeClosed, ...] = ()
    data_classes: frozenset[str] = frozenset()
    version: int = 0

    def is_on_team(self, member_id: str, org: str, role: str, issuer: str | None = None) -> bool:
        """Whether the caller (sub, org, role, issuer) is a member the team names."""
        return any(m.is_(member_id, org, role, issuer) for m in self.care_team)

    def team_orgs(self) -> frozenset[str]:
        return frozenset(m.org for m in self.care_team)

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
        care_team=evolve_team(facts.care_team, event),
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
    return replace(
        facts,
        enrolled=True,
        program_org=event.actor.org,
        part2=PART2_LABEL in event.security_labels,
    )


def _handoff_phase(facts: AccessFacts, handoff_id: str, phase: str) -> AccessFacts:
    return replace(
        facts,
        handoffs=tuple(
            replace(h, phase=phase) if h.handoff_id == handoff_id else h for h in facts.handoffs
        ),
    )
