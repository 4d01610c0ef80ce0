"""The 42 CFR 2.32 notice inside a disclosing Bundle, not only in the HTTP headers.

A Bundle is a Resource, not a DomainResource: it has no `extension` and no narrative of its
own, so the notice rides on `Bundle.meta` (an Element, which may carry extensions) beside the
DS4P security labels (`NORDSCLCD`: no redisclosure without consent). The extension
(`urn:carecircle:extension:redisclosure-notice`) holds the short statement of 2.32(a)(2), the
full statement of 2.32(a)(1), and per disclosure the consent relied on (its identifier in
`urn:carecircle:id:consent`) or the medical emergency (2.51), the data classes disclosed and the
consent's scope, line by line as the signed form reads (2.32(b)).

The notice itself is made by the caller (one function builds it for every answer); this module
only writes it in FHIR's terms.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from interop import fhir_codes as codes
from interop.fhir.datatypes import Json


def notice_extension(notice: Mapping[str, Any]) -> Json:
    """The notice as one complex extension for `Bundle.meta.extension`."""
    return {
        "url": codes.REDISCLOSURE_NOTICE,
        "extension": [
            {"url": "statement", "valueString": notice["statement"]},
            {"url": "notice", "valueString": notice["notice"]},
            _disclosure(notice),
        ],
    }


def _disclosure(notice: Mapping[str, Any]) -> Json:
    parts: list[Json] = []
    consent = notice.get("consent")
    if consent is None:
        parts.append({"url": "emergency", "valueBoolean": bool(notice.get("break_glass"))})
    else:
        parts.append(
            {
                "url": "consent",
                "valueIdentifier": {"system": codes.CONSENT_ID, "value": consent["consent_id"]},
            }
        )
    notes_consent = notice.get("counseling_notes_consent_id")
    if notes_consent:
        parts.append(
            {
                "url": "counselingNotesConsent",
                "valueIdentifier": {"system": codes.CONSENT_ID, "value": notes_consent},
            }
        )
    parts.extend(
        {"url": "dataClass", "valueCoding": {"system": codes.DATA_CLASS, "code": data_class}}
        for data_class in notice.get("data_classes", ())
    )
    for line in (consent or {}).get("scope") or ():
        text = f"{line['section']} {line['label']}: {line['text']}"
        parts.append({"url": "scope", "valueString": text})
    return {"url": "disclosure", "extension": parts}
