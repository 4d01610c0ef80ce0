"""A client's course through care: the team and consents, intake, check-ins, sessions and
appointments, care-plan goals, medications and naloxone, discharge and readmission."""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Final

from demo.client import (
    DAY,
    HOUR,
    MINUTE,
    TRENDS,
    Appointment,
    Goal,
    Medication,
    Payload,
    clamp,
    iso,
    weighted,
)
from demo.clinical import Clinical
from demo.staff import CASE_MANAGEMENT_ORG, PEER_ORG, PRESCRIBER_ORG, Member

GIVEN_NAMES: Final = (
    "Arlo", "Brisa", "Caelan", "Delphine", "Elowen", "Fennick", "Galen", "Hollis", "Imara",
    "Jorah", "Kestrel", "Lumi", "Marisol", "Nevin", "Oriel", "Paxton", "Quinlan", "Rosalind",
    "Sorrel", "Tamsin", "Ulric", "Vesper", "Wrenna", "Yarrow", "Zephyra",
)  # fmt: skip
FAMILY_NAMES: Final = (
    "Ashcombe", "Brightwater", "Corvane", "Dunmarrow", "Everhollow", "Fairbrook", "Glenwhistle",
    "Hartmoor", "Ironvale", "Juniperly", "Kettleby", "Larkspire", "Merrowgate", "Nettlefield",
    "Oakhallow", "Pennywhistle", "Quarrystone", "Rookhallow", "Silverfen", "Thistlecombe",
)  # fmt: skip

GOALS: Final[Mapping[str, tuple[str, ...]]] = {
    "counselor": (
        "Practise urge-surfing when craving rises above six",
        "Name three high-risk situations and a coping plan for each",
        "Attend weekly counseling for eight weeks",
    ),
    "peer_specialist": (
        "Attend two mutual-help meetings each week",
        "Build a list of three recovery supports to call",
    ),
    "case_manager": (
        "Submit a housing application",
        "Reinstate health insurance coverage",
        "Arrange transportation to the evening skills group",
        "Enroll in a job readiness program",
    ),
    "prescriber": ("Stay on medication and attend medication visits every two weeks",),
}
SESSION_NOTES: Final = (
    "Worked on urge-surfing and a plan for the weekend.",
    "Reviewed triggers after a stressful week at work.",
    "Practised a difficult conversation with family.",
    "Talked through sleep routine and caffeine.",
    "Reviewed safety plan and crisis card together.",
)
CHECK_IN_NOTES: Final = (
    "Rough night, stayed in.",
    "Went to a meeting with my sponsor.",
    "Stress at work, cravings in the evening.",
    "Good day, walked by the river.",
)

MEDICATIONS: Final[Mapping[str, Medication]] = {
    m.name: m
    for m in (
        Medication(
            "buprenorphine-naloxone",
            "moud",
            ("8 mg/2 mg daily", "16 mg/4 mg daily", "24 mg/6 mg daily"),
            "buprenorphine-extended-release",
        ),
        Medication("buprenorphine-extended-release", "moud", ("300 mg monthly", "100 mg monthly")),
        Medication("methadone", "moud", ("30 mg daily", "60 mg daily", "80 mg daily")),
        Medication("naltrexone-extended-release", "moud", ("380 mg monthly",)),
        Medication("naltrexone", "aud", ("50 mg daily",), "naltrexone-extended-release"),
        Medication("acamprosate", "aud", ("666 mg three times daily",)),
    )
}


