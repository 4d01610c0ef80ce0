"""The integration tests' one scenario vocabulary: the care team, one clock, and a `Story`.

A `Story` is a fluent, given-style builder of wire bodies as the care team would send them:
`.by(person)` says who acts, `.at(days=..., hours=...)` (relative to the story's clock) or
`.on(moment)` says when, and each care verb (`enrolled`, `team`, `check_in`, `assessment`,
`session`, `appointment_scheduled`, `handoff_initiated`, `naloxone`, `safety_plan`, `crisis`,
...) appends one step. The same steps are then told over HTTP (`over_http`, which remembers what
it already told, so a story can be told in chapters) or published by a provider's service on
Kafka (`on_kafka`).

The two seed stories (`young_professional_*`, `parent_after_surgery`) are written here once, as
steps; the HTTP, analyst, privacy, read-model and Kafka tests tell them or build on the same
verbs. Synthetic people only.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

import httpx

from services.adapters.tokens import Principal
from services.settings import Settings
from tests.integration.http_support import bearer

Body = dict[str, Any]


class Clock:
    """The time the application sees; a test sets (`now = ...`) and advances it. Thread-safe,
    since a live server's threads read it while the test moves it."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    @property
    def now(self) -> datetime:
        return self()

    @now.setter
    def now(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def advance(self, **delta: float) -> datetime:
        with self._lock:
            self._now += timedelta(**delta)
            return self._now


# ---------------------------------------------------------------- the people


@dataclass(frozen=True)
class Person:
    sub: str
    role: str
    org: str

    @property
    def principal(self) -> Principal:
        return Principal(self.sub, self.role, self.org)

    @property
    def actor(self) -> dict[str, str]:
        """The person as a provider's service names them in a Kafka body."""
        return {"id": self.sub, "role": self.role, "org": self.org}

    def headers(self, settings: Settings, **extra: str) -> dict[str, str]:
        return {**bearer(settings, self.sub, self.role, self.org), **extra}


COUNSELOR = Person("counselor-ines", "counselor", "harbor-counseling")
PEER = Person("peer-sam", "peer_specialist", "harbor-peer")
CASE_MANAGER = Person("cm-rosa", "case_manager", "northside-case-mgmt")
PRESCRIBER = Person("rx-okafor", "prescriber", "mercy-prescribers")
SLEEP_CLINIC = Person("sleep-intake-2", "case_manager", "lakeside-sleep-clinic")
MOUD_CLINIC = Person("intake-lee", "prescriber", "riverside-moud-clinic")
ANALYST = Person("ana-eli", "analyst", "research-unit")
TEAM = (COUNSELOR, PEER, CASE_MANAGER, PRESCRIBER)


# ---------------------------------------------------------------- wire bodies


def body(type_: str, occurred_at: datetime | None = None, **data: Any) -> Body:
    """One care event as a person sends it over HTTP (default: an hour ago, by the wall clock)."""
    moment = occurred_at or datetime.now(UTC) - timedelta(hours=1)
    return {
        "event_id": str(uuid4()),
        "type": type_,
        "occurred_at": moment.isoformat(),
        "data": data,
    }


def check_in_data(
    mood: int, craving: int, sleep: float, used: bool = False, **more: Any
) -> dict[str, Any]:
    """A check-in's data: mood and craving 0-10, hours slept, use since the last one."""
    return {"mood": mood, "craving": craving, "sleep_hours": sleep, "used_since_last": used, **more}


def consent_terms(
    consent_id: str,
    org: str,
    *,
    purposes: tuple[str, ...] = ("treatment",),
    classes: tuple[str, ...] = ("all",),
    expires_at: datetime | None = None,
    expires_on_event: str | None = None,
    **more: Any,
) -> dict[str, Any]:
    """A Part 2 consent's data with every element 42 CFR 2.31(a) asks of a new consent: the
    program may disclose to the organization named, for these purposes and data classes, signed
    by the patient, revocable in writing, ending a year from now unless told otherwise."""
    if expires_at is None and expires_on_event is None:
        expires_at = datetime.now(UTC) + timedelta(days=365)
    terms: dict[str, Any] = {
        "consent_id": consent_id,
        "disclosing_party": "the program that treats me",
        "recipients": [{"kind": "organization", "id": org, "name": f"Organization {org}"}],
        "purposes": list(purposes),
        "data_classes": list(classes),
        "expires_at": None if expires_at is None else expires_at.isoformat(),
        "expires_on_event": expires_on_event,
        "signed_by": "patient",
        "signed_on": datetime.now(UTC).date().isoformat(),
        "revocation_instructions": "Write to the program's privacy officer, or sign the form.",
    }
    return {**terms, **more}


def revocation(consent_id: str) -> dict[str, Any]:
    """A written revocation by the patient (42 CFR 2.31(a)(6))."""
    return {"consent_id": consent_id, "revoked_by": "patient", "method": "written"}


@dataclass(frozen=True)
class Step:
    who: Person
    body: Body

    @property
    def enrolls(self) -> bool:
        return bool(self.body["type"] == "ClientEnrolled")


@dataclass
class Story:
    """One client's story, step by step, ready to be told over HTTP or on Kafka."""

    clock: Clock = field(default_factory=Clock)
    client_id: UUID | None = None
    steps: list[Step] = field(default_factory=list)
    told: int = 0
    note: str | None = None  # free text every check-in and session carries, when set
    _who: Person = COUNSELOR
    _when: datetime | None = None

    # ------------------------------------------------------------ who and when

    def by(self, who: Person) -> Story:
        self._who = who
        return self

    def at(self, days: float = 0, hours: float = 0, minutes: float = 0) -> Story:
        """From now on, steps happen this long from the clock's now (negative: the past)."""
        self._when = self.clock() + timedelta(days=days, hours=hours, minutes=minutes)
        return self

    def on(self, moment: datetime) -> Story:
        self._when = moment
        return self

    def when(self, days: float = 0, hours: float = 0) -> datetime:
        """A moment relative to the clock, for data that names a time (an appointment's)."""
        return self.clock() + timedelta(days=days, hours=hours)

    def event(self, type_: str, **data: Any) -> Story:
        self.steps.append(Step(self._who, body(type_, self._when or self.clock(), **data)))
        return self

    @property
    def last(self) -> Body:
        return self.steps[-1].body

    # ------------------------------------------------------------ the care verbs

    def enrolled(
        self,
        given: str = "Test",
        family: str = "Client",
        *,
        phone: str = "555-0100",
        birth_date: date = date(1990, 1, 1),
        part2: bool = False,
        program: str = "outpatient-sud",
        sex_at_birth: str | None = None,
    ) -> Story:
        """Enrolled in a program; `sex_at_birth` (female, male, unknown) only when told."""
        known = {} if sex_at_birth is None else {"sex_at_birth": sex_at_birth}
        return self.event(
            "ClientEnrolled",
            program=program,
            part2=part2,
            given_name=given,
            family_name=family,
            birth_date=birth_date.isoformat(),
            phone=phone,
            **known,
        )

    def team(self, *members: Person) -> Story:
        for member in members:
            self.event(
                "CareTeamMemberAssigned", member_id=member.sub, role=member.role, org=member.org
            )
        return self

    def check_in_plan(self, cadence_hours: int, channel: str) -> Story:
        return self.event("CheckInPlanSet", cadence_hours=cadence_hours, channel=channel)

    def check_in(
        self, mood: int, craving: int, sleep: float, used: bool = False, **more: Any
    ) -> Story:
        if self.note is not None:
            more.setdefault("note", self.note)
        return self.event("CheckInRecorded", **check_in_data(mood, craving, sleep, used, **more))

    def assessment(self, instrument: str, answers: Sequence[int | None]) -> Story:
        """An instrument's answers in item order; None is an item left blank."""
        return self.event("AssessmentRecorded", instrument=instrument, answers=list(answers))

    def session(self, kind: str, modality: str, minutes: int, **more: Any) -> Story:
        if self.note is not None:
            more.setdefault("note", self.note)
        return self.event("SessionHeld", kind=kind, modality=modality, minutes=minutes, **more)

    def appointment_scheduled(self, appointment_id: str, kind: str, for_: datetime) -> Story:
        return self.event(
            "AppointmentScheduled",
            appointment_id=appointment_id,
            kind=kind,
            scheduled_for=for_.isoformat(),
        )

    def appointment_attended(self, appointment_id: str, kind: str, for_: datetime) -> Story:
        return self.event(
            "AppointmentAttended",
            appointment_id=appointment_id,
            kind=kind,
            scheduled_for=for_.isoformat(),
        )

    def handoff_initiated(
        self, handoff_id: str, to: Person, service: str, reason: str, **more: Any
    ) -> Story:
        return self.event(
            "HandoffInitiated",
            handoff_id=handoff_id,
            to_org=to.org,
            service=service,
            reason=reason,
            **more,
        )

    def handoff_accepted(self, handoff_id: str) -> Story:
        return self.event("HandoffAccepted", handoff_id=handoff_id)

    def handoff_declined(self, handoff_id: str, reason: str) -> Story:
        return self.event("HandoffDeclined", handoff_id=handoff_id, reason=reason)

    def handoff_completed(self, handoff_id: str, **more: Any) -> Story:
        return self.event("HandoffCompleted", handoff_id=handoff_id, **more)

    def medication_consult(self, medication: str, **more: Any) -> Story:
        return self.event("MedicationConsultRecorded", medication=medication, **more)

    def medication_started(self, medication: str, category: str, **more: Any) -> Story:
        return self.event("MedicationStarted", medication=medication, category=category, **more)

    def naloxone(self, kits: int, recipient: str, training_given: bool) -> Story:
        return self.event(
            "NaloxoneDistributed", kits=kits, recipient=recipient, training_given=training_given
        )

    def safety_plan(self, **sections: list[str]) -> Story:
        return self.event("SafetyPlanRecorded", **sections)

    def crisis(self, crisis_id: str, **details: Any) -> Story:
        return self.event("CrisisContactRecorded", crisis_id=crisis_id, **details)

    def discharged(self, reason: str) -> Story:
        return self.event("EpisodeClosed", reason=reason)

    def transition(self, kind: str) -> Story:
        """A release or a discharge from another setting (inpatient_discharge, ed_discharge...)."""
        return self.event("TransitionReported", kind=kind)

    def overdose(self, *, fatal: bool, naloxone_used: bool, ed_visit: bool) -> Story:
        return self.event(
            "OverdoseReported", fatal=fatal, naloxone_used=naloxone_used, ed_visit=ed_visit
        )

    def caring_contact(self, channel: str, message_kind: str = "caring_message") -> Story:
        return self.event("CaringContactSent", channel=channel, message_kind=message_kind)

    def died(self, on: date, cause: str, source: str) -> Story:
        return self.event("ClientDied", died_on=on.isoformat(), cause=cause, source=source)

    def postvention_review(self, kind: str, *reviewers: Person, **more: Any) -> Story:
        """A review after a crisis (`crisis_id=`) or a death, by the members named."""
        return self.event(
            "PostventionReviewRecorded",
            kind=kind,
            reviewers=[who.sub for who in reviewers],
            **more,
        )

    # ------------------------------------------------------------ telling it

    def over_http(self, api: httpx.Client, settings: Settings) -> list[Body]:
        """Post every step not told yet, each as its person, and answer the API's answers; an
        enrollment is posted to /v1/clients and names the story's client. `api` is a
        TestClient, or an httpx client of a live server."""
        answers: list[Body] = []
        for step in self.steps[self.told :]:
            if step.enrolls:
                path = "/v1/clients"
            else:
                assert self.client_id is not None, "a story starts with an enrollment"
                path = f"/v1/clients/{self.client_id}/events"
            answer = api.post(path, json=step.body, headers=step.who.headers(settings))
            assert answer.status_code == 201, answer.text
            answers.append(answer.json())
            if step.enrolls:
                self.client_id = UUID(answer.json()["client_id"])
            self.told += 1
        return answers

    def on_kafka(self) -> list[Body]:
        """Every step as a provider's service publishes it: client and actor in the body."""
        if self.client_id is None:
            self.client_id = uuid4()
        return [
            {
                **step.body,
                "client_id": str(self.client_id),
                "actor": step.who.actor,
                "purpose_of_use": "treatment",
            }
            for step in self.steps
        ]


# ---------------------------------------------------------------- the seed stories


@dataclass(frozen=True)
class Enrollee:
    """Who a story is about (synthetic)."""

    given: str
    family: str
    phone: str = "555-0142"
    birth_date: date = date(1991, 3, 14)


JORDAN = Enrollee("Jordan", "Vale")
MORGAN = Enrollee("Morgan", "Reyes")


def enrolled_with_team(story: Story, who: Enrollee, **enrollment: Any) -> Story:
    """Enrolled ten days ago by the counselor, the circle of care assigned the day after."""
    story.by(COUNSELOR).at(days=-10).enrolled(
        who.given, who.family, phone=who.phone, birth_date=who.birth_date, **enrollment
    )
    return story.at(days=-9).team(*TEAM)


def young_professional_before_the_night(story: Story, who: Enrollee = JORDAN) -> Story:
    """Near 90 days without alcohol, stressors cascade (conflict at work, a breakup, insomnia):
    cravings rise, sleep fails, the peer notices distress by text, and a PHQ-9 with item 9
    answered is recorded on the night."""
    enrolled_with_team(story, who, program="outpatient-aud")
    story.at(days=-9).check_in_plan(cadence_hours=24, channel="text")
    story.by(PEER)
    for day, (mood, craving, sleep) in enumerate([(6, 3, 7), (4, 6, 4.5), (3, 8, 3.5)]):
        story.at(days=-6 + day).check_in(mood, craving, sleep)
    story.at(days=-3, hours=2).session("peer_support", "text", 20)
    return story.by(COUNSELOR).at(days=-3, hours=3).assessment("PHQ-9", [2, 2, 3, 2, 1, 2, 2, 1, 1])


def young_professional_after_the_night(story: Story) -> Story:
    """The circle responds: a same-day telehealth session, a warm handoff to a sleep clinic, an
    evening skills group, a medication consult; next morning a peer call, a counselor follow-up
    and a safety review; within 72 hours better sleep and lower cravings."""
    story.by(COUNSELOR).at(days=-3, hours=5).session("counseling", "telehealth", 50)
    story.by(CASE_MANAGER).at(days=-3, hours=6).handoff_initiated(
        "sleep-1",
        to=SLEEP_CLINIC,
        service="expedited sleep evaluation",
        reason="insomnia threatening recovery",
        priority="urgent",
    )
    story.by(SLEEP_CLINIC).at(days=-3, hours=7).handoff_accepted("sleep-1")
    story.by(CASE_MANAGER).at(days=-3, hours=8).session("skills", "in_person", 90)
    story.by(PRESCRIBER).at(days=-3, hours=9).medication_consult("hydroxyzine")
    story.by(PEER).at(days=-2).session("peer_support", "phone", 15)
    story.by(COUNSELOR).at(days=-2, hours=2).session("counseling", "telehealth", 30)
    story.safety_plan(
        warning_signs=["insomnia", "conflict at work"],
        coping_strategies=["urge surfing"],
        crisis_lines=["988"],
        reasons_for_living=["90 days"],
    )
    story.by(SLEEP_CLINIC).at(days=-1).handoff_completed(
        "sleep-1", client_present=True, modality="in_person"
    )
    return story.by(PEER).at(hours=-2).check_in(7, 2, 7.5)


def young_professional(story: Story | None = None, who: Enrollee = JORDAN) -> Story:
    """The first seed story, whole."""
    before = young_professional_before_the_night(story or Story(), who)
    return young_professional_after_the_night(before)


def parent_after_surgery(story: Story | None = None, who: Enrollee = MORGAN) -> Story:
    """A parent using prescribed opioids after surgery (a Part 2 program) signals withdrawal and
    renewed use; a peer meets them, the counselor and prescriber discuss MOUD, the case manager
    schedules intake with a warm handoff, naloxone goes to the family with training, a crisis
    card (safety plan with 988) is written, and weekly counseling follows for a month."""
    story = enrolled_with_team(story or Story(), who, part2=True, program="opioid-treatment")
    story.by(PEER).at(days=-8).check_in(3, 8, 4, used=True, substances=["prescription_opioids"])
    story.at(days=-8, hours=3).session("peer_support", "in_person", 60)
    story.by(PRESCRIBER).at(days=-7).medication_consult("buprenorphine")
    intake = story.when(days=-6)
    story.by(CASE_MANAGER).at(days=-7, hours=1).appointment_scheduled(
        "intake-1", "medication", intake
    )
    story.handoff_initiated(
        "moud-1",
        to=MOUD_CLINIC,
        service="MOUD intake",
        reason="opioid use after surgery",
        priority="urgent",
    )
    story.by(MOUD_CLINIC).at(days=-7, hours=2).handoff_accepted("moud-1")
    story.by(CASE_MANAGER).at(days=-6).appointment_attended("intake-1", "medication", intake)
    story.by(MOUD_CLINIC).handoff_completed("moud-1", client_present=True)
    story.by(PRESCRIBER).medication_started("buprenorphine", category="moud")
    story.by(CASE_MANAGER).naloxone(kits=2, recipient="family", training_given=True)
    story.by(COUNSELOR).safety_plan(
        warning_signs=["withdrawal", "pain flare"],
        coping_strategies=["heat pack and a walk before any extra dose"],
        help_contacts=["partner"],
        professional_contacts=["clinic after-hours line"],
        crisis_lines=["988"],
    )
    for week in range(1, 4):
        story.at(days=-6 + week).session("counseling", "in_person", 50)
    story.by(CASE_MANAGER).at(days=-2).session("case_management", "phone", 30)
    return story.by(COUNSELOR).at(days=-1).assessment("PHQ-9", [1, 1, 2, 1, 1, 0, 1, 1, 0])
