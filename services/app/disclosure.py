"""What a read shows: the data classes it may, the 42 CFR 2.32 notice when it discloses Part 2
data to another organization, counseling notes only to those who may read them, and the skeleton
of an erased client.

A read that names data classes (`?data_class=`), or that discloses Part 2 data, shows the
record's sections of those classes only (minimum necessary, 45 CFR 164.502(b)); a section of a
class nobody named is left out, and so is any section this table does not know.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from domain.access_policy import (
    NOTE_FIELDS,
    Decision,
    Principal,
    notes_shown,
)
from domain.catalogue import CareEvent
from domain.consent_form import consent_form
from domain.erasure import ErasedEntry
from domain.recorded import Recorded

# 42 CFR 2.32(a)(2), as amended by the 2024 final rule (89 FR 12472): the short statement.
NOTICE_HEADER_TEXT = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
# 42 CFR 2.32(a)(1), the long statement, 2024 text (89 FR 12472, 12618).
NOTICE = (
    "This record which has been disclosed to you is protected by Federal confidentiality rules "
    "(42 CFR part 2). These rules prohibit you from using or disclosing this record, or testimony "
    "that describes the information contained in this record, in any civil, criminal, "
    "administrative, or legislative proceedings by any Federal, State, or local authority, "
    "against the patient, unless authorized by the consent of the patient, except as provided at "
    "42 CFR 2.12(c)(5) or as authorized by a court in accordance with 42 CFR 2.64 or 2.65. In "
    "addition, the Federal rules prohibit you from making any other use or disclosure of this "
    "record unless at least one of the following applies: (A) Further use or disclosure is "
    "expressly permitted by the written consent of the individual whose information is being "
    "disclosed in this record or as otherwise permitted by 42 CFR part 2. (B) You are a covered "
    "entity or business associate and have received the record for treatment, payment, or health "
    "care operations, or (C) You have received the record from a covered entity or business "
    "associate as permitted by 45 CFR part 164, subparts A and E. A general authorization for "
    "the release of medical or other information is NOT sufficient to meet the required elements "
    "of written consent to further use or redisclose the record (see 42 CFR 2.31)."
)
NOTICE_HEADER = "X-Redisclosure-Notice"
CONSENT_HEADER = "X-Disclosure-Consent"

# Sections of the client record (domain/record.py) by the data class a consent names for them.
ALWAYS_SHOWN = frozenset({"client_id", "version", "position", "last_recorded_at"})
RECORD_SECTIONS: Mapping[str, str] = {
    "status": "enrollment",
    "program": "enrollment",
    "part2": "enrollment",
    "enrolled_at": "enrollment",
    "episodes": "enrollment",
    "demographics": "demographics",
    "care_team": "care_team",
    "check_in_plan": "care_plan",
    "care_plan_goals": "care_plan",
    "last_check_in": "check_in",
    "assessments": "assessment",
    "sessions_count": "session",
    "appointments": "appointment",
    "crises": "crisis",
    "safety_plan": "safety_plan",
    "medications": "medication",
    "naloxone_kits": "harm_reduction",
    "overdoses": "harm_reduction",
    "last_transition": "harm_reduction",
    "handoffs": "handoff",
    "open_flags": "risk_flag",
    "consents": "consent",
    "entries_in_error": "correction",
    "entries_superseded": "correction",
}


def narrowed(decision: Decision, named: bool) -> bool:
    """Whether the answer shows only the decision's data classes (named, disclosed, or under
    a break-the-glass grant's scope)."""
    return named or decision.disclosure is not None or decision.scoped


def record_view(record: dict[str, Any], decision: Decision, *, named: bool) -> dict[str, Any]:
    """The record as this read may show it, with the disclosure block when it is one."""
    if not narrowed(decision, named):
        return record
    classes = decision.data_classes
    view = {
        key: value
        for key, value in record.items()
        if key in ALWAYS_SHOWN or RECORD_SECTIONS.get(key) in classes
    }
    block = disclosure_block(decision)
    if block is not None:
        view["disclosure"] = block
    return view


def history_item(
    item: Recorded, principal: Principal, decision: Decision, *, named: bool
) -> dict[str, Any] | None:
    """One history entry as this read may show it; None when its class is not shown."""
    event = item.event
    shown = event.data_class in decision.data_classes or isinstance(event, ErasedEntry)
    if narrowed(decision, named) and not shown:
        return None
    body = event.model_dump(mode="json")
    if _mask_notes(event, principal, decision):
        data = body.get("data")
        if isinstance(data, dict):
            body["data"] = {k: v for k, v in data.items() if k not in NOTE_FIELDS}
    return {
        **body,
        "version": item.version,
        "position": item.position,
        "recorded_at": item.recorded_at.isoformat(),
    }


