"""Code systems and codes the FHIR R4 view uses (docs/analysts.md lists them).

LOINC codes are those §6.2 names for each instrument (panel, total, items where known); an
instrument or item without a verified LOINC code gets a code in our own `urn:carecircle:…`
system rather than a guessed one. Security labels follow the FHIR DS4P labels of §4.4.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

LOINC: Final = "http://loinc.org"
SNOMED: Final = "http://snomed.info/sct"
UCUM: Final = "http://unitsofmeasure.org"
OBSERVATION_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/observation-category"
FLAG_CATEGORY: Final = "http://terminology.hl7.org/CodeSystem/flag-category"
RISK_PROBABILITY: Final = "http://terminology.hl7.org/CodeSystem/risk-probability"
CONSENT_SCOPE: Final = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_POLICY: Final = "http://terminology.hl7.org/CodeSystem/consentpolicycodes"
ACT_CODE: Final = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
ACT_REASON: Final = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONFIDENTIALITY: Final = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality"
US_PRIVACY_LAW: Final = "http://terminology.hl7.org/CodeSystem/v3-ActUSPrivacyLaw"
PARTICIPATION_TYPE: Final = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
DATA_OPERATION: Final = "http://terminology.hl7.org/CodeSystem/v3-DataOperation"
PROVENANCE_AGENT: Final = "http://terminology.hl7.org/CodeSystem/provenance-participant-type"
GOAL_ACHIEVEMENT: Final = "http://terminology.hl7.org/CodeSystem/goal-achievement"
TASK_CODE: Final = "http://hl7.org/fhir/CodeSystem/task-code"
FHIR_VERSION: Final = "http://hl7.org/fhir/FHIR-version"
FLAG_DETAIL: Final = "http://hl7.org/fhir/StructureDefinition/flag-detail"

# Our own systems: identifiers and codes no public terminology has (yet).
CLIENT_ID: Final = "urn:carecircle:id:client"
STAFF_ID: Final = "urn:carecircle:id:staff"
ORG_ID: Final = "urn:carecircle:id:org"
EVENT_ID: Final = "urn:carecircle:id:event"
HANDOFF_ID: Final = "urn:carecircle:id:handoff"
CONSENT_ID: Final = "urn:carecircle:id:consent"
GOAL_ID: Final = "urn:carecircle:id:goal"
FLAG_ID: Final = "urn:carecircle:id:flag"
RULE: Final = "urn:carecircle:codes:early-warning-rule"
PROGRAM: Final = "urn:carecircle:codes:program"
CARE_TEAM_ROLE: Final = "urn:carecircle:codes:care-team-role"
INSTRUMENT: Final = "urn:carecircle:codes:instrument"
BAND: Final = "urn:carecircle:codes:band"
CHECK_IN: Final = "urn:carecircle:codes:check-in"
SUBSTANCE: Final = "urn:carecircle:codes:substance"
PLAN_CATEGORY: Final = "urn:carecircle:codes:care-plan-category"
SAFETY_PLAN_SECTION: Final = "urn:carecircle:codes:safety-plan-section"
DATA_CLASS: Final = "urn:carecircle:codes:data-class"
SECURITY_LABEL: Final = "urn:carecircle:codes:security-label"
# The 42 CFR 2.32 notice a disclosing Bundle carries on its `meta` (a Bundle has no extensions
# of its own): the statements, and the consent relied on (or the emergency) with its scope.
REDISCLOSURE_NOTICE: Final = "urn:carecircle:extension:redisclosure-notice"

PART2_LABEL: Final = "42CFRPart2"

# 42 CFR Part 2 data: restricted, substance-use sensitivity, the law, no redisclosure (DS4P).
PART2_SECURITY: Final = (
    (CONFIDENTIALITY, "R", "restricted"),
    (ACT_CODE, "ETH", "substance abuse information sensitivity"),
    (US_PRIVACY_LAW, "42CFRPart2", "42 CFR Part2"),
    (ACT_CODE, "NORDSCLCD", "no redisclosure without consent directive"),
)


@dataclass(frozen=True, slots=True)
class InstrumentCodes:
    """An instrument's panel and total codes, and its item codes in item order."""

    panel: tuple[str, str, str]  # system, code, display
    total: tuple[str, str, str]
    items: tuple[str, ...] = ()  # LOINC item codes, when known for every item


