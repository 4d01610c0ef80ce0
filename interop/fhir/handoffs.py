"""Warm handoffs: a ServiceRequest to the receiving organization and the Task that tracks it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fhir.resources.R4B.servicerequest import ServiceRequest
from fhir.resources.R4B.task import Task

from domain.handoff import (
    HandoffAccepted,
    HandoffCompleted,
    HandoffDeclined,
    HandoffFailed,
    HandoffInitiated,
)
from interop import fhir_codes as codes
from interop.fhir.context import Builder, Entry
from interop.fhir.datatypes import (
    Json,
    actor_reference,
    concept,
    org_reference,
    staff_reference,
)

HandoffStep = (
    HandoffInitiated | HandoffAccepted | HandoffDeclined | HandoffCompleted | HandoffFailed
)

# A handoff's status in the ServiceRequest's and in the Task's value sets.
REQUEST_STATUS = {
    "initiated": "active",
    "accepted": "active",
    "completed": "completed",
    "declined": "revoked",
    "failed": "revoked",
}
TASK_STATUS = {
    "initiated": "requested",
    "accepted": "accepted",
    "completed": "completed",
    "declined": "rejected",
    "failed": "failed",
}


def handoffs(builder: Builder, consents: Mapping[str, Entry]) -> None:
    """A ServiceRequest and its Task for each handoff of the record, made from its steps."""
    steps: dict[str, list[HandoffStep]] = {}
    for item in builder.history.of_type(
        HandoffInitiated, HandoffAccepted, HandoffDeclined, HandoffCompleted, HandoffFailed
    ):
        event = item.event
        if isinstance(event, HandoffStep):
            steps.setdefault(event.data.handoff_id, []).append(event)
    for handoff in builder.record.handoffs:
        events = steps.get(handoff.handoff_id, [])
        initiated = next((e for e in events if isinstance(e, HandoffInitiated)), None)
        if initiated is None:
            continue
        consent_id = initiated.data.consent_id
        consent = consents.get(consent_id) if consent_id else None
        request = _service_request(builder, handoff.status, initiated, events, consent)
        _task(builder, handoff.status, initiated, events, request)


def _service_request(
    builder: Builder,
    status: str,
    initiated: HandoffInitiated,
    events: Sequence[HandoffStep],
    consent: Entry | None,
) -> Entry:
    data = initiated.data
    performers = [org_reference(data.to_org)]
    if data.to_member_id:
        performers.append(staff_reference(data.to_member_id))
    fields: Json = {
        "identifier": [{"system": codes.HANDOFF_ID, "value": data.handoff_id}],
        "status": REQUEST_STATUS[status],
        "intent": "order",
        "category": [concept(codes.SNOMED, "3457005", "Patient referral")],
        "priority": codes.HANDOFF_PRIORITY[data.priority],
        "code": {"text": data.service},
        "subject": builder.subject,
        "authoredOn": initiated.occurred_at,
        "requester": actor_reference(initiated.actor),
        "performer": performers,
        "reasonCode": [{"text": data.reason}],
    }
    if consent is not None:
        fields["supportingInfo"] = [consent.reference]
    sources = [e.event_id for e in events]
    return builder.add(
        ServiceRequest, "ServiceRequest", data.handoff_id, "handoff", sources, **fields
    )


def _task(
    builder: Builder,
    status: str,
    initiated: HandoffInitiated,
    events: Sequence[HandoffStep],
    request: Entry,
) -> None:
    data = initiated.data
    fields: Json = {
        "identifier": [{"system": codes.HANDOFF_ID, "value": data.handoff_id}],
        "basedOn": [request.reference],
        "status": TASK_STATUS[status],
        "intent": "order",
        "priority": codes.HANDOFF_PRIORITY[data.priority],
        "code": concept(codes.TASK_CODE, "fulfill", "Fulfill the focal request"),
        "focus": request.reference,
        "for": builder.subject,
        "authoredOn": initiated.occurred_at,
        "lastModified": events[-1].occurred_at,
        "requester": actor_reference(initiated.actor),
        "owner": org_reference(data.to_org),
    }
    for event in events:
        if isinstance(event, HandoffDeclined | HandoffFailed) and event.data.reason:
            fields["statusReason"] = {"text": event.data.reason}
        if isinstance(event, HandoffCompleted):
            warm = event.data.client_present
            fields["businessStatus"] = {
                "text": "warm handoff: client present" if warm else "client not present"
            }
            fields["output"] = [{"type": {"text": "client present"}, "valueBoolean": warm}]
    sources = [e.event_id for e in events]
    builder.add(Task, "Task", data.handoff_id, "handoff", sources, **fields)
