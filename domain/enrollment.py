"""Enrollment, episodes of care and the care team around a client."""

from __future__ import annotations

from datetime import date
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import Field, StringConstraints

from domain.envelope import Envelope, Frozen, Identifier, ShortText

CareTeamRole = Literal[
    "counselor", "peer_specialist", "case_manager", "prescriber", "crisis_clinician"
]
Channel = Literal["text", "call", "app", "in_person"]
SexAtBirth = Literal["female", "male", "unknown"]
Phone = Annotated[str, StringConstraints(min_length=3, max_length=32, pattern=r"^[0-9+() .\-]+$")]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]


class EnrollmentData(Frozen):
    program: Identifier
    part2: bool
    given_name: Name
    family_name: Name
    birth_date: date
    phone: Phone | None = None
    sex_at_birth: SexAtBirth | None = None  # AUDIT-C's cut-off (4 men, 3 women)


class ClientEnrolled(Envelope):
    """A client entered a program; given name, family name, birth date and phone are PHI."""

    data_class: ClassVar[str] = "demographics"
    type: Literal["ClientEnrolled"] = "ClientEnrolled"
    schema_version: Literal[1] = 1
    data: EnrollmentData


class EpisodeData(Frozen):
    episode_id: UUID
    program: Identifier


class EpisodeOpened(Envelope):
    """An episode of care began, derived from an enrollment or a readmission."""

    data_class: ClassVar[str] = "enrollment"
    type: Literal["EpisodeOpened"] = "EpisodeOpened"
    schema_version: Literal[1] = 1
    data: EpisodeData


class ReasonData(Frozen):
    reason: ShortText


class EpisodeClosed(Envelope):
    """Discharge: the episode of care ended."""

    data_class: ClassVar[str] = "enrollment"
    type: Literal["EpisodeClosed"] = "EpisodeClosed"
    schema_version: Literal[1] = 1
    data: ReasonData


class ClientReadmitted(Envelope):
    """A discharged client came back into care."""

    data_class: ClassVar[str] = "enrollment"
    type: Literal["ClientReadmitted"] = "ClientReadmitted"
    schema_version: Literal[1] = 1
    data: ReasonData


class MemberData(Frozen):
    member_id: Identifier
    role: CareTeamRole
    org: Identifier
    # The identity provider that issues the member's tokens (the JWT `iss`), when the
    # deployment trusts more than one; absent: the one the deployment pins.
    issuer: Identifier | None = None


class CareTeamMemberAssigned(Envelope):
    """A counselor, peer, case manager, prescriber or crisis clinician joined the circle of care."""

    data_class: ClassVar[str] = "care_team"
    type: Literal["CareTeamMemberAssigned"] = "CareTeamMemberAssigned"
    schema_version: Literal[1] = 1
    data: MemberData


class CareTeamMemberReleased(Envelope):
    """A member left the client's circle of care."""

    data_class: ClassVar[str] = "care_team"
    type: Literal["CareTeamMemberReleased"] = "CareTeamMemberReleased"
    schema_version: Literal[1] = 1
    data: MemberData


class CheckInPlanData(Frozen):
    cadence_hours: int = Field(ge=1, le=24 * 31)
    channel: Channel


class CheckInPlanSet(Envelope):
    """How often and through which channel the team checks in with the client."""

    data_class: ClassVar[str] = "care_plan"
    type: Literal["CheckInPlanSet"] = "CheckInPlanSet"
    schema_version: Literal[1] = 1
    data: CheckInPlanData
