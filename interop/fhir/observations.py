"""Observations: each assessment with its LOINC panel, total and items; each check-in in our own
code system.
"""

from __future__ import annotations

from fhir.resources.R4B.observation import Observation

from domain.monitoring import AssessmentRecorded, CheckInRecorded
from interop import fhir_codes as codes
from interop.fhir.context import Builder
from interop.fhir.datatypes import (
    Json,
    actor_reference,
    coding,
    concept,
)


def assessments(builder: Builder) -> None:
    """An Observation per assessment: the instrument's panel, total, items, subscales, band."""
    for item, event in builder.history.pairs_of(AssessmentRecorded):
        sheet = event.data
        instrument = codes.INSTRUMENTS[sheet.instrument]
        components: list[Json] = []
        if sheet.total is not None:
            components.append({"code": concept(*instrument.total), "valueInteger": sheet.total})
        for index, answer in enumerate(sheet.answers):
            if index < len(instrument.items):
                code = concept(codes.LOINC, instrument.items[index])
            else:
                code = concept(codes.INSTRUMENT, f"{sheet.instrument}/item-{index + 1}")
            value_key = "valueBoolean" if isinstance(answer, bool) else "valueInteger"
            components.append({"code": code, value_key: answer})
        for name, value in sheet.subscales:
            components.append(
                {
                    "code": concept(codes.INSTRUMENT, f"{sheet.instrument}/{name}"),
                    "valueInteger": value,
                }
            )
        if sheet.instrument == "C-SSRS-SCREEN" and sheet.band is not None:
            components.append(
                {
                    "code": concept(*codes.CSSRS_RISK_LEVEL),
                    "valueCodeableConcept": concept(codes.BAND, sheet.band, text=sheet.band),
                }
            )
        fields: Json = {
            "status": "final",
            "category": [concept(codes.OBSERVATION_CATEGORY, "survey", "Survey")],
            "code": {
                "coding": [coding(*instrument.panel)],
                "text": sheet.instrument,
            },
            "subject": builder.subject,
            "effectiveDateTime": event.occurred_at,
            "issued": item.recorded_at,
            "performer": [actor_reference(event.actor)],
            "component": components,
        }
        if sheet.band is not None:
            fields["interpretation"] = [
                concept(codes.BAND, f"{sheet.instrument}/{sheet.band}", text=sheet.band)
            ]
        entry = builder.add(
            Observation,
            "Observation",
            event.event_id,
            "assessment",
            [event.event_id],
            **fields,
        )
        builder.by_event[event.event_id] = entry


def check_ins(builder: Builder) -> None:
    """An Observation per check-in: mood, craving, sleep, use and substances."""
    for item, event in builder.history.pairs_of(CheckInRecorded):
        check_in = event.data
        components: list[Json] = [
            {
                "code": concept(codes.CHECK_IN, "mood", "Mood 0-10"),
                "valueInteger": check_in.mood,
            },
            {
                "code": concept(codes.CHECK_IN, "craving", "Craving 0-10"),
                "valueInteger": check_in.craving,
            },
            {
                "code": concept(codes.CHECK_IN, "sleep-hours", "Hours slept"),
                "valueQuantity": {
                    "value": check_in.sleep_hours,
                    "unit": "h",
                    "system": codes.UCUM,
                    "code": "h",
                },
            },
            {
                "code": concept(codes.CHECK_IN, "used-since-last", "Use since last check-in"),
                "valueBoolean": check_in.used_since_last,
            },
        ]
        components.extend(
            {
                "code": concept(codes.CHECK_IN, "substance", "Substance used"),
                "valueCodeableConcept": concept(codes.SUBSTANCE, substance, text=substance),
            }
            for substance in sorted(check_in.substances)
        )
        entry = builder.add(
            Observation,
            "Observation",
            event.event_id,
            "check_in",
            [event.event_id],
            status="final",
            category=[concept(codes.OBSERVATION_CATEGORY, "survey", "Survey")],
            code=concept(codes.CHECK_IN, "check-in", "Recovery check-in", "Check-in"),
            subject=builder.subject,
            effectiveDateTime=event.occurred_at,
            issued=item.recorded_at,
            performer=[actor_reference(event.actor)],
            component=components,
        )
        builder.by_event[event.event_id] = entry
