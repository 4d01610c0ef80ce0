"""Crises and their aftermath: crisis contacts, safety plans, postvention reviews, naloxone,
non-fatal overdoses and the emergency-department transitions they bring."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from demo.client import DAY, HOUR, MINUTE, Payload, iso, weighted
from demo.course import Care
from demo.staff import Member

INTERVENTIONS: Final = (
    "de-escalation",
    "safety planning",
    "means counseling",
    "peer contacted",
    "same-day telehealth arranged",
    "warm line follow-up scheduled",
)
CRISIS_LINES: Final = ("988 Suicide & Crisis Lifeline", "harbor after-hours line 555-0100")


@dataclass(frozen=True, slots=True)
class Crisis:
    """One crisis contact, as the follow-up needs it."""

    crisis_id: str
    clinician: Member
    at: datetime
    suicidality: bool
    overdose_danger: bool
    to_ed: bool


class Crises(Care):
    """What happens when the state slides: a crisis and its follow-up, or an overdose."""

    # ---------------------------------------------------------------- crisis

    def _crisis_chance(self) -> float:
        return (
            0.002
            + 0.05 * max(0.0, (self.craving - 6.5) / 3.5)
            + 0.05 * max(0.0, (3.5 - self.mood) / 3.5)
            + 0.02 * max(0.0, (4 - self.sleep) / 4)
        )

    def _maybe_crisis(self) -> None:
        if self.busy_until >= self.day_start or self.rng.random() > self._crisis_chance():
            return
        crisis = self._crisis_contact()
        last = self._crisis_care(crisis)
        plan_at = self._safety_planning(crisis, last)
        self._postvention(crisis, plan_at, last)

    def _crisis_contact(self) -> Crisis:
        """The crisis line's contact: risk, interventions and disposition."""
        rng = self.rng
        crisis_id = self._id()
        clinician = rng.choice(self.staff.crisis_clinicians)
        suicidality = rng.random() < (0.6 if self.mood <= 3.5 else 0.15)
        overdose_danger = self.opioid and (self.craving >= 6.5 or any(list(self.uses)[-3:]))
        risk = "low"
        if suicidality or overdose_danger:
            risk = "high" if self.mood <= 2.5 or rng.random() < 0.3 else "moderate"
            if risk == "high" and rng.random() < 0.15:
                risk = "imminent"
        disposition = rng.choice(
            (
                "Stabilized in place; same-day counseling arranged",
                "Stabilized with safety plan; peer follow-up next morning",
                "Mobile crisis team follow-up",
            )
        )
        to_ed = risk in ("high", "imminent") and rng.random() < 0.4
        if to_ed:
            disposition = "Referred to the emergency department for evaluation"
        channel = weighted(
            rng, (("call", 0.5), ("text", 0.25), ("mobile_team", 0.15), ("in_person", 0.1))
        )
        interventions = sorted(rng.sample(INTERVENTIONS, k=rng.randint(2, 4)))
        if overdose_danger:
            interventions.append("naloxone education")
        t = self._at(rng.uniform(0.5, 23))
        t = self._emit(
            t,
            "CrisisContactRecorded",
            clinician,
            {
                "crisis_id": crisis_id,
                "channel": channel,
                "risk_level": risk,
                "suicidality": suicidality,
                "overdose_danger": overdose_danger,
                "interventions": interventions,
                "disposition": disposition,
                "follow_up_due_at": iso(t + DAY),
            },
            purpose="emergency",
            correlation=crisis_id,
        )
        return Crisis(crisis_id, clinician, t, suicidality, overdose_danger, to_ed)

    def _crisis_care(self, crisis: Crisis) -> datetime:
        """The clinician joins the team, screens for suicide risk, or the client goes to the ED."""
        t, crisis_id, clinician = crisis.at, crisis.crisis_id, crisis.clinician
        last = t
        if self.crisis_clinician is None:
            self.crisis_clinician = clinician
            self._assign(t + 2 * MINUTE, clinician, clinician)
        if crisis.suicidality:
            self._emit(
                t + 20 * MINUTE,
                "AssessmentRecorded",
                clinician,
                {"instrument": "C-SSRS-SCREEN", "answers": self._cssrs()},
                correlation=crisis_id,
            )
        if crisis.to_ed:
            last = self._emit(
                t + self.rng.randint(6, 20) * HOUR,
                "TransitionReported",
                self.case_manager,
                {"kind": "ed_discharge"},
                correlation=crisis_id,
            )
        return last

    def _safety_planning(self, crisis: Crisis, last: datetime) -> datetime:
        """A safety plan in office hours, then sessions, naloxone and daily check-ins."""
        rng = self.rng
        crisis_id = crisis.crisis_id
        plan_at = self._business(crisis.at + rng.randint(60, 8 * 60) * MINUTE)
        if crisis.to_ed:
            plan_at = self._business(last + rng.randint(1, 4) * HOUR)
        plan_type = "SafetyPlanRevised" if self.safety_plan else "SafetyPlanRecorded"
        self.safety_plan = True
        plan_at = self._emit(
            plan_at, plan_type, self.counselor, self._safety_plan(), correlation=crisis_id
        )
        self._session(plan_at + 5 * MINUTE, self.counselor, "counseling", "telehealth", 45)
        morning = self.day_start + DAY + rng.randint(8 * 60, 11 * 60) * MINUTE
        self._session(max(morning, plan_at + HOUR), self.peer, "peer_support", "phone", 25)
        if crisis.overdose_danger:
            self._emit(
                max(morning, plan_at) + 2 * HOUR,
                "NaloxoneDistributed",
                self.peer,
                {"kits": 2, "recipient": "family", "training_given": True},
            )
        if self.prescriber is not None and rng.random() < 0.4:
            self._emit(
                plan_at + 3 * HOUR,
                "MedicationConsultRecorded",
                self.prescriber,
                {
                    "medication": self.medication.name if self.medication else "hydroxyzine",
                    "notes": "Brief consult for acute anxiety after a crisis contact.",
                },
                correlation=crisis_id,
            )
        if self.cadence > 24:
            self._plan_check_ins(plan_at + 30 * MINUTE, self.peer, 24, self.channel)
        return plan_at

    def _postvention(self, crisis: Crisis, plan_at: datetime, last: datetime) -> None:
        """A review within days, the crisis clinician released, a week without another crisis."""
        rng = self.rng
        days_later = rng.choice((1, 2)) if rng.random() < 0.85 else rng.choice((4, 5))
        review_at = self.day_start + days_later * DAY + rng.randint(9 * 60, 17 * 60) * MINUTE
        review_at = self._emit(
            max(review_at, plan_at + 2 * HOUR),
            "PostventionReviewRecorded",
            self.counselor,
            {
                "crisis_id": crisis.crisis_id,
                "what_worked": ["peer noticed escalating distress early", "same-day telehealth"],
                "what_did_not": rng.sample(
                    ["no check-in for two days before", "evening hours had no coverage"], k=1
                ),
                "plan_changes": ["daily check-ins for two weeks", "extra peer touchpoint"],
            },
            correlation=crisis.crisis_id,
        )
        last = max(last, review_at)
        if self.crisis_clinician is not None:
            last = self._release(review_at + HOUR, self.crisis_clinician, self.counselor)
            self.crisis_clinician = None
        self.busy_until = max(self.busy_until, last, self.day_start + 7 * DAY)
        self._relief(2.0, 1.5, 1.0)
        if self.trajectory == "deteriorating" and rng.random() < 0.6:
            self.trend = tuple(-t / 2 for t in self.trend)

    def _safety_plan(self) -> Payload:
        rng = self.rng
        return {
            "warning_signs": rng.sample(
                ["not sleeping", "skipping meals", "isolating from friends", "payday"], k=2
            ),
            "coping_strategies": ["urge-surfing for ten minutes", "walk outside", "shower"],
            "social_contacts": ["mutual-help meeting at the community center"],
            "help_contacts": ["sister", "sponsor"],
            "professional_contacts": [self.counselor.id, self.peer.id],
            "crisis_lines": list(CRISIS_LINES),
            "means_safety": ["medications locked away by family", "naloxone at home"],
            "reasons_for_living": rng.sample(["my kids", "my dog", "finishing school"], k=2),
        }

    def _naloxone(self) -> None:
        rng = self.rng
        if self.naloxone_day is not None and self.day >= self.naloxone_day:
            self.naloxone_day = None
            self._distribute_naloxone(self._at(rng.uniform(10, 17)), "client")
        elif self.opioid and rng.random() < 0.008:
            self._distribute_naloxone(self._at(rng.uniform(10, 17)), "family")

    def _maybe_overdose(self) -> None:
        rng = self.rng
        recent_use = any(list(self.uses)[-2:])
        if not self.opioid or not recent_use or self.busy_until >= self.day_start:
            return
        if rng.random() > 0.02 * max(0.0, self.craving - 5):
            return
        naloxone_used = rng.random() < 0.7
        ed_visit = rng.random() < 0.6
        at = self._emit(
            self._at(rng.uniform(0.5, 22)),
            "OverdoseReported",
            self.case_manager,
            {"fatal": False, "naloxone_used": naloxone_used, "ed_visit": ed_visit},
        )
        last = at
        if ed_visit:
            last = self._emit(
                at + rng.randint(5, 20) * HOUR,
                "TransitionReported",
                self.case_manager,
                {"kind": "ed_discharge"},
            )
        if rng.random() < 0.9:
            self.naloxone_day = self.day + rng.randint(1, 2)
        self._session(last + rng.randint(12, 30) * HOUR, self.counselor, "counseling", "phone", 30)
        self.busy_until = max(self.busy_until, self.day_start + 3 * DAY)
