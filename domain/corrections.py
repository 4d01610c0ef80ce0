"""Corrections are new events that point at the entry they correct; nothing is edited."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from domain.envelope import Envelope, Frozen, ShortText


class EnteredInErrorData(Frozen):
    target_event_id: UUID
    reason: ShortText


class EntryEnteredInError(Envelope):
    """The target entry should not have been recorded (wrong client, duplicate, mistake)."""

    data_class: ClassVar[str] = "correction"
    type: Literal["EntryEnteredInError"] = "EntryEnteredInError"
    schema_version: Literal[1] = 1
    data: EnteredInErrorData


class CorrectedData(Frozen):
    target_event_id: UUID
    replacement_event_id: UUID
    reason: ShortText


class EntryCorrected(Envelope):
    """The target entry is superseded by a replacement recorded as its own event."""

    data_class: ClassVar[str] = "correction"
    type: Literal["EntryCorrected"] = "EntryCorrected"
    schema_version: Literal[1] = 1
    data: CorrectedData
