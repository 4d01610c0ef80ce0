"""Demo data: seeded circles of care recorded through the command path (`carecircle simulate`).

Every client is a small course of care, told day by day: intake by a counselor with a peer
specialist, a case manager and often a prescriber from a small shared staff pool (so caseloads
overlap); a check-in plan and check-ins whose mood, craving and sleep drift as a random walk with
a per-client trend (some clients improve, some deteriorate, some drift away); instruments at
intake and every few weeks, answered consistently with that state; weekly sessions and booked
appointments, attended or missed; care-plan goals; crises followed by a safety plan and,
usually within 72 h, a postvention review; warm handoffs to other organizations, accepted or
declined by the receiving organization; naloxone, medications for opioid and alcohol use
disorder, transitions, non-fatal overdoses, consents for Part 2 programs, discharges and
readmissions.

The stream is the wire contract (DESIGN.md §7b), each client's events in time order, clients
interleaved by time, all inside [start, start + days], and valid for the domain: the same seed
gives the same events and ids. Names, birth dates and phones are invented (555-01xx numbers
are reserved for fiction). The only I/O is the port `simulate` is given.
"""

from __future__ import annotations

import heapq
import math
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Final, Literal, Protocol, TypeVar

import structlog

from domain.catalogue import parse_event
from domain.commands import RecordCareEvent

if TYPE_CHECKING:
    from services.app.record import CareRecordHandler

__all__ = [
    "RecordPort",
    "SimulationSummary",
    "care_events",
    "command_for",
    "default_start",
    "run_simulation",
    "simulate",
    "staff_for",
]

log = structlog.get_logger(__name__)

Payload = dict[str, object]
Trajectory = Literal["improving", "steady", "deteriorating", "disengaging"]
Status = Literal["waiting", "in_care", "discharged", "gone"]

_MINUTE: Final = timedelta(minutes=1)
_HOUR: Final = timedelta(hours=1)
_DAY: Final = timedelta(days=1)

T = TypeVar("T")


class RecordPort(Protocol):
    """Where the simulated commands go; answers how many events were stored."""

    def __call__(self, commands: Sequence[RecordCareEvent]) -> int: ...


@dataclass(frozen=True, slots=True)
class SimulationSummary:
    """Counts only: clients simulated, events stored, commands sent, and commands by type."""

    clients: int
    events: int
    commands: int
    by_type: Mapping[str, int]


# ------------------------------------------------------------------------------ the circle


@dataclass(frozen=True, slots=True)
class Member:
    """A member of staff of one organization, in one role."""

    id: str
    role: str
    org: str

    def actor(self) -> dict[str, str]:
        return {"id": self.id, "role": self.role, "org": self.org}


@dataclass(frozen=True, slots=True)
class Destination:
    """An organization a case manager hands clients to, for one service."""

    kind: str
    org: str
    service: str
    reasons: tuple[str, ...]
    data_classes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Staff:
    """The circle's organizations and the people in them."""

    counselors: tuple[Member, ...]
    peers: tuple[Member, ...]
    case_managers: tuple[Member, ...]
    prescribers: tuple[Member, ...]
    crisis_clinicians: tuple[Member, ...]
    receiving: Mapping[str, tuple[Member, ...]]


COUNSELING_ORG: Final = "harbor-counseling"
PEER_ORG: Final = "harbor-peer"
CASE_MANAGEMENT_ORG: Final = "northside-case-mgmt"
PRESCRIBER_ORG: Final = "mercy-prescribers"
CRISIS_ORG: Final = "crisis-line-988"

DESTINATIONS: Final[Mapping[str, Destination]] = {
    d.kind: d
    for d in (
        Destination(
            "moud",
            PRESCRIBER_ORG,
            "medication evaluation",
            ("evaluation for medication for opioid use disorder", "medication for alcohol use"),
            ("assessment", "medication", "care_plan"),
        ),
        Destination(
            "otp",
            "eastside-otp",
            "methadone induction",
            ("opioid treatment program intake after buprenorphine was declined",),
            ("assessment", "medication", "care_plan"),
        ),
        Destination(
            "residential",
            "bayview-residential",
            "residential treatment",
            ("escalating use despite outpatient care", "unsafe living situation and daily use"),
            ("assessment", "care_plan", "session", "medication"),
        ),
        Destination(
            "housing",
            "hearth-housing",
            "housing application support",
            ("currently staying with friends, needs stable housing", "eviction notice received"),
            ("care_plan", "appointment"),
        ),
        Destination(
            "primary_care",
            "lakeside-primary-care",
            "primary care intake",
            ("no primary care provider; untreated hypertension", "chronic pain follow-up"),
            ("assessment", "medication"),
        ),
        Destination(
            "sleep",
            "mercy-sleep-clinic",
            "sleep evaluation",
            ("persistent insomnia under four hours a night",),
            ("check_in", "assessment"),
        ),
    )
}


