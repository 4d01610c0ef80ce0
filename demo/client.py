"""One client: the profile drawn at the start, the latent state that drifts day by day, and the
queue the client's events go into (never before today, the intake or the last readmission).

The topic modules build on `ClientBase` one layer at a time: `clinical` (instruments), `course`
(team, intake, check-ins, sessions, appointments, goals, medications, discharge), `crises` and
`handoffs`; `simulate` puts them together and tells the days.
"""

from __future__ import annotations

import heapq
import random
import uuid
from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Final, Literal, TypeVar

from demo.staff import Member, Staff

Payload = dict[str, object]
Trajectory = Literal["improving", "steady", "deteriorating", "disengaging"]
Status = Literal["waiting", "in_care", "discharged", "gone"]
Scheduled = tuple[datetime, int, int, Payload]

MINUTE: Final = timedelta(minutes=1)
HOUR: Final = timedelta(hours=1)
DAY: Final = timedelta(days=1)

T = TypeVar("T")

PART2_PROGRAMS: Final = {"opioids": "harbor-otp", "other": "harbor-iop"}
GENERAL_PROGRAMS: Final = ("harbor-outpatient", "harbor-recovery-support", "harbor-dual-diagnosis")

PRIMARY_SUBSTANCES: Final[tuple[tuple[str, float], ...]] = (
    ("alcohol", 0.35),
    ("opioids", 0.35),
    ("stimulants", 0.2),
    ("cannabis", 0.1),
)
TRAJECTORIES: Final[tuple[tuple[Trajectory, float], ...]] = (
    ("improving", 0.45),
    ("steady", 0.25),
    ("deteriorating", 0.2),
    ("disengaging", 0.1),
)
# Daily drift of the set points of (mood, craving, sleep hours) per trajectory.
TRENDS: Final[Mapping[Trajectory, tuple[float, float, float]]] = {
    "improving": (0.06, -0.07, 0.03),
    "steady": (0.0, 0.0, 0.0),
    "deteriorating": (-0.07, 0.09, -0.06),
    "disengaging": (-0.02, 0.03, -0.01),
}


@dataclass(frozen=True, slots=True)
class Medication:
    """A medication, its category (moud/aud), its doses and what it may be switched to."""

    name: str
    category: str
    doses: tuple[str, ...]
    switch_to: str | None = None


