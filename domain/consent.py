"""Consent to disclose under 42 CFR Part 2, emergency access, and the disclosures made."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import AwareDatetime, Field

from domain.envelope import Envelope, Frozen, Identifier, Label, PurposeOfUse, ShortText


class ConsentData(Frozen):
    consent_id: Identifier
    recipient_org: Identifier
    purpose: PurposeOfUse
    data_classes: frozenset[Label] = Field(min_length=1)
    expires_at: AwareDatetime | None = None
    supersedes: Identifier | None = None


class ConsentGranted(Envelope):
    """The client consented to a recipient seeing given data classes for a purpose (42 CFR 2.31)."""

    data_class: ClassVar[str] = "consent"
    type: Literal["ConsentGranted"] = "ConsentGranted"
    schema_version: Literal[1] = 1
    data: ConsentData


class ConsentRef(Frozen):
    consent_id: Identifier


class ConsentRevoked(Envelope):
    """The client withdrew a consent; it stops covering disclosures from now on."""

    data_class: ClassVar[str] = "consent"
    type: Literal["ConsentRevoked"] = "ConsentRevoked"
    schema_version: Literal[1] = 1
    data: ConsentRef


class BreakGlassData(Frozen):
    reason: ShortText
    minutes: int = Field(ge=1, le=24 * 60)


class BreakGlassInvoked(Envelope):
    """Emergency access to one client's record, time-boxed and reviewed by a supervisor."""

    data_class: ClassVar[str] = "access"
    type: Literal["BreakGlassInvoked"] = "BreakGlassInvoked"
    schema_version: Literal[1] = 1
    data: BreakGlassData


class DisclosureData(Frozen):
    recipient_org: Identifier
    recipient_id: Identifier
    purpose: PurposeOfUse
    data_classes: frozenset[Label]
    consent_id: Identifier | None = None
    break_glass: bool = False


class DisclosureMade(Envelope):
    """Part 2 data was shown to another organization; feeds the accounting of disclosures."""

    data_class: ClassVar[str] = "access"
    type: Literal["DisclosureMade"] = "DisclosureMade"
    schema_version: Literal[1] = 1
    data: DisclosureData
