"""Consents to disclose, with their 42 CFR Part 2 or HIPAA policy and their provision."""

from __future__ import annotations

from fhir.resources.R4B.consent import Consent

from domain.consent import ConsentGranted
from interop import fhir_codes as codes
from interop.fhir.context import Builder, Entry
from interop.fhir.datatypes import (
    Json,
    coding,
    concept,
    org_reference,
)


def consents(builder: Builder) -> dict[str, Entry]:
    """A Consent for each consent of the record, by consent id (handoffs refer to them)."""
    granted: dict[str, ConsentGranted] = {}
    for _item, grant in builder.history.pairs_of(ConsentGranted):
        granted[grant.data.consent_id] = grant
    out: dict[str, Entry] = {}
    for consent in builder.record.consents:
        event = granted.get(consent.consent_id)
        if event is None:
            continue
        expired = consent.expires_at is not None and consent.expires_at <= builder.now
        provision: Json = {
            "type": "permit",
            "actor": [
                {
                    "role": concept(codes.PARTICIPATION_TYPE, "IRCP", "information recipient"),
                    "reference": org_reference(recipient),
                }
                for recipient in consent.recipient_org.split(",")
                if recipient
            ],
            "purpose": [
                coding(codes.ACT_REASON, codes.PURPOSE_OF_USE[purpose][0])
                for purpose in consent.purpose.split(",")
                if purpose in codes.PURPOSE_OF_USE
            ],
            "class": [coding(codes.DATA_CLASS, cls) for cls in consent.data_classes],
        }
        if consent.expires_at is not None:
            provision["period"] = {"start": event.occurred_at, "end": consent.expires_at}
        policy = (
            concept(codes.US_PRIVACY_LAW, "42CFRPart2", "42 CFR Part2")
            if builder.record.part2
            else concept(codes.CONSENT_POLICY, "hipaa-auth", "HIPAA Authorization")
        )
        out[consent.consent_id] = builder.add(
            Consent,
            "Consent",
            consent.consent_id,
            "consent",
            [event.event_id],
            identifier=[{"system": codes.CONSENT_ID, "value": consent.consent_id}],
            status="inactive" if expired else "active",
            scope=concept(codes.CONSENT_SCOPE, "patient-privacy", "Privacy Consent"),
            category=[
                concept(codes.LOINC, "59284-0", "Patient Consent"),
                concept(codes.ACT_CODE, "IDSCL", "information disclosure"),
            ],
            patient=builder.subject,
            dateTime=event.occurred_at,
            performer=[builder.subject],
            organization=[org_reference(event.actor.org)],
            policyRule=policy,
            provision=provision,
        )
    return out
