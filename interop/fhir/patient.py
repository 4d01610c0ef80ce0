"""The Patient, the circle of care (CareTeam) and the episodes of care (EpisodeOfCare)."""

from __future__ import annotations

from fhir.resources.R4B.careteam import CareTeam
from fhir.resources.R4B.episodeofcare import EpisodeOfCare
from fhir.resources.R4B.patient import Patient

from domain.enrollment import (
    CareTeamMemberAssigned,
    CareTeamMemberReleased,
    ClientEnrolled,
    EpisodeOpened,
)
from interop import fhir_codes as codes
from interop.fhir.context import Builder, Entry
from interop.fhir.datatypes import (
    Json,
    concept,
    org_reference,
    role_concept,
    staff_reference,
)


def patient(builder: Builder, data_classes: frozenset[str] | None) -> None:
    """The Patient; its name, birth date and phone only where demographics are shown."""
    enrolled = builder.history.of_type(ClientEnrolled)
    sources = [enrolled[0].event.event_id] if enrolled else []
    fields: Json = {
        "identifier": [{"system": codes.CLIENT_ID, "value": str(builder.client_id)}],
        "active": builder.record.status == "in_care",
    }
    person = builder.record.demographics
    if person is not None and (data_classes is None or "demographics" in data_classes):
        fields["name"] = [{"family": person.family_name, "given": [person.given_name]}]
        fields["birthDate"] = person.birth_date
        if person.phone:
            fields["telecom"] = [{"system": "phone", "value": person.phone}]
    builder.add(Patient, "Patient", builder.client_id, "demographics", sources, **fields)


def care_team(builder: Builder) -> Entry:
    """The circle of care: each member's role, organization and start."""
    sources = [
        item.event.event_id
        for item in builder.history.of_type(CareTeamMemberAssigned, CareTeamMemberReleased)
    ]
    participants = [
        {
            "role": [role_concept(member.role)],
            "member": staff_reference(member.member_id, member.role),
            "onBehalfOf": org_reference(member.org),
            "period": {"start": member.assigned_at},
        }
        for member in builder.record.care_team
    ]
    fields: Json = {
        "status": "active" if builder.record.status == "in_care" else "inactive",
        "name": "Circle of care",
        "subject": builder.subject,
        "period": {"start": builder.record.enrolled_at},
    }
    if participants:
        fields["participant"] = participants
    return builder.add(CareTeam, "CareTeam", "circle", "care_team", sources, **fields)


def episodes(builder: Builder, care_team: Entry) -> None:
    """An EpisodeOfCare per episode, with its program and period."""
    opened = {
        event.data.episode_id: event for _item, event in builder.history.pairs_of(EpisodeOpened)
    }
    for episode in builder.record.episodes:
        event = opened.get(episode.episode_id)
        program = event.data.program if event is not None else builder.record.program
        period: Json = {"start": episode.opened_at}
        if episode.closed_at is not None:
            period["end"] = episode.closed_at
        builder.add(
            EpisodeOfCare,
            "EpisodeOfCare",
            episode.episode_id,
            "enrollment",
            [event.event_id] if event is not None else [],
            identifier=[{"system": codes.CLIENT_ID, "value": str(episode.episode_id)}],
            status="finished" if episode.closed_at is not None else "active",
            type=[concept(codes.PROGRAM, program, text=program)],
            patient=builder.subject,
            period=period,
            team=[care_team.reference],
        )
