"""The whole event catalogue as one union, parsed by one adapter for HTTP, Kafka and the store."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping, Sequence
from typing import Annotated

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from domain import (
    aftercare,
    consent,
    corrections,
    enrollment,
    erasure,
    flags,
    handoff,
    harm_reduction,
    monitoring,
    safety,
    sessions,
)
from domain.upcasting import Payload, upcast

CareEvent = (
    enrollment.ClientEnrolled
    | enrollment.EpisodeOpened
    | enrollment.EpisodeClosed
    | enrollment.ClientReadmitted
    | enrollment.CareTeamMemberAssigned
    | enrollment.CareTeamMemberReleased
    | enrollment.CheckInPlanSet
    | consent.ConsentGranted
    | consent.ConsentRevoked
    | consent.BreakGlassInvoked
    | consent.DisclosureMade
    | consent.AccountingProvided
    | monitoring.AssessmentRecorded
    | monitoring.CheckInRecorded
    | monitoring.CheckInMissed
    | sessions.SessionHeld
    | sessions.AppointmentScheduled
    | sessions.AppointmentAttended
    | sessions.AppointmentMissed
    | sessions.CarePlanGoalSet
    | sessions.CarePlanGoalRevised
    | sessions.CarePlanGoalMet
    | handoff.HandoffInitiated
    | handoff.HandoffAccepted
    | handoff.HandoffDeclined
    | handoff.HandoffCompleted
    | handoff.HandoffFailed
    | safety.CrisisContactRecorded
    | safety.SafetyPlanRecorded
    | safety.SafetyPlanRevised
    | safety.PostventionReviewRecorded
    | harm_reduction.NaloxoneDistributed
    | harm_reduction.OverdoseReported
    | harm_reduction.MedicationStarted
    | harm_reduction.MedicationChanged
    | harm_reduction.MedicationStopped
    | harm_reduction.MedicationConsultRecorded
    | harm_reduction.TransitionReported
    | aftercare.CaringContactSent
    | aftercare.ClientDied
    | flags.RiskFlagRaised
    | flags.RiskFlagAcknowledged
    | flags.RiskFlagCleared
    | flags.RiskFlagResolved
    | corrections.EntryEnteredInError
    | corrections.EntryCorrected
    | erasure.ErasedEntry
)

CARE_EVENT_ADAPTER: TypeAdapter[CareEvent] = TypeAdapter(
    Annotated[CareEvent, Field(discriminator="type")],
    config=ConfigDict(hide_input_in_errors=True),  # the union's own errors must not quote PHI
)

EVENT_CLASSES: Mapping[str, type[CareEvent]] = {
    cls.model_fields["type"].default: cls for cls in CareEvent.__args__
}
EVENT_TYPES: frozenset[str] = frozenset(EVENT_CLASSES)

# Recorded by the system itself, never submitted over HTTP or Kafka. A break-the-glass is
# recorded by its own route (it grants access); an ErasedEntry is only ever read, never stored.
SYSTEM_EVENT_TYPES: frozenset[str] = frozenset(
    {
        "EpisodeOpened",
        "DisclosureMade",
        "AccountingProvided",
        "RiskFlagRaised",
        "RiskFlagCleared",
        "BreakGlassInvoked",
        "ErasedEntry",
    }
)


# The top-level keys of the wire contract (docs/domain.md), over HTTP and Kafka alike.
WIRE_KEYS: frozenset[str] = frozenset(
    {
        "event_id",
        "type",
        "client_id",
        "occurred_at",
        "actor",
        "purpose_of_use",
        "correlation_id",
        "causation_id",
        "schema_version",
        "data",
    }
)

# pydantic messages of these error types quote part of the input (uuid_parsing names the bad
# character) or come from validators we do not control: say what kind of error it was instead.
_QUOTING_ERRORS = {
    "uuid_parsing": "Input should be a valid UUID",
    "value_error": "Value is not valid",
    "assertion_error": "Value is not valid",
}


def safe_message(kind: str, message: str) -> str:
    """A validation message, replaced by its kind where pydantic would quote the input."""
    return _QUOTING_ERRORS.get(kind, message)


def _property_names(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from _property_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from _property_names(item)


UNKNOWN_PLACE = "*"


@functools.cache
def schema_names() -> frozenset[str]:
    """Every field name of the contract's schema and every event type (a tagged union's place)."""
    return frozenset(_property_names(event_json_schema())) | EVENT_TYPES


def safe_place(loc: Sequence[int | str]) -> tuple[int | str, ...]:
    """A place named by the schema's own names: a submitted key (an unknown field, which may be
    PHI) becomes `*`, so an error says where without repeating what was sent."""
    names = schema_names()
    return tuple(part if isinstance(part, int) or part in names else UNKNOWN_PLACE for part in loc)


def safe_error_details(error: ValidationError) -> list[tuple[tuple[int | str, ...], str, str]]:
    """Where, what and which kind of error, for each problem, never quoting a submitted value
    or a submitted key."""
    details = error.errors(include_input=False, include_context=False, include_url=False)
    return [
        (safe_place(item["loc"]), safe_message(item["type"], item["msg"]), item["type"])
        for item in details
    ]


def parse_event(payload: Payload) -> CareEvent:
    """Validate a payload (upcast first) into a care event; raises pydantic's ValidationError."""
    return CARE_EVENT_ADAPTER.validate_python(upcast(payload))


def event_json_schema() -> dict[str, object]:
    """The JSON Schema of the event contract, checked in under docs/."""
    return CARE_EVENT_ADAPTER.json_schema()


def data_class_of(event_type: str) -> str:
    """The data class a consent names to cover this type of event (42 CFR 2.31 'how much')."""
    return str(EVENT_CLASSES[event_type].data_class)
