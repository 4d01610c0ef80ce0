"""OpenAPI examples of the wire contract (synthetic data only)."""

from __future__ import annotations

from typing import Any

ENROLL_EXAMPLES: dict[str, Any] = {
    "enrollment": {
        "summary": "Enroll a client in a Part 2 outpatient program",
        "value": {
            "type": "ClientEnrolled",
            "occurred_at": "2026-11-20T08:00:00Z",
            "purpose_of_use": "treatment",
            "data": {
                "program": "outpatient-sud",
                "part2": True,
                "given_name": "Alex",
                "family_name": "Example",
                "birth_date": "1990-04-01",
                "phone": "555-0100",
            },
        },
    }
}

EVENT_EXAMPLES: dict[str, Any] = {
    "check_in": {
        "summary": "A daily check-in",
        "value": {
            "event_id": "0b4e6f1c-2d1a-4c47-9d55-6b1a3c2e9f10",
            "type": "CheckInRecorded",
            "occurred_at": "2026-11-20T08:00:00Z",
            "data": {
                "mood": 4,
                "craving": 7,
                "sleep_hours": 3.5,
                "used_since_last": False,
                "substances": [],
            },
        },
    },
    "phq9": {
        "summary": "A PHQ-9; the server computes total and band",
        "value": {
            "type": "AssessmentRecorded",
            "occurred_at": "2026-11-20T09:00:00Z",
            "data": {"instrument": "PHQ-9", "answers": [1, 2, 1, 2, 1, 1, 2, 1, 1]},
        },
    },
    "care_team": {
        "summary": "A peer specialist joins the circle of care",
        "value": {
            "type": "CareTeamMemberAssigned",
            "occurred_at": "2026-11-20T09:30:00Z",
            "data": {"member_id": "peer-17", "role": "peer_specialist", "org": "harbor-peer"},
        },
    },
    "crisis": {
        "summary": "A crisis contact",
        "value": {
            "type": "CrisisContactRecorded",
            "occurred_at": "2026-11-21T22:10:00Z",
            "purpose_of_use": "emergency",
            "data": {
                "crisis_id": "crisis-1",
                "channel": "call",
                "risk_level": "high",
                "suicidality": True,
                "overdose_danger": False,
                "interventions": ["de-escalation", "safety planning"],
                "disposition": "stabilized at home with family",
                "follow_up_due_at": "2026-11-22T10:00:00Z",
            },
        },
    },
    "safety_plan": {
        "summary": "A Stanley-Brown safety plan",
        "value": {
            "type": "SafetyPlanRecorded",
            "occurred_at": "2026-11-21T22:40:00Z",
            "data": {
                "warning_signs": ["not sleeping", "isolating"],
                "coping_strategies": ["urge surfing", "walk"],
                "social_contacts": ["evening skills group"],
                "help_contacts": ["sister"],
                "professional_contacts": ["counselor on call"],
                "crisis_lines": ["988"],
                "means_safety": ["medications locked away"],
                "reasons_for_living": ["my kids"],
            },
        },
    },
    "handoff": {
        "summary": "A warm handoff to a prescriber",
        "value": {
            "type": "HandoffInitiated",
            "occurred_at": "2026-11-22T10:00:00Z",
            "data": {
                "handoff_id": "handoff-1",
                "to_org": "mercy-prescribers",
                "service": "MOUD intake",
                "reason": "opioid use after surgery",
                "priority": "urgent",
            },
        },
    },
}