def weighted(rng: random.Random, table: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Appointment:
    """A booked appointment, due to be attended or missed."""

    appointment_id: str
    kind: str
    member: Member
    scheduled_for: datetime


@dataclass(slots=True)
class Goal:
    """A care-plan goal and its owner, revised at most once."""

    goal_id: str
    description: str
    owner: Member
    target: date
    set_day: int
    revised: bool = False


@dataclass(slots=True)
class Handoff:
    """A handoff settled one way or the other, awaiting what follows it."""

    kind: str
    member: Member
    outcome: Literal["completed", "declined", "failed"]
    settled_at: datetime


class ClientBase:
    """One client's profile, latent state and queue of events; the topics add what happens."""

    def __init__(
        self,
        index: int,
        client_id: uuid.UUID,
        rng: random.Random,
        staff: Staff,
        start: datetime,
        days: int,
    ) -> None:
        self.index = index
        self.client_id = client_id
        self.rng = rng
        self.staff = staff
        self.start = start
        self.days = days
        self.end = start + days * DAY
        self.pending: list[tuple[datetime, int, Payload]] = []
        self.seq = 0
        self.day = 0
        self.status: Status = "waiting"
        self.floor = self.day_start = self.latest = start
        self.trajectory: Trajectory = weighted(rng, TRAJECTORIES)
        self.trend = tuple(t * rng.uniform(0.6, 1.4) for t in TRENDS[self.trajectory])
        self.primary: str = weighted(rng, PRIMARY_SUBSTANCES)
        self.substances = self._substances()
        self.opioid = self.primary == "opioids" or "fentanyl" in self.substances
        self.part2 = rng.random() < 0.3
        if self.part2:
            self.program = PART2_PROGRAMS["opioids" if self.primary == "opioids" else "other"]
        else:
            self.program = rng.choice(GENERAL_PROGRAMS)
        self.counselor = rng.choice(self.staff.counselors)
        self.peer = rng.choice(self.staff.peers)
        self.case_manager = rng.choice(self.staff.case_managers)
        self.medication_plan = self._medication_plan()
        self.prescriber: Member | None = None
        if self.medication_plan is not None and rng.random() < 0.6:
            self.prescriber = rng.choice(self.staff.prescribers)
        self.enroll_day = self._enroll_day()
        self.attempt_history = rng.random() < 0.1
        self.family_sessions = rng.random() < 0.3
        self.weekly_group = self.program == "harbor-iop" or rng.random() < 0.4
        self.needs = {k for k, p in (("housing", 0.25), ("primary_care", 0.2)) if rng.random() < p}
        self.mood, self.craving, self.sleep = self._first_state()
        self.set_points = [self.mood, self.craving, self.sleep]
        self.uses: deque[bool] = deque(maxlen=30)
        # plan and bookkeeping
        self.care_start_day = 0
        self.cadence = 24
        self.channel = "text"
        self.next_due: datetime | None = None
        self.missed_check_ins = 0
        self.missed_appointments = 0
        self.appointments: list[Appointment] = []
        self.next_booking: dict[str, int] = {}
        self.next_assessment: dict[str, int] = {}
        self.goals: list[Goal] = []
        self.medication: Medication | None = None
        self.dose = ""
        self.medication_day: int | None = None
        self.dose_change_day: int | None = None
        self.naloxone_day: int | None = None
        self.busy_until = self.start
        self.safety_plan = False
        self.crisis_clinician: Member | None = None
        self.handoffs_done: set[str] = set()
        self.handoff: Handoff | None = None
        self.handoff_day: int | None = None
        self.handoff_kind = ""
        self.consents: set[str] = set()
        self.transfer = False
        self.readmit_day: int | None = None
        self.readmit_reason = ""
        if self.medication_plan is not None and self.prescriber is None:
            self.handoff_day = self.enroll_day + rng.randint(2, 14)
            self.handoff_kind = "moud"

    # ---------------------------------------------------------------- profile

    def _enroll_day(self) -> int:
        """Most clients enroll in the first days, half of them anywhere in the first half."""
        day = self.rng.randrange(min(3, self.days))
        if self.rng.random() < 0.5:
            day = self.rng.randrange(max(1, self.days // 2))
        return day

    def _first_state(self) -> tuple[float, float, float]:
        """Mood, craving and sleep hours at intake."""
        rng = self.rng
        if self.trajectory == "deteriorating":  # early stability, then the slide
            mood, craving = rng.uniform(4.5, 6.5), rng.uniform(3.0, 5.5)
            return mood, craving, rng.uniform(5.5, 7.5)
        mood, craving = rng.uniform(3.0, 6.0), rng.uniform(4.0, 8.0)
        return mood, craving, rng.uniform(4.5, 7.0)

    def _substances(self) -> list[str]:
        rng = self.rng
        extra: tuple[str, ...]
        match self.primary:
            case "alcohol":
                found = ["alcohol"]
                extra = ("cannabis", "nicotine", "benzodiazepines")
            case "opioids":
                found = [rng.choice(("fentanyl", "heroin", "prescription_opioids"))]
                extra = ("benzodiazepines", "stimulants", "alcohol", "fentanyl")
            case "stimulants":
                found = [rng.choice(("methamphetamine", "cocaine"))]
                extra = ("cannabis", "alcohol", "fentanyl")
            case _:
                found = ["cannabis"]
                extra = ("alcohol", "nicotine")
        if rng.random() < 0.4:
            second = rng.choice(extra)
            if second not in found:
                found.append(second)
        return found

    def _medication_plan(self) -> str | None:
        rng = self.rng
        if self.primary == "opioids" and rng.random() < 0.8:
            if self.program == "harbor-otp" and rng.random() < 0.5:
                return "methadone"
            return (
                "buprenorphine-naloxone" if rng.random() < 0.75 else "naltrexone-extended-release"
            )
        if self.primary == "alcohol" and rng.random() < 0.55:
            return "naltrexone" if rng.random() < 0.6 else "acamprosate"
        return None

    # ---------------------------------------------------------------- emitting

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _at(self, hours: float) -> datetime:
        """A time on the current day, `hours` after its start, to the minute."""
        return self.day_start + round(hours * 60) * MINUTE

    def _emit(
        self,
        at: datetime,
        event_type: str,
        actor: Member,
        data: Payload,
        *,
        purpose: str = "treatment",
        correlation: str | None = None,
    ) -> datetime:
        """Queue one event; never before today, the enrollment or the last readmission."""
        at = max(at, self.day_start, self.floor)
        payload: Payload = {
            "event_id": self._id(),
            "type": event_type,
            "client_id": str(self.client_id),
            "occurred_at": iso(at),
            "actor": actor.actor(),
            "purpose_of_use": purpose,
            "data": data,
        }
        if correlation is not None:
            payload["correlation_id"] = correlation
        if at <= self.end:
            self.seq += 1
            self.latest = max(self.latest, at)
            heapq.heappush(self.pending, (at, self.seq, payload))
        return at

    def _business(self, at: datetime) -> datetime:
        """The same time if within office hours (08-18), else the next morning's office hours."""
        into_day = (at - self.start) % DAY
        if into_day < 8 * HOUR:
            return at - into_day + self.rng.randint(8 * 60, 10 * 60) * MINUTE
        if into_day > 18 * HOUR:
            return at - into_day + DAY + self.rng.randint(8 * 60, 10 * 60) * MINUTE
        return at

    def _due(self, until: datetime) -> Iterator[Scheduled]:
        while self.pending and self.pending[0][0] < until:
            at, seq, payload = heapq.heappop(self.pending)
            yield at, self.index, seq, payload

    # ---------------------------------------------------------------- latent state

    @property
    def days_in_care(self) -> int:
        return self.day - self.care_start_day

    def _drift(self) -> None:
        """Set points follow the client's trend; the day's state wanders around them."""
        rng = self.rng
        d_mood, d_craving, d_sleep = self.trend
        self.set_points[0] = clamp(self.set_points[0] + d_mood, 1.0, 9.5)
        self.set_points[1] = clamp(self.set_points[1] + d_craving, 0.5, 9.3)
        self.set_points[2] = clamp(self.set_points[2] + d_sleep, 2.5, 8.5)
        self.mood = clamp(
            self.mood + 0.35 * (self.set_points[0] - self.mood) + rng.gauss(0, 0.7), 0, 10
        )
        self.craving = clamp(
            self.craving + 0.35 * (self.set_points[1] - self.craving) + rng.gauss(0, 0.8), 0, 10
        )
        self.sleep = clamp(
            self.sleep + 0.35 * (self.set_points[2] - self.sleep) + rng.gauss(0, 0.5), 1.5, 11
        )

    def _relief(self, craving: float, mood: float, sleep: float) -> None:
        """Support that worked: the state and its set points move the better way."""
        self.craving = clamp(self.craving - craving, 0, 10)
        self.mood = clamp(self.mood + mood, 0, 10)
        self.sleep = clamp(self.sleep + sleep, 1.5, 11)
        self.set_points = [
            clamp(self.set_points[0] + mood / 2, 1.0, 9.5),
            clamp(self.set_points[1] - craving / 2, 0.5, 9.3),
            clamp(self.set_points[2] + sleep / 2, 2.5, 8.5),
        ]

    def _engagement(self) -> float:
        base = {"improving": 0.93, "steady": 0.88, "deteriorating": 0.82, "disengaging": 0.85}[
            self.trajectory
        ]
        if self.trajectory == "disengaging":
            base -= 0.025 * self.days_in_care
        base -= max(0.0, 4 - self.mood) * 0.04
        return clamp(base, 0.15, 0.97)