def _local(instrument: str, what: str) -> tuple[str, str, str]:
    return (INSTRUMENT, f"{instrument}/{what}", f"{instrument} {what}")


INSTRUMENTS: Final[Mapping[str, InstrumentCodes]] = {
    "PHQ-9": InstrumentCodes(
        panel=(LOINC, "44249-1", "PHQ-9 quick depression assessment panel"),
        total=(LOINC, "44261-6", "Patient Health Questionnaire 9 item (PHQ-9) total score"),
        items=(
            "44250-9",
            "44255-8",
            "44259-0",
            "44254-1",
            "44251-7",
            "44258-2",
            "44252-5",
            "44253-3",
            "44260-8",
        ),
    ),
    "GAD-7": InstrumentCodes(
        panel=(LOINC, "69737-5", "Generalized anxiety disorder 7 item (GAD-7)"),
        total=(LOINC, "70274-6", "Generalized anxiety disorder 7 item (GAD-7) total score"),
    ),
    "AUDIT-C": InstrumentCodes(
        panel=(LOINC, "72109-2", "Alcohol Use Disorder Identification Test - Consumption"),
        total=(LOINC, "75626-2", "Total score [AUDIT-C]"),
        items=("68518-0", "68519-8", "68520-6"),
    ),
    "AUDIT": InstrumentCodes(
        panel=_local("AUDIT", "panel"),
        total=(LOINC, "75624-7", "Total score [AUDIT]"),
    ),
    "DAST-10": InstrumentCodes(
        panel=(LOINC, "82666-9", "Drug Abuse Screening Test-10 [DAST-10]"),
        total=(LOINC, "82667-7", "Total score [DAST-10]"),
    ),
    "C-SSRS-SCREEN": InstrumentCodes(
        panel=(LOINC, "93373-9", "Columbia Suicide Severity Rating Scale screen - recent"),
        total=_local("C-SSRS-SCREEN", "yes-count"),
        items=("93246-7", "93247-5", "93248-3", "93249-1", "93250-9", "93267-3", "93269-9"),
    ),
    "BAM": InstrumentCodes(panel=_local("BAM", "panel"), total=_local("BAM", "total")),
}
CSSRS_RISK_LEVEL: Final = (LOINC, "93374-7", "C-SSRS suicide risk level")

# Care-team roles: ours for all, SNOMED CT where one fits the role.
ROLE_SNOMED: Final[Mapping[str, tuple[str, str]]] = {
    "counselor": ("310190000", "Mental health counselor"),
    "case_manager": ("768820003", "Care coordinator"),
}

PURPOSE_OF_USE: Final[Mapping[str, tuple[str, str]]] = {
    "treatment": ("TREAT", "treatment"),
    "operations": ("HOPERAT", "healthcare operations"),
    "emergency": ("ETREAT", "emergency treatment"),
    "payment": ("HPAYMT", "healthcare payment"),
    "research": ("HRESCH", "healthcare research"),
    "other": ("HOPERAT", "healthcare operations"),
}

HANDOFF_PRIORITY: Final[Mapping[str, str]] = {
    "routine": "routine",
    "urgent": "urgent",
    "emergent": "stat",
}

SAFETY_PLAN_SECTIONS: Final = (
    ("warning_signs", "Warning signs"),
    ("coping_strategies", "Internal coping strategies"),
    ("social_contacts", "People and social settings that provide distraction"),
    ("help_contacts", "People to ask for help"),
    ("professional_contacts", "Professionals and agencies to contact in a crisis"),
    ("crisis_lines", "Crisis lines"),
    ("means_safety", "Making the environment safe"),
    ("reasons_for_living", "Reasons for living"),
)