def staff_for(clients: int) -> Staff:
    """A staff pool small enough that every member carries several of the clients."""

    def pool(prefix: str, role: str, org: str, per: int, low: int, high: int) -> tuple[Member, ...]:
        size = min(high, max(low, math.ceil(clients / per)))
        return tuple(Member(f"{prefix}-{n}", role, org) for n in range(1, size + 1))

    prescribers = pool("prescriber", "prescriber", PRESCRIBER_ORG, 25, 2, 40)
    return Staff(
        counselors=pool("counselor", "counselor", COUNSELING_ORG, 10, 2, 400),
        peers=pool("peer", "peer_specialist", PEER_ORG, 12, 2, 300),
        case_managers=pool("case-manager", "case_manager", CASE_MANAGEMENT_ORG, 15, 2, 300),
        prescribers=prescribers,
        crisis_clinicians=pool("crisis", "crisis_clinician", CRISIS_ORG, 30, 3, 30),
        receiving={
            PRESCRIBER_ORG: prescribers,
            "eastside-otp": (
                Member("eastside-prescriber-1", "prescriber", "eastside-otp"),
                Member("eastside-prescriber-2", "prescriber", "eastside-otp"),
            ),
            "bayview-residential": (
                Member("bayview-intake-1", "case_manager", "bayview-residential"),
                Member("bayview-intake-2", "case_manager", "bayview-residential"),
            ),
            "hearth-housing": (
                Member("hearth-navigator-1", "case_manager", "hearth-housing"),
                Member("hearth-navigator-2", "case_manager", "hearth-housing"),
            ),
            "lakeside-primary-care": (
                Member("lakeside-clinician-1", "prescriber", "lakeside-primary-care"),
            ),
            "mercy-sleep-clinic": (
                Member("sleep-clinician-1", "prescriber", "mercy-sleep-clinic"),
            ),
        },
    )


# ------------------------------------------------------------------------------ vocabularies

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
class Medication:
    name: str
    category: str
    doses: tuple[str, ...]
    switch_to: str | None = None


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


def _weighted(rng: random.Random, table: Sequence[tuple[T, float]]) -> T:
    return rng.choices([v for v, _ in table], weights=[w for _, w in table])[0]


def _clamp(value: float, low: float, high: float) -> float:
    return min(high, max(low, value))


def _spread(rng: random.Random, total: int, items: int, top: int) -> list[int]:
    """`items` answers of 0-`top` adding up to `total` (capped), spread at random."""
    answers = [0] * items
    for _ in range(min(total, items * top)):
        open_items = [i for i, points in enumerate(answers) if points < top]
        answers[rng.choice(open_items)] += 1
    return answers


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


# ------------------------------------------------------------------------------ one client


@dataclass(slots=True)
class _Appointment:
    appointment_id: str
    kind: str
    member: Member
    scheduled_for: datetime


@dataclass(slots=True)
class _Goal:
    goal_id: str
    description: str
    owner: Member
    target: date
    set_day: int
    revised: bool = False


@dataclass(slots=True)
class _Handoff:
    kind: str
    member: Member
    outcome: Literal["completed", "declined", "failed"]
    settled_at: datetime


