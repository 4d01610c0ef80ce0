"""Sessions held, appointments, and the goals of the care plan."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field, model_validator

from domain.envelope import Envelope, Frozen, Identifier, Note, ShortText

SessionKind = Literal[
    "counseling", "peer_support", "case_management", "medication", "family", "group", "skills"
]
Modality = Literal["in_person", "telehealth", "phone", "text"]


class SessionData(Frozen):
    kind: SessionKind
    modality: Modality
    minutes: int = Field(ge=1, le=600)
    note: Note | None = None


class SessionHeld(Envelope):
    """A counseling, peer, case-management, medication, family, group or skills session."""

    data_class: ClassVar[str] = "session"
    type: Literal["SessionHeld"] = "SessionHeld"
    schema_version: Literal[1] = 1
    data: SessionData


# Appointments with services outside the program a recovery circle coordinates.
OutsideKind = Literal[
    "primary_care", "psychiatry", "sleep_clinic", "moud_intake", "housing", "court", "other"
]
AppointmentKind = SessionKind | OutsideKind


class AppointmentData(Frozen):
    """An appointment of any kind of the circle: a session of the program or an outside service
    (`service` says which; required for `other`)."""

    appointment_id: Identifier
    kind: AppointmentKind
    scheduled_for: AwareDatetime
    service: ShortText | None = None

    @model_validator(mode="after")
    def _other_names_its_service(self) -> AppointmentData:
        if self.kind == "other" and not self.service:
            raise ValueError("an appointment of kind other names its service")
        return self


class AppointmentScheduled(Envelope):
    data_class: ClassVar[str] = "appointment"
    type: Literal["AppointmentScheduled"] = "AppointmentScheduled"
    schema_version: Literal[1] = 1
    data: AppointmentData


class AppointmentAttended(Envelope):
    data_class: ClassVar[str] = "appointment"
    type: Literal["AppointmentAttended"] = "AppointmentAttended"
    schema_version: Literal[1] = 1
    data: AppointmentData


class AppointmentMissed(Envelope):
    """A no-show; three in a row is the research definition of dropout (Gallefoss 2022)."""

    data_class: ClassVar[str] = "appointment"
    type: Literal["AppointmentMissed"] = "AppointmentMissed"
    schema_version: Literal[1] = 1
    data: AppointmentData


class GoalData(Frozen):
    goal_id: Identifier
    description: ShortText
    target_date: date | None = None


class GoalRef(Frozen):
    goal_id: Identifier


class CarePlanGoalSet(Envelope):
    data_class: ClassVar[str] = "care_plan"
    type: Literal["CarePlanGoalSet"] = "CarePlanGoalSet"
    schema_version: Literal[1] = 1
    data: GoalData


class CarePlanGoalRevised(Envelope):
    data_class: ClassVar[str] = "care_plan"
    type: Literal["CarePlanGoalRevised"] = "CarePlanGoalRevised"
    schema_version: Literal[1] = 1
    data: GoalData


class CarePlanGoalMet(Envelope):
    data_class: ClassVar[str] = "care_plan"
    type: Literal["CarePlanGoalMet"] = "CarePlanGoalMet"
    schema_version: Literal[1] = 1
    data: GoalRef
