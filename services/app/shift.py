"""The supervisor's start of shift: the open flags of their organization (a clinician's: of
their own clients), grouped by severity with counts, the oldest unacknowledged first, each with
the client's name, the rule, its evidence and how long it has waited.

Authorized and logged as `GET /v1/flags` is: the request itself (Action.READ_FLAGS over the
organization or the member), then each client shown, as a read of its flags and its name
(a Part 2 client of another organization needs a consent covering both, as any list row does).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from domain.access_policy import FLAG_DATA_CLASSES, Action, Decision, Principal
from projections.early_warning import FlagView, flag_by_id, waiting_flags
from projections.reading import ReadModels
from services.app.clients import ClientName, named
from services.app.disclosure import rows_notice
from services.app.gatekeeper import AccessRequest, Gatekeeper
from services.app.ports import ClientHistory

# Statuses that still ask something of a person; severities most urgent first (a severity this
# build does not know yet is shown after these, never hidden).
WAITING_STATUSES = ("open", "acknowledged", "cleared")
SEVERITY_ORDER = ("critical", "high", "moderate", "low")
PER_SEVERITY = 25  # rows shown per severity; the counts cover them all


@dataclass(frozen=True, slots=True)
class ShiftFlag:
    flag: FlagView
    client: ClientName
    waiting: timedelta

    @property
    def unacknowledged(self) -> bool:
        return self.flag.status == "open"


@dataclass
class SeverityGroup:
    severity: str
    total: int = 0  # every waiting flag of this severity in scope (the read model's count)
    unacknowledged: int = 0
    flags: list[ShiftFlag] = field(default_factory=list)  # the first PER_SEVERITY shown

    @property
    def more(self) -> int:
        return max(self.total - len(self.flags), 0)


@dataclass(frozen=True, slots=True)
class Shift:
    scope: str  # the organization, or the clinician
    groups: list[SeverityGroup]
    at: datetime
    # the 42 CFR 2.32 notice of the rows shown, when they disclose to another organization
    notice: dict[str, Any] | None = None

    @property
    def total(self) -> int:
        return sum(g.total for g in self.groups)


def _rank(severity: str) -> int:
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else len(SEVERITY_ORDER)


def shift_view(
    gate: Gatekeeper,
    store: ClientHistory,
    reads: ReadModels,
    principal: Principal,
    *,
    now: datetime,
    purpose: str,
    correlation_id: str | None,
    min_position: int | None = None,
) -> Shift:
    """The flags waiting on this caller's organization (supervisor) or on them (clinician);
    `min_position`: once the read model holds that position (the caller's own last action).
    Counts cover every waiting flag in scope; the rows shown, the first PER_SEVERITY of each
    severity, are decided and logged per client (a row the caller may not see is left out)."""
    supervisor = principal.role == "supervisor"
    org = principal.org if supervisor else None
    member = None if supervisor else principal.sub
    gate.check(
        AccessRequest(
            principal,
            Action.READ_FLAGS,
            None,
            purpose,
            correlation_id=correlation_id,
            member_id=member,
            org=org,
        )
    )
    with reads.reading(["early_warning"], min_position) as (conn, tables):
        counts, views = waiting_flags(
            conn,
            tables["early_warning"],
            org=org,
            member_id=member,
            statuses=WAITING_STATUSES,
            per_severity=PER_SEVERITY,
        )
    decided: dict[UUID, Decision] = {}
    clients = named(
        gate,
        store,
        principal,
        {v.client_id for v in views},
        action=Action.READ_FLAGS,
        purpose=purpose,
        correlation_id=correlation_id,
        data_classes=FLAG_DATA_CLASSES,
        decided=decided,
    )
    groups: dict[str, SeverityGroup] = {}
    for (severity, status), n in counts.items():
        group = groups.setdefault(severity, SeverityGroup(severity))
        group.total += n
        group.unacknowledged += n if status == "open" else 0
    for view in views:
        client = clients.get(view.client_id)
        if client is None:
            continue  # not this caller's to see: left out, as the API leaves it out
        group = groups.setdefault(view.severity, SeverityGroup(view.severity))
        group.flags.append(ShiftFlag(view, client, now - view.raised_at))
    for group in groups.values():
        group.flags.sort(key=lambda f: (not f.unacknowledged, f.flag.raised_at))
    ordered = sorted(groups.values(), key=lambda g: _rank(g.severity))
    shown = {f.client.client_id for g in ordered for f in g.flags}
    notice = rows_notice({c: d for c, d in decided.items() if c in shown})
    return Shift(scope=org or principal.sub, groups=ordered, at=now, notice=notice)


def flag_client(reads: ReadModels, flag_id: str) -> UUID | None:
    """Whose flag this is (None: no such flag), for the actions on one flag."""
    with reads.reading(["early_warning"]) as (conn, tables):
        view = flag_by_id(conn, tables["early_warning"], flag_id)
    return None if view is None else view.client_id