class _Course:
    """One client's course of care, told day by day into a time-ordered stream of payloads."""

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
        self.end = start + days * _DAY
        self.pending: list[tuple[datetime, int, Payload]] = []
        self.seq = 0
        self.day = 0
        self.status: Status = "waiting"
        self.floor = self.day_start = self.latest = start
        self.trajectory: Trajectory = _weighted(rng, TRAJECTORIES)
        self.trend = tuple(t * rng.uniform(0.6, 1.4) for t in TRENDS[self.trajectory])
        self.primary: str = _weighted(rng, PRIMARY_SUBSTANCES)
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
        self.enroll_day = rng.randrange(min(3, self.days))
        if rng.random() < 0.5:
            self.enroll_day = rng.randrange(max(1, self.days // 2))
        self.attempt_history = rng.random() < 0.1
        self.family_sessions = rng.random() < 0.3
        self.weekly_group = self.program == "harbor-iop" or rng.random() < 0.4
        self.needs = {k for k, p in (("housing", 0.25), ("primary_care", 0.2)) if rng.random() < p}
        # latent state
        if self.trajectory == "deteriorating":  # early stability, then the slide
            self.mood, self.craving = rng.uniform(4.5, 6.5), rng.uniform(3.0, 5.5)
            self.sleep = rng.uniform(5.5, 7.5)
        else:
            self.mood, self.craving = rng.uniform(3.0, 6.0), rng.uniform(4.0, 8.0)
            self.sleep = rng.uniform(4.5, 7.0)
        self.set_points = [self.mood, self.craving, self.sleep]
        self.uses: deque[bool] = deque(maxlen=30)
        # plan and bookkeeping
        self.care_start_day = 0
        self.cadence = 24
        self.channel = "text"
        self.next_due: datetime | None = None
        self.missed_check_ins = 0
        self.missed_appointments = 0
        self.appointments: list[_Appointment] = []
        self.next_booking: dict[str, int] = {}
        self.next_assessment: dict[str, int] = {}
        self.goals: list[_Goal] = []
        self.medication: Medication | None = None
        self.dose = ""
        self.medication_day: int | None = None
        self.dose_change_day: int | None = None
        self.naloxone_day: int | None = None
        self.busy_until = self.start
        self.safety_plan = False
        self.crisis_clinician: Member | None = None
        self.handoffs_done: set[str] = set()
        self.handoff: _Handoff | None = None
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
        return self.day_start + round(hours * 60) * _MINUTE

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
            "occurred_at": _iso(at),
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
        into_day = (at - self.start) % _DAY
        if into_day < 8 * _HOUR:
            return at - into_day + self.rng.randint(8 * 60, 10 * 60) * _MINUTE
        if into_day > 18 * _HOUR:
            return at - into_day + _DAY + self.rng.randint(8 * 60, 10 * 60) * _MINUTE
        return at

    def _due(self, until: datetime) -> Iterator[tuple[datetime, int, int, Payload]]:
        while self.pending and self.pending[0][0] < until:
            at, seq, payload = heapq.heappop(self.pending)
            yield at, self.index, seq, payload

    # ---------------------------------------------------------------- the days

    def run(self) -> Iterator[tuple[datetime, int, int, Payload]]:
        """The client's events in time order, produced a day at a time."""
        for day in range(self.days):
            self.day = day
            self.day_start = self.start + day * _DAY
            if self.status == "waiting" and day == self.enroll_day:
                self._enroll()
            elif self.status == "in_care":
                self._live_day()
            elif self.status == "discharged" and day == self.readmit_day:
                self._readmit()
                self._book()
            yield from self._due(self.day_start + _DAY)
        yield from self._due(self.end + _MINUTE)

    @property
    def days_in_care(self) -> int:
        return self.day - self.care_start_day

    def _live_day(self) -> None:
        if self._maybe_discharge():
            return
        self._drift()
        self._after_handoff()
        self._medication_course()
        self._check_ins()
        self._appointments()
        self._book()
        self._sessions()
        self._assessments_due()
        self._goal_reviews()
        self._maybe_crisis()
        self._maybe_overdose()
        self._maybe_handoff()
        self._naloxone()
        self._maybe_reassign()

    def _drift(self) -> None:
        """Set points follow the client's trend; the day's state wanders around them."""
        rng = self.rng
        d_mood, d_craving, d_sleep = self.trend
        self.set_points[0] = _clamp(self.set_points[0] + d_mood, 1.0, 9.5)
        self.set_points[1] = _clamp(self.set_points[1] + d_craving, 0.5, 9.3)
        self.set_points[2] = _clamp(self.set_points[2] + d_sleep, 2.5, 8.5)
        self.mood = _clamp(
            self.mood + 0.35 * (self.set_points[0] - self.mood) + rng.gauss(0, 0.7), 0, 10
        )
        self.craving = _clamp(
            self.craving + 0.35 * (self.set_points[1] - self.craving) + rng.gauss(0, 0.8), 0, 10
        )
        self.sleep = _clamp(
            self.sleep + 0.35 * (self.set_points[2] - self.sleep) + rng.gauss(0, 0.5), 1.5, 11
        )

    def _relief(self, craving: float, mood: float, sleep: float) -> None:
        """Support that worked: the state and its set points move the better way."""
        self.craving = _clamp(self.craving - craving, 0, 10)
        self.mood = _clamp(self.mood + mood, 0, 10)
        self.sleep = _clamp(self.sleep + sleep, 1.5, 11)
        self.set_points = [
            _clamp(self.set_points[0] + mood / 2, 1.0, 9.5),
            _clamp(self.set_points[1] - craving / 2, 0.5, 9.3),
            _clamp(self.set_points[2] + sleep / 2, 2.5, 8.5),
        ]

    def _engagement(self) -> float:
        base = {"improving": 0.93, "steady": 0.88, "deteriorating": 0.82, "disengaging": 0.85}[
            self.trajectory
        ]
        if self.trajectory == "disengaging":
            base -= 0.025 * self.days_in_care
        base -= max(0.0, 4 - self.mood) * 0.04
        return _clamp(base, 0.15, 0.97)

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
            self._assign(t0 + n * _MINUTE, member, self.counselor)
        at = t0 + 8 * _MINUTE
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
                at += _MINUTE
        self._plan_check_ins(
            at + _MINUTE,
            self.counselor,
            _weighted(self.rng, ((24, 0.6), (48, 0.25), (72, 0.15))),
            _weighted(self.rng, (("text", 0.45), ("app", 0.3), ("call", 0.2), ("in_person", 0.05))),
        )
        at += 5 * _MINUTE
        instruments = ["PHQ-9", "GAD-7", "AUDIT-C"]
        if self.primary != "alcohol" or len(self.substances) > 1:
            instruments.append("DAST-10")
        instruments += ["C-SSRS-SCREEN", "BAM"]
        for instrument in instruments:
            at = self._assess(at + 6 * _MINUTE, instrument, self.counselor)
        for instrument, every in (("PHQ-9", 21), ("GAD-7", 21), ("BAM", 28)):
            self.next_assessment[instrument] = self.day + every + rng.randint(-2, 2)
        self.next_assessment["AUDIT-C"] = self.day + 30 + rng.randint(-3, 3)
        if "DAST-10" in instruments:
            self.next_assessment["DAST-10"] = self.day + 30 + rng.randint(-3, 3)
        at += 10 * _MINUTE
        owners = [self.counselor, self.peer, self.case_manager]
        if self.prescriber is not None:
            owners.append(self.prescriber)
        for owner in rng.sample(owners, k=min(len(owners), rng.randint(2, 3))):
            at = self._set_goal(at + 4 * _MINUTE, owner)
        if rng.random() < 0.18:
            kind = "incarceration_release" if rng.random() < 0.4 else "detox_discharge"
            self._emit(at + 5 * _MINUTE, "TransitionReported", self.case_manager, {"kind": kind})
            at += 6 * _MINUTE
        kit_chance = 1.0 if "fentanyl" in self.substances else 0.85 if self.opioid else 0.0
        if self.primary == "stimulants" and not self.opioid:
            kit_chance = 0.4  # fentanyl in the stimulant supply
        if rng.random() < kit_chance:
            self._distribute_naloxone(at + 20 * _MINUTE, "client")
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
                at - 30 * _MINUTE,
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
                at + 5 * _MINUTE,
                "TransitionReported",
                self.case_manager,
                {"kind": "residential_discharge"},
            )
            if self.opioid:
                self._distribute_naloxone(at + 30 * _MINUTE, "client")
            self._relief(2.0, 1.5, 1.0)
        else:
            self.trajectory = "steady" if self.trajectory == "disengaging" else self.trajectory
            self.trend = TRENDS["improving"] if rng.random() < 0.5 else TRENDS["steady"]
        self._plan_check_ins(at + 10 * _MINUTE, self.peer, 24, self.channel)
        at += 15 * _MINUTE
        for instrument in ("PHQ-9", "C-SSRS-SCREEN", "BAM"):
            at = self._assess(at + 6 * _MINUTE, instrument, self.counselor)
        self._set_goal(at + 5 * _MINUTE, self.counselor)
        self.next_booking = {"counseling": self.day, "case_management": self.day + 1}
        if self.medication is not None:
            self.next_booking["medication"] = self.day + 2
        self.floor = self.latest

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
            {
                "consent_id": consent_id,
                "recipient_org": org,
                "purpose": "treatment",
                "data_classes": sorted(classes),
                "expires_at": _iso(at + 365 * _DAY),
            },
        )
        self.consents.add(org)
        return consent_id

    def _plan_check_ins(self, at: datetime, actor: Member, cadence: int, channel: str) -> None:
        at = self._emit(at, "CheckInPlanSet", actor, {"cadence_hours": cadence, "channel": channel})
        self.cadence, self.channel = cadence, channel
        self.next_due = at + cadence * _HOUR

    def _reassign_counselor(self, at: datetime) -> None:
        others = [m for m in self.staff.counselors if m != self.counselor]
        if not others:
            return
        leaving, self.counselor = self.counselor, self.rng.choice(others)
        self._assign(at, self.counselor, self.counselor)
        self._release(at + _MINUTE, leaving, self.counselor)
        for goal in self.goals:
            if goal.owner == leaving:
                goal.owner = self.counselor
        for appointment in self.appointments:
            if appointment.member == leaving:
                appointment.member = self.counselor

    def _maybe_reassign(self) -> None:
        if self.rng.random() < 0.002:
            self._reassign_counselor(self._at(self.rng.uniform(13, 16)))

    # ---------------------------------------------------------------- monitoring

    def _check_ins(self) -> None:
        rng = self.rng
        day_end = self.day_start + _DAY
        while self.next_due is not None and self.next_due < day_end:
            due = self.next_due
            self.next_due = due + self.cadence * _HOUR
            if rng.random() < self._engagement():
                self.missed_check_ins = 0
                p_use = 1 / (1 + math.exp(-(self.craving - 6.5) * 1.1))
                used = rng.random() < 0.55 * p_use * math.sqrt(self.cadence / 24)
                self.uses.append(used)
                if used:
                    self.craving = _clamp(self.craving + 0.5, 0, 10)
                substances = (
                    sorted(rng.sample(self.substances, k=rng.randint(1, len(self.substances))))
                    if used
                    else []
                )
                data: Payload = {
                    "mood": round(_clamp(self.mood + rng.gauss(0, 0.5), 0, 10)),
                    "craving": round(_clamp(self.craving + rng.gauss(0, 0.5), 0, 10)),
                    "sleep_hours": round(_clamp(self.sleep + rng.gauss(0, 0.4), 0, 14) * 2) / 2,
                    "used_since_last": used,
                    "substances": substances,
                }
                if rng.random() < 0.08:
                    data["note"] = rng.choice(CHECK_IN_NOTES)
                self._emit(due + rng.randint(0, 180) * _MINUTE, "CheckInRecorded", self.peer, data)
            else:
                self.missed_check_ins += 1
                grace = min(6, self.cadence // 2) * _HOUR
                self._emit(due + grace, "CheckInMissed", self.peer, {"due_at": _iso(due)})

    def _assess(self, at: datetime, instrument: str, actor: Member) -> datetime:
        answers = self._answers(instrument)
        at = self._emit(
            at, "AssessmentRecorded", actor, {"instrument": instrument, "answers": answers}
        )
        if instrument == "PHQ-9" and answers[8]:
            at = self._emit(
                at + 15 * _MINUTE,
                "AssessmentRecorded",
                actor,
                {"instrument": "C-SSRS-SCREEN", "answers": self._answers("C-SSRS-SCREEN")},
            )
        if instrument == "AUDIT-C" and self.primary == "alcohol" and sum(answers) >= 3:
            at = self._emit(
                at + 8 * _MINUTE,
                "AssessmentRecorded",
                actor,
                {"instrument": "AUDIT", "answers": [*answers, *self._audit_rest()]},
            )
        return at

    def _answers(self, instrument: str) -> list[int] | list[bool]:
        """Answers consistent with the client's state (see domain/instruments for the scales)."""
        rng = self.rng
        distress = 10 - self.mood
        recent_use = sum(self.uses) / len(self.uses) if self.uses else 0.3
        match instrument:
            case "PHQ-9":
                total = round(
                    _clamp(distress * 2.1 + (self.sleep < 5) * 2 + rng.gauss(0, 2), 0, 24)
                )
                item9 = 0
                if self.mood <= 3.5 and rng.random() < 0.4:
                    item9 = 1 if rng.random() < 0.75 else 2
                return [*_spread(rng, total, 8, 3), item9]
            case "GAD-7":
                anxiety = distress * 1.3 + self.craving * 0.4 + rng.gauss(0, 2)
                return _spread(rng, round(_clamp(anxiety, 0, 21)), 7, 3)
            case "AUDIT-C":
                if self.primary == "alcohol":
                    level = 2 + self.craving * 0.8 + recent_use * 3
                elif "alcohol" in self.substances:
                    level = 1 + self.craving * 0.3
                else:
                    level = rng.uniform(0, 2)
                return _spread(rng, round(_clamp(level + rng.gauss(0, 1), 0, 12)), 3, 4)
            case "DAST-10":
                if self.primary in ("opioids", "stimulants", "cannabis"):
                    level = 1.5 + self.craving * 0.55 + recent_use * 2
                else:
                    level = rng.uniform(0, 2)
                scored = set(rng.sample(range(10), k=round(_clamp(level + rng.gauss(0, 1), 0, 10))))
                # item 3 ("always able to stop?") scores its no
                return [(i in scored) != (i == 2) for i in range(10)]
            case "C-SSRS-SCREEN":
                return self._cssrs()
            case "BAM":
                return self._bam(recent_use)
            case _:
                raise ValueError(instrument)

    def _audit_rest(self) -> list[int]:
        """AUDIT items 4-10 after the three AUDIT-C items; items 9 and 10 score 0, 2 or 4."""
        rng = self.rng
        rest = _spread(rng, round(self.craving * 1.6 + rng.gauss(0, 2)), 5, 4)
        return [*rest, rng.choice((0, 2, 4)), rng.choice((0, 2, 4))]

    def _cssrs(self) -> list[bool]:
        rng = self.rng
        level = "none"
        if self.mood <= 2 or (self.mood <= 3.5 and rng.random() < 0.4):
            level = "high" if rng.random() < 0.35 else "moderate"
        elif self.mood <= 4.5 and rng.random() < 0.4:
            level = "low"
        q1 = level != "none"
        q2 = level in ("moderate", "high") or (q1 and rng.random() < 0.4)
        q3 = level in ("moderate", "high")
        q4 = level == "high"
        q5 = q4 and rng.random() < 0.4
        answers = [q1, q2, q3, q4, q5, self.attempt_history]
        if self.attempt_history:
            answers.append(False)  # the attempt was longer than three months ago
        return answers

    def _bam(self, recent_use: float) -> list[int]:
        rng = self.rng

        def likert(value: float) -> int:
            return round(_clamp(value + rng.gauss(0, 0.4), 0, 4))

        distress = (10 - self.mood) / 10
        drinking = recent_use * 4 if "alcohol" in self.substances else 0
        drugs = recent_use * 4 if self.primary != "alcohol" else 0
        sleep_trouble = _clamp((7 - self.sleep) * 1.1, 0, 4)
        support = 4 - self.craving / 3 - distress
        return [
            likert(distress * 2.5),  # 1 physical health
            likert(sleep_trouble),  # 2 sleep
            likert(distress * 4),  # 3 mood
            likert(drinking),  # 4 alcohol days
            likert(drinking * 0.6),  # 5 heavy drinking days
            likert(drugs),  # 6 drug days
            likert(drugs * 0.8),  # 7 drug types
            likert(self.craving / 2.5),  # 8 craving
            likert(4 - self.craving / 2.5),  # 9 abstinence confidence
            likert(support),  # 10 self-help meetings
            likert(self.craving / 3),  # 11 risky situations
            likert(rng.uniform(0, 4)),  # 12 spirituality
            likert(support - 1),  # 13 work or school
            likert(support - 0.5),  # 14 income
            likert(distress * 3),  # 15 conflict
            likert(support),  # 16 supportive contacts
            likert(4 - distress * 3 - self.craving / 4),  # 17 satisfaction with progress
        ]

    def _assessments_due(self) -> None:
        at = self._at(self.rng.uniform(10, 16))
        for instrument, due in sorted(self.next_assessment.items()):
            if due <= self.day:
                at = self._assess(at + 5 * _MINUTE, instrument, self.counselor)
                every = {"PHQ-9": 21, "GAD-7": 21, "BAM": 28}.get(instrument, 30)
                self.next_assessment[instrument] = self.day + every + self.rng.randint(-2, 2)

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
            scheduled_for = self.day_start + rng.randint(1, 5) * _DAY
            scheduled_for += rng.randrange(9 * 60, 17 * 60, 30) * _MINUTE
            if scheduled_for > self.end:
                continue
            appointment = _Appointment(self._id(), kind, member, scheduled_for)
            booker = self.case_manager if rng.random() < 0.5 else member
            self._emit(
                self._at(rng.uniform(9, 17)),
                "AppointmentScheduled",
                booker,
                self._appointment_data(appointment),
            )
            self.appointments.append(appointment)

    @staticmethod
    def _appointment_data(appointment: _Appointment) -> Payload:
        return {
            "appointment_id": appointment.appointment_id,
            "kind": appointment.kind,
            "scheduled_for": _iso(appointment.scheduled_for),
        }

    def _appointments(self) -> None:
        rng = self.rng
        day_end = self.day_start + _DAY
        for appointment in [a for a in self.appointments if a.scheduled_for < day_end]:
            self.appointments.remove(appointment)
            data = self._appointment_data(appointment)
            if rng.random() < self._engagement() + 0.03:
                self.missed_appointments = 0
                at = self._emit(
                    appointment.scheduled_for + 5 * _MINUTE,
                    "AppointmentAttended",
                    appointment.member,
                    data,
                )
                minutes = {"counseling": 50, "case_management": 40, "medication": 20}.get(
                    appointment.kind, 75
                )
                modality = "telehealth" if rng.random() < 0.3 else "in_person"
                self._session(
                    at + minutes * _MINUTE, appointment.member, appointment.kind, modality, minutes
                )
                if appointment.kind == "counseling":
                    self._relief(0.3, 0.2, 0.1)
            else:
                self.missed_appointments += 1
                self._emit(
                    appointment.scheduled_for + 20 * _MINUTE,
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
        goal = _Goal(
            self._id(),
            description,
            owner,
            (at + self.rng.randint(30, 60) * _DAY).date(),
            self.day,
        )
        self.goals.append(goal)
        return self._emit(at, "CarePlanGoalSet", owner, self._goal_data(goal))

    @staticmethod
    def _goal_data(goal: _Goal) -> Payload:
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
                    at = self._set_goal(at + 5 * _MINUTE, goal.owner)
            elif not goal.revised:
                goal.revised = True
                goal.description = f"{goal.description}, in smaller weekly steps"
                goal.target = goal.target + 21 * _DAY
                at = self._emit(at, "CarePlanGoalRevised", goal.owner, self._goal_data(goal))

    # ---------------------------------------------------------------- crisis

    def _crisis_chance(self) -> float:
        return (
            0.002
            + 0.05 * max(0.0, (self.craving - 6.5) / 3.5)
            + 0.05 * max(0.0, (3.5 - self.mood) / 3.5)
            + 0.02 * max(0.0, (4 - self.sleep) / 4)
        )

    def _maybe_crisis(self) -> None:
        rng = self.rng
        if self.busy_until >= self.day_start or rng.random() > self._crisis_chance():
            return
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
        channel = _weighted(
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
                "follow_up_due_at": _iso(t + _DAY),
            },
            purpose="emergency",
            correlation=crisis_id,
        )
        last = t
        if self.crisis_clinician is None:
            self.crisis_clinician = clinician
            self._assign(t + 2 * _MINUTE, clinician, clinician)
        if suicidality:
            self._emit(
                t + 20 * _MINUTE,
                "AssessmentRecorded",
                clinician,
                {"instrument": "C-SSRS-SCREEN", "answers": self._cssrs()},
                correlation=crisis_id,
            )
        if to_ed:
            last = self._emit(
                t + rng.randint(6, 20) * _HOUR,
                "TransitionReported",
                self.case_manager,
                {"kind": "ed_discharge"},
                correlation=crisis_id,
            )
        plan_at = self._business(t + rng.randint(60, 8 * 60) * _MINUTE)
        if to_ed:
            plan_at = self._business(last + rng.randint(1, 4) * _HOUR)
        plan_type = "SafetyPlanRevised" if self.safety_plan else "SafetyPlanRecorded"
        self.safety_plan = True
        plan_at = self._emit(
            plan_at, plan_type, self.counselor, self._safety_plan(), correlation=crisis_id
        )
        self._session(plan_at + 5 * _MINUTE, self.counselor, "counseling", "telehealth", 45)
        morning = self.day_start + _DAY + rng.randint(8 * 60, 11 * 60) * _MINUTE
        self._session(max(morning, plan_at + _HOUR), self.peer, "peer_support", "phone", 25)
        if overdose_danger:
            self._emit(
                max(morning, plan_at) + 2 * _HOUR,
                "NaloxoneDistributed",
                self.peer,
                {"kits": 2, "recipient": "family", "training_given": True},
            )
        if self.prescriber is not None and rng.random() < 0.4:
            self._emit(
                plan_at + 3 * _HOUR,
                "MedicationConsultRecorded",
                self.prescriber,
                {
                    "medication": self.medication.name if self.medication else "hydroxyzine",
                    "notes": "Brief consult for acute anxiety after a crisis contact.",
                },
                correlation=crisis_id,
            )
        if self.cadence > 24:
            self._plan_check_ins(plan_at + 30 * _MINUTE, self.peer, 24, self.channel)
        days_later = rng.choice((1, 2)) if rng.random() < 0.85 else rng.choice((4, 5))
        review_at = self.day_start + days_later * _DAY + rng.randint(9 * 60, 17 * 60) * _MINUTE
        review_at = self._emit(
            max(review_at, plan_at + 2 * _HOUR),
            "PostventionReviewRecorded",
            self.counselor,
            {
                "crisis_id": crisis_id,
                "what_worked": ["peer noticed escalating distress early", "same-day telehealth"],
                "what_did_not": rng.sample(
                    ["no check-in for two days before", "evening hours had no coverage"], k=1
                ),
                "plan_changes": ["daily check-ins for two weeks", "extra peer touchpoint"],
            },
            correlation=crisis_id,
        )
        last = max(last, review_at)
        if self.crisis_clinician is not None:
            last = self._release(review_at + _HOUR, self.crisis_clinician, self.counselor)
            self.crisis_clinician = None
        self.busy_until = max(self.busy_until, last, self.day_start + 7 * _DAY)
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

    # ---------------------------------------------------------------- harm reduction, medication

    def _distribute_naloxone(self, at: datetime, recipient: str) -> datetime:
        return self._emit(
            at,
            "NaloxoneDistributed",
            self.peer,
            {"kits": 2 if recipient == "family" else 1, "recipient": recipient,
             "training_given": True},
        )  # fmt: skip

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
                at + rng.randint(5, 20) * _HOUR,
                "TransitionReported",
                self.case_manager,
                {"kind": "ed_discharge"},
            )
        if rng.random() < 0.9:
            self.naloxone_day = self.day + rng.randint(1, 2)
        self._session(last + rng.randint(12, 30) * _HOUR, self.counselor, "counseling", "phone", 30)
        self.busy_until = max(self.busy_until, self.day_start + 3 * _DAY)

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
            self._start_medication(at + 20 * _MINUTE, plan, "treatment of use disorder")
            self._session(at + 40 * _MINUTE, prescriber, "medication", "in_person", 30)
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
            self._start_medication(at + 10 * _MINUTE, medication.switch_to, "formulation switch")
            return
        reason = rng.choice(("client chose to taper", "side effects", "missed doses"))
        self._emit(at, "MedicationStopped", prescriber, self._medication_data(medication, reason))
        self.medication, self.dose = None, ""
        self.next_booking.pop("medication", None)
        if medication.category == "moud":
            self.trend = (self.trend[0] - 0.02, self.trend[1] + 0.04, self.trend[2] - 0.02)
            if rng.random() < 0.8:
                self.naloxone_day = self.day + rng.randint(0, 3)

    # ---------------------------------------------------------------- handoffs

    def _handoff_wanted(self) -> str | None:
        rng = self.rng
        if self.handoff_day is not None and self.day >= self.handoff_day:
            self.handoff_day = None
            return self.handoff_kind
        if self.days_in_care < 3:
            return None
        if (
            self.trajectory == "deteriorating"
            and self.craving >= 7.5
            and "residential" not in self.handoffs_done
            and rng.random() < 0.04
        ):
            return "residential"
        if self.sleep < 4.5 and "sleep" not in self.handoffs_done and rng.random() < 0.08:
            return "sleep"
        for need in sorted(self.needs - self.handoffs_done):
            if rng.random() < 0.03:
                return need
        return None

    def _maybe_handoff(self) -> None:
        if self.handoff is not None or self.transfer:
            return
        kind = self._handoff_wanted()
        if kind is None:
            return
        rng = self.rng
        destination = DESTINATIONS[kind]
        members = self.staff.receiving[destination.org]
        named = rng.random() < 0.5
        receiver = rng.choice(members)
        handoff_id = self._id()
        at = self._at(rng.uniform(9, 16))
        data: Payload = {
            "handoff_id": handoff_id,
            "to_org": destination.org,
            "service": destination.service,
            "reason": rng.choice(destination.reasons),
            "priority": "urgent" if kind in ("residential", "moud", "otp") else "routine",
        }
        if named:
            data["to_member_id"] = receiver.id
        if self.part2 and (destination.org not in self.consents or kind in ("residential", "otp")):
            data["consent_id"] = self._consent(at, destination.org, destination.data_classes)
            at += 5 * _MINUTE
        self.handoffs_done.add(kind)
        at = self._emit(at, "HandoffInitiated", self.case_manager, data, correlation=handoff_id)
        ref: Payload = {"handoff_id": handoff_id}
        if rng.random() < 0.13:
            settled = self._emit(
                self._business(at + rng.randint(4, 40) * _HOUR),
                "HandoffDeclined",
                receiver,
                {**ref, "reason": rng.choice(("No capacity this month", "Outside service area"))},
                correlation=handoff_id,
            )
            self.handoff = _Handoff(kind, receiver, "declined", settled)
        else:
            delay = rng.randint(2, 30) if rng.random() < 0.9 else rng.randint(49, 60)
            accepted = self._emit(
                self._business(at + delay * _HOUR),
                "HandoffAccepted",
                receiver,
                ref,
                correlation=handoff_id,
            )
            if rng.random() < 0.93:
                settled = self._emit(
                    self._business(accepted + rng.randint(24, 9 * 24) * _HOUR),
                    "HandoffCompleted",
                    receiver,
                    {
                        **ref,
                        "client_present": rng.random() < 0.75,
                        "modality": "in_person" if rng.random() < 0.7 else "telehealth",
                    },
                    correlation=handoff_id,
                )
                self.handoff = _Handoff(kind, receiver, "completed", settled)
            else:
                settled = self._emit(
                    self._business(accepted + rng.randint(48, 7 * 24) * _HOUR),
                    "HandoffFailed",
                    receiver,
                    {**ref, "reason": "Client did not arrive for intake"},
                    correlation=handoff_id,
                )
                self.handoff = _Handoff(kind, receiver, "failed", settled)
        self.busy_until = max(self.busy_until, self.handoff.settled_at)

    def _after_handoff(self) -> None:
        handoff = self.handoff
        if handoff is None or handoff.settled_at >= self.day_start:
            return
        self.handoff = None
        rng = self.rng
        if handoff.outcome != "completed":
            if handoff.kind == "moud" and self.primary == "opioids":
                self.handoff_day, self.handoff_kind = self.day + rng.randint(1, 4), "otp"
                self.medication_plan = "methadone"
            return
        match handoff.kind:
            case "moud" | "otp":
                self.prescriber = handoff.member
                self._assign(self._at(rng.uniform(9, 11)), handoff.member, handoff.member)
                self.medication_day = self.day + rng.randint(1, 3)
            case "residential":
                self.transfer = True
            case "housing":
                for goal in self.goals:
                    if goal.owner == self.case_manager and "housing" in goal.description:
                        self.goals.remove(goal)
                        self._emit(
                            self._at(rng.uniform(9, 16)),
                            "CarePlanGoalMet",
                            goal.owner,
                            {"goal_id": goal.goal_id},
                        )
                        break
            case _:
                self._relief(0.5, 0.5, 1.0 if handoff.kind == "sleep" else 0.0)


