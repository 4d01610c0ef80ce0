"""A Part 2 consent as the regulation writes it: the elements a new consent must carry, and the
consent read back as a person reads the signed form.

Source: 42 CFR 2.31 as amended by the 2024 final rule (89 FR 12472, Feb. 16 2024; compliance
date Feb. 16 2026). The wording below was taken from a reference copy of the 2024 text and
cross-checked against secondary mirrors, not against eCFR itself: diff the quoted statements
against https://www.ecfr.gov/current/title-42/chapter-I/subchapter-A/part-2/subpart-C/section-2.31
before relying on them as templates.

A new `ConsentGranted` (the decider checks it; consents stored before keep their meaning) must
name, each refused with its own code:

- (a)(2) who may disclose: `disclosing_party` (`consent_disclosing_party_required`);
- (a)(4)(i) the recipients, named, or the single TPO consent's designation (`tpo`)
  (`consent_recipients_required`);
- (a)(5) each purpose (`consent_purposes_required`; "other" needs `purpose_text`,
  `consent_purpose_text_required`);
- (a)(3) the information, as data classes (the model requires at least one);
- (a)(6) how to revoke (`consent_revocation_instructions_required`);
- (a)(7) an expiration date or event (`consent_expiry_required`): the rule lets a TPO consent say
  "none"; this program's policy is that every new consent ends, so none is refused;
- (a)(8) the signer, the patient or an authorized representative with their authority under
  2.14/2.15 (`consent_signature_required`, `consent_representative_authority_required`);
- (a)(9) the date signed (`consent_signed_on_required`).

(a)(1), the patient's name, is the enrollment's: the form view takes it from the record.
2.31(b)(2): a consent for SUD counseling notes may only be combined with another consent for
counseling notes: a consent naming `counseling_note` and any other class (or `all`) is refused
(`counseling_notes_consent_must_stand_alone`).
"""

from __future__ import annotations

from typing import Any

from domain.consent import ConsentData, ConsentRef
from domain.errors import DomainError

COUNSELING_NOTE_CLASS = "counseling_note"

# 42 CFR 2.31(a)(4)(i), 2024: the designation a single TPO consent may use for its recipients.
TPO_RECIPIENTS = (
    "my treating providers, health plans, third-party payers, and people helping to operate "
    "this program"
)
# 42 CFR 2.31(a)(10), 2024: the statements a TPO consent must include.
TPO_STATEMENTS = (
    "The records used or disclosed under this consent may be redisclosed by the recipient and no "
    "longer be protected by 42 CFR part 2.",
    "If you refuse to sign this consent, you will still receive treatment; refusing does not "
    "affect your treatment, payment, enrollment or eligibility for benefits.",
)
# 42 CFR 2.31(a)(4)(iii), 2024: for a covered entity or business associate receiving for TPO.
CE_BA_REDISCLOSURE = (
    "The patient's record (or information contained in the record) may be redisclosed in "
    "accordance with the permissions contained in the HIPAA regulations, except for uses and "
    "disclosures for civil, criminal, administrative, and legislative proceedings against the "
    "patient."
)
PURPOSE_WORDS = {
    "treatment": "treatment",
    "payment": "payment",
    "operations": "health care operations",
    "research": "research",
    "other": "another purpose",
}


class ConsentElementMissing(DomainError):
    code = "consent_incomplete"
    default_message = "The consent lacks an element 42 CFR 2.31(a) requires."


class DisclosingPartyRequired(ConsentElementMissing):
    code = "consent_disclosing_party_required"
    default_message = "Name who may make the disclosure (42 CFR 2.31(a)(2))."


class RecipientsRequired(ConsentElementMissing):
    code = "consent_recipients_required"
    default_message = "Name the recipients, or use the TPO designation (42 CFR 2.31(a)(4))."


class PurposesRequired(ConsentElementMissing):
    code = "consent_purposes_required"
    default_message = "Name each purpose of the disclosure (42 CFR 2.31(a)(5))."


class PurposeTextRequired(ConsentElementMissing):
    code = "consent_purpose_text_required"
    default_message = "Describe the purpose named 'other' (42 CFR 2.31(a)(5))."


class RevocationInstructionsRequired(ConsentElementMissing):
    code = "consent_revocation_instructions_required"
    default_message = "Say how the patient may revoke the consent in writing (2.31(a)(6))."


class ExpiryRequired(ConsentElementMissing):
    code = "consent_expiry_required"
    default_message = "Give an expiration date or event (42 CFR 2.31(a)(7))."


class SignatureRequired(ConsentElementMissing):
    code = "consent_signature_required"
    default_message = "Say who signed: the patient or a representative (42 CFR 2.31(a)(8))."


