"""Measurement-based care: instruments, daily check-ins and missed check-ins."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import AwareDatetime, Field

from domain.envelope import Envelope, Frozen, Note

Scale0to10 = Annotated[int, Field(ge=0, le=10)]
SleepHours = Annotated[float, Field(ge=0, le=24)]
Substance = Literal[
    "alcohol",
    "opioids",
    "fentanyl",
    "heroin",
    "prescription_opioids",
    "stimulants",
    "methamphetamine",
    "cocaine",
    "cannabis",
    "benzodiazepines",
    "nicotine",
    "other",
]
InstrumentName = Literal["PHQ-9", "GAD-7", "AUDIT-C", "AUDIT", "DAST-10", "C-SSRS-SCREEN", "BAM"]
Answer = Annotated[int, Field(ge=0, le=4, strict=True)] | bool | None  # None: left blank


class AssessmentData(Frozen):
    instrument: InstrumentName
    answers: tuple[Answer, ...] = Field(min_length=1, max_length=20)
    total: int | None = None
    band: str | None = None
    subscales: tuple[tuple[str, int], ...] = ()


class AssessmentRecorded(Envelope):
    """A scored instrument; the domain computes total and band from the answers."""

    data_class: ClassVar[str] = "assessment"
    type: Literal["AssessmentRecorded"] = "AssessmentRecorded"
    schema_version: Literal[1] = 1
    data: AssessmentData


class CheckInData(Frozen):
    mood: Scale0to10
    craving: Scale0to10
    sleep_hours: SleepHours
    used_since_last: bool
    substances: frozenset[Substance] = frozenset()
    note: Note | None = None


class CheckInRecorded(Envelope):
    """A self-report check-in: mood, craving, sleep and use since the last one.

    Version 2 renamed v1's `sleep` to `sleep_hours` (see domain/upcasting.py).
    """

    data_class: ClassVar[str] = "check_in"
    type: Literal["CheckInRecorded"] = "CheckInRecorded"
    schema_version: Literal[2] = 2
    data: CheckInData


class CheckInMissedData(Frozen):
    due_at: AwareDatetime


class CheckInMissed(Envelope):
    """A planned check-in did not happen."""

    data_class: ClassVar[str] = "check_in"
    type: Literal["CheckInMissed"] = "CheckInMissed"
    schema_version: Literal[1] = 1
    data: CheckInMissedData
