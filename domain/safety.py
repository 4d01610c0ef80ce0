"""Crisis contacts, Stanley-Brown safety plans and postvention reviews."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from domain.envelope import Envelope, Frozen, Identifier, ShortText

CrisisChannel = Literal["call", "text", "in_person", "mobile_team"]
RiskLevel = Literal["low", "moderate", "high", "imminent"]
Item = Annotated[str, StringConstraints(min_length=1, max_length=500, strip_whitespace=True)]
Items = Annotated[tuple[Item, ...], Field(max_length=50)]


class CrisisData(Frozen):
    crisis_id: Identifier
    channel: CrisisChannel
    risk_level: RiskLevel
    suicidality: bool
    overdose_danger: bool
    interventions: Items = ()
    disposition: ShortText
    follow_up_due_at: AwareDatetime | None = None


class CrisisContactRecorded(Envelope):
    """Assessment, de-escalation and stabilization when safety was at stake."""

    data_class: ClassVar[str] = "crisis"
    type: Literal["CrisisContactRecorded"] = "CrisisContactRecorded"
    schema_version: Literal[1] = 1
    data: CrisisData


class SafetyPlanData(Frozen):
    """The six Stanley-Brown steps plus reasons for living (Stanley & Brown, 2012)."""

    warning_signs: Items = ()
    coping_strategies: Items = ()
    social_contacts: Items = ()
    help_contacts: Items = ()
    professional_contacts: Items = ()
    crisis_lines: Items = ()
    means_safety: Items = ()
    reasons_for_living: Items = ()


class SafetyPlanRecorded(Envelope):
    data_class: ClassVar[str] = "safety_plan"
    type: Literal["SafetyPlanRecorded"] = "SafetyPlanRecorded"
    schema_version: Literal[1] = 1
    data: SafetyPlanData


class SafetyPlanRevised(Envelope):
    data_class: ClassVar[str] = "safety_plan"
    type: Literal["SafetyPlanRevised"] = "SafetyPlanRevised"
    schema_version: Literal[1] = 1
    data: SafetyPlanData


ReviewKind = Literal["crisis", "death"]


class PostventionData(Frozen):
    """A review after a crisis (`crisis_id` names it) or after a client's death (kind `death`);
    `reviewers` are the care-team member ids who took part, `plan_change_event_ids` the events
    recording the plan changes it decided (e.g. a `SafetyPlanRevised`)."""

    crisis_id: Identifier | None = None
    kind: ReviewKind = "crisis"
    reviewers: Annotated[tuple[Identifier, ...], Field(max_length=50)] = ()
    plan_change_event_ids: Annotated[tuple[UUID, ...], Field(max_length=50)] = ()
    what_worked: Items = ()
    what_did_not: Items = ()
    plan_changes: Items = ()

    @model_validator(mode="after")
    def _crisis_review_names_its_crisis(self) -> PostventionData:
        if self.kind == "crisis" and self.crisis_id is None:
            raise ValueError("a crisis review names its crisis_id")
        return self


class PostventionReviewRecorded(Envelope):
    """After the danger passed: what worked, what did not, how the plan changes."""

    data_class: ClassVar[str] = "crisis"
    type: Literal["PostventionReviewRecorded"] = "PostventionReviewRecorded"
    schema_version: Literal[1] = 1
    data: PostventionData
