"""Who is on a client's care team: the one fold that authorization (domain/access.py), the
decider (domain/client.py), the record (domain/record.py) and the read models
(projections/caseload.py, projections/early_warning.py) all take membership from.

- A **clinician who enrolls** the client (a human actor in a care-team role) joins the team in
  the role, organization and at the time of the enrollment, exactly as if a supervisor had
  assigned them then. A service or a supervisor that enrolls joins nobody.
- A `CareTeamMemberAssigned` adds the member it names.
- A `CareTeamMemberReleased` takes off the member it names in that role, however they joined
  (an enrolling clinician is released like any other member).

Membership is per person and role: assigning someone who is on the team in that role already
changes nothing (the first joining stands; release them first to change their organization).
The enrollment's actor is an envelope fact, so it survives crypto-shredding: an erased client's
team is its enrolling clinician only (the assignments are erased).

`team_change` says what one event does to the team; `evolve_team` folds it. The read models
apply the same change as SQL (insert, first wins; delete by person and role), so a read model's
team rows and the team authorization sees are the same fold.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import reduce

from domain.catalogue import CareEvent
from domain.enrollment import CareTeamMemberAssigned, CareTeamMemberReleased, ClientEnrolled
from domain.envelope import CARE_TEAM_ROLES
from domain.erasure import ErasedEntry

# The event types that can change the team (a projection registers its team handler for these).
TEAM_EVENT_TYPES = frozenset({"ClientEnrolled", "CareTeamMemberAssigned", "CareTeamMemberReleased"})


@dataclass(frozen=True, slots=True)
class TeamMember:
    """One member of the care team: the person (their token's `sub`), the clinical role, the
    organization, since when, and the token issuer when the assignment names one (None: the
    issuer the deployment pins, CARE_JWT_ISSUER)."""

    member_id: str
    role: str
    org: str
    since: datetime
    issuer: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.member_id, self.role)

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
class Joined:
    member: TeamMember


@dataclass(frozen=True, slots=True)
class Left:
    member_id: str
    role: str


TeamChange = Joined | Left
CareTeam = tuple[TeamMember, ...]  # in the order they joined


def team_change(event: CareEvent) -> TeamChange | None:
    """What this event does to the client's care team, if anything."""
    match event:
        case ClientEnrolled():
            return _enrolling_clinician(event)
        case ErasedEntry():
            if event.data.original_type == "ClientEnrolled":
                return _enrolling_clinician(event)
            return None
        case CareTeamMemberAssigned():
            d = event.data
            return Joined(TeamMember(d.member_id, d.role, d.org, event.occurred_at, d.issuer))
        case CareTeamMemberReleased():
            return Left(event.data.member_id, event.data.role)
        case _:
            return None


def _enrolling_clinician(event: ClientEnrolled | ErasedEntry) -> Joined | None:
    actor = event.actor
    if actor.kind != "human" or actor.role not in CARE_TEAM_ROLES:
        return None
    return Joined(TeamMember(actor.id, actor.role, actor.org, event.occurred_at))


def apply_change(team: CareTeam, change: TeamChange | None) -> CareTeam:
    match change:
        case Joined(member):
            return team if any(m.key == member.key for m in team) else (*team, member)
        case Left(member_id, role):
            return tuple(m for m in team if m.key != (member_id, role))
        case None:
            return team


def evolve_team(team: CareTeam, event: CareEvent) -> CareTeam:
    """The team after one more event; never raises."""
    return apply_change(team, team_change(event))


def fold_team(events: Iterable[CareEvent], team: CareTeam = ()) -> CareTeam:
    return reduce(evolve_team, events, team)
