"""A client's record as a FHIR R4 Bundle, for other systems (care-domain.md §6, DESIGN.md §7b).

A pure function of the client's stored history (and the clock, for consents that expired):
Patient, EpisodeOfCare, CareTeam, CarePlan (recovery goals with their Goals, and the
Stanley-Brown safety plan), Observation (each assessment with its LOINC panel and total code,
check-ins in our own code system), Flag with a RiskAssessment holding its evidence (open flags),
ServiceRequest + Task (warm handoffs), Consent, and one Provenance per event that shaped a
resource (who recorded it, in which role and organization, when, for what purpose).

Every resource is built with `fhir.resources.R4B` (FHIR 4.3.0, the R4 line; the package's
default is R5), so each is validated as it is made; the Bundle says which version in its
`meta.tag`. Part 2 data carries the DS4P security labels (restricted, ETH, 42CFRPart2,
NORDSCLCD) on every resource and on the Bundle. Entries in error or superseded are left out, as
in the clinician's record (domain/record.py). Resource ids are derived from the client and the
events, so the same history always gives the same Bundle.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID, uuid5

from fhir.resources.R4B.bundle import Bundle
from fhir.resources.R4B.careplan import CarePlan
from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.consent import Consent
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.goal import Goal
from fhir.resources.R4B.observation import Observation
from fhir.resources.R4B.patient import Patient
from fhir.resources.R4B.provenance import Provenance
from fhir.resources.R4B.riskassessment import RiskAssessment
from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task
from pydantic import ValidationError

from domain.catalogue import CareEvent
from domain.consent import ConsentGranted
from domain.corrections import EntryCorrected, EntryEnteredInError
from domain.enrollment import (
    CareTeamMemberAssigned,
    CareTeamMemberReleased,
    CheckInPlanSet,
    ClientEnrolled,
    EpisodeOpened,
)
from domain.envelope import Actor
from domain.flags import RiskFlagAcknowledged, RiskFlagRaised
from domain.handoff import (
    HandoffAccepted,
    HandoffCompleted,
    HandoffDeclined,
    HandoffFailed,
    HandoffInitiated,
)
from domain.monitoring import AssessmentRecorded, CheckInRecorded
from domain.record import CORRECTABLE, ClientRecord, client_record
from domain.recorded import Recorded
from domain.safety import SafetyPlanRecorded, SafetyPlanRevised
from domain.sessions import CarePlanGoalMet, CarePlanGoalRevised, CarePlanGoalSet
from interop import fhir_codes as codes

FHIR_RELEASE = "4.3.0"
FHIR_PACKAGE = "fhir.resources.R4B"

Json = dict[str, Any]


class FhirMappingError(Exception):
    """A resource failed FHIR validation: names the resource and fields, never their values."""

    def __init__(self, resource: str, error: ValidationError) -> None:
        places = sorted(
            {
                ".".join(str(part) for part in detail["loc"])
                for detail in error.errors(include_input=False, include_context=False)
            }
        )
        super().__init__(f"{resource} failed FHIR validation at {', '.join(places) or '?'}")
        self.resource = resource
        self.places = tuple(places)


def _build(cls: Any, **fields: Any) -> Any:
    """A resource of the R4B package, validated now; its error never quotes the values."""
    try:
        return cls(**fields)
    except ValidationError as error:
        raise FhirMappingError(cls.__name__, error) from None


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of the Bundle, the data class it shows and the events it was made from."""

    full_url: str
    resource: Any
    data_class: str
    sources: tuple[UUID, ...] = ()

    @property
    def reference(self) -> Json:
        return {"reference": self.full_url}


def client_bundle(
    history: Sequence[Recorded],
    *,
    now: datetime,
    data_classes: frozenset[str] | None = None,
) -> Any | None:
    """The client's Bundle (a `fhir.resources.R4B` Bundle), None when the history holds no
    enrollment. With `data_classes`, only resources of those classes (a consent's scope); the
    Patient then keeps its identifiers only unless `demographics` is among them."""
    record = client_record(history)
    if record is None:
        return None
    return _BundleBuilder(record, history, now).build(data_classes)


