"""A client's record as a FHIR R4 Bundle, for other systems (docs/analysts.md, FHIR).

A pure function of the client's stored history (and the clock, for consents that expired):
Patient, EpisodeOfCare, CareTeam (patient.py), CarePlan (recovery goals with their Goals, and
the Stanley-Brown safety plan: plans.py), Observation (each assessment with its LOINC panel and
total code, check-ins in our own code system: observations.py), Flag with a RiskAssessment
holding its evidence (open flags: flags.py), ServiceRequest + Task (warm handoffs: handoffs.py),
Consent (consents.py), and one Provenance per event that shaped a resource (who recorded it, in
which role and organization, when, for what purpose: provenance.py). bundle.py puts them
together; context.py holds the state they are built in; datatypes.py the small FHIR types.

Every resource is built with `fhir.resources.R4B` (FHIR 4.3.0, the R4 line; the package's
default is R5), so each is validated as it is made; the Bundle says which version in its
`meta.tag`. Part 2 data carries the DS4P security labels (restricted, ETH, 42CFRPart2,
NORDSCLCD) on every resource and on the Bundle. Entries in error or superseded are left out, as
in the clinician's record (domain/record.py). Resource ids are derived from the client and the
events, so the same history always gives the same Bundle.
"""

from interop.fhir.bundle import FHIR_PACKAGE, FHIR_RELEASE, bundle_json, client_bundle
from interop.fhir.context import Entry
from interop.fhir.datatypes import FhirMappingError

__all__ = [
    "FHIR_PACKAGE",
    "FHIR_RELEASE",
    "Entry",
    "FhirMappingError",
    "bundle_json",
    "client_bundle",
]
