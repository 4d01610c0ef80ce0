"""Read-model tables kept as autovacuum keeps them, by the process that writes them.

The projections rewrite rows in place (a caseload row per contact, a client's warning signs
per batch), and every UPDATE leaves the old row version behind until VACUUM reclaims it. On a
server with autovacuum on, its daemon vacuums a table once its dead rows pass 50 + 20 % of its
live ones and analyzes it once the rows changed since the last analysis pass 50 + 10 % (the
defaults of `autovacuum_vacuum_threshold`/`_scale_factor` and `autovacuum_analyze_threshold`/
`_scale_factor`, PostgreSQL 15 documentation, 25.1.6 "The Autovacuum Daemon"). A server running
without it (this project's CI server does) would let a 5,000-row caseload table carry 270,000
dead rows after a 1,000,000-event catch-up, and every read and upsert wade through them.

`maintain` applies the same thresholds from `pg_stat_user_tables` to the tables it is given; on
a server whose autovacuum already keeps up it finds nothing to do. A table never analyzed is
analyzed (a read planned without statistics scans whole tables: docs/benchmarks.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from psycopg.sql import SQL, Composable

VACUUM_THRESHOLD, VACUUM_SCALE = 50, 0.2
ANALYZE_THRESHOLD, ANALYZE_SCALE = 50, 0.1

Upkeep = Literal["vacuum", "analyze"]

_STATS = SQL(
    "SELECT to_regclass(name) AS relid, name, n_live_tup, n_dead_tup, n_mod_since_analyze,"
    " coalesce(last_analyze, last_autoanalyze) IS NULL AS never_analyzed"
    " FROM unnest(%s::text[]) AS name JOIN pg_stat_user_tables s ON s.relid = to_regclass(name)"
)


def upkeep_of(live: int, dead: int, changed: int, never_analyzed: bool) -> Upkeep | None:
    """What autovacuum's default thresholds ask of a table with these counts."""
    if dead > VACUUM_THRESHOLD + VACUUM_SCALE * live:
        return "vacuum"
    if never_analyzed or changed > ANALYZE_THRESHOLD + ANALYZE_SCALE * live:
        return "analyze"
    return None


def maintain(pool: Any, tables: Iterable[Composable]) -> dict[str, Upkeep]:
    """VACUUM (ANALYZE) or ANALYZE each table that passed autovacuum's thresholds; what was done.
    Runs outside any transaction (VACUUM cannot run inside one): call it between batches."""
    done: dict[str, Upkeep] = {}
    with pool.connection() as conn:
        by_name = {table.as_string(conn): table for table in tables}
        for row in conn.execute(_STATS, (list(by_name),)).fetchall():  # dropped ones: no row
            upkeep = upkeep_of(
                row["n_live_tup"], row["n_dead_tup"], row["n_mod_since_analyze"],
                row["never_analyzed"],
            )  # fmt: skip
            table = by_name[row["name"]]
            if upkeep == "vacuum":
                conn.execute(SQL("VACUUM (ANALYZE) {}").format(table))
            elif upkeep == "analyze":
                conn.execute(SQL("ANALYZE {}").format(table))
            if upkeep is not None:
                done[row["name"]] = upkeep
    return done
