"""Early warning: each client's warning signs, the flags read model, and the live evaluator.

The projection (`early_warning`, rebuildable, never emits anything) keeps per client the signs
the rules read (domain/warning_signs.py, folded from the record), the flags as recorded by
`RiskFlagRaised` / `RiskFlagAcknowledged` / `RiskFlagCleared` / `RiskFlagResolved` (status
open, acknowledged, cleared, resolved; domain/flags.py draws the lifecycle), and the care
team, so flags can be read by client, member, organization, severity and status. Its batch
apply is the signs fold (projections/signs_fold.py), which runs the flags' handlers too.

The evaluator runs only beside the live worker: it reads the live signs of clients that changed
since it last looked, or whose next time-based moment has passed on its clock, evaluates the
pure rules (domain/early_warning.py) and records the flags to raise or resolve through the
command port. Flag and event ids are derived from client, rule and episode, so evaluating twice
(a restart between recording and noting it, a second evaluator) records nothing new; where it
left off is kept in `early_warning_evaluations` (client → position seen, next moment).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

import structlog
from psycopg import Connection
from psycopg.rows import DictRow, tuple_row
from psycopg.sql import SQL, Composable, Composed, Identifier

from domain.care_team import TEAM_EVENT_TYPES, Joined, Left, team_change
from domain.commands import RecordCareEvent
from domain.early_warning import Thresholds, evaluate, flag_events, next_moment
from domain.flags import (
    RiskFlagAcknowledged,
    RiskFlagCleared,
    RiskFlagRaised,
    RiskFlagResolved,
)
from domain.recorded import Recorded
from projections.engine import (
    Handler,
    Pool,
    Projection,
    Statements,
    Tables,
    versions_of,
)
from projections.rows import Where
from projections.signs_fold import SIGNS, SignsFold, signs_place

log = structlog.get_logger(__name__)

NAME = "early_warning"
# 2: flags can be cleared and reopen; 3: the signs keep facts, not conclusions; 4: the
# enrolling clinician is on the flag team (domain/care_team.py), as authorization has them
VERSION = 4
EVALUATIONS = Identifier("early_warning_evaluations")

DDL = (
    SQL(
        "CREATE TABLE {warning_signs} ("
        " client_id uuid PRIMARY KEY,"
        " org text,"
        " signs text NOT NULL,"
        " position bigint NOT NULL)"
    ),
    # Kept uncompressed: a batch rewrites the document of every client it touches (7.5 kB of
    # JSON each at 60 days of history), and PostgreSQL's default pglz compression of them took
    # 1.34 s a batch of 20,000 events at 5,555 clients where storing them as they are took 0.36 s
    # (docs/benchmarks.md); the table takes about half as much disk again.
    SQL("ALTER TABLE {warning_signs} ALTER COLUMN signs SET STORAGE EXTERNAL"),
    SQL(
        "CREATE TABLE {flags} ("
        " flag_id text PRIMARY KEY,"
        " client_id uuid NOT NULL,"
        " rule_id text NOT NULL,"
        " rule_version integer NOT NULL,"
        " severity text NOT NULL,"
        " status text NOT NULL,"
        " reason text NOT NULL,"
        " evidence_event_ids uuid[] NOT NULL,"
        " raised_at timestamptz NOT NULL,"
        " raised_position bigint NOT NULL,"
        " acknowledged_at timestamptz,"
        " acknowledged_by text,"
        " cleared_at timestamptz,"
        " resolved_at timestamptz,"
        " resolved_by text,"
        " status_position bigint NOT NULL)"
    ),
    SQL("CREATE INDEX ON {flags} (client_id)"),
    SQL("CREATE INDEX ON {flags} (raised_position)"),
    SQL("CREATE INDEX ON {flags} (status, severity)"),
    SQL(
        "CREATE TABLE {flag_team} ("
        " client_id uuid NOT NULL,"
        " member_id text NOT NULL,"
        " role text NOT NULL,"
        " org text NOT NULL,"
        " PRIMARY KEY (client_id, member_id, role))"
    ),
    SQL("CREATE INDEX ON {flag_team} (member_id)"),
    SQL("CREATE INDEX ON {flag_team} (org)"),
    SQL("CREATE INDEX ON {warning_signs} (org)"),
)
TABLES = ("warning_signs", "flags", "flag_team")

# --- statements -----------------------------------------------------------------------------------

_RAISED = SQL(
    "INSERT INTO {flags} (flag_id, client_id, rule_id, rule_version, severity, status, reason,"
    " evidence_event_ids, raised_at, raised_position, status_position)"
    " SELECT v.flag_id, v.client_id, v.rule_id, v.version, v.severity, 'open', v.reason,"
    " string_to_array(v.evidence, ',')::uuid[], v.at, v.position, v.position"
    " FROM unnest(%b::text[], %b::uuid[], %b::text[], %b::integer[], %b::text[], %b::text[],"
    " %b::text[], %b::timestamptz[], %b::bigint[])"
    " AS v(flag_id, client_id, rule_id, version, severity, reason, evidence, at, position)"
    " ON CONFLICT (flag_id) DO UPDATE SET status = 'open', resolved_at = NULL,"
    " resolved_by = NULL, cleared_at = NULL, acknowledged_at = NULL, acknowledged_by = NULL,"
    " severity = EXCLUDED.severity, reason = EXCLUDED.reason,"
    " evidence_event_ids = EXCLUDED.evidence_event_ids, status_position = EXCLUDED.status_position"
    " WHERE {flags}.status_position < EXCLUDED.status_position"
)
_ACKNOWLEDGED = SQL(
    "UPDATE {flags} f SET status = CASE WHEN f.status = 'open' THEN 'acknowledged'"
    " ELSE f.status END, acknowledged_at = v.at, acknowledged_by = v.actor,"
    " status_position = v.position"
    " FROM unnest(%b::text[], %b::timestamptz[], %b::text[], %b::bigint[])"
    " AS v(flag_id, at, actor, position)"
    " WHERE f.flag_id = v.flag_id AND f.status IN ('open', 'cleared')"
    " AND f.acknowledged_at IS NULL AND f.status_position < v.position"
)
_CLEARED = SQL(
    "UPDATE {flags} f SET status = 'cleared', cleared_at = v.at, status_position = v.position"
    " FROM unnest(%b::text[], %b::timestamptz[], %b::bigint[]) AS v(flag_id, at, position)"
    " WHERE f.flag_id = v.flag_id AND f.status IN ('open', 'acknowledged')"
    " AND f.status_position < v.position"
)
_RESOLVED = SQL(
    "UPDATE {flags} f SET status = 'resolved', resolved_at = v.at, resolved_by = v.actor,"
    " status_position = v.position"
    " FROM unnest(%b::text[], %b::timestamptz[], %b::text[], %b::bigint[])"
    " AS v(flag_id, at, actor, position)"
    " WHERE f.flag_id = v.flag_id AND f.status_position < v.position"
)
_MEMBER_IN = SQL(
    "INSERT INTO {flag_team} (client_id, member_id, role, org)"
    " SELECT * FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::text[])"
    " ON CONFLICT (client_id, member_id, role) DO NOTHING"
)
_MEMBER_OUT = SQL(
    "DELETE FROM {flag_team} t"
    " USING unnest(%b::uuid[], %b::text[], %b::text[]) AS v(client_id, member_id, role)"
    " WHERE t.client_id = v.client_id AND t.member_id = v.member_id AND t.role = v.role"
)


def on_flag_raised(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, RiskFlagRaised)
    d = e.data
    evidence = ",".join(str(event_id) for event_id in d.evidence_event_ids)
    cur.execute(
        _RAISED,
        (
            d.flag_id,
            e.client_id,
            d.rule_id,
            d.rule_version,
            d.severity,
            d.reason,
            evidence,
            e.occurred_at,
            r.position,
        ),
    )


def on_flag_acknowledged(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, RiskFlagAcknowledged)
    cur.execute(_ACKNOWLEDGED, (e.data.flag_id, e.occurred_at, e.actor.id, r.position))


def on_flag_cleared(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, RiskFlagCleared)
    cur.execute(_CLEARED, (e.data.flag_id, e.occurred_at, r.position))


def on_flag_resolved(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, RiskFlagResolved)
    cur.execute(_RESOLVED, (e.data.flag_id, e.occurred_at, e.actor.id, r.position))


def on_team_change(cur: Statements, t: Tables, r: Recorded) -> None:
    """A member joins or leaves the flag team as domain/care_team.py folds the team."""
    client_id = r.event.client_id
    match team_change(r.event):
        case Joined(m):
            cur.execute(_MEMBER_IN, (client_id, m.member_id, m.role, m.org))
        case Left(member_id, role):
            cur.execute(_MEMBER_OUT, (client_id, member_id, role))
        case None:
            pass


HANDLERS: dict[str, Handler] = {
    "RiskFlagRaised": on_flag_raised,
    "RiskFlagAcknowledged": on_flag_acknowledged,
    "RiskFlagCleared": on_flag_cleared,
    "RiskFlagResolved": on_flag_resolved,
    **dict.fromkeys(TEAM_EVENT_TYPES, on_team_change),
}


SIGNS_FOLD = SignsFold(HANDLERS)  # the process's one fold: the evaluator reads what it just folded
EARLY_WARNING = Projection(name=NAME, version=VERSION, tables=TABLES, ddl=DDL, batch=SIGNS_FOLD)


# --- the live evaluator ---------------------------------------------------------------------------


class RecordFlags(Protocol):
    """The command path: record these flag events (refusals are the recorder's to report)."""

    def __call__(self, commands: Sequence[RecordCareEvent]) -> None: ...


def migrate_evaluations(pool: Pool) -> None:
    """The evaluator's bookmarks; not versioned, as positions are the same in every version."""
    with pool.connection() as conn, conn.transaction():
        conn.execute(
            SQL(
                "CREATE TABLE IF NOT EXISTS {} ("
                " client_id uuid PRIMARY KEY,"
                " position bigint NOT NULL,"
                " next_at timestamptz)"
            ).format(EVALUATIONS)
        )
        conn.execute(
            SQL("CREATE INDEX IF NOT EXISTS {} ON {} (next_at)").format(
                Identifier("early_warning_evaluations_next_at"), EVALUATIONS
            )
        )


_NOTE_EVALUATED = SQL(
    "INSERT INTO {evaluations} (client_id, position, next_at)"
    " SELECT * FROM unnest(%s::uuid[], %s::bigint[], %s::timestamptz[])"
    " ON CONFLICT (client_id) DO UPDATE SET position = EXCLUDED.position,"
    " next_at = EXCLUDED.next_at"
).format(evaluations=EVALUATIONS)
_CHANGED_OR_DUE = "(e.client_id IS NULL OR e.position < s.position OR e.next_at <= %(now)s)"


class FlagEvaluator:
    """Evaluates the rules over live signs and records the flags to raise or resolve."""

    def __init__(
        self,
        pool: Pool,
        record: RecordFlags,
        clock: Callable[[], datetime],
        thresholds: Thresholds | None = None,
        *,
        page: int = 500,
        fold: SignsFold = SIGNS_FOLD,
    ) -> None:
        self.pool = pool
        self.record = record
        self.clock = clock
        self.thresholds = thresholds or Thresholds()
        self.page = page
        self.fold = fold

    def evaluate_clients(self, client_ids: Collection[UUID]) -> int:
        """Evaluate these clients if they changed since last time (or a moment passed)."""
        if not client_ids:
            return 0
        query = SQL(
            "SELECT s.client_id, s.signs, s.position FROM {warning_signs} s"
            " LEFT JOIN {evaluations} e ON e.client_id = s.client_id"
            " WHERE s.client_id = ANY(%(ids)s) AND " + _CHANGED_OR_DUE
        )
        return self._run(query, {"ids": list(client_ids)}, paged=False)

    def sweep_due(self) -> int:
        """Evaluate the clients whose next time-based moment has passed on the clock."""
        query = SQL(
            "SELECT s.client_id, s.signs, s.position FROM {evaluations} e"
            " JOIN {warning_signs} s ON s.client_id = e.client_id"
            " WHERE e.next_at <= %(now)s AND s.client_id > %(after)s"
            " ORDER BY s.client_id LIMIT %(limit)s"
        )
        return self._run(query, {}, paged=True)

    def sweep(self) -> int:
        """Evaluate every client that changed since last evaluated, or is due (e.g. at start)."""
        query = SQL(
            "SELECT s.client_id, s.signs, s.position FROM {warning_signs} s"
            " LEFT JOIN {evaluations} e ON e.client_id = s.client_id"
            " WHERE s.client_id > %(after)s AND " + _CHANGED_OR_DUE + " ORDER BY s.client_id"
            " LIMIT %(limit)s"
        )
        return self._run(query, {}, paged=True)

    def _run(self, query: SQL, params: dict[str, Any], *, paged: bool) -> int:
        now = self.clock()
        total = 0
        after = UUID(int=0)
        while True:
            with self.pool.connection() as conn:
                tables = EARLY_WARNING.tables_of(versions_of(conn, NAME).live)
                rows = conn.execute(
                    query.format(evaluations=EVALUATIONS, **tables),
                    {**params, "now": now, "after": after, "limit": self.page},
                ).fetchall()
                where = signs_place(conn, tables)
            total += self._evaluate(rows, now, where)
            if not paged or len(rows) < self.page:
                return total
            after = rows[-1]["client_id"]

    def _evaluate(self, rows: Sequence[DictRow], now: datetime, where: str) -> int:
        commands: list[RecordCareEvent] = []
        ids: list[UUID] = []
        positions: list[int] = []
        moments: list[datetime | None] = []
        for row in rows:
            # parsing a signs document cost more than evaluating every rule on it (188 µs
            # against 119 µs a client at 10 kB): the one the fold just wrote is taken as is
            signs = self.fold.folded(where, row["client_id"], row["position"])
            if signs is None:
                signs = SIGNS.validate_json(row["signs"])
            findings = evaluate(signs, now, self.thresholds)
            commands.extend(RecordCareEvent(e, now=now) for e in flag_events(signs, findings, now))
            ids.append(row["client_id"])
            positions.append(row["position"])
            moments.append(next_moment(signs, now, self.thresholds))
        if commands:
            self.record(commands)
            log.info("early_warning.recorded", count=len(commands))
        if ids:
            with self.pool.connection() as conn:
                conn.execute(_NOTE_EVALUATED, (ids, positions, moments))
        return len(commands)


# --- queries --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FlagView:
    flag_id: str
    client_id: UUID
    rule_id: str
    rule_version: int
    severity: str
    status: str
    reason: str
    raised_at: datetime
    evidence_event_ids: tuple[UUID, ...]
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    position: int
    cleared_at: datetime | None = None
    acknowledged_by: str | None = None
    resolved_by: str | None = None


@dataclass(frozen=True, slots=True)
class FlagPage:
    items: list[FlagView]
    next: int | None


_FLAG_COLUMNS = SQL(
    "f.flag_id, f.client_id, f.rule_id, f.rule_version, f.severity, f.status, f.reason,"
    " f.raised_at, f.evidence_event_ids, f.acknowledged_at, f.resolved_at, f.raised_position,"
    " f.cleared_at, f.acknowledged_by, f.resolved_by"
)


def _flag(row: tuple[Any, ...]) -> FlagView:
    """A row of `_FLAG_COLUMNS` (in FlagView's field order; columns after them are ignored),
    read as a tuple: a page of 100 flags took 0.23 ms more CPU as dictionaries, and more again
    through the by-name constructor."""
    return FlagView(
        row[0], row[1], row[2], row[3], row[4], row[5], row[6], row[7], tuple(row[8]),
        row[9], row[10], row[11], row[12], row[13], row[14],
    )  # fmt: skip


def _flag_rows(
    conn: Connection[DictRow], query: Composed, params: Sequence[Any]
) -> list[tuple[Any, ...]]:
    with conn.cursor(row_factory=tuple_row) as cursor:
        return cursor.execute(query, params).fetchall()


def flags_page(
    conn: Connection[DictRow],
    tables: Tables,
    *,
    client_id: UUID | None = None,
    org: str | None = None,
    member_id: str | None = None,
    severity: str | None = None,
    status: str | None = None,
    after: int = 0,
    limit: int = 100,
) -> FlagPage:
    """Flags by client, organization, care-team member, severity and status, oldest first."""
    where = Where("f.raised_position > %s", after)
    where.given("f.client_id = %s", client_id)
    where.given("f.severity = %s", severity)
    where.given("f.status = %s", status)
    if member_id is not None:
        where.add(
            SQL(
                "EXISTS (SELECT 1 FROM {flag_team} t"
                " WHERE t.client_id = f.client_id AND t.member_id = %s)"
            ).format(**tables),
            member_id,
        )
    if org is not None:
        where.add(
            SQL(
                "(EXISTS (SELECT 1 FROM {flag_team} t WHERE t.client_id = f.client_id"
                " AND t.org = %s) OR EXISTS (SELECT 1 FROM {warning_signs} s"
                " WHERE s.client_id = f.client_id AND s.org = %s))"
            ).format(**tables),
            org,
            org,
        )
    query = SQL(
        "SELECT {columns} FROM {flags} f WHERE {where} ORDER BY f.raised_position LIMIT %s"
    ).format(columns=_FLAG_COLUMNS, where=where.sql(), **tables)
    rows = _flag_rows(conn, query, (*where.params, limit + 1))
    items = [_flag(row) for row in rows[:limit]]
    more = len(rows) > limit
    return FlagPage(items=items, next=items[-1].position if more and items else None)


def flag_by_id(conn: Connection[DictRow], tables: Tables, flag_id: str) -> FlagView | None:
    rows = _flag_rows(
        conn,
        SQL("SELECT {columns} FROM {flags} f WHERE f.flag_id = %s").format(
            columns=_FLAG_COLUMNS, **tables
        ),
        (flag_id,),
    )
    return _flag(rows[0]) if rows else None


def _scope(tables: Tables, org: str | None, member_id: str | None) -> tuple[Composable, list[Any]]:
    if member_id is not None:
        clause = SQL(
            "EXISTS (SELECT 1 FROM {flag_team} t WHERE t.client_id = f.client_id"
            " AND t.member_id = %s)"
        ).format(**tables)
        return clause, [member_id]
    clause = SQL(
        "(EXISTS (SELECT 1 FROM {flag_team} t WHERE t.client_id = f.client_id AND t.org = %s)"
        " OR EXISTS (SELECT 1 FROM {warning_signs} s WHERE s.client_id = f.client_id"
        " AND s.org = %s))"
    ).format(**tables)
    return clause, [org, org]


def waiting_flags(
    conn: Connection[DictRow],
    tables: Tables,
    *,
    org: str | None,
    member_id: str | None,
    statuses: Sequence[str],
    per_severity: int,
) -> tuple[dict[tuple[str, str], int], list[FlagView]]:
    """The flags in these statuses of an organization's (or a member's) clients: how many per
    (severity, status), and per severity the first `per_severity`, unacknowledged (`open`)
    first and oldest first within that."""
    scope, params = _scope(tables, org, member_id)
    counted = conn.execute(
        SQL(
            "SELECT f.severity, f.status, count(*) AS n FROM {flags} f"
            " WHERE f.status = ANY(%s) AND {scope} GROUP BY f.severity, f.status"
        ).format(scope=scope, **tables),
        (list(statuses), *params),
    ).fetchall()
    rows = _flag_rows(
        conn,
        SQL(
            "SELECT * FROM (SELECT {columns}, row_number() OVER (PARTITION BY f.severity"
            " ORDER BY f.status <> 'open', f.raised_at, f.flag_id) AS rank FROM {flags} f"
            " WHERE f.status = ANY(%s) AND {scope}) ranked WHERE rank <= %s"
        ).format(columns=_FLAG_COLUMNS, scope=scope, **tables),
        (list(statuses), *params, per_severity),
    )
    counts = {(row["severity"], row["status"]): row["n"] for row in counted}
    return counts, [_flag(row) for row in rows]
