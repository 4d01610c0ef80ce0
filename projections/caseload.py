"""Caseloads: who is on whose caseload, last contact, what is due, what is open.

Per care-team member: the clients they serve and in which role, the last contact with the
client (anyone's, and this member's own), the next due touchpoint (the check-in plan's next
check-in or the earliest booked appointment not yet attended or missed), open handoffs out of
and into the member's organization, and the client's flags not yet resolved with the highest
severity: how many nobody has acted on yet and how many are only cleared (the condition no longer
holds, a person still resolves them). A discharged client stays on the caseload, out of care,
while a flag of theirs is not resolved: nothing disappears without a clinician.
Per organization (the supervisor's view): caseload size and overdue touchpoints per member.

Each event type maps to a function running one or two statements; every statement is
replay-safe (ON CONFLICT, GREATEST), so a rebuild and a redelivery converge.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import Connection
from psycopg.rows import DictRow, args_row
from psycopg.sql import SQL

from domain.care_team import Joined, Left, team_change
from domain.enrollment import CheckInPlanSet
from domain.flags import RiskFlagAcknowledged, RiskFlagCleared, RiskFlagRaised, RiskFlagResolved
from domain.handoff import HandoffCompleted, HandoffDeclined, HandoffFailed, HandoffInitiated
from domain.recorded import Recorded
from domain.sessions import AppointmentAttended, AppointmentMissed, AppointmentScheduled
from projections.engine import Handler, Projection, Statements, Tables
from projections.rows import from_row

NAME = "caseload"
# 2: the next open appointment kept as a column (was a subquery per member row at read time)
# 3: a flag's status (open, acknowledged, cleared, resolved), not only whether it is open
# 4: the enrolling clinician is a member (domain/care_team.py), as authorization has them
VERSION = 4

# What counts as a contact with the client: someone was with them or heard from them.
CONTACT_TYPES = frozenset(
    {
        "SessionHeld",
        "AppointmentAttended",
        "CheckInRecorded",
        "CrisisContactRecorded",
        "AssessmentRecorded",
        "SafetyPlanRecorded",
        "SafetyPlanRevised",
        "NaloxoneDistributed",
        "HandoffCompleted",
    }
)
SEVERITIES = ("low", "moderate", "high", "critical")

DDL = (
    SQL(
        "CREATE TABLE {caseload_clients} ("
        " client_id uuid PRIMARY KEY,"
        " org text NOT NULL,"
        " in_care boolean NOT NULL,"
        " last_contact_at timestamptz,"
        " cadence_hours integer,"
        " check_in_ref_at timestamptz,"
        " next_appointment_at timestamptz)"
    ),
    SQL(
        "CREATE TABLE {caseload_members} ("
        " member_id text NOT NULL,"
        " client_id uuid NOT NULL,"
        " role text NOT NULL,"
        " org text NOT NULL,"
        " assigned_at timestamptz NOT NULL,"
        " last_contact_at timestamptz,"
        " PRIMARY KEY (member_id, client_id, role))"
    ),
    # by organization, holding every column the organization's caseloads group by and join on:
    # that query reads the index alone (only new versions' tables have it; an org's caseloads
    # took PostgreSQL 4.5-5.1 ms at 5,555 member rows on the narrower one, 3.3-3.6 on this)
    SQL("CREATE INDEX ON {caseload_members} (org, member_id, role, client_id)"),
    SQL("CREATE INDEX ON {caseload_members} (client_id)"),
    SQL(
        "CREATE TABLE {caseload_appointments} ("
        " client_id uuid NOT NULL,"
        " appointment_id text NOT NULL,"
        " scheduled_for timestamptz NOT NULL,"
        " open boolean NOT NULL,"
        " PRIMARY KEY (client_id, appointment_id))"
    ),
    SQL(
        "CREATE TABLE {caseload_handoffs} ("
        " client_id uuid NOT NULL,"
        " handoff_id text NOT NULL,"
        " from_org text NOT NULL,"
        " to_org text NOT NULL,"
        " to_member_id text,"
        " open boolean NOT NULL,"
        " PRIMARY KEY (client_id, handoff_id))"
    ),
    SQL(
        "CREATE TABLE {caseload_flags} ("
        " flag_id text PRIMARY KEY,"
        " client_id uuid NOT NULL,"
        " severity text NOT NULL,"
        " status text NOT NULL)"
    ),
    SQL("CREATE INDEX ON {caseload_flags} (client_id) WHERE status <> 'resolved'"),
)
TABLES = (
    "caseload_clients",
    "caseload_members",
    "caseload_appointments",
    "caseload_handoffs",
    "caseload_flags",
)

# --- statements -----------------------------------------------------------------------------------
# Each statement reads its values from arrays (`unnest`): one event gives one row of values, and
# the engine runs a round of the same statement for many clients as one statement.

_ENROLL = SQL(
    "INSERT INTO {caseload_clients} (client_id, org, in_care)"
    " SELECT v.client_id, v.org, true FROM unnest(%b::uuid[], %b::text[]) AS v(client_id, org)"
    " ON CONFLICT (client_id) DO NOTHING"
)
_IN_CARE = SQL(
    "UPDATE {caseload_clients} c SET in_care = v.in_care"
    " FROM unnest(%b::bool[], %b::uuid[]) AS v(in_care, client_id) WHERE c.client_id = v.client_id"
)
_ASSIGN = SQL(
    "INSERT INTO {caseload_members} (member_id, client_id, role, org, assigned_at)"
    " SELECT * FROM unnest(%b::text[], %b::uuid[], %b::text[], %b::text[], %b::timestamptz[])"
    " ON CONFLICT (member_id, client_id, role) DO NOTHING"
)
_RELEASE = SQL(
    "DELETE FROM {caseload_members} m"
    " USING unnest(%b::text[], %b::uuid[], %b::text[]) AS v(member_id, client_id, role)"
    " WHERE m.member_id = v.member_id AND m.client_id = v.client_id AND m.role = v.role"
)
_PLAN = SQL(
    "UPDATE {caseload_clients} c SET cadence_hours = v.cadence,"
    " check_in_ref_at = GREATEST(c.check_in_ref_at, v.at)"
    " FROM unnest(%b::integer[], %b::timestamptz[], %b::uuid[]) AS v(cadence, at, client_id)"
    " WHERE c.client_id = v.client_id"
)
_CONTACT = SQL(
    "UPDATE {caseload_clients} c SET last_contact_at = GREATEST(c.last_contact_at, v.at)"
    " FROM unnest(%b::timestamptz[], %b::uuid[]) AS v(at, client_id)"
    " WHERE c.client_id = v.client_id"
)
_CHECKED_IN = SQL(
    "UPDATE {caseload_clients} c SET last_contact_at = GREATEST(c.last_contact_at, v.at),"
    " check_in_ref_at = GREATEST(c.check_in_ref_at, v.at)"
    " FROM unnest(%b::timestamptz[], %b::uuid[]) AS v(at, client_id)"
    " WHERE c.client_id = v.client_id"
)
_MEMBER_CONTACT = SQL(
    "UPDATE {caseload_members} m SET last_contact_at = GREATEST(m.last_contact_at, v.at)"
    " FROM unnest(%b::timestamptz[], %b::text[], %b::uuid[]) AS v(at, member_id, client_id)"
    " WHERE m.member_id = v.member_id AND m.client_id = v.client_id"
)
_BOOK = SQL(
    "INSERT INTO {caseload_appointments} (client_id, appointment_id, scheduled_for, open)"
    " SELECT v.*, true FROM unnest(%b::uuid[], %b::text[], %b::timestamptz[]) AS v"
    " ON CONFLICT (client_id, appointment_id) DO UPDATE SET scheduled_for = EXCLUDED.scheduled_for"
)
_APPOINTMENT_KEPT = SQL(
    "INSERT INTO {caseload_appointments} (client_id, appointment_id, scheduled_for, open)"
    " SELECT v.*, false FROM unnest(%b::uuid[], %b::text[], %b::timestamptz[]) AS v"
    " ON CONFLICT (client_id, appointment_id) DO UPDATE SET open = false"
)
# a derived column, recomputed from the appointments as they stand: asked by every booking and
# attendance, it runs once per client at the batch's end (Statements.settle)
_NEXT_APPOINTMENT = SQL(
    "UPDATE {caseload_clients} c SET next_appointment_at = (SELECT min(a.scheduled_for)"
    " FROM {caseload_appointments} a WHERE a.client_id = c.client_id AND a.open)"
    " FROM unnest(%b::uuid[]) AS v(client_id) WHERE c.client_id = v.client_id"
)
_HANDOFF = SQL(
    "INSERT INTO {caseload_handoffs} (client_id, handoff_id, from_org, to_org, to_member_id, open)"
    " SELECT v.*, true FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::text[], %b::text[]) AS v"
    " ON CONFLICT (client_id, handoff_id) DO NOTHING"
)
_HANDOFF_CLOSED = SQL(
    "UPDATE {caseload_handoffs} h SET open = false"
    " FROM unnest(%b::uuid[], %b::text[]) AS v(client_id, handoff_id)"
    " WHERE h.client_id = v.client_id AND h.handoff_id = v.handoff_id"
)
_FLAG = SQL(
    "INSERT INTO {caseload_flags} (flag_id, client_id, severity, status)"
    " SELECT v.*, 'open' FROM unnest(%b::text[], %b::uuid[], %b::text[]) AS v"
    " ON CONFLICT (flag_id) DO UPDATE SET status = 'open', severity = EXCLUDED.severity"
)
# the lifecycle of domain/flags.py: acknowledged from open; cleared from open or acknowledged
# (an acknowledged flag that clears waits for a resolve like any other); resolved from any
_FLAG_STATUS = SQL(
    "UPDATE {caseload_flags} f SET status = v.status"
    " FROM unnest(%b::text[], %b::text[], %b::text[]) AS v(flag_id, status, from_statuses)"
    " WHERE f.flag_id = v.flag_id AND f.status = ANY(string_to_array(v.from_statuses, ','))"
)


def _run(out: Statements, statement: SQL, tables: Tables, params: Any) -> None:
    out.execute(statement, params)


def _raise(out: Statements, statement: SQL, params: Any) -> None:
    """A statement that only raises timestamps to params[0] (GREATEST): merged per client."""
    out.execute(statement, params, greatest=0)


def _reshape(out: Statements, statement: SQL, params: Any) -> None:
    """A statement that inserts or deletes a client's or a member's row: no raise of that row
    is moved across it."""
    out.execute(statement, params, reshapes=True)


# --- handlers -------------------------------------------------------------------------------------


def on_enrolled(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    _reshape(cur, _ENROLL, (e.client_id, e.actor.org))
    on_team_change(cur, t, r)  # the enrolling clinician joins the team


def on_episode_closed(cur: Statements, t: Tables, r: Recorded) -> None:
    _run(cur, _IN_CARE, t, (False, r.event.client_id))


def on_readmitted(cur: Statements, t: Tables, r: Recorded) -> None:
    _run(cur, _IN_CARE, t, (True, r.event.client_id))


def on_team_change(cur: Statements, t: Tables, r: Recorded) -> None:
    """A member joins or leaves the caseloads as domain/care_team.py folds the team."""
    client_id = r.event.client_id
    match team_change(r.event):
        case Joined(m):
            _reshape(cur, _ASSIGN, (m.member_id, client_id, m.role, m.org, m.since))
        case Left(member_id, role):
            _reshape(cur, _RELEASE, (member_id, client_id, role))
        case None:
            pass


def on_plan_set(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, CheckInPlanSet)
    _run(cur, _PLAN, t, (e.data.cadence_hours, e.occurred_at, e.client_id))


def on_contact(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    _raise(cur, _CONTACT, (e.occurred_at, e.client_id))
    _raise(cur, _MEMBER_CONTACT, (e.occurred_at, e.actor.id, e.client_id))


def on_checked_in(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    _raise(cur, _CHECKED_IN, (e.occurred_at, e.client_id))
    _raise(cur, _MEMBER_CONTACT, (e.occurred_at, e.actor.id, e.client_id))


def on_appointment_scheduled(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, AppointmentScheduled)
    _run(cur, _BOOK, t, (e.client_id, e.data.appointment_id, e.data.scheduled_for))
    cur.settle(_NEXT_APPOINTMENT, (e.client_id,))


def on_appointment_kept_or_missed(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, AppointmentAttended | AppointmentMissed)
    _run(cur, _APPOINTMENT_KEPT, t, (e.client_id, e.data.appointment_id, e.data.scheduled_for))
    cur.settle(_NEXT_APPOINTMENT, (e.client_id,))
    if isinstance(e, AppointmentAttended):
        on_contact(cur, t, r)


def on_handoff_initiated(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, HandoffInitiated)
    d = e.data
    _run(cur, _HANDOFF, t, (e.client_id, d.handoff_id, e.actor.org, d.to_org, d.to_member_id))


def on_handoff_closed(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, HandoffDeclined | HandoffCompleted | HandoffFailed)
    _run(cur, _HANDOFF_CLOSED, t, (e.client_id, e.data.handoff_id))
    if isinstance(e, HandoffCompleted) and e.data.client_present:
        _raise(cur, _CONTACT, (e.occurred_at, e.client_id))


def on_flag_raised(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, RiskFlagRaised)
    _run(cur, _FLAG, t, (e.data.flag_id, e.client_id, e.data.severity))


_FLAG_MOVES: dict[str, tuple[str, str]] = {
    "RiskFlagAcknowledged": ("acknowledged", "open"),
    "RiskFlagCleared": ("cleared", "open,acknowledged"),
    "RiskFlagResolved": ("resolved", "open,acknowledged,cleared"),
}


def on_flag_status(cur: Statements, t: Tables, r: Recorded) -> None:
    e = r.event
    assert isinstance(e, RiskFlagAcknowledged | RiskFlagCleared | RiskFlagResolved)
    status, from_statuses = _FLAG_MOVES[e.type]
    _run(cur, _FLAG_STATUS, t, (e.data.flag_id, status, from_statuses))


HANDLERS: dict[str, Handler] = {
    "ClientEnrolled": on_enrolled,
    "EpisodeClosed": on_episode_closed,
    "ClientReadmitted": on_readmitted,
    "CareTeamMemberAssigned": on_team_change,
    "CareTeamMemberReleased": on_team_change,
    "CheckInPlanSet": on_plan_set,
    "CheckInRecorded": on_checked_in,
    "AppointmentScheduled": on_appointment_scheduled,
    "AppointmentAttended": on_appointment_kept_or_missed,
    "AppointmentMissed": on_appointment_kept_or_missed,
    "HandoffInitiated": on_handoff_initiated,
    "HandoffDeclined": on_handoff_closed,
    "HandoffCompleted": on_handoff_closed,
    "HandoffFailed": on_handoff_closed,
    "RiskFlagRaised": on_flag_raised,
    "RiskFlagAcknowledged": on_flag_status,
    "RiskFlagCleared": on_flag_status,
    "RiskFlagResolved": on_flag_status,
    **{
        kind: on_contact
        for kind in CONTACT_TYPES
        if kind not in ("CheckInRecorded", "AppointmentAttended", "HandoffCompleted")
    },
}

CASELOAD = Projection(name=NAME, version=VERSION, tables=TABLES, ddl=DDL, handlers=HANDLERS)


# --- queries --------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CaseloadClient:
    client_id: UUID
    role: str
    org: str
    last_contact_at: datetime | None
    last_contact_by_member_at: datetime | None
    next_due_at: datetime | None
    open_flags: int  # every flag not resolved yet
    highest_severity: str | None
    open_handoffs_out: int
    open_handoffs_in: int
    in_care: bool = True
    unacknowledged_flags: int = 0  # raised and nobody has acted on it yet
    cleared_flags: int = 0  # the condition no longer holds; a person still resolves it

    @property
    def open_handoffs(self) -> int:
        return self.open_handoffs_in + self.open_handoffs_out


@dataclass(frozen=True, slots=True)
class MemberCaseload:
    member_id: str
    role: str
    client_count: int
    overdue_count: int


# the next touchpoint: the check-in due by the plan's cadence, or the next open appointment
# (a column the handlers keep, so a supervisor's view is one join, no subquery per member row)
_NEXT_DUE = (
    "LEAST(c.check_in_ref_at + make_interval(hours => c.cadence_hours), c.next_appointment_at)"
)

_CASELOAD_OF = SQL(
    "SELECT m.client_id, m.role, m.org, c.in_care, c.last_contact_at,"
    " m.last_contact_at AS member_last_contact_at,"
    " CASE WHEN c.in_care THEN " + _NEXT_DUE + " END AS next_due_at,"
    " coalesce(f.open_flags, 0) AS open_flags, f.rank,"
    " coalesce(f.unacknowledged, 0) AS unacknowledged, coalesce(f.cleared, 0) AS cleared,"
    " coalesce(h.outgoing, 0) AS outgoing, coalesce(h.incoming, 0) AS incoming"
    " FROM {caseload_members} m JOIN {caseload_clients} c ON c.client_id = m.client_id"
    " LEFT JOIN LATERAL (SELECT count(*) AS open_flags,"
    "  count(*) FILTER (WHERE status = 'open') AS unacknowledged,"
    "  count(*) FILTER (WHERE status = 'cleared') AS cleared,"
    "  max(CASE severity WHEN 'critical' THEN 4 WHEN 'high' THEN 3 WHEN 'moderate' THEN 2"
    " ELSE 1 END) AS rank"
    "  FROM {caseload_flags} WHERE client_id = m.client_id AND status <> 'resolved') f ON true"
    " LEFT JOIN LATERAL (SELECT count(*) FILTER (WHERE from_org = m.org) AS outgoing,"
    "  count(*) FILTER (WHERE to_org = m.org OR to_member_id = m.member_id) AS incoming"
    "  FROM {caseload_handoffs} WHERE client_id = m.client_id AND open) h ON true"
    " WHERE m.member_id = %s AND (c.in_care OR f.open_flags > 0)"
    " ORDER BY next_due_at NULLS LAST, m.client_id, m.role"
)

_ORG_CASELOADS = SQL(
    "SELECT m.member_id, m.role, count(*) AS client_count,"
    " count(*) FILTER (WHERE " + _NEXT_DUE + " < %s) AS overdue_count"
    " FROM {caseload_members} m JOIN {caseload_clients} c ON c.client_id = m.client_id"
    " WHERE m.org = %s AND c.in_care"
    " GROUP BY m.member_id, m.role ORDER BY m.member_id, m.role"
)


def caseload_of(conn: Connection[DictRow], tables: Tables, member_id: str) -> list[CaseloadClient]:
    """The clients in care on a member's caseload, the most urgent touchpoint first, and the
    discharged ones with a flag not resolved yet (out of care: no touchpoint due)."""
    rows = conn.execute(_CASELOAD_OF.format(**tables), (member_id,)).fetchall()
    return [
        from_row(
            CaseloadClient,
            row,
            last_contact_by_member_at=row["member_last_contact_at"],
            highest_severity=SEVERITIES[row["rank"] - 1] if row["rank"] else None,
            open_handoffs_out=row["outgoing"],
            open_handoffs_in=row["incoming"],
            unacknowledged_flags=row["unacknowledged"],
            cleared_flags=row["cleared"],
        )
        for row in rows
    ]


def caseloads_of_org(
    conn: Connection[DictRow], tables: Tables, org: str, now: datetime
) -> list[MemberCaseload]:
    """The supervisor's view: each member's caseload size and touchpoints overdue at `now`."""
    # a row per member of the organization (hundreds): each built straight from the row's
    # values, in the dataclass's field order, without a dict per row
    with conn.cursor(row_factory=args_row(MemberCaseload)) as cursor:
        return cursor.execute(_ORG_CASELOADS.format(**tables), (now, org)).fetchall()


_RELATED_TO_MEMBER = SQL(
    "SELECT client_id FROM {caseload_members} WHERE member_id = %(member)s"
    " UNION SELECT client_id FROM {caseload_handoffs}"
    " WHERE open AND (to_member_id = %(member)s OR (to_org = %(org)s AND to_member_id IS NULL))"
)
_RELATED_TO_ORG = SQL(
    "SELECT client_id FROM {caseload_clients} WHERE org = %(org)s"
    " UNION SELECT client_id FROM {caseload_members} WHERE org = %(org)s"
)


def clients_related(
    conn: Connection[DictRow], tables: Tables, *, member_id: str | None, org: str
) -> list[UUID]:
    """Who a member (assigned to the care team, or receiving an open handoff) or, without a
    member, an organization (its program's clients and those its staff serve) stands in a
    relationship with, in care or not. A candidate list only: authorization decides each one
    again."""
    query = _RELATED_TO_MEMBER if member_id is not None else _RELATED_TO_ORG
    rows = conn.execute(query.format(**tables), {"member": member_id, "org": org}).fetchall()
    return [row["client_id"] for row in rows]


_OPEN_FLAGS_BY_MEMBER = SQL(
    "SELECT m.member_id, count(DISTINCT f.flag_id) AS open_flags"
    " FROM {caseload_members} m JOIN {caseload_clients} c ON c.client_id = m.client_id"
    " JOIN {caseload_flags} f ON f.client_id = m.client_id AND f.status <> 'resolved'"
    " WHERE m.org = %s GROUP BY m.member_id"
)


def open_flags_by_member(conn: Connection[DictRow], tables: Tables, org: str) -> dict[str, int]:
    """Flags not resolved yet of the clients on each caseload of the organization (a discharged
    client's too: discharge resolves no flag)."""
    rows = conn.execute(_OPEN_FLAGS_BY_MEMBER.format(**tables), (org,)).fetchall()
    return {row["member_id"]: row["open_flags"] for row in rows}
