"""Why the care record refuses a request, each with a stable code and a PHI-free message.

    DomainError                       code
    ├── ClientNotEnrolled             client_not_enrolled
    ├── ClientAlreadyEnrolled         client_already_enrolled
    ├── EpisodeClosed                 episode_closed
    ├── EpisodeNotClosed              episode_not_closed
    ├── InvalidAnswers                invalid_answers
    ├── UnknownInstrument             unknown_instrument
    ├── OccurredInFuture              occurred_in_future
    ├── UnknownCrisis                 unknown_crisis
    ├── UnknownEvent                  unknown_event
    ├── EntryAlreadyInError           entry_already_in_error
    ├── NotOnCareTeam                 not_on_care_team
    ├── UnknownHandoff                unknown_handoff
    ├── HandoffAlreadyExists          handoff_already_exists
    ├── HandoffAlreadyDecided         handoff_already_decided
    ├── HandoffNotAccepted            handoff_not_accepted
    ├── WrongHandoffRecipient         wrong_handoff_recipient
    ├── UnknownAppointment            unknown_appointment
    ├── UnknownFlag                   unknown_flag
    ├── FlagAlreadyClosed             flag_already_closed
    ├── FlagAlreadyAcknowledged       flag_already_acknowledged
    ├── FlagNoteRequired              note_required
    ├── FlagResolverNotAllowed        forbidden
    ├── IncompleteSafetyPlan          incomplete_safety_plan
    ├── ReviewBeforeCrisis            review_before_crisis
    ├── UnknownConsent                unknown_consent
    ├── EventNotRecordable            event_not_recordable
    ├── UnstorableText                validation_error
    ├── EventIdReused                 event_id_reused
    └── VersionConflict               version_conflict

No HTTP status lives here: the edges map codes to statuses (services/api/problems.py) and to
dead-letter reasons (consumers/ingest.py).
"""

from __future__ import annotations

from typing import ClassVar
from uuid import UUID


class DomainError(Exception):
    """A command the care record refuses; `code` is stable, `message` never quotes PHI."""

    code: ClassVar[str] = "domain_error"
    default_message: ClassVar[str] = "The care record refused this request."

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)


class ClientNotEnrolled(DomainError):
    code = "client_not_enrolled"
    default_message = "The client is not enrolled."


class ClientAlreadyEnrolled(DomainError):
    code = "client_already_enrolled"
    default_message = "The client is already enrolled; use ClientReadmitted after a discharge."


class EpisodeClosed(DomainError):
    code = "episode_closed"
    default_message = "The episode of care is closed; readmit the client first."


class EpisodeNotClosed(DomainError):
    code = "episode_not_closed"
    default_message = "The client is in care; only a discharged client can be readmitted."


class InvalidAnswers(DomainError):
    code = "invalid_answers"
    default_message = "The answers do not match the instrument."


class UnknownInstrument(DomainError):
    code = "unknown_instrument"
    default_message = "The instrument is not one the care record scores."


class OccurredInFuture(DomainError):
    code = "occurred_in_future"
    default_message = "occurred_at lies in the future beyond the allowed clock skew."


class UnknownCrisis(DomainError):
    code = "unknown_crisis"
    default_message = "The review refers to no crisis contact of this client."


class UnknownEvent(DomainError):
    code = "unknown_event"
    default_message = "The correction refers to no event of this client."


class EntryAlreadyInError(DomainError):
    code = "entry_already_in_error"
    default_message = "That entry was already marked as entered in error."


class NotOnCareTeam(DomainError):
    code = "not_on_care_team"
    default_message = "That member is not on the client's care team."


class UnknownHandoff(DomainError):
    code = "unknown_handoff"
    default_message = "No handoff with that id was initiated for this client."


class HandoffAlreadyExists(DomainError):
    code = "handoff_already_exists"
    default_message = "A handoff with that id was already initiated."


