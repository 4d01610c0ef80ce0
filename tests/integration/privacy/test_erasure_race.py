"""Erasure racing the requests in flight: once `client erase --confirm` commits, no event of the
client is stored after it and no read serves the client's name, whichever process decided or
fetched first (issue 11: "erasure takes effect in every process at once").

Each test has a second process (`other`: its own runtime, caches and pool, caching keys for
30 s as production does) that decided or fetched before the erasure and finishes after it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

import pytest
from fastapi.testclient import TestClient

from domain.commands import RecordCareEvent
from domain.errors import DomainError
from services.api.wire import to_event
from services.settings import Settings
from services.wiring import Runtime, build_api, build_runtime
from tests.integration.privacy.support import AUDITOR, SUPERVISOR, enroll, headers
from tests.stories import COUNSELOR, Clock, body, check_in_data

GIVEN, FAMILY = "Ysmena", "Calloway"


@pytest.fixture
def other(settings: Settings, privacy_db_url: str, clock: Clock) -> Iterator[Runtime]:
    """Another process that caches keys for 30 s and hears no erasure notice (a late one)."""
    runtime = build_runtime(
        settings.model_copy(update={"key_cache_seconds": 30}), privacy_db_url, clock=clock
    )
    yield runtime
    runtime.close()


@pytest.fixture
def other_api(settings: Settings, privacy_db_url: str, clock: Clock) -> Iterator[TestClient]:
    """Another API process that caches keys for 30 s and listens for erasure notices."""
    runtime = build_runtime(
        settings.model_copy(update={"key_cache_seconds": 30}), privacy_db_url, clock=clock
    )
    try:
        with TestClient(build_api(runtime), raise_server_exceptions=False) as client:
            client.app_state_runtime = runtime  # type: ignore[attr-defined]
            yield client
    finally:
        runtime.close()


def a_check_in(runtime: Runtime, client: UUID) -> RecordCareEvent:
    payload = body("CheckInRecorded", runtime.clock(), **check_in_data(6, 3, 7))
    event = to_event(payload, client_id=client, principal=COUNSELOR.principal, correlation_id=None)
    return RecordCareEvent(event, now=runtime.clock())


def erase(runtime: Runtime, client: UUID) -> int:
    """Both people's steps; returns the store's head right after the erasure committed."""
    erasures = runtime.privacy.erasures
    code = erasures.request(SUPERVISOR.principal, client, "ticket 11-race")
    erasures.confirm(AUDITOR.principal, client, code)
    return runtime.store.head()


def positions_of(runtime: Runtime, client: UUID) -> list[int]:
    with runtime.store.connection() as conn:
        rows = conn.execute(
            "SELECT position FROM care_event_index WHERE client_id = %s ORDER BY position",
            (client,),
        ).fetchall()
    return [row["position"] for row in rows]


def erasure_marker(runtime: Runtime, client: UUID) -> int:
    with runtime.store.connection() as conn:
        row = conn.execute(
            "SELECT erased_after_position FROM client_erasures WHERE client_id = %s", (client,)
        ).fetchone()
    assert row is not None
    marker: int = row["erased_after_position"]
    return marker


def held_until(released: threading.Event, call: Callable[..., Any]) -> Callable[..., Any]:
    """`call`, made to wait for `released` before it runs (a request stalled in flight)."""

    def stalled(*args: Any, **kwargs: Any) -> Any:
        assert released.wait(30)
        return call(*args, **kwargs)

    return stalled


class KeysQueriedThenHeld:
    """The key table read now, the answer handed back only once `released` (a read stalled
    between fetching the client's key and caching it)."""

    def __init__(self, database: Any, released: threading.Event) -> None:
        self._database = database
        self._released = released

    @contextmanager
    def connection(self) -> Iterator[Any]:
        with self._database.connection() as conn:
            yield conn
        assert self._released.wait(30)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._database, name)