def _mask_notes(event: CareEvent, principal: Principal, decision: Decision) -> bool:
    """Notes by role and data class (minimum necessary), counseling notes only under their own
    consent (domain/access_policy.py `notes_shown`)."""
    return not notes_shown(principal, event.data_class, event.security_labels, decision.disclosure)


def disclosure_block(decision: Decision) -> dict[str, Any] | None:
    """The 2.32 notice and the scope of the consent relied on (or the emergency), for a body.

    The one function that builds the notice: every answer that discloses Part 2 data to another
    organization carries it or what is made from it (`rows_notice` for list answers, the
    headers, the FHIR Bundle's `meta` extension: interop/fhir/notice.py)."""
    disclosure = decision.disclosure
    if disclosure is None:
        return None
    consent = disclosure.consent
    return {
        "notice": NOTICE,
        "statement": NOTICE_HEADER_TEXT,
        "data_classes": sorted(decision.data_classes),
        "break_glass": disclosure.break_glass,
        "consent": None
        if consent is None
        else {
            "consent_id": consent.consent_id,
            "recipient_org": consent.recipient_org,
            "purpose": consent.purpose,
            "data_classes": sorted(consent.data_classes),
            "expires_at": None if consent.expires_at is None else consent.expires_at.isoformat(),
            # 42 CFR 2.32(b): a clear explanation of the consent's scope, element by element
            "scope": None
            if consent.form is None
            else consent_form(consent.form, patient_name=None)["lines"],
        },
        "counseling_notes_consent_id": None
        if disclosure.notes_consent is None
        else disclosure.notes_consent.consent_id,
    }


def rows_notice(decisions: Mapping[Any, Decision]) -> dict[str, Any] | None:
    """The one 2.32 notice of a list answer (caseload or flag rows): the statement once, and
    each Part 2 client of another organization the rows disclose with the consent relied on
    (or the emergency) and its scope; None when the rows disclose nothing."""
    disclosed = {
        str(client): decision
        for client, decision in decisions.items()
        if decision.allowed and decision.disclosure is not None
    }
    if not disclosed:
        return None
    clients = []
    for client, decision in sorted(disclosed.items()):
        block = disclosure_block(decision)
        assert block is not None
        clients.append(
            {
                "client_id": client,
                "data_classes": block["data_classes"],
                "break_glass": block["break_glass"],
                "consent": block["consent"],
            }
        )
    return {"notice": NOTICE, "statement": NOTICE_HEADER_TEXT, "clients": clients}


def rows_notice_headers(notice: dict[str, Any] | None) -> dict[str, str]:
    """The headers of a list answer that discloses: the short statement and the consents."""
    if notice is None:
        return {}
    consents = sorted(
        {
            "emergency" if c["consent"] is None else c["consent"]["consent_id"]
            for c in notice["clients"]
        }
    )
    return {NOTICE_HEADER: NOTICE_HEADER_TEXT, CONSENT_HEADER: ",".join(consents)}


def notice_headers(decision: Decision) -> dict[str, str]:
    """Headers every disclosing answer carries: the short 2.32 statement and the consent id,
    taken from the one notice (`disclosure_block`)."""
    block = disclosure_block(decision)
    if block is None:
        return {}
    consent = block["consent"]
    return {
        NOTICE_HEADER: block["statement"],
        CONSENT_HEADER: "emergency" if consent is None else consent["consent_id"],
    }


def erased_record(history: Iterable[Recorded]) -> dict[str, Any] | None:
    """An erased client's record: the skeleton of who did what when, nothing of the client."""
    items = list(history)
    if not items or not any(isinstance(r.event, ErasedEntry) for r in items):
        return None
    last = items[-1]
    return {
        "client_id": str(last.event.client_id),
        "status": "erased",
        "version": last.version,
        "position": last.position,
        "last_recorded_at": last.recorded_at.isoformat(),
        "entries": [_skeleton(r) for r in items],
    }


def _skeleton(item: Recorded) -> dict[str, Any]:
    event = item.event
    kind = event.data.original_type if isinstance(event, ErasedEntry) else event.type
    return {
        "version": item.version,
        "position": item.position,
        "event_id": str(event.event_id),
        "type": kind,
        "occurred_at": event.occurred_at.isoformat(),
        "recorded_at": item.recorded_at.isoformat(),
        "actor": event.actor.model_dump(mode="json"),
        "purpose_of_use": event.purpose_of_use,
    }