# ------------------------------------------------------------------------------ the stream


def care_events(
    *, clients: int, days: int, seed: int, start: datetime
) -> Iterator[dict[str, object]]:
    """The simulated care events as wire-contract dicts, in an order the domain accepts.

    Each client's events come in time order; clients interleave by time. Lazy: a client holds
    only its scheduled-but-not-yet-due events, so a long run never builds the whole stream.
    """
    if clients < 0 or days < 1:
        raise ValueError("clients must be >= 0 and days >= 1")
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError("start must be timezone-aware")
    start = start.astimezone(UTC)
    rng = random.Random(seed)  # noqa: S311 - reproducible demo data, not a secret
    staff = staff_for(clients)
    courses = []
    for index in range(clients):
        client_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        course_rng = random.Random(rng.getrandbits(64))  # noqa: S311 - as above
        courses.append(_Course(index, client_id, course_rng, staff, start, days))
    for _at, _index, _seq, payload in heapq.merge(*(course.run() for course in courses)):
        yield payload


def command_for(payload: Payload) -> RecordCareEvent:
    """The command recording one simulated event, a few seconds after it happened."""
    event = parse_event(payload)
    delay = timedelta(seconds=2 + event.event_id.int % 9)
    return RecordCareEvent(event, now=event.occurred_at + delay)


