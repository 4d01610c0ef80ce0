"""Consent to disclose under 42 CFR Part 2, emergency access, and the disclosures made."""

from __future__ import annotations

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field

from domain.envelope import Actor, Envelope, Frozen, Identifier, Label, PurposeOfUse, ShortText

# 42 CFR 2.31(a)(5) purposes a consent names; "operations" is health care operations.
ConsentPurpose = Literal["treatment", "payment", "operations", "research", "other"]
# 42 CFR 2.31(a)(7): an expiration event that relates to the patient; discharge is the one the
# record knows (`EpisodeClosed`).
ExpiryEvent = Literal["EpisodeClosed"]
Signer = Literal["patient", "representative"]


class ConsentRecipient(Frozen):
    """42 CFR 2.31(a)(4)(i): a recipient named on the form, an organization or a person."""

    kind: Literal["organization", "person"] = "organization"
    id: Identifier  # the organization's id, or the person's token `sub`
    name: ShortText  # as the form names them (the accounting shows it, 45 CFR 164.528(b)(2)(ii))
    org: Identifier | None = None  # a person's organization


class ConsentData(Frozen):
    """A consent as signed. `recipient_org` and `purpose` are the fields of consents recorded
    before the 2024 elements were modelled (still honoured); a new consent carries the 2024
    elements of 42 CFR 2.31(a) instead (domain/consent_form.py checks them)."""

    consent_id: Identifier
    recipient_org: Identifier | None = None
    purpose: PurposeOfUse | None = None
    data_classes: frozenset[Label] = Field(min_length=1)
    expires_at: AwareDatetime | None = None
    supersedes: Identifier | None = None
    # 42 CFR 2.31(a)(2): who may make the disclosure (the program, or a named person of it)
    disclosing_party: ShortText | None = None
    # (a)(4)(i): named recipients, or the single TPO consent's designation (`tpo`)
    recipients: tuple[ConsentRecipient, ...] = ()
    tpo: bool = False
    # (a)(5): each purpose; `purpose_text` describes "other" (or "at the request of the patient")
    purposes: frozenset[ConsentPurpose] = frozenset()
    purpose_text: ShortText | None = None
    # (a)(7): an expiration date or an expiration event
    expires_on_event: ExpiryEvent | None = None
    # (a)(8), (a)(9): who signed (the patient, or a representative under 2.14/2.15) and when
    signed_by: Signer | None = None
    representative_authority: ShortText | None = None
    signed_on: date | None = None
    # (a)(6): the right to revoke in writing, and how
    revocation_instructions: ShortText | None = None


class ConsentGranted(Envelope):
    """The client consented to a recipient seeing given data classes for a purpose (42 CFR 2.31)."""

    data_class: ClassVar[str] = "consent"
    type: Literal["ConsentGranted"] = "ConsentGranted"
    schema_version: Literal[1] = 1
    data: ConsentData


class ConsentRef(Frozen):
    """Which consent is revoked; who revoked it and how (42 CFR 2.31(a)(6), 2.33(a)(2):
    revocation is in writing; an oral revocation noted by staff is honoured at once too and a
    written one should follow). Absent on revocations recorded before these were modelled."""

    consent_id: Identifier
    revoked_by: Signer | None = None
    method: Literal["written", "oral_noted_by_staff"] | None = None


class ConsentRevoked(Envelope):
    """The client withdrew a consent; it stops covering disclosures from now on."""

    data_class: ClassVar[str] = "consent"
    type: Literal["ConsentRevoked"] = "ConsentRevoked"
    schema_version: Literal[1] = 1
    data: ConsentRef


class EmergencyRecipient(Frozen):
    """42 CFR 2.51(c)(1): the medical personnel the disclosure is made to, by name, and their
    affiliation with a health care facility; `id` is their token's `sub` when they read it."""

    name: ShortText
    affiliation: ShortText
    id: Identifier | None = None


class BreakGlassData(Frozen):
    """A grant of emergency access. `reason` is the nature of the emergency (42 CFR 2.51(c)(4)).
    The fields below it came with the 2.51 elements; a grant recorded before them has none
    and keeps its old meaning: its actor is the person, every data class is open."""

    reason: ShortText
    minutes: int = Field(ge=1, le=24 * 60)
    # 2.51(c)(2): the person making the disclosure (the clinician of the token, never a service)
    disclosed_by: Actor | None = None
    # 2.51(c)(1): to whom, by name and affiliation
    disclosed_to: EmergencyRecipient | None = None
    # 2.51(a) "to the extent necessary": the data classes the grant opens (None: every class)
    data_classes: frozenset[Label] | None = None


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
    # Came with the accounting's names (45 CFR 164.528(b)(2)(ii)); absent on older entries,
    # which the accounting names from the consent (or shows by ids).
    recipient_name: ShortText | None = None
    recipient_affiliation: ShortText | None = None
    # the break-the-glass grant (its event id) a disclosure in an emergency was made under
    grant_id: Identifier | None = None
    # how it left: a read through the API, or `care.events` to a registered consumer (one entry
    # per consumer, client and publish batch, `event_count` events in it)
    channel: Literal["api", "kafka"] = "api"
    event_count: int | None = Field(default=None, ge=1)


class DisclosureMade(Envelope):
    """Part 2 data was shown to another organization; feeds the accounting of disclosures."""

    data_class: ClassVar[str] = "access"
    type: Literal["DisclosureMade"] = "DisclosureMade"
    schema_version: Literal[1] = 1
    data: DisclosureData


class AccountingData(Frozen):
    """An accounting of disclosures handed to the patient or their representative
    (45 CFR 164.528(d)(2): the written accounting provided is documented): to whom, in which
    form, the window it covers, the disclosures listed and a digest of the very document."""

    provided_to: Literal["patient", "representative"]
    representative_authority: ShortText | None = None
    format: Literal["json", "csv"]
    since: AwareDatetime | None = None
    until: AwareDatetime
    entries: int = Field(ge=0)
    disclosure_event_ids: tuple[UUID, ...] = ()
    digest: Identifier  # "sha256:" + hex of the document's bytes


class AccountingProvided(Envelope):
    """The accounting of disclosures was handed to the patient (42 CFR 2.25, 45 CFR 164.528)."""

    data_class: ClassVar[str] = "access"
    type: Literal["AccountingProvided"] = "AccountingProvided"
    schema_version: Literal[1] = 1
    data: AccountingData
