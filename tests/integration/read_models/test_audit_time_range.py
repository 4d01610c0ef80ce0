"""An audit page by recorded time reads a range of positions, not the whole trail (issue 13).

The audit trail (version 3) keeps, beside each event entry, the latest recorded time up to it
(`recorded_ceiling`) and the earliest from it on (`recorded_floor`); a page from `from` to `to`
is bounded by two index probes on them. Positions follow commit order while the store stamps
the time just before its insert, so a later position can carry an earlier time: those entries
must still be on the page of their time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg.rows import DictRow
from psycopg.sql import SQL

from projections.audit_trail import AUDIT_TRAIL, PageFilter, audit_page, page_query
from projections.engine import Tables, drop_version, prepare_version
from services.app.audit import verify_trail
from services.wiring import Runtime, pool_of
from tests.integration.read_models.support import Client, ReadSide
from tests.stories import Clock
from tests.unit import builders as b

SPARE_VERSION = 90  # a version of the trail no query reads, for the plan's synthetic rows


def recorded_between(side: ReadSide, start: datetime, end: datetime) -> list[UUID]:
    """Every event id an auditor's pages from `start` to `end` show, walked three at a time."""
    seen: list[UUID] = []
    after = 0
    while True:
        with side.reads.reading(["audit_trail"]) as (conn, tables):
            page = audit_page(
                conn,
                tables["audit_trail"],
                recorded_from=start,
                recorded_to=end,
                after=after,
                limit=3,
            )
        seen += [entry.event_id for entry in page.items]
        if page.next is None:
            return seen
        after = page.next


def test_an_event_stamped_before_an_earlier_position_is_on_the_page_of_its_time(
    runtime: Runtime, read_side: ReadSide, clock: Clock
) -> None:
    # given a client's check-ins recorded at ten o'clock, then two more that the store stamps
    # half an hour earlier but commits later (a position after the ten o'clock ones)
    ten = clock.now.replace(hour=10, minute=0, second=0)
    clock.now = ten
    client = Client.enrolled(read_side)
    at_ten = [client.record(b.check_in, craving=c) for c in (2, 3, 4)]
    clock.now = ten - timedelta(minutes=30)
    half_past_nine = [client.record(b.check_in, craving=c) for c in (5, 6)]
    clock.now = ten + timedelta(minutes=5)
    after_ten = [client.record(b.check_in, craving=7)]
    read_side.settle()

    # when an auditor pages through each half hour
    early = recorded_between(read_side, ten - timedelta(minutes=45), ten - timedelta(minutes=15))
    on_the_hour = recorded_between(read_side, ten, ten + timedelta(minutes=1))
    from_ten = recorded_between(read_side, ten, ten + timedelta(hours=1))

    # then each page holds exactly the events recorded in it, in position order
    assert early == half_past_nine
    assert on_the_hour[-3:] == at_ten
    assert from_ten[-len(after_ten) :] == after_ten
    assert not set(from_ten) & set(half_past_nine)
    # and the bounds that made it so verify with the chain
    assert verify_trail(pool_of(runtime), runtime.settings.audit_key_bytes()).ok


def test_an_edited_time_bound_is_found_by_the_verify(
    runtime: Runtime, read_side: ReadSide, clock: Clock
) -> None:
    # given a chained trail
    Client.enrolled(read_side).record(b.check_in, craving=3)
    read_side.settle()
    key = runtime.settings.audit_key_bytes()
    assert verify_trail(pool_of(runtime), key).ok
    # when someone moves one entry's floor past its own time (it would drop off its pages)
    with pool_of(runtime).connection() as conn:
        conn.execute(
            "UPDATE audit_trail_v3 SET recorded_floor = recorded_at + interval '1 day'"
            " WHERE position = (SELECT max(position) FROM audit_trail_v3)"
        )
    verdict = verify_trail(pool_of(runtime), key)
    # then the verify names it as an edited audit row
    with pool_of(runtime).connection() as conn:  # put it back for the module's other tests
        conn.execute(
            "UPDATE audit_trail_v3 SET recorded_floor = recorded_at"
            " WHERE position = (SELECT max(position) FROM audit_trail_v3)"
        )
    assert (verdict.ok, verdict.problem) == (False, "chain_broken")


@pytest.fixture
def large_trail(runtime: Runtime) -> Iterator[Tables]:
    """40,000 synthetic event entries one second apart, every 50th stamped 30 s early."""
    pool = pool_of(runtime)
    prepare_version(pool, AUDIT_TRAIL, SPARE_VERSION)
    tables = AUDIT_TRAIL.tables_of(SPARE_VERSION)
    with pool.connection() as conn:
        conn.execute(
            SQL(
                "INSERT INTO {audit_trail} (position, entry, kind, type, recorded_at, digest,"
                " hash,"
                " recorded_ceiling, recorded_floor)"
                " SELECT position, 0, 'event', 'CheckInRecorded', at, '\\x00', '\\x00',"
                " max(at) OVER (ORDER BY position),"
                " min(at) OVER (ORDER BY position DESC)"
                " FROM (SELECT g AS position, timestamptz '2026-01-01 00:00Z'"
                " + make_interval(secs => g - CASE WHEN g % 50 = 0 THEN 30 ELSE 0 END) AS at"
                " FROM generate_series(1, 40000) g) s"
            ).format(**tables)
        )
        conn.execute(SQL("ANALYZE {audit_trail}").format(**tables))
    yield tables
    drop_version(pool, AUDIT_TRAIL, SPARE_VERSION)


def scanned_rows(plan: dict[str, Any], table: str) -> int:
    """Rows the plan's scans of `table` read: those returned plus those filtered away."""
    own = 0
    if plan.get("Relation Name") == table:
        assert plan["Node Type"] != "Seq Scan", "the trail is scanned whole"
        loops = plan.get("Actual Loops", 1)
        own = (plan["Actual Rows"] + plan.get("Rows Removed by Filter", 0)) * loops
    return own + sum(scanned_rows(child, table) for child in plan.get("Plans", []))


def test_a_page_by_time_range_reads_about_a_page_of_rows_however_long_the_trail(
    runtime: Runtime, large_trail: Tables
) -> None:
    # given 40,000 entries; when an auditor asks 100 of an hour in the middle of them
    start = datetime.fromisoformat("2026-01-01T05:00:00+00:00")
    asked = PageFilter(recorded_from=start, recorded_to=start + timedelta(hours=1))
    query, params = page_query(large_trail, asked)
    table = f"audit_trail_v{SPARE_VERSION}"
    with pool_of(runtime).connection() as conn:
        plan = explain(conn, query, [*params, 0, 101])
        last_page = explain(conn, query, [*params, 18_000 + 3_590, 101])
    # then the plan reads the page's rows and a few either side, not the 18,000 before it
    assert scanned_rows(plan, table) <= 101 + 3 * 2  # the two bound probes and the page
    assert scanned_rows(last_page, table) <= 101 + 3 * 2


def explain(conn: psycopg.Connection[DictRow], query: Any, params: list[Any]) -> dict[str, Any]:
    row = conn.execute(SQL("EXPLAIN (ANALYZE, FORMAT JSON) ") + query, params).fetchone()
    assert row is not None
    plan: dict[str, Any] = next(iter(row.values()))[0]["Plan"]
    return plan
