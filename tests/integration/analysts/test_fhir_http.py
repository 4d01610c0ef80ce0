"""GET /v1/clients/{id}/fhir on real PostgreSQL: both seed stories as validated FHIR R4 Bundles."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi.testclient import TestClient
from fhir.resources.R4B.bundle import Bundle

from interop import fhir_codes as codes
from services.wiring import Runtime, evaluator, live_runner
from tests.stories import (
    COUNSELOR,
    Enrollee,
    Person,
    Story,
    enrolled_with_team,
    parent_after_surgery,
    young_professional_after_the_night,
    young_professional_before_the_night,
)

STRANGER = Person("counselor-zed", "counselor", "harbor-counseling")


def fhir_of(api: TestClient, runtime: Runtime, client_id: object, who: Person) -> Any:
    return api.get(f"/v1/clients/{client_id}/fhir", headers=who.headers(runtime.settings))


def parsed(answer: Any) -> tuple[Any, list[dict[str, Any]]]:
    """The Bundle validated by fhir.resources, and its resources as plain JSON."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("application/fhir+json")
    bundle = Bundle.model_validate_json(answer.content)
    return bundle, [entry["resource"] for entry in orjson.loads(answer.content)["entry"]]


def codings(concept: dict[str, Any]) -> set[tuple[str, str]]:
    return {(c["system"], c["code"]) for c in concept.get("coding", [])}


def phq9_observations(found: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        r
        for r in found
        if r["resourceType"] == "Observation" and (codes.LOINC, "44249-1") in codings(r["code"])
    ]


def total_of(observation: dict[str, Any]) -> list[int]:
    return [
        c["valueInteger"]
        for c in observation["component"]
        if (codes.LOINC, "44261-6") in codings(c["code"])
    ]


def settle_flags(runtime: Runtime) -> None:
    """What the projections worker does: project, let the rules raise flags, project those."""
    runner = live_runner(runtime, batch_size=500)
    flags = evaluator(runtime)
    for _round in range(5):
        runner.catch_up()
        if not flags.sweep():
            return
    raise AssertionError("the rules kept recording flags")


def test_the_young_professionals_bundle_validates_with_the_phq9_and_the_flag_it_raised(
    api: TestClient, runtime: Runtime
) -> None:
    # given the young professional's whole story, and the early-warning rules run over it
    story = young_professional_before_the_night(Story())
    phq9 = story.over_http(api, runtime.settings)[-1]
    young_professional_after_the_night(story).over_http(api, runtime.settings)
    settle_flags(runtime)
    # when the counselor asks for the FHIR view
    bundle, found = parsed(fhir_of(api, runtime, story.client_id, COUNSELOR))
    # then it validates as an R4B Bundle and its PHQ-9 Observation has the LOINC panel and total
    assert bundle.type == "collection"
    [observation] = phq9_observations(found)
    assert total_of(observation) == [16]
    # and the open SUI-1 flag's risk assessment names that PHQ-9 as its evidence
    urls = {r["id"]: e.fullUrl for r, e in zip(found, bundle.entry, strict=True)}
    flags = [r for r in found if r["resourceType"] == "Flag"]
    sui1 = [f for f in flags if (codes.RULE, "SUI-1") in codings(f["code"])]
    assert len(sui1) == 1
    detail = sui1[0]["extension"][0]["valueReference"]["reference"]
    [assessment] = [
        r for r in found if r["resourceType"] == "RiskAssessment" and urls[r["id"]] == detail
    ]
    assert {b["reference"] for b in assessment["basis"]} == {urls[observation["id"]]}
    # and the completed warm handoff, the safety plan and the team are there
    [task] = [r for r in found if r["resourceType"] == "Task"]
    assert task["status"] == "completed"
    assert task["output"][0]["valueBoolean"] is True
    plans = {r["title"] for r in found if r["resourceType"] == "CarePlan"}
    assert "Safety plan" in plans
    [team] = [r for r in found if r["resourceType"] == "CareTeam"]
    assert len(team["participant"]) == 4
    # and the PHQ-9 has its Provenance: who recorded it, in which organization
    [provenance] = [
        r
        for r in found
        if r["resourceType"] == "Provenance"
        and r["entity"][0]["what"]["identifier"]["value"] == phq9["event_id"]
    ]
    assert provenance["agent"][0]["who"]["identifier"]["value"] == COUNSELOR.sub
    assert provenance["agent"][0]["onBehalfOf"]["identifier"]["value"] == COUNSELOR.org
    # and no Part 2 label on a client outside a Part 2 program
    assert all(
        s["code"] != "42CFRPart2" for r in found for s in r.get("meta", {}).get("security", [])
    )


def test_the_parents_part2_bundle_validates_and_every_resource_carries_the_part2_labels(
    api: TestClient, runtime: Runtime
) -> None:
    # given the parent's story in a Part 2 program
    story = parent_after_surgery()
    story.over_http(api, runtime.settings)
    # when the counselor asks for the FHIR view
    answer = fhir_of(api, runtime, story.client_id, COUNSELOR)
    bundle, found = parsed(answer)
    # then the PHQ-9 carries LOINC 44249-1 with total 44261-6
    [observation] = phq9_observations(found)
    assert total_of(observation) == [8]
    # and the Bundle and every resource in it carry the DS4P labels of 42 CFR Part 2
    wanted = {(system, code) for system, code, _ in codes.PART2_SECURITY}
    assert wanted <= {(s.system, s.code) for s in bundle.meta.security}
    for resource in found:
        labels = {(s["system"], s["code"]) for s in resource["meta"]["security"]}
        assert wanted <= labels, resource["resourceType"]
    # and the MOUD handoff is a completed ServiceRequest with its Task
    [request] = [r for r in found if r["resourceType"] == "ServiceRequest"]
    assert request["status"] == "completed"
    assert request["priority"] == "urgent"
    # and the read is in the access log as a FHIR read by the counselor
    assert runtime.privacy is not None
    logged = runtime.privacy.access_log.entries(client_id=story.client_id, limit=1000)
    assert any(
        row.entry.action == "read_fhir" and row.entry.actor_id == COUNSELOR.sub for row in logged
    )


def test_a_clinician_with_no_relationship_gets_404_as_for_an_unknown_client(
    api: TestClient, runtime: Runtime
) -> None:
    story = enrolled_with_team(Story(), Enrollee("Casey", "Stone"), part2=True)
    story.over_http(api, runtime.settings)
    stranger = fhir_of(api, runtime, story.client_id, STRANGER)
    unknown = fhir_of(api, runtime, "00000000-0000-4000-8000-000000000000", COUNSELOR)
    assert stranger.status_code == unknown.status_code == 404
    assert stranger.json()["code"] == unknown.json()["code"] == "client_not_enrolled"
    assert "Casey" not in stranger.text