def bundle_json(bundle: Any) -> str:
    """The Bundle as FHIR JSON (`application/fhir+json`)."""
    text: str = bundle.model_dump_json(exclude_none=True)
    return text


# --------------------------------------------------------------------------- small datatypes


def _coding(system: str, code: str, display: str | None = None) -> Json:
    out: Json = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def _concept(system: str, code: str, display: str | None = None, text: str | None = None) -> Json:
    out: Json = {"coding": [_coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def _staff(actor_id: str, role: str | None = None, *, kind: str = "human") -> Json:
    return {
        "type": "Practitioner" if kind == "human" else "Device",
        "identifier": {"system": codes.STAFF_ID, "value": actor_id},
        "display": actor_id if role is None else f"{actor_id} ({role})",
    }


def _actor(actor: Actor) -> Json:
    if actor.kind == "rule":
        return {
            "type": "Device",
            "identifier": {"system": codes.RULE, "value": actor.id},
            "display": f"early-warning rule {actor.id}",
        }
    return _staff(actor.id, actor.role, kind=actor.kind)


def _org(org: str) -> Json:
    return {
        "type": "Organization",
        "identifier": {"system": codes.ORG_ID, "value": org},
        "display": org,
    }


def _role(role: str) -> Json:
    coding = [_coding(codes.CARE_TEAM_ROLE, role, role.replace("_", " "))]
    snomed = codes.ROLE_SNOMED.get(role)
    if snomed is not None:
        coding.append(_coding(codes.SNOMED, *snomed))
    return {"coding": coding, "text": role.replace("_", " ")}


def _purpose(purpose: str) -> Json:
    code, display = codes.PURPOSE_OF_USE.get(purpose, ("TREAT", "treatment"))
    return _concept(codes.ACT_REASON, code, display)


def _event_reference(event_id: UUID, event_type: str | None) -> Json:
    """A logical reference to a stored event that no resource of the Bundle stands for."""
    out: Json = {"identifier": {"system": codes.EVENT_ID, "value": str(event_id)}}
    if event_type:
        out["display"] = f"{event_type} event"
    return out


def _security(labels: Iterable[str]) -> list[Json]:
    out: list[Json] = []
    seen: set[tuple[str, str]] = set()

    def add(system: str, code: str, display: str | None = None) -> None:
        if (system, code) not in seen:
            seen.add((system, code))
            out.append(_coding(system, code, display))

    for label in sorted(set(labels)):
        if label == codes.PART2_LABEL:
            for system, code, display in codes.PART2_SECURITY:
                add(system, code, display)
        else:
            add(codes.SECURITY_LABEL, label)
    return out


# --------------------------------------------------------------------------- the builder


@dataclass
class _History:
    """The client's events, indexed the ways the resources need, corrections applied."""

    events: dict[UUID, CareEvent] = field(default_factory=dict)
    recorded_at: dict[UUID, datetime] = field(default_factory=dict)
    kept: list[Recorded] = field(default_factory=list)

    @classmethod
    def of(cls, history: Sequence[Recorded]) -> _History:
        voided = {
            item.event.data.target_event_id
            for item in history
            if isinstance(item.event, EntryEnteredInError | EntryCorrected)
        }
        out = cls()
        for item in history:
            event = item.event
            out.events[event.event_id] = event
            out.recorded_at[event.event_id] = item.recorded_at
            if event.type in CORRECTABLE and event.event_id in voided:
                continue
            out.kept.append(item)
        return out

    def of_type(self, *types: type[Any]) -> list[Recorded]:
        return [item for item in self.kept if isinstance(item.event, types)]


class _BundleBuilder:
    def __init__(self, record: ClientRecord, history: Sequence[Recorded], now: datetime) -> None:
        self.record = record
        self.history = _History.of(history)
        self.now = now
        self.client_id = record.client_id
        self.entries: list[Entry] = []
        self.by_event: dict[UUID, Entry] = {}  # an event → the resource standing for it
        self.labels: set[str] = {codes.PART2_LABEL} if record.part2 else set()

    # ids and labels

    def _url(self, kind: str, key: object) -> tuple[str, str]:
        resource_id = str(uuid5(self.client_id, f"{kind}/{key}"))
        return resource_id, f"urn:uuid:{resource_id}"

    def _meta(self, sources: Iterable[UUID]) -> Json:
        labels = set(self.labels)
        for event_id in sources:
            event = self.history.events.get(event_id)
            if event is not None:
                labels.update(event.security_labels)
        meta: Json = {}
        security = _security(labels)
        if security:
            meta["security"] = security
        return meta

    def _add(
        self,
        cls: Any,
        kind: str,
        key: object,
        data_class: str,
        sources: Sequence[UUID],
        **fields: Any,
    ) -> Entry:
        resource_id, url = self._url(kind, key)
        meta = self._meta(sources)
        if meta:
            fields["meta"] = meta
        resource = _build(cls, id=resource_id, **fields)
        entry = Entry(url, resource, data_class, tuple(sources))
        self.entries.append(entry)
        return entry

    @property
    def patient(self) -> Json:
        return {"reference": self._url("Patient", self.client_id)[1]}

    # the Bundle

    def build(self, data_classes: frozenset[str] | None) -> Any:
        self._patient(data_classes)
        care_team = self._care_team()
        self._episodes(care_team)
        self._recovery_plan(care_team)
        self._safety_plan()
        self._assessments()
        self._check_ins()
        consents = self._consents()
        self._handoffs(consents)
        self._flags()
        shown = [
            entry
            for entry in self.entries
            if data_classes is None
            or entry.data_class in data_classes
            or entry.resource.__class__ is Patient
        ]
        shown.extend(self._provenance(shown))
        bundle_id, _url = self._url("Bundle", self.record.version)
        security = _security(self.labels | {lab for e in shown for lab in self._labels_of(e)})
        meta: Json = {
            "lastUpdated": self.record.last_recorded_at,
            "tag": [
                _coding(
                    codes.FHIR_VERSION,
                    FHIR_RELEASE,
                    f"FHIR R4B {FHIR_RELEASE} (the R4 line), built with {FHIR_PACKAGE}",
                )
            ],
        }
        if security:
            meta["security"] = security
        return _build(
            Bundle,
            id=bundle_id,
            meta=meta,
            type="collection",
            timestamp=self.now,
            entry=[{"fullUrl": e.full_url, "resource": e.resource} for e in shown],
        )

    def _labels_of(self, entry: Entry) -> set[str]:
        labels: set[str] = set()
        for event_id in entry.sources:
            event = self.history.events.get(event_id)
            if event is not None:
                labels.update(event.security_labels)
        return labels

    # Patient, episodes, team

    def _patient(self, data_classes: frozenset[str] | None) -> None:
        enrolled = self.history.of_type(ClientEnrolled)
        sources = [enrolled[0].event.event_id] if enrolled else []
        fields: Json = {
            "identifier": [{"system": codes.CLIENT_ID, "value": str(self.client_id)}],
            "active": self.record.status == "in_care",
        }
        person = self.record.demographics
        if person is not None and (data_classes is None or "demographics" in data_classes):
            fields["name"] = [{"family": person.family_name, "given": [person.given_name]}]
            fields["birthDate"] = person.birth_date
            if person.phone:
                fields["telecom"] = [{"system": "phone", "value": person.phone}]
        self._add(Patient, "Patient", self.client_id, "demographics", sources, **fields)

    def _care_team(self) -> Entry:
        sources = [
            item.event.event_id
            for item in self.history.of_type(CareTeamMemberAssigned, CareTeamMemberReleased)
        ]
        participants = [
            {
                "role": [_role(member.role)],
                "member": _staff(member.member_id, member.role),
                "onBehalfOf": _org(member.org),
                "period": {"start": member.assigned_at},
            }
            for member in self.record.care_team
        ]
        fields: Json = {
            "status": "active" if self.record.status == "in_care" else "inactive",
            "name": "Circle of care",
            "subject": self.patient,
            "period": {"start": self.record.enrolled_at},
        }
        if participants:
            fields["participant"] = participants
        return self._add(CareTeam, "CareTeam", "circle", "care_team", sources, **fields)

    def _episodes(self, care_team: Entry) -> None:
        opened = {
            item.event.data.episode_id: item.event
            for item in self.history.of_type(EpisodeOpened)
            if isinstance(item.event, EpisodeOpened)
        }
        for episode in self.record.episodes:
            event = opened.get(episode.episode_id)
            program = event.data.program if event is not None else self.record.program
            period: Json = {"start": episode.opened_at}
            if episode.closed_at is not None:
                period["end"] = episode.closed_at
            self._add(
                EpisodeOfCare,
                "EpisodeOfCare",
                episode.episode_id,
                "enrollment",
                [event.event_id] if event is not None else [],
                identifier=[{"system": codes.CLIENT_ID, "value": str(episode.episode_id)}],
                status="finished" if episode.closed_at is not None else "active",
                type=[_concept(codes.PROGRAM, program, text=program)],
                patient=self.patient,
                period=period,
                team=[care_team.reference],
            )

    # plans

    def _recovery_plan(self, care_team: Entry) -> None:
        goal_events: dict[str, list[UUID]] = {}
        for item in self.history.of_type(CarePlanGoalSet, CarePlanGoalRevised, CarePlanGoalMet):
            event = item.event
            if isinstance(event, CarePlanGoalSet | CarePlanGoalRevised | CarePlanGoalMet):
                goal_events.setdefault(event.data.goal_id, []).append(event.event_id)
        goals = []
        for goal in self.record.care_plan_goals:
            fields: Json = {
                "identifier": [{"system": codes.GOAL_ID, "value": goal.goal_id}],
                "lifecycleStatus": "completed" if goal.status == "met" else "active",
                "description": {"text": goal.description},
                "subject": self.patient,
            }
            if goal.status == "met":
                fields["achievementStatus"] = _concept(codes.GOAL_ACHIEVEMENT, "achieved")
            if goal.target_date is not None:
                fields["target"] = [{"dueDate": goal.target_date}]
            goals.append(
                self._add(
                    Goal,
                    "Goal",
                    goal.goal_id,
                    "care_plan",
                    goal_events.get(goal.goal_id, []),
                    **fields,
                )
            )
        plan = self.record.check_in_plan
        plan_events = [item.event.event_id for item in self.history.of_type(CheckInPlanSet)]
        if not goals and plan is None:
            return
        fields = {
            "status": "active" if self.record.status == "in_care" else "completed",
            "intent": "plan",
            "category": [_concept(codes.PLAN_CATEGORY, "recovery-plan", "Recovery plan")],
            "title": "Recovery plan",
            "subject": self.patient,
            "careTeam": [care_team.reference],
        }
        if goals:
            fields["goal"] = [goal.reference for goal in goals]
        if plan is not None:
            fields["activity"] = [
                {
                    "detail": {
                        "kind": "CommunicationRequest",
                        "code": _concept(codes.CHECK_IN, "check-in", "Recovery check-in"),
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
        self._add(CarePlan, "CarePlan", "recovery", "care_plan", sources, **fields)

    def _safety_plan(self) -> None:
        plan = self.record.safety_plan
        versions = self.history.of_type(SafetyPlanRecorded, SafetyPlanRevised)
        if plan is None or not versions:
            return
        activities = [
            {
                "detail": {
                    "code": _concept(codes.SAFETY_PLAN_SECTION, section, title),
                    "status": "in-progress",
                    "description": item,
                }
            }
            for section, title in codes.SAFETY_PLAN_SECTIONS
            for item in getattr(plan, section)
        ]
        fields: Json = {
            "status": "active" if self.record.status == "in_care" else "completed",
            "intent": "plan",
            "category": [
                _concept(codes.PLAN_CATEGORY, "safety-plan", "Safety plan (Stanley-Brown)")
            ],
            "title": "Safety plan",
            "subject": self.patient,
            "created": plan.recorded_at,
        }
        if activities:
            fields["activity"] = activities
        self._add(
            CarePlan,
            "CarePlan",
            "safety",
            "safety_plan",
            [item.event.event_id for item in versions],
            **fields,
        )

    # observations

    def _assessments(self) -> None:
        for item in self.history.of_type(AssessmentRecorded):
            event = item.event
            if not isinstance(event, AssessmentRecorded):
                continue
            sheet = event.data
            instrument = codes.INSTRUMENTS[sheet.instrument]
            components: list[Json] = []
            if sheet.total is not None:
                components.append(
                    {"code": _concept(*instrument.total), "valueInteger": sheet.total}
                )
            for index, answer in enumerate(sheet.answers):
                if index < len(instrument.items):
                    code = _concept(codes.LOINC, instrument.items[index])
                else:
                    code = _concept(codes.INSTRUMENT, f"{sheet.instrument}/item-{index + 1}")
                value_key = "valueBoolean" if isinstance(answer, bool) else "valueInteger"
                components.append({"code": code, value_key: answer})
            for name, value in sheet.subscales:
                components.append(
                    {
                        "code": _concept(codes.INSTRUMENT, f"{sheet.instrument}/{name}"),
                        "valueInteger": value,
                    }
                )
            if sheet.instrument == "C-SSRS-SCREEN" and sheet.band is not None:
                components.append(
                    {
                        "code": _concept(*codes.CSSRS_RISK_LEVEL),
                        "valueCodeableConcept": _concept(codes.BAND, sheet.band, text=sheet.band),
                    }
                )
            fields: Json = {
                "status": "final",
                "category": [_concept(codes.OBSERVATION_CATEGORY, "survey", "Survey")],
                "code": {
                    "coding": [_coding(*instrument.panel)],
                    "text": sheet.instrument,
                },
                "subject": self.patient,
                "effectiveDateTime": event.occurred_at,
                "issued": item.recorded_at,
                "performer": [_actor(event.actor)],
                "component": components,
            }
            if sheet.band is not None:
                fields["interpretation"] = [
                    _concept(codes.BAND, f"{sheet.instrument}/{sheet.band}", text=sheet.band)
                ]
            entry = self._add(
                Observation,
                "Observation",
                event.event_id,
                "assessment",
                [event.event_id],
                **fields,
            )
            self.by_event[event.event_id] = entry

    def _check_ins(self) -> None:
        for item in self.history.of_type(CheckInRecorded):
            event = item.event
            if not isinstance(event, CheckInRecorded):
                continue
            check_in = event.data
            components: list[Json] = [
                {
                    "code": _concept(codes.CHECK_IN, "mood", "Mood 0-10"),
                    "valueInteger": check_in.mood,
                },
                {
                    "code": _concept(codes.CHECK_IN, "craving", "Craving 0-10"),
                    "valueInteger": check_in.craving,
                },
                {
                    "code": _concept(codes.CHECK_IN, "sleep-hours", "Hours slept"),
                    "valueQuantity": {
                        "value": check_in.sleep_hours,
                        "unit": "h",
                        "system": codes.UCUM,
                        "code": "h",
                    },
                },
                {
                    "code": _concept(codes.CHECK_IN, "used-since-last", "Use since last check-in"),
                    "valueBoolean": check_in.used_since_last,
                },
            ]
            components.extend(
                {
                    "code": _concept(codes.CHECK_IN, "substance", "Substance used"),
                    "valueCodeableConcept": _concept(codes.SUBSTANCE, substance, text=substance),
                }
                for substance in sorted(check_in.substances)
            )
            entry = self._add(
                Observation,
                "Observation",
                event.event_id,
                "check_in",
                [event.event_id],
                status="final",
                category=[_concept(codes.OBSERVATION_CATEGORY, "survey", "Survey")],
                code=_concept(codes.CHECK_IN, "check-in", "Recovery check-in", "Check-in"),
                subject=self.patient,
                effectiveDateTime=event.occurred_at,
                issued=item.recorded_at,
                performer=[_actor(event.actor)],
                component=components,
            )
            self.by_event[event.event_id] = entry

    # flags

    def _flags(self) -> None:
        raised: dict[str, RiskFlagRaised] = {}
        acknowledged: dict[str, list[UUID]] = {}
        for item in self.history.kept:
            event = item.event
            if isinstance(event, RiskFlagRaised):
                raised[event.data.flag_id] = event
                acknowledged.pop(event.data.flag_id, None)
            elif isinstance(event, RiskFlagAcknowledged):
                acknowledged.setdefault(event.data.flag_id, []).append(event.event_id)
        for flag in self.record.open_flags:
            flag_event = raised.get(flag.flag_id)
            if flag_event is None:
                continue
            data = flag_event.data
            basis = [
                self.by_event[evidence].reference
                if evidence in self.by_event
                else _event_reference(evidence, _type_of(self.history.events.get(evidence)))
                for evidence in data.evidence_event_ids
            ]
            rule = f"{data.rule_id} v{data.rule_version}"
            author = _actor(flag_event.actor)
            assessment_fields: Json = {
                "identifier": [{"system": codes.FLAG_ID, "value": data.flag_id}],
                "status": "final",
                "method": _concept(codes.RULE, data.rule_id, f"early-warning rule {rule}"),
                "subject": self.patient,
                "occurrenceDateTime": flag_event.occurred_at,
                "performer": author,
                "prediction": [
                    {
                        "qualitativeRisk": _concept(codes.RISK_PROBABILITY, data.severity),
                        "rationale": data.reason,
                    }
                ],
            }
            if basis:
                assessment_fields["basis"] = basis
            sources = [flag_event.event_id, *acknowledged.get(data.flag_id, [])]
            assessment = self._add(
                RiskAssessment,
                "RiskAssessment",
                data.flag_id,
                "risk_flag",
                sources,
                **assessment_fields,
            )
            self._add(
                Flag,
                "Flag",
                data.flag_id,
                "risk_flag",
                sources,
                identifier=[{"system": codes.FLAG_ID, "value": data.flag_id}],
                extension=[{"url": codes.FLAG_DETAIL, "valueReference": assessment.reference}],
                status="active",
                category=[_concept(codes.FLAG_CATEGORY, "clinical", "Clinical")],
                code=_concept(codes.RULE, data.rule_id, f"early-warning rule {rule}", data.reason),
                subject=self.patient,
                period={"start": flag_event.occurred_at},
                author=author,
            )

    # handoffs and consents

    def _handoffs(self, consents: Mapping[str, Entry]) -> None:
        steps: dict[str, list[CareEvent]] = {}
        for item in self.history.of_type(
            HandoffInitiated, HandoffAccepted, HandoffDeclined, HandoffCompleted, HandoffFailed
        ):
            event = item.event
            if isinstance(
                event,
                HandoffInitiated
                | HandoffAccepted
                | HandoffDeclined
                | HandoffCompleted
                | HandoffFailed,
            ):
                steps.setdefault(event.data.handoff_id, []).append(event)
        for handoff in self.record.handoffs:
            events = steps.get(handoff.handoff_id, [])
            initiated = next((e for e in events if isinstance(e, HandoffInitiated)), None)
            if initiated is None:
                continue
            data = initiated.data
            sources = [e.event_id for e in events]
            performers = [_org(data.to_org)]
            if data.to_member_id:
                performers.append(_staff(data.to_member_id))
            request_fields: Json = {
                "identifier": [{"system": codes.HANDOFF_ID, "value": handoff.handoff_id}],
                "status": {
                    "initiated": "active",
                    "accepted": "active",
                    "completed": "completed",
                    "declined": "revoked",
                    "failed": "revoked",
                }[handoff.status],
                "intent": "order",
                "category": [_concept(codes.SNOMED, "3457005", "Patient referral")],
                "priority": codes.HANDOFF_PRIORITY[data.priority],
                "code": {"text": data.service},
                "subject": self.patient,
                "authoredOn": initiated.occurred_at,
                "requester": _actor(initiated.actor),
                "performer": performers,
                "reasonCode": [{"text": data.reason}],
            }
            consent = consents.get(data.consent_id) if data.consent_id else None
            if consent is not None:
                request_fields["supportingInfo"] = [consent.reference]
            request = self._add(
                ServiceRequest,
                "ServiceRequest",
                handoff.handoff_id,
                "handoff",
                sources,
                **request_fields,
            )
            last = events[-1]
            task_fields: Json = {
                "identifier": [{"system": codes.HANDOFF_ID, "value": handoff.handoff_id}],
                "basedOn": [request.reference],
                "status": {
                    "initiated": "requested",
                    "accepted": "accepted",
                    "completed": "completed",
                    "declined": "rejected",
                    "failed": "failed",
                }[handoff.status],
                "intent": "order",
                "priority": codes.HANDOFF_PRIORITY[data.priority],
                "code": _concept(codes.TASK_CODE, "fulfill", "Fulfill the focal request"),
                "focus": request.reference,
                "for": self.patient,
                "authoredOn": initiated.occurred_at,
                "lastModified": last.occurred_at,
                "requester": _actor(initiated.actor),
                "owner": _org(data.to_org),
            }
            for event in events:
                if isinstance(event, HandoffDeclined | HandoffFailed) and event.data.reason:
                    task_fields["statusReason"] = {"text": event.data.reason}
                if isinstance(event, HandoffCompleted):
                    warm = event.data.client_present
                    task_fields["businessStatus"] = {
                        "text": "warm handoff: client present" if warm else "client not present"
                    }
                    task_fields["output"] = [
                        {"type": {"text": "client present"}, "valueBoolean": warm}
                    ]
            self._add(Task, "Task", handoff.handoff_id, "handoff", sources, **task_fields)

    def _consents(self) -> dict[str, Entry]:
        granted: dict[str, ConsentGranted] = {}
        for item in self.history.of_type(ConsentGranted):
            if isinstance(item.event, ConsentGranted):
                granted[item.event.data.consent_id] = item.event
        out: dict[str, Entry] = {}
        for consent in self.record.consents:
            event = granted.get(consent.consent_id)
            if event is None:
                continue
            expired = consent.expires_at is not None and consent.expires_at <= self.now
            provision: Json = {
                "type": "permit",
                "actor": [
                    {
                        "role": _concept(codes.PARTICIPATION_TYPE, "IRCP", "information recipient"),
                        "reference": _org(consent.recipient_org),
                    }
                ],
                "purpose": [_coding(codes.ACT_REASON, codes.PURPOSE_OF_USE[consent.purpose][0])],
                "class": [_coding(codes.DATA_CLASS, cls) for cls in consent.data_classes],
            }
            if consent.expires_at is not None:
                provision["period"] = {"start": event.occurred_at, "end": consent.expires_at}
            policy = (
                _concept(codes.US_PRIVACY_LAW, "42CFRPart2", "42 CFR Part2")
                if self.record.part2
                else _concept(codes.CONSENT_POLICY, "hipaa-auth", "HIPAA Authorization")
            )
            out[consent.consent_id] = self._add(
                Consent,
                "Consent",
                consent.consent_id,
                "consent",
                [event.event_id],
                identifier=[{"system": codes.CONSENT_ID, "value": consent.consent_id}],
                status="inactive" if expired else "active",
                scope=_concept(codes.CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
                category=[
                    _concept(codes.LOINC, "59284-0", "Patient Consent"),
                    _concept(codes.ACT_CODE, "IDSCL", "information disclosure"),
                ],
                patient=self.patient,
                dateTime=event.occurred_at,
                performer=[self.patient],
                organization=[_org(event.actor.org)],
                policyRule=policy,
                provision=provision,
            )
        return out

    # provenance

    def _provenance(self, shown: Sequence[Entry]) -> list[Entry]:
        targets: dict[UUID, list[Entry]] = {}
        for entry in shown:
            for event_id in entry.sources:
                targets.setdefault(event_id, []).append(entry)
        out: list[Entry] = []
        for event_id, entries in targets.items():
            event = self.history.events.get(event_id)
            if event is None:
                continue
            agent: Json = {
                "type": _concept(codes.PROVENANCE_AGENT, "author", "Author"),
                "role": [_role(event.actor.role)],
                "who": _actor(event.actor),
                "onBehalfOf": _org(event.actor.org),
            }
            resource_id, url = self._url("Provenance", event_id)
            fields: Json = {
                "id": resource_id,
                "target": [entry.reference for entry in entries],
                "occurredDateTime": event.occurred_at,
                "recorded": self.history.recorded_at[event_id],
                "reason": [_purpose(event.purpose_of_use)],
                "activity": _concept(codes.DATA_OPERATION, "CREATE", "create"),
                "agent": [agent],
                "entity": [{"role": "source", "what": _event_reference(event_id, event.type)}],
            }
            meta = self._meta([event_id])
            if meta:
                fields["meta"] = meta
            resource = _build(Provenance, **fields)
            out.append(Entry(url, resource, entries[0].data_class, (event_id,)))
        return out


def _type_of(event: CareEvent | None) -> str | None:
    return None if event is None else event.type
