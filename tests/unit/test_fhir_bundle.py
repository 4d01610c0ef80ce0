"""The FHIR R4 view of a client's history (interop/fhir/): pure, validated, labelled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from fhir.resources.R4B.bundle import Bundle
from pydantic import ValidationError

from domain.recorded import Recorded
from interop import fhir_codes as codes
from interop.fhir import FhirMappingError, bundle_json, client_bundle
from tests.unit import builders as b

NOW = datetime(2026, 2, 1, tzinfo=UTC)


def resources(history: list[Recorded], **kw: Any) -> list[dict[str, Any]]:
    bundle = client_bundle(history, now=NOW, **kw)
    assert bundle is not None
    body = orjson.loads(bundle_json(bundle))
    return [entry["resource"] for entry in body["entry"]]


def of_type(found: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [r for r in found if r["resourceType"] == kind]


def codings(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept.get("coding", [])}


@pytest.fixture
def part2_story() -> tuple[list[Recorded], dict[str, Any]]:
    craving = b.check_in(craving=8, sleep_hours=3.5)
    phq9 = b.phq9(2, 2, 3, 2, 1, 2, 2, 1, 1)
    superseded = b.check_in(craving=9)
    history = b.stored(
        b.enrolled(part2=True),
        b.assigned(),
        b.assigned(member_id="peer-17", role="peer_specialist", org=b.PEER_ORG),
        b.check_in_plan_set(),
        craving,
        superseded,
        phq9,
        b.goal_set(),
        b.safety_plan_recorded(),
        b.consent_granted(),
        b.handoff_initiated(),
        b.handoff_accepted(actor=b.a_peer()),
        b.flag_raised(rule_id="SUI-1", severity="high", evidence=(phq9.event_id,)),
        b.entered_in_error(superseded.event_id),
    )
    return history, {"phq9": phq9, "craving": craving, "in_error": superseded}


def test_every_resource_of_the_bundle_parses_and_validates_as_fhir_r4b(
    part2_story: tuple[list[Recorded], dict[str, Any]],
) -> None:
    # given a Part 2 client's history with team, check-ins, PHQ-9, plans, consent, handoff, flag
    history, _ = part2_story
    # when it is mapped and serialized
    bundle = client_bundle(history, now=NOW)
    assert bundle is not None
    text = bundle_json(bundle)
    # then the JSON parses back into typed R4B resources, and says which FHIR version it is
    parsed = Bundle.model_validate_json(text)
    kinds = {entry.resource.get_resource_type() for entry in parsed.entry}
    assert kinds >= {
        "Patient",
        "EpisodeOfCare",
        "CareTeam",
        "CarePlan",
        "Goal",
        "Observation",
        "Flag",
        "RiskAssessment",
        "ServiceRequest",
        "Task",
        "Consent",
        "Provenance",
    }
    tags = {(t.system, t.code) for t in parsed.meta.tag}
    assert (codes.FHIR_VERSION, "4.3.0") in tags


def test_the_phq9_observation_carries_its_loinc_panel_total_and_item_codes(
    part2_story: tuple[list[Recorded], dict[str, Any]],
) -> None:
    history, _ = part2_story
    found = resources(history)
    [phq] = [o for o in of_type(found, "Observation") if o["code"].get("text") == "PHQ-9"]
    assert (codes.LOINC, "44249-1") in codings(phq["code"])
    total = [c for c in phq["component"] if (codes.LOINC, "44261-6") in codings(c["code"])]
    assert [c["valueInteger"] for c in total] == [16]  # the total the domain scored
    item9 = [c for c in phq["component"] if (codes.LOINC, "44260-8") in codings(c["code"])]
    assert [c["valueInteger"] for c in item9] == [1]
    assert phq["category"][0]["coding"][0]["code"] == "survey"


def test_part2_data_carries_the_ds4p_security_labels_on_every_resource_and_the_bundle(
    part2_story: tuple[list[Recorded], dict[str, Any]],
) -> None:
    history, _ = part2_story
    bundle = client_bundle(history, now=NOW)
    assert bundle is not None
    body = orjson.loads(bundle_json(bundle))
    wanted = {(system, code) for system, code, _ in codes.PART2_SECURITY}
    assert wanted <= {(s["system"], s["code"]) for s in body["meta"]["security"]}
    for entry in body["entry"]:
        labels = {(s["system"], s["code"]) for s in entry["resource"]["meta"]["security"]}
        assert wanted <= labels, entry["resource"]["resourceType"]


def test_a_client_outside_part2_gets_no_part2_labels() -> None:
    found = resources(b.stored(b.enrolled(part2=False), b.assigned(), b.check_in()))
    for resource in found:
        security = resource.get("meta", {}).get("security", [])
        assert "42CFRPart2" not in {s["code"] for s in security}, resource["resourceType"]


def test_an_open_flag_points_at_its_evidence_through_a_risk_assessment(
    part2_story: tuple[list[Recorded], dict[str, Any]],
) -> None:
    history, _ = part2_story
    bundle = client_bundle(history, now=NOW)
    assert bundle is not None
    body = orjson.loads(bundle_json(bundle))
    urls = {e["resource"]["id"]: e["fullUrl"] for e in body["entry"]}
    found = [e["resource"] for e in body["entry"]]
    [flag] = of_type(found, "Flag")
    [assessment] = of_type(found, "RiskAssessment")
    phq_url = next(
        urls[o["id"]] for o in of_type(found, "Observation") if o["code"].get("text") == "PHQ-9"
    )
    assert flag["status"] == "active"
    assert (codes.RULE, "SUI-1") in codings(flag["code"])
    assert flag["extension"][0]["valueReference"]["reference"] == urls[assessment["id"]]
    assert [basis["reference"] for basis in assessment["basis"]] == [phq_url]
    assert assessment["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == "high"


def test_a_resolved_flag_is_not_in_the_bundle() -> None:
    found = resources(b.stored(b.enrolled(), b.flag_raised(), b.flag_resolved()))
    assert of_type(found, "Flag") == []


def test_an_entry_in_error_is_left_out_and_every_kept_event_has_its_provenance(
    part2_story: tuple[list[Recorded], dict[str, Any]],
) -> None:
    history, events = part2_story
    found = resources(history)
    check_ins = [
        o
        for o in of_type(found, "Observation")
        if (codes.CHECK_IN, "check-in") in codings(o["code"])
    ]
    assert len(check_ins) == 1  # the one entered in error is gone
    sources = {p["entity"][0]["what"]["identifier"]["value"] for p in of_type(found, "Provenance")}
    assert str(events["craving"].event_id) in sources
    assert str(events["in_error"].event_id) not in sources
    provenance = next(
        p
        for p in of_type(found, "Provenance")
        if p["entity"][0]["what"]["identifier"]["value"] == str(events["phq9"].event_id)
    )
    assert provenance["agent"][0]["who"]["identifier"]["value"] == "counselor-1"
    assert provenance["agent"][0]["onBehalfOf"]["identifier"]["value"] == b.HOME_ORG


def test_the_handoff_is_a_service_request_with_a_task_in_the_receivers_hands(
    part2_story: tuple[list[Recorded], dict[str, Any]],
) -> None:
    history, _ = part2_story
    found = resources(history)
    [request] = of_type(found, "ServiceRequest")
    [task] = of_type(found, "Task")
    assert request["status"] == "active"
    assert task["status"] == "accepted"
    assert task["focus"]["reference"].endswith(request["id"])
    assert task["owner"]["identifier"]["value"] == b.PEER_ORG


def test_a_consent_read_shows_only_the_classes_it_covers_and_no_demographics(
    part2_story: tuple[list[Recorded], dict[str, Any]],
) -> None:
    history, _ = part2_story
    found = resources(history, data_classes=frozenset({"assessment"}))
    kinds = {r["resourceType"] for r in found}
    assert kinds == {"Patient", "Observation", "Provenance"}
    [patient] = of_type(found, "Patient")
    assert "name" not in patient
    assert "birthDate" not in patient
    assert all(o["code"].get("text") != "Check-in" for o in of_type(found, "Observation"))


def test_the_same_history_gives_the_same_bundle_and_no_enrollment_gives_none(
    part2_story: tuple[list[Recorded], dict[str, Any]],
) -> None:
    history, _ = part2_story
    first = client_bundle(history, now=NOW)
    again = client_bundle(history, now=NOW)
    assert first is not None
    assert again is not None
    assert bundle_json(first) == bundle_json(again)
    assert client_bundle(history[1:], now=NOW) is None


def test_an_expired_consent_is_inactive() -> None:
    history = b.stored(b.enrolled(), b.consent_granted(expires_at=NOW - timedelta(days=1)))
    [consent] = of_type(resources(history), "Consent")
    assert consent["status"] == "inactive"


def test_a_mapping_error_names_the_field_but_never_the_value() -> None:
    from fhir.resources.R4B.patient import Patient

    try:
        Patient(birthDate="Jordan Vale's birthday")
    except ValidationError as error:
        problem = FhirMappingError("Patient", error)
    assert "birthDate" in str(problem)
    assert "Jordan" not in str(problem)
