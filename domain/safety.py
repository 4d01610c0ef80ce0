"""Crisis contacts, Stanley-Brown safety plans and postvention reviews."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field, StringConstraints

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


class PostventionData(Frozen):
    crisis_id: Identifier
    what_worked: Items = ()
    what_did_not: Items = ()
    plan_changes: Items = ()


class PostventionReviewRecorded(Envelope):
    """After the danger passed: what worked, what did not, how the plan changes."""

    data_class: ClassVar[str] = "crisis"
    type: Literal["PostventionReviewRecorded"] = "PostventionReviewRecorded"
    schema_version: Literal[1] = 1
    data: PostventionData
