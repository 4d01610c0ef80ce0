"""Small FHIR datatypes (codings, references to staff, organizations and events, security
labels) and the one way a resource is built: validated now, its errors never quoting values.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from domain.envelope import Actor
from interop import fhir_codes as codes

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


def build(cls: Any, **fields: Any) -> Any:
    """A resource of the R4B package, validated now; its error never quotes the values."""
    try:
        return cls(**fields)
    except ValidationError as error:
        raise FhirMappingError(cls.__name__, error) from None


def coding(system: str, code: str, display: str | None = None) -> Json:
    out: Json = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def concept(system: str, code: str, display: str | None = None, text: str | None = None) -> Json:
    out: Json = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def staff_reference(actor_id: str, role: str | None = None, *, kind: str = "human") -> Json:
    """A member of staff by identifier, with the role in its display when known."""
    return {
        "type": "Practitioner" if kind == "human" else "Device",
        "identifier": {"system": codes.STAFF_ID, "value": actor_id},
        "display": actor_id if role is None else f"{actor_id} ({role})",
    }


def actor_reference(actor: Actor) -> Json:
    """Who did it: staff as a Practitioner (or Device for a service), a rule as a Device."""
    if actor.kind == "rule":
        return {
            "type": "Device",
            "identifier": {"system": codes.RULE, "value": actor.id},
            "display": f"early-warning rule {actor.id}",
        }
    return staff_reference(actor.id, actor.role, kind=actor.kind)


def org_reference(org: str) -> Json:
    return {
        "type": "Organization",
        "identifier": {"system": codes.ORG_ID, "value": org},
        "display": org,
    }


def role_concept(role: str) -> Json:
    """A care-team role in our code system, with its SNOMED CT code where there is one."""
    codings = [coding(codes.CARE_TEAM_ROLE, role, role.replace("_", " "))]
    snomed = codes.ROLE_SNOMED.get(role)
    if snomed is not None:
        codings.append(coding(codes.SNOMED, *snomed))
    return {"coding": codings, "text": role.replace("_", " ")}


def purpose_concept(purpose: str) -> Json:
    """The purpose of use as an HL7 ActReason code."""
    code, display = codes.PURPOSE_OF_USE.get(purpose, ("TREAT", "treatment"))
    return concept(codes.ACT_REASON, code, display)


def event_reference(event_id: UUID, event_type: str | None) -> Json:
    """A logical reference to a stored event that no resource of the Bundle stands for."""
    out: Json = {"identifier": {"system": codes.EVENT_ID, "value": str(event_id)}}
    if event_type:
        out["display"] = f"{event_type} event"
    return out


def security(labels: Iterable[str]) -> list[Json]:
    """Security labels as codings; Part 2 expands to the DS4P codes it stands for."""
    out: list[Json] = []
    seen: set[tuple[str, str]] = set()

    def add(system: str, code: str, display: str | None = None) -> None:
        if (system, code) not in seen:
            seen.add((system, code))
            out.append(coding(system, code, display))

    for label in sorted(set(labels)):
        if label == codes.PART2_LABEL:
            for system, code, display in codes.PART2_SECURITY:
                add(system, code, display)
        else:
            add(codes.SECURITY_LABEL, label)
    return out
