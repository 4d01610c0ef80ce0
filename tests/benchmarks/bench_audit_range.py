"""An audit page by recorded time on a trail of 10,000 entries and on one 10 (or more) times
larger: the query time of each size and their ratio, for version 3's query (a primary-key range
bounded by the ceiling and floor columns) and, as the baseline in the same run, version 2's
(the same filter with no bounds: a primary-key scan filtering rows away).

Synthetic entries one second apart, every 50th stamped 30 s early (committed after later
stamps, as the store's group commit can); the columns and indexes are the projection's own DDL.

Run: `.venv/bin/python tests/benchmarks/bench_audit_range.py [--sizes 10000 100000]`
(CARE_DATABASE_URL or an embedded PostgreSQL; a fresh database is created and dropped).
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import DictRow, dict_row
from psycopg.sql import SQL, Composed

from infra.embedded import create_database, database_url_or_embedded, drop_database
from projections.audit_trail import AUDIT_TRAIL, EVENT, PageFilter, page_query
from projections.engine import Tables

START = datetime.fromisoformat("2026-01-01T00:00:00+00:00")
FILL = SQL(
    "INSERT INTO {audit_trail} (position, entry, kind, type, recorded_at, digest, hash,"
    " recorded_ceiling, recorded_floor)"
    " SELECT position, 0, 'event', 'CheckInRecorded', at, '\\x00', '\\x00',"
    " max(at) OVER (ORDER BY position), min(at) OVER (ORDER BY position DESC)"
    " FROM (SELECT g AS position, %s::timestamptz"
    " + make_interval(secs => g - CASE WHEN g %% 50 = 0 THEN 30 ELSE 0 END) AS at"
    " FROM generate_series(1, %s) g) s"
)
VERSION_2 = SQL(
    "SELECT position, event_id, type, client_id, actor_id, actor_role, actor_org,"
    " actor_kind, occurred_at, recorded_at, hash FROM {audit_trail}"
    " WHERE kind = %s AND position > %s AND recorded_at >= %s AND recorded_at < %s"
    " ORDER BY position LIMIT %s"
)


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def trail(conn: psycopg.Connection[DictRow], rows: int) -> Tables:
    tables = AUDIT_TRAIL.tables_of(rows)  # a table per size: audit_trail_v<rows>
    for statement in AUDIT_TRAIL.ddl:
        conn.execute(statement.format(**tables))
    conn.execute(FILL.format(**tables), (START, rows))
    conn.execute(SQL("VACUUM ANALYZE {audit_trail}").format(**tables))
    return tables


def median_ms(conn: psycopg.Connection[DictRow], query: Composed, params: list[Any]) -> float:
    times = []
    for _ in range(5):  # warm the plan and the pages
        conn.execute(query, params).fetchall()
    for _ in range(30):
        t0 = time.perf_counter()
        conn.execute(query, params).fetchall()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def windows(rows: int) -> dict[str, tuple[datetime, datetime, int]]:
    """Label → (from, to, after): an hour in the middle, its last page, the last 30 s."""
    middle = START + timedelta(seconds=rows // 2)
    hour = (middle, middle + timedelta(hours=1))
    return {
        "an hour in the middle, first page": (*hour, 0),
        "the same hour, last page": (*hour, rows // 2 + 3_550),
        "the last 30 s": (START + timedelta(seconds=rows - 30), START + timedelta(days=1), 0),
    }


def measure(conn: psycopg.Connection[DictRow], tables: Tables, rows: int) -> dict[str, float]:
    out = {}
    for label, (start, end, after) in windows(rows).items():
        query, params = page_query(tables, PageFilter(recorded_from=start, recorded_to=end))
        out[f"v3 {label}"] = median_ms(conn, query, [*params, after, 101])
        old = VERSION_2.format(**tables)
        out[f"v2 {label}"] = median_ms(conn, old, [EVENT, after, start, end, 101])
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs=2, default=[10_000, 100_000])
    args = parser.parse_args()
    small, large = args.sizes
    with (
        tempfile.TemporaryDirectory() as scratch,
        database_url_or_embedded(pgdata=Path(scratch) / "pgdata") as server,
    ):
        name = f"carecircle_bench_{secrets.token_hex(4)}"
        url = create_database(server, name)
        try:
            with psycopg.connect(url, autocommit=True, row_factory=dict_row) as conn:
                figures = {rows: measure(conn, trail(conn, rows), rows) for rows in (small, large)}
            say(f"audit page by time range, median of 30, {small:,} vs {large:,} entries")
            for label in figures[small]:
                a, b = figures[small][label], figures[large][label]
                say(f"  {label}: {a:.2f} ms vs {b:.2f} ms, ratio {b / a:.1f}")
        finally:
            with contextlib.suppress(Exception):
                drop_database(server, name)


if __name__ == "__main__":
    main()
