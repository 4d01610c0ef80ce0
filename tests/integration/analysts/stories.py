"""The two seed stories, recorded over HTTP as the care team would (synthetic people only).

The young professional's story is told in two halves, so a test can look at the read models on
the night of the crisis and again afterwards.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi.testclient import TestClient

from services.wiring import Runtime
from tests.integration.http_support import at, bearer, enrollment, event

Who = tuple[str, str, str]

COUNSELOR: Who = ("counselor-ines", "counselor", "harbor-counseling")
PEER: Who = ("peer-sam", "peer_specialist", "harbor-peer")
CASE_MANAGER: Who = ("cm-rosa", "case_manager", "northside-case-mgmt")
PRESCRIBER: Who = ("rx-okafor", "prescriber", "mercy-prescribers")
SLEEP_CLINIC: Who = ("sleep-intake-2", "case_manager", "lakeside-sleep-clinic")
MOUD_CLINIC: Who = ("intake-lee", "prescriber", "riverside-moud-clinic")
TEAM = (COUNSELOR, PEER, CASE_MANAGER, PRESCRIBER)


def check_in(
    mood: int, craving: int, sleep: float, used: bool = False, **kw: Any
) -> dict[str, Any]:
    return {"mood": mood, "craving": craving, "sleep_hours": sleep, "used_since_last": used, **kw}


@dataclass
class Story:
    api: TestClient
    runtime: Runtime
    client_id: str = ""

    def headers(self, who: Who) -> dict[str, str]:
        return bearer(self.runtime.settings, *who)

    def enroll_with_team(self, given: str, family: str, **kw: Any) -> str:
        answer = self.api.post(
            "/v1/clients", json=enrollment(given, family, **kw), headers=self.headers(COUNSELOR)
        )
        assert answer.status_code == 201, answer.text
        self.client_id = answer.json()["client_id"]
        for member_id, role, org in TEAM:
            self.record(
                COUNSELOR,
                "CareTeamMemberAssigned",
                at(days=-9),
                member_id=member_id,
                role=role,
                org=org,
            )
        return self.client_id

    def record(
        self, who: Who, type_: str, occurred_at: str | None = None, **data: Any
    ) -> dict[str, Any]:
        answer = self.api.post(
            f"/v1/clients/{self.client_id}/events",
            json=event(type_, occurred_at, **data),
            headers=self.headers(who),
        )
        assert answer.status_code == 201, answer.text
        body: dict[str, Any] = answer.json()
        return body


class YoungProfessional(Story):
    """Near 90 days without alcohol; stressors cascade into a night of suicidal thoughts."""

    def before_the_night(self) -> dict[str, Any]:
        """Up to the crisis: rising cravings, failing sleep, a PHQ-9 with item 9 answered."""
        self.enroll_with_team("Jordan", "Vale", program="outpatient-aud")
        self.record(COUNSELOR, "CheckInPlanSet", at(days=-9), cadence_hours=24, channel="text")
        for day, (mood, craving, sleep) in enumerate([(6, 3, 7), (4, 6, 4.5), (3, 8, 3.5)]):
            self.record(
                PEER, "CheckInRecorded", at(days=-6 + day), **check_in(mood, craving, sleep)
            )
        self.record(
            PEER,
            "SessionHeld",
            at(days=-3, hours=2),
            kind="peer_support",
            modality="text",
            minutes=20,
        )
        return self.record(
            COUNSELOR,
            "AssessmentRecorded",
            at(days=-3, hours=3),
            instrument="PHQ-9",
            answers=[2, 2, 3, 2, 1, 2, 2, 1, 1],
        )

    def after_the_night(self) -> dict[str, Any]:
        """The circle responds: telehealth, a warm handoff to a sleep clinic, a safety plan."""
        self.record(
            COUNSELOR,
            "SessionHeld",
            at(days=-3, hours=5),
            kind="counseling",
            modality="telehealth",
            minutes=50,
        )
        self.record(
            CASE_MANAGER,
            "HandoffInitiated",
            at(days=-3, hours=6),
            handoff_id="sleep-1",
            to_org=SLEEP_CLINIC[2],
            service="expedited sleep evaluation",
            reason="insomnia threatening recovery",
            priority="urgent",
        )
        self.record(SLEEP_CLINIC, "HandoffAccepted", at(days=-3, hours=7), handoff_id="sleep-1")
        self.record(
            CASE_MANAGER,
            "SessionHeld",
            at(days=-3, hours=8),
            kind="skills",
            modality="in_person",
            minutes=90,
        )
        self.record(
            PRESCRIBER, "MedicationConsultRecorded", at(days=-3, hours=9), medication="hydroxyzine"
        )
        self.record(
            PEER, "SessionHeld", at(days=-2), kind="peer_support", modality="phone", minutes=15
        )
        self.record(
            COUNSELOR,
            "SessionHeld",
            at(days=-2, hours=2),
            kind="counseling",
            modality="telehealth",
            minutes=30,
        )
        self.record(
            COUNSELOR,
            "SafetyPlanRecorded",
            at(days=-2, hours=2),
            warning_signs=["insomnia", "conflict at work"],
            coping_strategies=["urge surfing"],
            crisis_lines=["988"],
            reasons_for_living=["90 days"],
        )
        self.record(
            SLEEP_CLINIC,
            "HandoffCompleted",
            at(days=-1),
            handoff_id="sleep-1",
            client_present=True,
            modality="in_person",
        )
        return self.record(PEER, "CheckInRecorded", at(hours=-2), **check_in(7, 2, 7.5))


class ParentAfterSurgery(Story):
    """A parent using prescribed opioids after surgery enters integrated care (Part 2)."""

    def tell(self) -> dict[str, Any]:
        self.enroll_with_team("Morgan", "Reyes", part2=True, program="opioid-treatment")
        self.record(
            PEER,
            "CheckInRecorded",
            at(days=-8),
            **check_in(3, 8, 4, used=True, substances=["prescription_opioids"]),
        )
        self.record(
            PEER,
            "SessionHeld",
            at(days=-8, hours=3),
            kind="peer_support",
            modality="in_person",
            minutes=60,
        )
        self.record(
            PRESCRIBER, "MedicationConsultRecorded", at(days=-7), medication="buprenorphine"
        )
        self.record(
            CASE_MANAGER,
            "HandoffInitiated",
            at(days=-7, hours=1),
            handoff_id="moud-1",
            to_org=MOUD_CLINIC[2],
            service="MOUD intake",
            reason="opioid use after surgery",
            priority="urgent",
        )
        self.record(MOUD_CLINIC, "HandoffAccepted", at(days=-7, hours=2), handoff_id="moud-1")
        self.record(
            MOUD_CLINIC, "HandoffCompleted", at(days=-6), handoff_id="moud-1", client_present=True
        )
        self.record(
            PRESCRIBER,
            "MedicationStarted",
            at(days=-6),
            medication="buprenorphine",
            category="moud",
        )
        self.record(
            CASE_MANAGER,
            "NaloxoneDistributed",
            at(days=-6),
            kits=2,
            recipient="family",
            training_given=True,
        )
        self.record(
            COUNSELOR,
            "SafetyPlanRecorded",
            at(days=-6),
            warning_signs=["withdrawal", "pain flare"],
            help_contacts=["partner"],
            professional_contacts=["clinic after-hours line"],
            crisis_lines=["988"],
        )
        for week in range(1, 4):
            self.record(
                COUNSELOR,
                "SessionHeld",
                at(days=-6 + week),
                kind="counseling",
                modality="in_person",
                minutes=50,
            )
        return self.record(
            COUNSELOR,
            "AssessmentRecorded",
            at(days=-1),
            instrument="PHQ-9",
            answers=[1, 1, 2, 1, 1, 0, 1, 1, 0],
        )