class Care(Clinical):
    """The ordinary course of care, day by day; crises and handoffs build on it."""

    # ---------------------------------------------------------------- team, consent, plan

    def _assign(self, at: datetime, member: Member, actor: Member) -> datetime:
        data: Payload = {"member_id": member.id, "role": member.role, "org": member.org}
        return self._emit(at, "CareTeamMemberAssigned", actor, data)

    def _release(self, at: datetime, member: Member, actor: Member) -> datetime:
        data: Payload = {"member_id": member.id, "role": member.role, "org": member.org}
        return self._emit(at, "CareTeamMemberReleased", actor, data)

    def _consent(self, at: datetime, org: str, classes: Sequence[str]) -> str:
        consent_id = self._id()
        self._emit(
            at,
            "ConsentGranted",
            self.counselor,
            {  # every element 42 CFR 2.31(a) asks of a new consent
                "consent_id": consent_id,
                "disclosing_party": "the treating program",
                "recipients": [{"kind": "organization", "id": org, "name": org}],
                "purposes": ["treatment"],
                "data_classes": sorted(classes),
                "expires_at": iso(at + 365 * DAY),
                "signed_by": "patient",
                "signed_on": at.date().isoformat(),
                "revocation_instructions": "In writing to the program's privacy officer.",
            },
        )
        self.consents.add(org)
        return consent_id

    def _plan_check_ins(self, at: datetime, actor: Member, cadence: int, channel: str) -> None:
        at = self._emit(at, "CheckInPlanSet", actor, {"cadence_hours": cadence, "channel": channel})
        self.cadence, self.channel = cadence, channel
        self.next_due = at + cadence * HOUR

    def _reassign_counselor(self, at: datetime) -> None:
        others = [m for m in self.staff.counselors if m != self.counselor]
        if not others:
            return
        leaving, self.counselor = self.counselor, self.rng.choice(others)
        self._assign(at, self.counselor, self.counselor)
        self._release(at + MINUTE, leaving, self.counselor)
        for goal in self.goals:
            if goal.owner == leaving:
                goal.owner = self.counselor
        for appointment in self.appointments:
            if appointment.member == leaving:
                appointment.member = self.counselor

    def _maybe_reassign(self) -> None:
        if self.rng.random() < 0.002:
            self._reassign_counselor(self._at(self.rng.uniform(13, 16)))

    # ---------------------------------------------------------------- intake and episodes

    def _enroll(self) -> None:
        rng = self.rng
        t0 = self._at(rng.uniform(8.5, 15.5))
        self.floor = t0
        self.status = "in_care"
        self.care_start_day = self.day
        phone = f"555-01{rng.randrange(100):02d}" if rng.random() < 0.85 else None
        birth = date(rng.randint(1958, 2005), rng.randint(1, 12), rng.randint(1, 28))
        identity: Payload = {
            "program": self.program,
            "part2": self.part2,
            "given_name": rng.choice(GIVEN_NAMES),
            "family_name": rng.choice(FAMILY_NAMES),
            "birth_date": birth.isoformat(),
        }
        if phone is not None:
            identity["phone"] = phone
        self._emit(t0, "ClientEnrolled", self.counselor, identity)
        team = [self.counselor, self.peer, self.case_manager]
        if self.prescriber is not None:
            team.append(self.prescriber)
        for n, member in enumerate(team, start=1):
            self._assign(t0 + n * MINUTE, member, self.counselor)
        at = t0 + 8 * MINUTE
        if self.part2:
            recipients: list[tuple[str, tuple[str, ...]]] = [
                (PEER_ORG, ("check_in", "care_plan", "session"))
            ]
            recipients.append(
                (CASE_MANAGEMENT_ORG, ("care_plan", "appointment", "handoff", "session"))
            )
            if self.prescriber is not None:
                recipients.append((PRESCRIBER_ORG, ("assessment", "medication", "care_plan")))
            for org, classes in recipients:
                self._consent(at, org, classes)
                at += MINUTE
        self._plan_check_ins(
            at + MINUTE,
            self.counselor,
            weighted(self.rng, ((24, 0.6), (48, 0.25), (72, 0.15))),
            weighted(self.rng, (("text", 0.45), ("app", 0.3), ("call", 0.2), ("in_person", 0.05))),
        )
        at += 5 * MINUTE
        instruments = ["PHQ-9", "GAD-7", "AUDIT-C"]
        if self.primary != "alcohol" or len(self.substances) > 1:
            instruments.append("DAST-10")
        instruments += ["C-SSRS-SCREEN", "BAM"]
        for instrument in instruments:
            at = self._assess(at + 6 * MINUTE, instrument, self.counselor)
        for instrument, every in (("PHQ-9", 21), ("GAD-7", 21), ("BAM", 28)):
            self.next_assessment[instrument] = self.day + every + rng.randint(-2, 2)
        self.next_assessment["AUDIT-C"] = self.day + 30 + rng.randint(-3, 3)
        if "DAST-10" in instruments:
            self.next_assessment["DAST-10"] = self.day + 30 + rng.randint(-3, 3)
        at += 10 * MINUTE
        owners = [self.counselor, self.peer, self.case_manager]
        if self.prescriber is not None:
            owners.append(self.prescriber)
        for owner in rng.sample(owners, k=min(len(owners), rng.randint(2, 3))):
            at = self._set_goal(at + 4 * MINUTE, owner)
        if rng.random() < 0.18:
            kind = "incarceration_release" if rng.random() < 0.4 else "detox_discharge"
            self._emit(at + 5 * MINUTE, "TransitionReported", self.case_manager, {"kind": kind})
            at += 6 * MINUTE
        kit_chance = 1.0 if "fentanyl" in self.substances else 0.85 if self.opioid else 0.0
        if self.primary == "stimulants" and not self.opioid:
            kit_chance = 0.4  # fentanyl in the stimulant supply
        if rng.random() < kit_chance:
            self._distribute_naloxone(at + 20 * MINUTE, "client")
        if self.prescriber is not None:
            self.medication_day = self.day + rng.randint(0, 6)
        self.next_booking = {"counseling": self.day, "case_management": self.day + 1}
        self.floor = self.latest  # the rest of the day comes after the intake
        self._book()

    def _maybe_discharge(self) -> bool:
        """Discharge only when no crisis or handoff is still unfolding."""
        if self.busy_until >= self.day_start or self.handoff is not None:
            return False
        rng = self.rng
        reason: str | None = None
        readmit: tuple[float, int, int, str] | None = None
        if self.transfer:
            reason = "Transferred to residential treatment"
            readmit = (1.0, 14, 28, "Returned to outpatient care after residential treatment")
        elif (
            (self.missed_appointments >= 3 or self.missed_check_ins >= 6)
            and self.days_in_care >= 14
            and rng.random() < 0.7
        ):
            reason = "Lost to follow-up after repeated missed contacts"
            readmit = (0.45, 5, 20, "Re-engaged after peer outreach")
        elif (
            self.trajectory == "improving"
            and self.days_in_care >= 42
            and self.mood >= 6.5
            and self.craving <= 3.5
            and rng.random() < 0.03
        ):
            reason = "Completed treatment plan; stepped down to recovery support"
            readmit = (0.1, 10, 25, "Returned after a lapse")
        if reason is None or readmit is None:
            return False
        at = self._at(rng.uniform(9, 12))
        if reason.startswith("Lost") and self.medication and self.prescriber is not None:
            self._emit(
                at - 30 * MINUTE,
                "MedicationStopped",
                self.prescriber,
                self._medication_data(self.medication, reason="lost to follow-up"),
            )
            self.medication = None
        at = self._emit(
            at, "EpisodeClosed", self.counselor, {"reason": reason}, purpose="operations"
        )
        self.pending = [item for item in self.pending if item[0] <= at]
        heapq.heapify(self.pending)
        self.status = "discharged"
        self.appointments.clear()
        self.next_due = None
        chance, low, high, why = readmit
        if rng.random() < chance:
            self.readmit_day = self.day + rng.randint(low, high)
            self.readmit_reason = why
        else:
            self.status = "gone"
        return True

    def _readmit(self) -> None:
        rng = self.rng
        at = self._at(rng.uniform(9, 12))
        self.floor = at
        self.status = "in_care"
        self.care_start_day = self.day
        self.missed_appointments = self.missed_check_ins = 0
        self._emit(at, "ClientReadmitted", self.counselor, {"reason": self.readmit_reason})
        if self.transfer:
            self.transfer = False
            self._emit(
                at + 5 * MINUTE,
                "TransitionReported",
                self.case_manager,
                {"kind": "residential_discharge"},
            )
            if self.opioid:
                self._distribute_naloxone(at + 30 * MINUTE, "client")
            self._relief(2.0, 1.5, 1.0)
        else:
            self.trajectory = "steady" if self.trajectory == "disengaging" else self.trajectory
            self.trend = TRENDS["improving"] if rng.random() < 0.5 else TRENDS["steady"]
        self._plan_check_ins(at + 10 * MINUTE, self.peer, 24, self.channel)
        at += 15 * MINUTE
        for instrument in ("PHQ-9", "C-SSRS-SCREEN", "BAM"):
            at = self._assess(at + 6 * MINUTE, instrument, self.counselor)
        self._set_goal(at + 5 * MINUTE, self.counselor)
        self.next_booking = {"counseling": self.day, "case_management": self.day + 1}
        if self.medication is not None:
            self.next_booking["medication"] = self.day + 2
        self.floor = self.latest

    # ---------------------------------------------------------------- monitoring

    def _check_ins(self) -> None:
        rng = self.rng
        day_end = self.day_start + DAY
        while self.next_due is not None and self.next_due < day_end:
            due = self.next_due
            self.next_due = due + self.cadence * HOUR
            if rng.random() < self._engagement():
                self.missed_check_ins = 0
                p_use = 1 / (1 + math.exp(-(self.craving - 6.5) * 1.1))
                used = rng.random() < 0.55 * p_use * math.sqrt(self.cadence / 24)
                self.uses.append(used)
                if used:
                    self.craving = clamp(self.craving + 0.5, 0, 10)
                substances = (
                    sorted(rng.sample(self.substances, k=rng.randint(1, len(self.substances))))
                    if used
                    else []
                )
                data: Payload = {
                    "mood": round(clamp(self.mood + rng.gauss(0, 0.5), 0, 10)),
                    "craving": round(clamp(self.craving + rng.gauss(0, 0.5), 0, 10)),
                    "sleep_hours": round(clamp(self.sleep + rng.gauss(0, 0.4), 0, 14) * 2) / 2,
                    "used_since_last": used,
                    "substances": substances,
                }
                if rng.random() < 0.08:
                    data["note"] = rng.choice(CHECK_IN_NOTES)
                self._emit(due + rng.randint(0, 180) * MINUTE, "CheckInRecorded", self.peer, data)
            else:
                self.missed_check_ins += 1
                grace = min(6, self.cadence // 2) * HOUR
                self._emit(due + grace, "CheckInMissed", self.peer, {"due_at": iso(due)})

    # ---------------------------------------------------------------- sessions and appointments

    def _session(
        self, at: datetime, member: Member, kind: str, modality: str, minutes: int
    ) -> datetime:
        data: Payload = {"kind": kind, "modality": modality, "minutes": minutes}
        if kind in ("counseling", "family") and self.rng.random() < 0.25:
            data["note"] = self.rng.choice(SESSION_NOTES)
        return self._emit(at, "SessionHeld", member, data)

    def _book(self) -> None:
        """Book the next appointment of each kind the client's care calls for."""
        rng = self.rng
        series: list[tuple[str, Member, int]] = [
            ("counseling", self.counselor, 7),
            ("case_management", self.case_manager, 14),
        ]
        if self.prescriber is not None and self.medication is not None:
            series.append(("medication", self.prescriber, 14))
        if self.family_sessions:
            series.append(("family", self.counselor, 28))
        for kind, member, period in series:
            when = self.next_booking.setdefault(kind, self.day + rng.randint(1, 6))
            if when > self.day:
                continue
            self.next_booking[kind] = self.day + period
            scheduled_for = self.day_start + rng.randint(1, 5) * DAY
            scheduled_for += rng.randrange(9 * 60, 17 * 60, 30) * MINUTE
            if scheduled_for > self.end:
                continue
            appointment = Appointment(self._id(), kind, member, scheduled_for)
            booker = self.case_manager if rng.random() < 0.5 else member
            self._emit(
                self._at(rng.uniform(9, 17)),
                "AppointmentScheduled",
                booker,
                self._appointment_data(appointment),
            )
            self.appointments.append(appointment)

    @staticmethod
    def _appointment_data(appointment: Appointment) -> Payload:
        return {
            "appointment_id": appointment.appointment_id,
            "kind": appointment.kind,
            "scheduled_for": iso(appointment.scheduled_for),
        }

    def _appointments(self) -> None:
        rng = self.rng
        day_end = self.day_start + DAY
        for appointment in [a for a in self.appointments if a.scheduled_for < day_end]:
            self.appointments.remove(appointment)
            data = self._appointment_data(appointment)
            if rng.random() < self._engagement() + 0.03:
                self.missed_appointments = 0
                at = self._emit(
                    appointment.scheduled_for + 5 * MINUTE,
                    "AppointmentAttended",
                    appointment.member,
                    data,
                )
                minutes = {"counseling": 50, "case_management": 40, "medication": 20}.get(
                    appointment.kind, 75
                )
                modality = "telehealth" if rng.random() < 0.3 else "in_person"
                self._session(
                    at + minutes * MINUTE, appointment.member, appointment.kind, modality, minutes
                )
                if appointment.kind == "counseling":
                    self._relief(0.3, 0.2, 0.1)
            else:
                self.missed_appointments += 1
                self._emit(
                    appointment.scheduled_for + 20 * MINUTE,
                    "AppointmentMissed",
                    appointment.member,
                    data,
                )

    def _sessions(self) -> None:
        rng = self.rng
        weekday = (self.day - self.care_start_day) % 7
        engaged = rng.random() < self._engagement()
        if weekday == 3 and engaged:
            modality = rng.choice(("in_person", "phone", "text"))
            self._session(self._at(rng.uniform(10, 18)), self.peer, "peer_support", modality, 45)
        elif self.craving >= 7 and rng.random() < 0.25:
            self._session(self._at(rng.uniform(17, 21)), self.peer, "peer_support", "phone", 20)
        if self.weekly_group and engaged:
            group_days = (0, 2, 4) if self.program == "harbor-iop" else (1,)
            if weekday in group_days:
                self._session(self._at(18.5), self.counselor, "group", "in_person", 90)
        if rng.random() < 0.03:
            self._session(self._at(19), self.peer, "skills", "in_person", 60)

    # ---------------------------------------------------------------- goals

    def _set_goal(self, at: datetime, owner: Member) -> datetime:
        description = self.rng.choice(GOALS[owner.role])
        if any(g.description == description for g in self.goals):
            return at
        goal = Goal(
            self._id(),
            description,
            owner,
            (at + self.rng.randint(30, 60) * DAY).date(),
            self.day,
        )
        self.goals.append(goal)
        return self._emit(at, "CarePlanGoalSet", owner, self._goal_data(goal))

    @staticmethod
    def _goal_data(goal: Goal) -> Payload:
        return {
            "goal_id": goal.goal_id,
            "description": goal.description,
            "target_date": goal.target.isoformat(),
        }

    def _goal_reviews(self) -> None:
        rng = self.rng
        at = self._at(rng.uniform(11, 17))
        for goal in list(self.goals):
            age = self.day - goal.set_day
            if age < 14 or rng.random() > 0.06:
                continue
            if self.craving <= 4 and self.mood >= 5.5:
                self.goals.remove(goal)
                at = self._emit(at, "CarePlanGoalMet", goal.owner, {"goal_id": goal.goal_id})
                if rng.random() < 0.5:
                    at = self._set_goal(at + 5 * MINUTE, goal.owner)
            elif not goal.revised:
                goal.revised = True
                goal.description = f"{goal.description}, in smaller weekly steps"
                goal.target = goal.target + 21 * DAY
                at = self._emit(at, "CarePlanGoalRevised", goal.owner, self._goal_data(goal))

    # ---------------------------------------------------------------- medication, naloxone

    def _distribute_naloxone(self, at: datetime, recipient: str) -> datetime:
        return self._emit(
            at,
            "NaloxoneDistributed",
            self.peer,
            {"kits": 2 if recipient == "family" else 1, "recipient": recipient,
             "training_given": True},
        )  # fmt: skip

    def _medication_data(self, medication: Medication, reason: str | None = None) -> Payload:
        data: Payload = {"medication": medication.name, "category": medication.category}
        if reason is not None:
            data["reason"] = reason
        if self.dose:
            data["dose"] = self.dose
        return data

    def _start_medication(self, at: datetime, name: str, reason: str) -> datetime:
        assert self.prescriber is not None
        medication = MEDICATIONS[name]
        self.medication, self.dose = medication, medication.doses[0]
        self.dose_change_day = self.day + self.rng.randint(7, 21)
        if name == "buprenorphine-naloxone" and self.rng.random() < 0.5:
            self.dose_change_day = self.day + self.rng.randint(3, 10)
        self.next_booking.setdefault("medication", self.day + 13)
        return self._emit(
            at, "MedicationStarted", self.prescriber, self._medication_data(medication, reason)
        )

    def _medication_course(self) -> None:
        rng = self.rng
        prescriber = self.prescriber
        if prescriber is None:
            return
        if self.medication_day is not None and self.day >= self.medication_day:
            self.medication_day = None
            plan = self.medication_plan or "naltrexone"
            at = self._emit(
                self._at(rng.uniform(9, 15)),
                "MedicationConsultRecorded",
                prescriber,
                {"medication": plan, "notes": "Discussed options, risks and induction."},
            )
            self._start_medication(at + 20 * MINUTE, plan, "treatment of use disorder")
            self._session(at + 40 * MINUTE, prescriber, "medication", "in_person", 30)
            self._relief(1.5, 0.5, 0.5)
            return
        medication = self.medication
        if medication is None:
            return
        if self.dose_change_day is not None and self.day >= self.dose_change_day:
            self.dose_change_day = None
            if len(medication.doses) > 1 and rng.random() < 0.7:
                self.dose = rng.choice(medication.doses[1:])
                self._emit(
                    self._at(rng.uniform(9, 16)),
                    "MedicationChanged",
                    prescriber,
                    self._medication_data(medication, "dose adjusted for cravings"),
                )
                self._relief(1.0, 0.3, 0.2)
            return
        if rng.random() > 0.009:
            return
        at = self._at(rng.uniform(9, 16))
        if medication.switch_to is not None and rng.random() < 0.5:
            self._emit(
                at,
                "MedicationStopped",
                prescriber,
                self._medication_data(medication, "switched to another formulation"),
            )
            self._start_medication(at + 10 * MINUTE, medication.switch_to, "formulation switch")
            return
        reason = rng.choice(("client chose to taper", "side effects", "missed doses"))
        self._emit(at, "MedicationStopped", prescriber, self._medication_data(medication, reason))
        self.medication, self.dose = None, ""
        self.next_booking.pop("medication", None)
        if medication.category == "moud":
            self.trend = (self.trend[0] - 0.02, self.trend[1] + 0.04, self.trend[2] - 0.02)
            if rng.random() < 0.8:
                self.naloxone_day = self.day + rng.randint(0, 3)
