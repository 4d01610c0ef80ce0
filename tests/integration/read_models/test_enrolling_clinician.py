"""The clinician who enrolls a client is on the care team everywhere (issue 10, bullet 7): in
the record, on their caseload and in their flags, exactly as if a supervisor had assigned them,
and a release takes them off everywhere. Over HTTP (uvicorn on loopback) on real PostgreSQL
with the projection worker running, as deployed; the read models then equal a rebuild."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import uuid4

import httpx
import pytest

from projections.caseload import CASELOAD
from projections.early_warning import EARLY_WARNING
from services.app.read_side import ProjectionWorker
from services.wiring import Runtime, build_api, evaluator, live_runner
from tests.integration.http_support import live_server
from tests.integration.read_models.support import compare_with_rebuild
from tests.stories import Clock, Person, Story

PHQ9_ITEM_9_ANSWERED = [0, 0, 0, 0, 0, 0, 0, 0, 1]  # SUI-1, high


@pytest.fixture(scope="module")
def http(runtime: Runtime) -> Iterator[httpx.Client]:
    with live_server(build_api(runtime)) as url, httpx.Client(base_url=url, timeout=30) as client:
        yield client


@pytest.fixture
def worker(runtime: Runtime) -> Iterator[Callable[[], None]]:
    """The projections worker, as `carecircle worker projections` runs it, in a thread; the
    test may stop it (it drains what is left) before comparing with a rebuild."""
    stopping = threading.Event()
    thread = threading.Thread(
        target=ProjectionWorker(live_runner(runtime), evaluator(runtime), poll_seconds=0.1).run,
        args=(stopping,),
        daemon=True,
    )
    thread.start()

    def stop() -> None:
        stopping.set()
        thread.join(timeout=30)
        assert not thread.is_alive()

    yield stop
    stop()


def a_counselor() -> Person:
    return Person(f"counselor-{uuid4().hex[:8]}", "counselor", "harbor-counseling")


def read(http: httpx.Client, runtime: Runtime, path: str, who: Person, **params: Any) -> Any:
    answer = http.get(path, params=params, headers=who.headers(runtime.settings))
    assert answer.status_code == 200, answer.text
    return answer.json()


def eventually(check: Callable[[], bool], seconds: float = 60) -> None:
    """Wait until the worker has projected (and the rules evaluated) what the check needs."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not projected in time"
        time.sleep(0.1)


def on_caseload(http: httpx.Client, runtime: Runtime, who: Person) -> list[str]:
    body = read(http, runtime, f"/v1/caseloads/{who.sub}", who, min_position=runtime.store.head())
    return [row["client_id"] for row in body["clients"]]


def their_flags(http: httpx.Client, runtime: Runtime, who: Person) -> list[tuple[str, str]]:
    body = read(http, runtime, "/v1/flags", who, min_position=runtime.store.head())
    return [(flag["client_id"], flag["rule_id"]) for flag in body["items"]]


def test_the_enrolling_counselor_finds_the_client_on_the_care_team_caseload_and_flags(
    http: httpx.Client, runtime: Runtime, clock: Clock, worker: object
) -> None:
    # given a counselor who enrolls a client, and no supervisor assigns anyone
    counselor = a_counselor()
    story = Story(clock=clock).by(counselor).at(hours=-2).enrolled()
    story.over_http(http, runtime.settings)
    client = str(story.client_id)

    # when the counselor records a PHQ-9 with item 9 answered
    story.at(hours=-1).assessment("PHQ-9", PHQ9_ITEM_9_ANSWERED).over_http(http, runtime.settings)

    # then the record's care team names the counselor, in the role they enrolled in
    record = read(http, runtime, f"/v1/clients/{client}", counselor)
    assert [(m["member_id"], m["role"], m["org"]) for m in record["care_team"]] == [
        (counselor.sub, "counselor", counselor.org)
    ]
    # and the client is on the counselor's caseload
    assert on_caseload(http, runtime, counselor) == [client]
    # and the flag the PHQ-9 raised is among the counselor's flags
    eventually(lambda: (client, "SUI-1") in their_flags(http, runtime, counselor))


def test_a_released_enrolling_counselor_leaves_the_team_caseload_flags_and_access_alike(
    http: httpx.Client, runtime: Runtime, clock: Clock, worker: object
) -> None:
    # given a client a counselor enrolled, with a flag raised
    counselor = a_counselor()
    supervisor = Person(f"sup-{uuid4().hex[:8]}", "supervisor", counselor.org)
    story = Story(clock=clock).by(counselor).at(hours=-2).enrolled()
    story.at(hours=-1).assessment("PHQ-9", PHQ9_ITEM_9_ANSWERED).over_http(http, runtime.settings)
    client = str(story.client_id)
    eventually(lambda: (client, "SUI-1") in their_flags(http, runtime, counselor))

    # when their supervisor releases them (nobody ever assigned them)
    story.by(supervisor).at().event(
        "CareTeamMemberReleased", member_id=counselor.sub, role="counselor", org=counselor.org
    ).over_http(http, runtime.settings)

    # then the care team is empty, and the client is off their caseload and out of their flags
    record = read(http, runtime, f"/v1/clients/{client}", supervisor)
    assert record["care_team"] == []
    assert on_caseload(http, runtime, counselor) == []
    assert (client, "SUI-1") not in their_flags(http, runtime, counselor)
    # and authorization agrees: the counselor no longer reads the record
    refused = http.get(f"/v1/clients/{client}", headers=counselor.headers(runtime.settings))
    assert refused.status_code in (403, 404), refused.text


def test_the_read_models_with_enrolling_clinicians_equal_a_rebuild(
    http: httpx.Client, runtime: Runtime, clock: Clock, worker: Callable[[], None]
) -> None:
    # given a client a counselor enrolled, with a flag raised, projected by the worker
    counselor = a_counselor()
    story = Story(clock=clock).by(counselor).at(hours=-2).enrolled()
    story.at(hours=-1).assessment("PHQ-9", PHQ9_ITEM_9_ANSWERED).over_http(http, runtime.settings)
    eventually(lambda: (str(story.client_id), "SUI-1") in their_flags(http, runtime, counselor))
    worker()  # stopped: the live read models hold all it projected

    # when the caseload and early-warning read models are rebuilt from the store
    caseload = compare_with_rebuild(runtime, CASELOAD)
    early_warning = compare_with_rebuild(runtime, EARLY_WARNING)

    # then every row is the same (compare_with_rebuild raises naming a table that differs)
    assert caseload["caseload_members"] >= 1
    assert early_warning["flag_team"] >= 1