def test_a_write_decided_before_the_erasure_stores_nothing_after_it(
    api: TestClient, runtime: Runtime, other: Runtime
) -> None:
    # given a client whose key and state the other process holds (it wrote for them)
    client = enroll(api, runtime, given=GIVEN, family=FAMILY)
    other.handler.record(a_check_in(other, client))
    # and a write there whose decide runs now, and whose append is held until after the erasure
    released = threading.Event()
    other.store.append = held_until(released, other.store.append)  # type: ignore[method-assign]
    answers: list[object] = []

    def write() -> None:
        try:
            answers.append(other.handler.record(a_check_in(other, client)))
        except DomainError as error:
            answers.append(error)

    writer = threading.Thread(target=write)
    writer.start()

    # when the erasure commits in this process, and then the held append goes on
    head = erase(runtime, client)
    released.set()
    writer.join(30)

    # then the write is refused as for an erased client, and nothing lies after the erasure
    assert [getattr(a, "code", a) for a in answers] == ["client_not_enrolled"]
    assert [p for p in positions_of(runtime, client) if p > head] == []
    assert max(positions_of(runtime, client)) <= erasure_marker(runtime, client)


def test_a_read_in_flight_during_the_erasure_does_not_bring_the_key_back(
    api: TestClient, runtime: Runtime, other_api: TestClient
) -> None:
    # given a client, and a read in the other process whose key fetch returns only after the
    # erasure committed and its notice was heard there
    client = enroll(api, runtime, given=GIVEN, family=FAMILY)
    other: Runtime = other_api.app_state_runtime  # type: ignore[attr-defined]
    keys = other.privacy.keys
    assert keys is not None
    released = threading.Event()
    database = keys.db
    keys.db = KeysQueriedThenHeld(database, released)  # type: ignore[assignment]
    first: list[Any] = []
    url = f"/v1/clients/{client}"
    reader = threading.Thread(
        target=lambda: first.append(other_api.get(url, headers=headers(runtime, COUNSELOR)))
    )
    reader.start()

    # when the erasure commits and the other process hears of it, then the stalled fetch returns
    erase(runtime, client)
    listener = other.erasure_listener
    assert listener is not None
    assert listener.wait_seen(client)
    released.set()
    reader.join(30)
    keys.db = database

    # then every read that starts after the erasure serves no name, in either process
    for reads in (other_api, api):
        after = reads.get(url, headers=headers(runtime, COUNSELOR))
        assert after.status_code == 200, after.text
        assert after.json()["status"] == "erased"
        assert GIVEN not in after.text
        assert FAMILY not in after.text


def test_writers_racing_an_erasure_store_nothing_after_it_and_no_read_serves_the_name(
    api: TestClient, runtime: Runtime, other_api: TestClient
) -> None:
    # given a client written to and read by both processes at once
    client = enroll(api, runtime, given=GIVEN, family=FAMILY)
    other: Runtime = other_api.app_state_runtime  # type: ignore[attr-defined]
    stop = threading.Event()
    codes: list[int] = []

    def writer(process: Runtime) -> None:
        while not stop.is_set():
            try:
                process.handler.record(a_check_in(process, client))
                codes.append(201)
            except DomainError as error:
                codes.append(404 if error.code == "client_not_enrolled" else 409)

    writers = [threading.Thread(target=writer, args=(p,)) for p in (runtime, other) * 3]
    for thread in writers:
        thread.start()

    # when the erasure commits while they write
    try:
        erase(runtime, client)
        listener = other.erasure_listener
        assert listener is not None
        assert listener.wait_seen(client)
        reads_after = [
            reads.get(f"/v1/clients/{client}", headers=headers(runtime, COUNSELOR))
            for reads in (api, other_api)
            for _ in range(3)
        ]
    finally:
        stop.set()
        for thread in writers:
            thread.join(30)

    # then no event of the client lies after the erasure, and no read after it names them
    assert 201 in codes
    assert 404 in codes
    marker = erasure_marker(runtime, client)
    assert [p for p in positions_of(runtime, client) if p > marker] == []
    for after in reads_after:
        assert after.json()["status"] == "erased", after.text
        assert GIVEN not in after.text