class RepresentativeAuthorityRequired(ConsentElementMissing):
    code = "consent_representative_authority_required"
    default_message = "Give the representative's authority to sign (42 CFR 2.14, 2.15)."


class SignedOnRequired(ConsentElementMissing):
    code = "consent_signed_on_required"
    default_message = "Give the date the consent was signed (42 CFR 2.31(a)(9))."


class CounselingNotesConsentMustStandAlone(DomainError):
    code = "counseling_notes_consent_must_stand_alone"
    default_message = (
        "A consent for counseling notes names no other information (42 CFR 2.31(b)(2))."
    )


class RevocationIncomplete(DomainError):
    code = "consent_revocation_incomplete"
    default_message = (
        "Say who revoked (patient or representative) and how (written, or oral noted by staff)"
        " (42 CFR 2.31(a)(6))."
    )


def check_new_revocation(data: ConsentRef) -> None:
    """A revocation recorded now says who revoked and how."""
    if data.revoked_by is None or data.method is None:
        raise RevocationIncomplete


def check_new_consent(data: ConsentData) -> None:
    """Raise the first missing 2.31 element of a consent being recorded now."""
    classes = data.data_classes
    if COUNSELING_NOTE_CLASS in classes and len(classes) > 1:
        raise CounselingNotesConsentMustStandAlone
    if not data.disclosing_party:
        raise DisclosingPartyRequired
    if not data.recipients and not data.tpo:
        raise RecipientsRequired
    if not data.purposes:
        raise PurposesRequired
    if "other" in data.purposes and not data.purpose_text:
        raise PurposeTextRequired
    if not data.revocation_instructions:
        raise RevocationInstructionsRequired
    if data.expires_at is None and data.expires_on_event is None:
        raise ExpiryRequired
    if data.signed_by is None:
        raise SignatureRequired
    if data.signed_by == "representative" and not data.representative_authority:
        raise RepresentativeAuthorityRequired
    if data.signed_on is None:
        raise SignedOnRequired


def consent_form(data: ConsentData, *, patient_name: str | None) -> dict[str, Any]:
    """The consent as a person reads the signed form: one line per element of 2.31(a), in the
    regulation's order, with the paragraph each answers. Consents recorded before the 2024
    elements were modelled show what they hold and say what they do not."""
    recipients = _recipients(data)
    purposes: list[str] = sorted(data.purposes) or ([data.purpose] if data.purpose else [])
    purpose_words = ", ".join(PURPOSE_WORDS.get(p, p) for p in purposes)
    if data.purpose_text:
        purpose_words = f"{purpose_words} ({data.purpose_text})"
    if data.expires_at is not None:
        expiry = f"on {data.expires_at.isoformat()}"
    elif data.expires_on_event == "EpisodeClosed":
        expiry = "at the end of the treatment (discharge from this program)"
    else:
        expiry = "not stated (recorded before expiry was required)"
    signer = {
        "patient": "the patient",
        "representative": f"a representative ({data.representative_authority})",
    }.get(data.signed_by or "", "not recorded")
    lines = [
        ("2.31(a)(1)", "Patient", patient_name or "(the enrolled client; name not shown)"),
        ("2.31(a)(2)", "May disclose", data.disclosing_party or "the program (not recorded)"),
        ("2.31(a)(3)", "Information", _information(data)),
        ("2.31(a)(4)", "To", recipients),
        ("2.31(a)(5)", "For", purpose_words or "not recorded"),
        (
            "2.31(a)(6)",
            "Revocation",
            "You may revoke this consent in writing at any time, except where action was "
            "already taken in reliance on it. "
            + (data.revocation_instructions or "(How to revoke was not recorded.)"),
        ),
        ("2.31(a)(7)", "Expires", expiry),
        ("2.31(a)(8)", "Signed by", signer),
        (
            "2.31(a)(9)",
            "Signed on",
            data.signed_on.isoformat() if data.signed_on else "not recorded",
        ),
    ]
    if data.tpo:
        lines.extend(("2.31(a)(10)", "Statement", text) for text in TPO_STATEMENTS)
    return {
        "consent_id": data.consent_id,
        "counseling_notes": COUNSELING_NOTE_CLASS in data.data_classes,
        "lines": [
            {"section": section, "label": label, "text": text} for section, label, text in lines
        ],
    }


def _recipients(data: ConsentData) -> str:
    if data.tpo:
        return TPO_RECIPIENTS
    if data.recipients:
        return "; ".join(
            r.name if r.kind == "organization" else f"{r.name} ({r.org or 'no organization'})"
            for r in data.recipients
        )
    return data.recipient_org or "not recorded"


def _information(data: ConsentData) -> str:
    classes = sorted(data.data_classes)
    if "all" in classes:
        return "all of my substance use disorder records held by this program"
    return "my records of: " + ", ".join(c.replace("_", " ") for c in classes)