class HandoffAlreadyDecided(DomainError):
    code = "handoff_already_decided"
    default_message = "The handoff was already accepted or declined."


class HandoffNotAccepted(DomainError):
    code = "handoff_not_accepted"
    default_message = "Only an accepted, open handoff can be completed or fail."


class WrongHandoffRecipient(DomainError):
    code = "wrong_handoff_recipient"
    default_message = "Only the receiving organization accepts or declines a handoff."


class UnknownAppointment(DomainError):
    code = "unknown_appointment"
    default_message = "No appointment with that id was scheduled for this client."


class UnknownFlag(DomainError):
    code = "unknown_flag"
    default_message = "No risk flag with that id was raised for this client."


class FlagAlreadyClosed(DomainError):
    code = "flag_already_closed"
    default_message = "The risk flag is already resolved."


class FlagAlreadyAcknowledged(DomainError):
    """Acknowledging twice stores nothing: `first` is the acknowledgement already recorded."""

    code = "flag_already_acknowledged"
    default_message = "The risk flag is already acknowledged."

    def __init__(self, first: UUID | None = None, message: str | None = None) -> None:
        self.first = first
        super().__init__(message)


class FlagNoteRequired(DomainError):
    code = "note_required"
    default_message = "A person resolves a risk flag with a note saying why."


class FlagResolverNotAllowed(DomainError):
    code = "forbidden"
    default_message = (
        "Only a counselor, prescriber, crisis clinician or supervisor resolves a high or"
        " critical risk flag."
    )


class IncompleteSafetyPlan(DomainError):
    code = "incomplete_safety_plan"
    default_message = (
        "A safety plan needs warning signs, a coping strategy and a crisis line or"
        " professional contact."
    )


class ReviewBeforeCrisis(DomainError):
    code = "review_before_crisis"
    default_message = "A postvention review cannot be dated before its crisis or death."


class UnknownConsent(DomainError):
    code = "unknown_consent"
    default_message = "No active consent with that id exists for this client."


class EventNotRecordable(DomainError):
    code = "event_not_recordable"
    default_message = "This event type is recorded by the system, not submitted."


class UnstorableText(DomainError):
    """Text PostgreSQL cannot store (NUL, a lone surrogate): a poison pill for the read models.
    The edges refuse it first (domain/contract.py); this guards every other way in."""

    code = "validation_error"
    default_message = "Text must not contain NUL or unpaired surrogate characters."


class EventIdReused(DomainError):
    code = "event_id_reused"
    default_message = "That event_id is already recorded for another client."


class VersionConflict(DomainError):
    """The version named (If-Match) is not the client's; `current_version` says which it is, when
    known, so the caller can read the record again and retry."""

    code = "version_conflict"
    default_message = "The record changed since the version you read."

    def __init__(
        self,
        message: str | None = None,
        *,
        current_version: int | None = None,
        expected_version: int | None = None,
    ) -> None:
        if message is None and current_version is not None:
            message = (
                f"The client is at version {current_version}, not {expected_version}: read the "
                "record again (its ETag is the version) and retry with that If-Match."
            )
        super().__init__(message)
        self.current_version = current_version


__all__ = [
    "ClientAlreadyEnrolled",
    "ClientNotEnrolled",
    "DomainError",
    "EntryAlreadyInError",
    "EpisodeClosed",
    "EpisodeNotClosed",
    "EventIdReused",
    "EventNotRecordable",
    "FlagAlreadyClosed",
    "HandoffAlreadyDecided",
    "HandoffAlreadyExists",
    "HandoffNotAccepted",
    "InvalidAnswers",
    "NotOnCareTeam",
    "OccurredInFuture",
    "UnknownAppointment",
    "UnknownConsent",
    "UnknownCrisis",
    "UnknownEvent",
    "UnknownFlag",
    "UnknownHandoff",
    "UnknownInstrument",
    "VersionConflict",
    "WrongHandoffRecipient",
]
