"""`audit verify`, remembered: each run's result (both hash chains, their heads, who ran it and
when) is kept in `audit_verifications`, so the console can say when the chains were last checked
and what was found, whoever ran the check (the console's auditor, or `carecircle audit verify`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg.sql import SQL

from projections.audit_trail import AUDIT_TRAIL, chain_head
from projections.engine import Pool, versions_of
from services.adapters.access_log import AccessLog
from services.app.audit import verify_trail

_DDL = SQL(
    "CREATE TABLE IF NOT EXISTS audit_verifications ("
    " id bigserial PRIMARY KEY,"
    " at timestamptz NOT NULL,"
    " by_id text NOT NULL,"
    " trail_ok boolean NOT NULL,"
    " trail_checked bigint NOT NULL,"
    " trail_problem text,"
    " trail_position bigint,"
    " trail_head_position bigint,"
    " trail_head_hash text,"
    " log_ok boolean NOT NULL,"
    " log_checked bigint NOT NULL,"
    " log_first_bad bigint,"
    " log_head_entry bigint,"
    " log_head_hash text)"
)
_COLUMNS = (
    "at, by_id, trail_ok, trail_checked, trail_problem, trail_position, trail_head_position,"
    " trail_head_hash, log_ok, log_checked, log_first_bad, log_head_entry, log_head_hash"
)


@dataclass(frozen=True, slots=True)
class Verification:
    at: datetime
    by_id: str
    trail_ok: bool
    trail_checked: int
    trail_problem: str | None
    trail_position: int | None
    trail_head_position: int | None
    trail_head_hash: str | None
    log_ok: bool
    log_checked: int
    log_first_bad: int | None
    log_head_entry: int | None
    log_head_hash: str | None

    @property
    def ok(self) -> bool:
        return self.trail_ok and self.log_ok


def run_verification(
    pool: Pool, access_log: AccessLog, *, key: bytes, at: datetime, by: str
) -> Verification:
    """Check both chains now (under the audit key) and keep the result."""
    verdict = verify_trail(pool, key)
    check = access_log.verify()
    log_head = access_log.head()
    with pool.connection() as conn:
        live = versions_of(conn, AUDIT_TRAIL.name).live
        head = chain_head(conn, AUDIT_TRAIL.tables_of(live))
    found = Verification(
        at=at,
        by_id=by,
        trail_ok=verdict.ok,
        trail_checked=verdict.checked,
        trail_problem=verdict.problem,
        trail_position=verdict.position,
        trail_head_position=None if head is None else head[0],
        trail_head_hash=None if head is None else head[1].hex(),
        log_ok=check.ok,
        log_checked=check.checked,
        log_first_bad=check.first_bad_entry_id,
        log_head_entry=None if log_head is None else log_head[0],
        log_head_hash=None if log_head is None else log_head[1],
    )
    values = (
        found.at,
        found.by_id,
        found.trail_ok,
        found.trail_checked,
        found.trail_problem,
        found.trail_position,
        found.trail_head_position,
        found.trail_head_hash,
        found.log_ok,
        found.log_checked,
        found.log_first_bad,
        found.log_head_entry,
        found.log_head_hash,
    )
    with pool.connection() as conn, conn.transaction():
        conn.execute(_DDL)
        conn.execute(
            SQL(
                "INSERT INTO audit_verifications ("
                + _COLUMNS
                + ") VALUES ("
                + ", ".join(["%s"] * 13)
                + ")"
            ),
            values,
        )
    return found


def last_verification(pool: Pool) -> Verification | None:
    """The latest kept result, None if the chains were never checked here."""
    with pool.connection() as conn:
        exists = conn.execute("SELECT to_regclass('audit_verifications') AS t").fetchone()
        if exists is None or exists["t"] is None:
            return None
        row = conn.execute(
            SQL("SELECT " + _COLUMNS + " FROM audit_verifications ORDER BY id DESC LIMIT 1")
        ).fetchone()
    return None if row is None else Verification(**row)
