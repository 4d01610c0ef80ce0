"""De-identified care events for analysts: keyed pseudonyms, shifted dates, no free text.

- **Pseudonyms** are HMAC-SHA256 of the id under a secret key (the key is passed in; it never
  leaves the server): the same client, staff member, event or entry id always maps to the same
  pseudonym, so events join across a replay, and nobody without the key can reverse or recompute
  them. Kinds are kept apart (`c-` clients, `s-` staff, `e-` events, `x-` other ids).
- **Dates** move back by a per-client offset of 1 to 30 days, derived from the key: every date
  of one client moves alike, so intervals within a client's care stay exact; and only backwards,
  so a shifted date is never later than the real one (no event "in the future", and a "last N
  days" filter never takes in what has not happened yet).
- **Free text and direct identifiers are dropped** (names, birth date, phone, notes, reasons,
  dispositions, descriptions, doses); lists of free text (safety plan sections, interventions,
  postvention findings) become their lengths (`<field>_count`).

Fields are classified by an allowlist (`FIELD_POLICY`): a field not in it is dropped, so a new
field stays out of the analysts' data until someone decides otherwise (and a unit test asks).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import TypeAlias
from uuid import UUID

from domain.recorded import Recorded

Json: TypeAlias = str | int | float | bool | list["Json"] | dict[str, "Json"] | None

MAX_SHIFT_DAYS = 30


class Treatment(StrEnum):
    """What de-identification does with one field of an event's `data`."""

    KEEP = "keep"  # a coded value, a score, a count, an organization
    DATE = "date"  # moved by the client's offset
    STAFF = "staff"  # a staff member's id: pseudonym
    OPAQUE = "opaque"  # an entry id chosen by the sender (crisis, appointment, …): pseudonym
    EVENT = "event"  # an event id (or a list of them): pseudonym
    COUNT = "count"  # a list of free text: its length only
    DROP = "drop"  # a direct identifier or free text


KEEP, DATE, STAFF, OPAQUE, EVENT, COUNT, DROP = (
    Treatment.KEEP,
    Treatment.DATE,
    Treatment.STAFF,
    Treatment.OPAQUE,
    Treatment.EVENT,
    Treatment.COUNT,
    Treatment.DROP,
)

# Field name → treatment, over every event type's `data` (names mean the same in every type).
FIELD_POLICY: Mapping[str, Treatment] = {
    # enrollment and team
    "program": KEEP,
    "part2": KEEP,
    "given_name": DROP,
    "family_name": DROP,
    "birth_date": DROP,
    "phone": DROP,
    "sex_at_birth": KEEP,
    "episode_id": OPAQUE,
    "reason": DROP,
    "member_id": STAFF,
    "role": KEEP,
    "org": KEEP,
    "issuer": KEEP,
    "cadence_hours": KEEP,
    "channel": KEEP,
    # consent and access
    "consent_id": OPAQUE,
    "recipient_org": KEEP,
    "purpose": KEEP,
    "data_classes": KEEP,
    "expires_at": DATE,
    "supersedes": OPAQUE,
    "disclosing_party": DROP,
    "recipients": COUNT,
    "tpo": KEEP,
    "purposes": KEEP,
    "purpose_text": DROP,
    "expires_on_event": KEEP,
    "signed_by": KEEP,
    "representative_authority": DROP,
    "signed_on": DATE,
    "revocation_instructions": DROP,
    "revoked_by": KEEP,
    "method": KEEP,
    "minutes": KEEP,
    "recipient_id": STAFF,
    "break_glass": KEEP,
    "disclosed_by": DROP,  # a person (the envelope's actor is pseudonymised already)
    "disclosed_to": DROP,  # a name and a facility, as typed
    "recipient_name": DROP,
    "recipient_affiliation": DROP,
    "grant_id": EVENT,
    "provided_to": KEEP,
    "format": KEEP,
    "since": DATE,
    "until": DATE,
    "entries": KEEP,
    "disclosure_event_ids": EVENT,
    "digest": DROP,
    "event_count": KEEP,
    # monitoring
    "instrument": KEEP,
    "answers": KEEP,
    "total": KEEP,
    "band": KEEP,
    "subscales": KEEP,
    "mood": KEEP,
    "craving": KEEP,
    "sleep_hours": KEEP,
    "used_since_last": KEEP,
    "substances": KEEP,
    "note": DROP,
    "notes": DROP,
    "due_at": DATE,
    # sessions and plans
    "kind": KEEP,
    "modality": KEEP,
    "appointment_id": OPAQUE,
    "scheduled_for": DATE,
    "goal_id": OPAQUE,
    "description": DROP,
    "target_date": DATE,
    # handoffs
    "handoff_id": OPAQUE,
    "to_org": KEEP,
    "to_member_id": STAFF,
    "service": DROP,
    "priority": KEEP,
    "client_present": KEEP,
    # safety and crisis
    "crisis_id": OPAQUE,
    "risk_level": KEEP,
    "suicidality": KEEP,
    "overdose_danger": KEEP,
    "interventions": COUNT,
    "disposition": DROP,
    "follow_up_due_at": DATE,
    "warning_signs": COUNT,
    "coping_strategies": COUNT,
    "social_contacts": COUNT,
    "help_contacts": COUNT,
    "professional_contacts": COUNT,
    "crisis_lines": COUNT,
    "means_safety": COUNT,
    "reasons_for_living": COUNT,
    "what_worked": COUNT,
    "what_did_not": COUNT,
    "plan_changes": COUNT,
    "reviewers": COUNT,
    "plan_change_event_ids": EVENT,
    # after discharge and death
    "message_kind": KEEP,
    "died_on": DATE,
    "cause": KEEP,
    "source": DROP,
    # harm reduction and medication
    "kits": KEEP,
    "recipient": KEEP,
    "training_given": KEEP,
    "fatal": KEEP,
    "naloxone_used": KEEP,
    "ed_visit": KEEP,
    "medication": KEEP,
    "category": KEEP,
    "dose": DROP,
    # flags and corrections
    "flag_id": OPAQUE,
    "rule_id": KEEP,
    "rule_version": KEEP,
    "severity": KEEP,
    "evidence_event_ids": EVENT,
    "target_event_id": EVENT,
    "replacement_event_id": EVENT,
    # erased entries
    "original_type": KEEP,
    "original_schema_version": KEEP,
}