def simulate(
    record: RecordPort,
    *,
    clients: int,
    days: int,
    seed: int,
    start: datetime,
    batch_size: int = 500,
) -> SimulationSummary:
    """Send the simulated stream to `record` in batches; summarize what was sent and stored."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    started = time.perf_counter()
    by_type: Counter[str] = Counter()
    stored = sent = 0
    batch: list[RecordCareEvent] = []
    for payload in care_events(clients=clients, days=days, seed=seed, start=start):
        command = command_for(payload)
        by_type[command.event.type] += 1
        batch.append(command)
        if len(batch) >= batch_size:
            stored += record(batch)
            sent += len(batch)
            batch = []
    if batch:
        stored += record(batch)
        sent += len(batch)
    log.info(
        "simulation.finished",
        count=stored,
        commands=sent,
        duration_ms=round((time.perf_counter() - started) * 1000),
    )
    return SimulationSummary(clients=clients, events=stored, commands=sent, by_type=dict(by_type))


def run_simulation(
    handler: CareRecordHandler, *, clients: int, days: int, seed: int, start: datetime
) -> SimulationSummary:
    """Record the simulated stream through the command handler, a batch per transaction."""

    def record(commands: Sequence[RecordCareEvent]) -> int:
        recorded, refused = handler.record_batch(commands)
        for refusal in refused:
            log.warning(
                "simulation.refused",
                code=refusal.error.code,
                event_type=commands[refusal.index].event.type,
            )
        return len(recorded)

    return simulate(record, clients=clients, days=days, seed=seed, start=start)


def default_start(days: int, now: datetime) -> datetime:
    """Midnight UTC `days` days before today, so a demo's history ends today."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return today - days * _DAY
