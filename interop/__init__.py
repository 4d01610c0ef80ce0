"""Translations of the care record into other standards (FHIR R4)."""
