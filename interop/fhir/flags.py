"""Open risk flags: a Flag whose detail is a RiskAssessment holding the rule's evidence."""

from __future__ import annotations

from uuid import UUID

from fhir.resources.R4B.flag import Flag
from fhir.resources.R4B.riskassessment import RiskAssessment

from domain.catalogue import CareEvent
from domain.flags import RiskFlagAcknowledged, RiskFlagRaised
from interop import fhir_codes as codes
from interop.fhir.context import Builder
from interop.fhir.datatypes import (
    Json,
    actor_reference,
    concept,
    event_reference,
)


def flags(builder: Builder) -> None:
    """A RiskAssessment (the rule, its evidence) and a Flag pointing at it, per open flag."""
    raised: dict[str, RiskFlagRaised] = {}
    acknowledged: dict[str, list[UUID]] = {}
    for item in builder.history.kept:
        event = item.event
        if isinstance(event, RiskFlagRaised):
            raised[event.data.flag_id] = event
            acknowledged.pop(event.data.flag_id, None)
        elif isinstance(event, RiskFlagAcknowledged):
            acknowledged.setdefault(event.data.flag_id, []).append(event.event_id)
    for flag in builder.record.open_flags:
        flag_event = raised.get(flag.flag_id)
        if flag_event is None:
            continue
        data = flag_event.data
        basis = [
            builder.by_event[evidence].reference
            if evidence in builder.by_event
            else event_reference(evidence, _type_of(builder.history.events.get(evidence)))
            for evidence in data.evidence_event_ids
        ]
        rule = f"{data.rule_id} v{data.rule_version}"
        author = actor_reference(flag_event.actor)
        assessment_fields: Json = {
            "identifier": [{"system": codes.FLAG_ID, "value": data.flag_id}],
            "status": "final",
            "method": concept(codes.RULE, data.rule_id, f"early-warning rule {rule}"),
            "subject": builder.subject,
            "occurrenceDateTime": flag_event.occurred_at,
            "performer": author,
            "prediction": [
                {
                    "qualitativeRisk": concept(codes.RISK_PROBABILITY, _risk_code(data.severity)),
                    "rationale": data.reason,
                }
            ],
        }
        if basis:
            assessment_fields["basis"] = basis
        sources = [flag_event.event_id, *acknowledged.get(data.flag_id, [])]
        assessment = builder.add(
            RiskAssessment,
            "RiskAssessment",
            data.flag_id,
            "risk_flag",
            sources,
            **assessment_fields,
        )
        builder.add(
            Flag,
            "Flag",
            data.flag_id,
            "risk_flag",
            sources,
            identifier=[{"system": codes.FLAG_ID, "value": data.flag_id}],
            extension=[{"url": codes.FLAG_DETAIL, "valueReference": assessment.reference}],
            status="active",
            category=[concept(codes.FLAG_CATEGORY, "clinical", "Clinical")],
            code=concept(codes.RULE, data.rule_id, f"early-warning rule {rule}", data.reason),
            subject=builder.subject,
            period={"start": flag_event.occurred_at},
            author=author,
        )


def _type_of(event: CareEvent | None) -> str | None:
    return None if event is None else event.type


def _risk_code(severity: str) -> str:
    """The risk-probability code of a severity: the code system has no `critical`, whose
    nearest code is `high` (imminent risk is told by the Flag's rule and reason)."""
    return "high" if severity == "critical" else severity
