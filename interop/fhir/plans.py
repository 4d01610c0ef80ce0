"""The recovery plan (CarePlan with its Goals and check-in activity) and the Stanley-Brown
safety plan (CarePlan, one activity per item of each section).
"""

from __future__ import annotations

from uuid import UUID

from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.goal import Goal

from domain.enrollment import (
    CheckInPlanSet,
)
from domain.safety import SafetyPlanRecorded, SafetyPlanRevised
from domain.sessions import CarePlanGoalMet, CarePlanGoalRevised, CarePlanGoalSet
from interop import fhir_codes as codes
from interop.fhir.context import Builder, Entry
from interop.fhir.datatypes import (
    Json,
    concept,
)


def recovery_plan(builder: Builder, care_team: Entry) -> None:
    """The recovery plan: a Goal per care-plan goal and the check-in plan as an activity."""
    goal_events: dict[str, list[UUID]] = {}
    for item in builder.history.of_type(CarePlanGoalSet, CarePlanGoalRevised, CarePlanGoalMet):
        event = item.event
        if isinstance(event, CarePlanGoalSet | CarePlanGoalRevised | CarePlanGoalMet):
            goal_events.setdefault(event.data.goal_id, []).append(event.event_id)
    goals = []
    for goal in builder.record.care_plan_goals:
        fields: Json = {
            "identifier": [{"system": codes.GOAL_ID, "value": goal.goal_id}],
            "lifecycleStatus": "completed" if goal.status == "met" else "active",
            "description": {"text": goal.description},
            "subject": builder.subject,
        }
        if goal.status == "met":
            fields["achievementStatus"] = concept(codes.GOAL_ACHIEVEMENT, "achieved")
        if goal.target_date is not None:
            fields["target"] = [{"dueDate": goal.target_date}]
        goals.append(
            builder.add(
                Goal,
                "Goal",
                goal.goal_id,
                "care_plan",
                goal_events.get(goal.goal_id, []),
                **fields,
            )
        )
    plan = builder.record.check_in_plan
    plan_events = [item.event.event_id for item in builder.history.of_type(CheckInPlanSet)]
    if not goals and plan is None:
        return
    fields = {
        "status": "active" if builder.record.status == "in_care" else "completed",
        "intent": "plan",
        "category": [concept(codes.PLAN_CATEGORY, "recovery-plan", "Recovery plan")],
        "title": "Recovery plan",
        "subject": builder.subject,
        "careTeam": [care_team.reference],
    }
    if goals:
        fields["goal"] = [goal.reference for goal in goals]
    if plan is not None:
        fields["activity"] = [
            {
                "detail": {
                    "kind": "CommunicationRequest",
                    "code": concept(codes.CHECK_IN, "check-in", "Recovery check-in"),
                    "status": "in-progress",
                    "scheduledTiming": {
                        "repeat": {
                            "frequency": 1,
                            "period": plan.cadence_hours,
                            "periodUnit": "h",
                        }
                    },
                    "description": f"Check-in by {plan.channel.replace('_', ' ')}",
                }
            }
        ]
    sources = [s for goal in goals for s in goal.sources] + plan_events
    builder.add(CarePlan, "CarePlan", "recovery", "care_plan", sources, **fields)


def safety_plan(builder: Builder) -> None:
    """The current safety plan: one activity per item of each Stanley-Brown section."""
    plan = builder.record.safety_plan
    versions = builder.history.of_type(SafetyPlanRecorded, SafetyPlanRevised)
    if plan is None or not versions:
        return
    activities = [
        {
            "detail": {
                "code": concept(codes.SAFETY_PLAN_SECTION, section, title),
                "status": "in-progress",
                "description": item,
            }
        }
        for section, title in codes.SAFETY_PLAN_SECTIONS
        for item in getattr(plan, section)
    ]
    fields: Json = {
        "status": "active" if builder.record.status == "in_care" else "completed",
        "intent": "plan",
        "category": [concept(codes.PLAN_CATEGORY, "safety-plan", "Safety plan (Stanley-Brown)")],
        "title": "Safety plan",
        "subject": builder.subject,
        "created": plan.recorded_at,
    }
    if activities:
        fields["activity"] = activities
    builder.add(
        CarePlan,
        "CarePlan",
        "safety",
        "safety_plan",
        [item.event.event_id for item in versions],
        **fields,
    )
