"""Naloxone, overdoses, medications for opioid and alcohol use disorder, and risky transitions."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from domain.envelope import Envelope, Frozen, Identifier, Note, ShortText

Recipient = Literal["client", "family", "peer"]
MedicationCategory = Literal["moud", "aud", "other"]
TransitionKind = Literal[
    "incarceration_release",
    "detox_discharge",
    "residential_discharge",
    "inpatient_discharge",
    "ed_discharge",
]


class NaloxoneData(Frozen):
    kits: int = Field(ge=1, le=100)
    recipient: Recipient
    training_given: bool


class NaloxoneDistributed(Envelope):
    data_class: ClassVar[str] = "harm_reduction"
    type: Literal["NaloxoneDistributed"] = "NaloxoneDistributed"
    schema_version: Literal[1] = 1
    data: NaloxoneData


class OverdoseData(Frozen):
    fatal: bool
    naloxone_used: bool
    ed_visit: bool


class OverdoseReported(Envelope):
    data_class: ClassVar[str] = "harm_reduction"
    type: Literal["OverdoseReported"] = "OverdoseReported"
    schema_version: Literal[1] = 1
    data: OverdoseData


class MedicationData(Frozen):
    medication: Identifier
    category: MedicationCategory
    reason: ShortText | None = None
    dose: ShortText | None = None


class MedicationStarted(Envelope):
    data_class: ClassVar[str] = "medication"
    type: Literal["MedicationStarted"] = "MedicationStarted"
    schema_version: Literal[1] = 1
    data: MedicationData


class MedicationChanged(Envelope):
    data_class: ClassVar[str] = "medication"
    type: Literal["MedicationChanged"] = "MedicationChanged"
    schema_version: Literal[1] = 1
    data: MedicationData


class MedicationStopped(Envelope):
    """Stopping an opioid medication opens a 28-day overdose window (Sordo et al., BMJ 2017)."""

    data_class: ClassVar[str] = "medication"
    type: Literal["MedicationStopped"] = "MedicationStopped"
    schema_version: Literal[1] = 1
    data: MedicationData


class ConsultData(Frozen):
    medication: Identifier
    notes: Note | None = None


class MedicationConsultRecorded(Envelope):
    data_class: ClassVar[str] = "medication"
    type: Literal["MedicationConsultRecorded"] = "MedicationConsultRecorded"
    schema_version: Literal[1] = 1
    data: ConsultData


class TransitionData(Frozen):
    kind: TransitionKind


class TransitionReported(Envelope):
    """Release or discharge: lost tolerance makes the next 14 days riskiest (Binswanger 2007)."""

    data_class: ClassVar[str] = "harm_reduction"
    type: Literal["TransitionReported"] = "TransitionReported"
    schema_version: Literal[1] = 1
    data: TransitionData
