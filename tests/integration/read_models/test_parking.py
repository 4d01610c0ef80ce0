"""No poison pill in the read models (issue 10): an event a projection cannot apply is parked
with its position and reason, the projection moves on for every other client, the parking shows
in `projections status`, `status`, `/metrics` and `/readyz`, and a fix is replayed with `projections
retry` (a rebuild in position order)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from psycopg.sql import SQL

from domain.catalogue import CareEvent
from projections.audit_trail import AUDIT_TRAIL
from projections.caseload import caseload_of
from projections.engine import Projection, Target, migrate, versions_of
from projections.runner import Runner
from services.adapters.store import Append
from services.wiring import Runtime, build_api, parked, pool_of, read_models, retry_parked
from tests.integration.read_models.support import Client, ReadSide
from tests.integration.read_models.test_rebuild import cli
from tests.unit import builders as b


@pytest.fixture(scope="module")
def api(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(build_api(runtime), raise_server_exceptions=False) as client:
        yield client


def store_around_the_contract(runtime: Runtime, client: Client, event: CareEvent) -> int:
    """Store an event as a store written before the contract refused NUL would hold it."""
    version = len(runtime.store.load(client.client_id))
    [recorded] = runtime.store.append([Append(client.client_id, version, [event])])
    return recorded.position


def test_an_event_the_caseload_cannot_hold_is_parked_and_every_other_client_moves_on(
    runtime: Runtime, read_side: ReadSide, api: TestClient
) -> None:
    # given a client whose stored history holds an assignment with a NUL in the member id
    poisoned = Client.enrolled(read_side, member_id="counselor-1")
    read_side.settle()
    bad = b.assigned(member_id="peer\u0000kai", client_id=poisoned.client_id)
    position = store_around_the_contract(runtime, poisoned, bad)
    # and another client assigned to a counselor after it
    later = Client.enrolled(read_side, member_id="counselor-after-the-poison")
    # when the read side catches up
    read_side.settle()
    # then the later client is on the counselor's caseload: nothing stalled
    with read_models(runtime).reading(["caseload"], min_position=position + 1) as (conn, tables):
        caseload = caseload_of(conn, tables["caseload"], "counselor-after-the-poison")
    assert [c.client_id for c in caseload] == [later.client_id]
    # and the poison is parked, by projection, position and type, without its text
    found = [p for p in parked(runtime) if p.position == position]
    assert {p.name for p in found} >= {"caseload"}
    assert {p.event_type for p in found} == {"CareTeamMemberAssigned"}
    assert all("peer" not in p.reason for p in found)
    # and the operator sees it: status, metrics, readiness (degraded, still answering)
    code, out = cli(runtime.database_url, "projections", "status")
    assert code == 0
    assert f"position {position} (CareTeamMemberAssigned)" in out
    code, out = cli(runtime.database_url, "status")
    assert code == 0
    assert re.search(rf"^  caseload +1 event\(s\), oldest at position {position}$", out, re.M), out
    metrics = api.get("/metrics").text
    assert 'carecircle_projection_parked_events{projection="caseload"} 1.0' in metrics
    assert (
        f'carecircle_projection_parked_oldest_position{{projection="caseload"}} {position}.0'
        in (metrics)
    )
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "degraded"
    assert "caseload" in ready.json()["checks"]["projections"]


class Fragile:
    """A handler that fails while `broken` (a bug in a projection, later fixed)."""

    broken = True

    def __call__(self, statements: object, tables: object, recorded: object) -> None:
        if self.broken:
            raise KeyError("a bug in the handler")


FRAGILE = Fragile()
NOTES = Projection(
    name="test_parking_notes",
    version=1,
    tables=("parking_notes",),
    ddl=(SQL("CREATE TABLE {parking_notes} (position bigint PRIMARY KEY)"),),
    handlers={"SessionHeld": FRAGILE},
)


def test_a_parked_event_is_applied_by_a_retry_after_the_fix(
    runtime: Runtime, read_side: ReadSide
) -> None:
    # given a projection with a bug that fails on sessions, following the store
    pool = pool_of(runtime)
    migrate(pool, [NOTES])
    runner = Runner(runtime.store, pool, lambda: [Target(NOTES, 1)])
    client = Client.enrolled(read_side, member_id=f"counselor-{uuid4().hex[:6]}")
    client.record(b.session_held)
    # when it catches up, the session is parked and its position passed
    runner.catch_up()
    with pool.connection() as conn:
        live = versions_of(conn, NOTES.name).live
        parked_before = [p for p in parked(runtime) if p.name == NOTES.name]
    assert [p.event_type for p in parked_before] == ["SessionHeld"]
    assert "KeyError" in parked_before[0].reason
    # when the bug is fixed and the operator retries
    FRAGILE.broken = False
    left = retry_parked(runtime, [NOTES.name], grace_seconds=0, projections=[NOTES])
    # then nothing is parked any more and a new version is live
    assert left == 0
    assert [p for p in parked(runtime) if p.name == NOTES.name] == []
    with pool.connection() as conn:
        assert versions_of(conn, NOTES.name).live == live + 1


def test_an_audit_entry_written_behind_the_engine_parks_the_event_it_would_have_hidden(
    runtime: Runtime, read_side: ReadSide
) -> None:
    # given the read side at the head, and an entry planted in the live audit trail at the
    # next position, behind the engine's back
    client = Client.enrolled(read_side, member_id=f"counselor-{uuid4().hex[:6]}")
    read_side.settle()
    planted = runtime.store.head() + 1
    pool = pool_of(runtime)
    with pool.connection() as conn:
        trail = AUDIT_TRAIL.tables_of(versions_of(conn, AUDIT_TRAIL.name).live)
        conn.execute(
            SQL(
                "INSERT INTO {audit_trail} (position, entry, kind, digest, hash)"
                " VALUES (%s, 0, 'planted', '\\x00', '\\x00')"
            ).format(**trail),
            (planted,),
        )
    # when two check-ins are recorded and the read side catches up
    client.record(b.check_in, craving=2)
    client.record(b.check_in, craving=3)
    read_side.settle()
    # then the check-in at the planted position is parked by the audit trail, not skipped
    found = [p for p in parked(runtime) if p.position == planted]
    assert [(p.name, p.event_type) for p in found] == [("audit_trail", "CheckInRecorded")]
    assert "IntegrityError" in found[0].reason or "UniqueViolation" in found[0].reason
    # and the planted entry stands as it was, the check-in after it is in the trail
    with pool.connection() as conn:
        rows = conn.execute(
            SQL(
                "SELECT position, kind FROM {audit_trail} WHERE position >= %s ORDER BY position"
            ).format(**trail),
            (planted,),
        ).fetchall()
    assert [(r["position"], r["kind"]) for r in rows] == [
        (planted, "planted"),
        (planted + 1, "event"),
    ]
