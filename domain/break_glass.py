"""Break the glass: disclosure in a medical emergency (42 CFR 2.51), the pure decisions.

42 CFR 2.51(a) lets a Part 2 program disclose patient identifying information, without consent,
to medical personnel "to the extent necessary" to meet a bona fide medical emergency in which
the patient's prior written consent cannot be obtained; 2.51(c) has the program document, in the
patient's record and immediately after the disclosure: (1) the name of the medical personnel to
whom the disclosure was made and their affiliation with any health care facility, (2) the name
of the person making the disclosure, (3) the date and time, and (4) the nature of the emergency.
HIPAA's emergency access procedure (45 CFR 164.312(a)(2)(ii)) is the technical side of it.

Here (the program's policy, stated in docs/privacy.md):

- **who may invoke** is a setting of the program organization that holds the record (it makes
  the disclosure): by default crisis clinicians and prescribers (`DEFAULT_INVOKING_ROLES`);
- **scope**: by default the data classes an emergency needs (`EMERGENCY_DATA_CLASSES`: the
  safety plan, medications, crisis history and the care team's contacts; the record holds no
  allergy class, so none is opened for it); every other class stays masked;
- **a second invocation** by the same person for the same client while their grant runs, with
  the same stated emergency, extends nothing: it is refused (`break_glass_running`, 409); a new
  emergency (a new reason) is a new grant with its own record and review flag.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

# Enough to treat a condition posing an immediate threat (2.51(a): "to the extent necessary").
EMERGENCY_DATA_CLASSES: frozenset[str] = frozenset(
    {"safety_plan", "medication", "crisis", "care_team"}
)
DEFAULT_INVOKING_ROLES: frozenset[str] = frozenset({"crisis_clinician", "prescriber"})
DEFAULT_MINUTES = 60
RUNNING_CODE = "break_glass_running"


@dataclass(frozen=True, slots=True)
class BreakGlassPolicy:
    """Who may break the glass into a program's records: `by_org` names the roles of a program
    organization that sets its own; every other organization has `default_roles`."""

    default_roles: frozenset[str] = DEFAULT_INVOKING_ROLES
    by_org: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def roles_for(self, program_org: str | None) -> frozenset[str]:
        if program_org is not None and program_org in self.by_org:
            return self.by_org[program_org]
        return self.default_roles

    def may_invoke(self, role: str, program_org: str | None) -> bool:
        """Whether this role may break the glass into this program's record (never a service:
        2.51(c)(2) names a person making the disclosure)."""
        return role != "service" and role in self.roles_for(program_org)

    def may_invoke_anywhere(self, role: str) -> bool:
        """Whether any organization lets this role break the glass (decided before the client
        is looked at, so a refusal says nothing about whether the client exists)."""
        named = self.default_roles.union(*self.by_org.values())
        return role != "service" and role in named


DEFAULT_POLICY = BreakGlassPolicy()


@dataclass(frozen=True, slots=True)
class Grant:
    """Emergency access of one person to one client, until a time, for the classes it opens
    (None: every class, as grants recorded before scopes were modelled opened)."""

    member_id: str
    org: str
    until: datetime
    grant_id: str = ""
    reason: str = ""
    data_classes: frozenset[str] | None = None
    recipient_name: str | None = None
    recipient_affiliation: str | None = None


def same_emergency(first: str, second: str) -> bool:
    """Whether two stated reasons are the same emergency (blanks and case aside)."""
    return " ".join(first.casefold().split()) == " ".join(second.casefold().split())


def repeated(running: Iterable[Grant], reason: str) -> Grant | None:
    """The person's running grant this invocation repeats (the same emergency), if any: such a
    second invocation extends nothing and is refused with `RUNNING_CODE`."""
    for grant in running:
        if same_emergency(grant.reason, reason):
            return grant
    return None


def opened_classes(running: Iterable[Grant], wanted: frozenset[str]) -> frozenset[str]:
    """The classes of `wanted` the person's running grants open (every other class stays
    masked); a grant recorded before scopes opens every class."""
    opened: set[str] = set()
    for grant in running:
        if grant.data_classes is None:
            return wanted
        opened |= grant.data_classes
    return wanted & frozenset(opened)
