"""The recording routes solve one dependency per request (issue 13: FastAPI's dependency
solving was a fifth of a write's CPU when the principal, clock, handler, privacy parts and
guard were each a dependency of their own)."""

from __future__ import annotations

from fastapi.routing import APIRoute

from services.api.access import recording
from services.api.clients import router


def dependencies_of(method: str, path: str) -> list[object]:
    route = next(
        r
        for r in router.routes
        if isinstance(r, APIRoute) and r.path == path and method in r.methods
    )
    return [d.call for d in route.dependant.dependencies]


def test_recording_a_care_event_authenticates_and_authorizes_through_one_dependency() -> None:
    # given the route that records a care event; when its dependencies are listed
    found = dependencies_of("POST", "/v1/clients/{client_id}/events")
    # then there is one: it authenticates, builds the guard and hands over clock and handler
    assert found == [recording]


def test_enrolling_a_client_authenticates_and_authorizes_through_one_dependency() -> None:
    assert dependencies_of("POST", "/v1/clients") == [recording]