class Deidentifier:
    """Turns stored care events into analysts' rows under one secret key."""

    def __init__(self, key: bytes, *, max_shift_days: int = MAX_SHIFT_DAYS) -> None:
        if len(key) < 16:
            raise ValueError("the de-identification key must have at least 16 bytes")
        self._key = key
        self._max_shift = max_shift_days
        self._shifts: dict[UUID, timedelta] = {}

    def _mac(self, kind: str, value: str) -> str:
        message = f"{kind}\x1f{value}".encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()[:32]

    def client(self, client_id: UUID) -> str:
        return "c-" + self._mac("client", str(client_id))

    def staff(self, staff_id: str) -> str:
        return "s-" + self._mac("staff", staff_id)

    def event_id(self, event_id: UUID | str) -> str:
        return "e-" + self._mac("event", str(event_id))

    def opaque(self, field: str, value: str, client_id: UUID) -> str:
        """Ids a sender chose (crisis-1, goal-2) repeat across clients: scope them to the client."""
        return "x-" + self._mac(field, f"{client_id}\x1f{value}")

    def shift_of(self, client_id: UUID) -> timedelta:
        """The client's date offset: 1..max days back, the same for every event of the client."""
        known = self._shifts.get(client_id)
        if known is None:
            digest = hmac.new(self._key, b"shift\x1f" + client_id.bytes, hashlib.sha256).digest()
            number = int.from_bytes(digest[:8], "big")
            days = 1 + number % self._max_shift
            known = timedelta(days=-days)
            self._shifts[client_id] = known
        return known

    def recorded(self, item: Recorded) -> dict[str, Json]:
        """One stored event as an analyst may see it (position and version kept for resuming)."""
        event = item.event
        client_id = event.client_id
        shift = self.shift_of(client_id)
        actor = event.actor
        data = event.data.model_dump(mode="python")
        labels: list[Json] = [str(label) for label in sorted(event.security_labels)]
        return {
            "position": item.position,
            "version": item.version,
            "event_id": self.event_id(event.event_id),
            "client_id": self.client(client_id),
            "type": event.type,
            "schema_version": event.schema_version,
            "occurred_at": (event.occurred_at + shift).isoformat(),
            "recorded_at": (item.recorded_at + shift).isoformat(),
            "actor": {
                "id": self.staff(actor.id),
                "role": actor.role,
                "org": actor.org,
                "kind": actor.kind,
            },
            "purpose_of_use": event.purpose_of_use,
            "security_labels": labels,
            "data": self._data(data, client_id, shift),
        }

    def _data(
        self, data: Mapping[str, object], client_id: UUID, shift: timedelta
    ) -> dict[str, Json]:
        out: dict[str, Json] = {}
        for name, value in data.items():
            treatment = FIELD_POLICY.get(name, Treatment.DROP)
            if value is None or treatment is Treatment.DROP:
                continue
            match treatment:
                case Treatment.KEEP:
                    out[name] = _plain(value)
                case Treatment.DATE:
                    out[name] = _shifted(value, shift)
                case Treatment.STAFF:
                    out[name] = self.staff(str(value))
                case Treatment.OPAQUE:
                    out[name] = self.opaque(name, str(value), client_id)
                case Treatment.EVENT:
                    if isinstance(value, tuple | list | frozenset):
                        out[name] = [self.event_id(str(v)) for v in value]
                    else:
                        out[name] = self.event_id(str(value))
                case Treatment.COUNT:
                    out[f"{name}_count"] = len(value) if isinstance(value, tuple | list) else 0
        return out


def _shifted(value: object, shift: timedelta) -> Json:
    if isinstance(value, datetime):
        return (value + shift).isoformat()
    if isinstance(value, date):
        return (value + shift).isoformat()
    return None


def _plain(value: object) -> Json:
    """A kept value as JSON primitives; sets sorted so a replay is byte-for-byte repeatable."""
    if value is None or isinstance(value, str | bool | int | float):
        return value
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, frozenset | set):
        return [_plain(v) for v in sorted(value, key=str)]
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, datetime | date):
        return None  # a date kept verbatim would defeat the shift: never emitted unshifted
    return str(value)
