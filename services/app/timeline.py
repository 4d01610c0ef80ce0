"""A client's history as people read it: who did what, when it happened and when it was
recorded, corrections shown against what they correct, the care team, the flags, and the series
of check-in signals and instrument totals (for the console's client page).

It is one read of the client's history, authorized and logged by the gatekeeper exactly as
`GET /v1/clients/{id}/events` (Action.READ_HISTORY): the same 404 for no relationship, the same
403, the same masking of counseling notes (services/app/disclosure.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.access_policy import Action, Principal
from domain.corrections import EntryCorrected, EntryEnteredInError
from domain.early_warning import Thresholds
from domain.erasure import ErasedEntry
from domain.instruments import INSTRUMENTS, score
from domain.monitoring import AssessmentRecorded, CheckInRecorded
from domain.record import client_record
from domain.record_parts import CareTeamMember
from domain.recorded import Recorded
from services.app.disclosure import history_item, rows_notice
from services.app.gatekeeper import AccessRequest, Gatekeeper
from services.app.ports import ClientHistory

FLAG_PREFIX = "RiskFlag"


@dataclass
class Entry:
    """One line of the timeline."""

    version: int
    event_id: UUID
    type: str
    occurred_at: datetime
    recorded_at: datetime
    actor_id: str
    actor_role: str
    actor_org: str
    data: dict[str, Any]
    corrected_by: list[Entry] = field(default_factory=list)
    corrects: Entry | None = None
    in_error: bool = False

    @property
    def late_by_hours(self) -> float:
        """How long after it happened it was recorded (a late entry is worth seeing)."""
        return (self.recorded_at - self.occurred_at).total_seconds() / 3600


@dataclass
class FlagLine:
    flag_id: str
    rule_id: str
    severity: str
    reason: str
    raised_at: datetime
    status: str = "open"
    changed_at: datetime | None = None
    changed_by: str | None = None
    note: str | None = None
    evidence: tuple[UUID, ...] = ()


@dataclass(frozen=True, slots=True)
class Point:
    at: datetime
    value: float


@dataclass
class Timeline:
    client_id: UUID
    display_name: str | None
    program: str | None
    erased: bool
    entries: list[Entry]
    care_team: tuple[CareTeamMember, ...]
    flags: list[FlagLine]
    signals: dict[str, list[Point]]
    instruments: dict[str, list[Point]]
    thresholds: Thresholds
    # the 42 CFR 2.32 notice when the page discloses to another organization (rows_notice shape)
    notice: dict[str, Any] | None


def client_timeline(
    gate: Gatekeeper,
    store: ClientHistory,
    principal: Principal,
    client_id: UUID,
    *,
    thresholds: Thresholds,
    purpose: str,
    correlation_id: str | None,
) -> Timeline:
    """The client's timeline as this caller may read it (AccessRefused otherwise)."""
    decision = gate.check(
        AccessRequest(
            principal, Action.READ_HISTORY, client_id, purpose, correlation_id=correlation_id
        )
    )
    history = store.load(client_id)
    shown: list[tuple[Recorded, dict[str, Any]]] = []
    for item in history:
        body = history_item(item, principal, decision, named=False)
        if body is not None:
            shown.append((item, body))
    entries = _entries(shown)
    in_error = {e.event_id for e in entries if e.in_error or e.corrected_by}
    record = client_record(history)
    demographics = None if record is None else record.demographics
    return Timeline(
        client_id=client_id,
        display_name=None
        if demographics is None
        else f"{demographics.given_name} {demographics.family_name}",
        program=None if record is None else record.program,
        erased=any(isinstance(r.event, ErasedEntry) for r in history),
        entries=entries,
        care_team=() if record is None else record.care_team,
        flags=_flags([item for item, _ in shown]),
        signals=_signals([item for item, _ in shown], in_error),
        instruments=_instruments([item for item, _ in shown], in_error),
        thresholds=thresholds,
        notice=rows_notice({client_id: decision}),
    )


def _entries(shown: list[tuple[Recorded, dict[str, Any]]]) -> list[Entry]:
    entries: list[Entry] = []
    by_id: dict[UUID, Entry] = {}
    for item, body in shown:
        event = item.event
        data = body.get("data")
        entry = Entry(
            version=item.version,
            event_id=event.event_id,
            type=event.data.original_type if isinstance(event, ErasedEntry) else event.type,
            occurred_at=event.occurred_at,
            recorded_at=item.recorded_at,
            actor_id=event.actor.id,
            actor_role=event.actor.role,
            actor_org=event.actor.org,
            data=data if isinstance(data, dict) else {},
        )
        if isinstance(event, EntryEnteredInError | EntryCorrected):
            target = by_id.get(event.data.target_event_id)
            if target is not None:
                entry.corrects = target
                target.corrected_by.append(entry)
                target.in_error = target.in_error or isinstance(event, EntryEnteredInError)
        by_id[event.event_id] = entry
        entries.append(entry)
    return entries


def _flags(items: list[Recorded]) -> list[FlagLine]:
    """Each flag's line, folded from the flag events (a status this build does not know yet is
    shown by its event's name: RiskFlagCleared reads `cleared`)."""
    flags: dict[str, FlagLine] = {}
    for item in items:
        event = item.event
        if not event.type.startswith(FLAG_PREFIX):
            continue
        data = event.data.model_dump(mode="python")
        flag_id = str(data.get("flag_id"))
        if event.type == "RiskFlagRaised":
            flags[flag_id] = FlagLine(
                flag_id=flag_id,
                rule_id=str(data["rule_id"]),
                severity=str(data["severity"]),
                reason=str(data["reason"]),
                raised_at=event.occurred_at,
                evidence=tuple(data.get("evidence_event_ids", ())),
            )
            continue
        line = flags.get(flag_id)
        if line is None:
            continue
        line.status = event.type.removeprefix(FLAG_PREFIX).lower()
        line.changed_at = event.occurred_at
        line.changed_by = event.actor.id
        note = data.get("note")
        line.note = note if isinstance(note, str) else line.note
    return sorted(flags.values(), key=lambda f: f.raised_at, reverse=True)


def _signals(items: list[Recorded], voided: set[UUID]) -> dict[str, list[Point]]:
    series: dict[str, list[Point]] = {"mood": [], "craving": [], "sleep_hours": []}
    for item in items:
        event = item.event
        if isinstance(event, CheckInRecorded) and event.event_id not in voided:
            at = event.occurred_at
            series["mood"].append(Point(at, event.data.mood))
            series["craving"].append(Point(at, event.data.craving))
            series["sleep_hours"].append(Point(at, float(event.data.sleep_hours)))
    for points in series.values():
        points.sort(key=lambda p: p.at)
    return series


def _instruments(items: list[Recorded], voided: set[UUID]) -> dict[str, list[Point]]:
    series: dict[str, list[Point]] = {}
    for item in items:
        event = item.event
        if not isinstance(event, AssessmentRecorded) or event.event_id in voided:
            continue
        name = event.data.instrument
        if name not in INSTRUMENTS:
            continue
        total = event.data.total
        if total is None:
            total = score(name, event.data.answers).total
        series.setdefault(name, []).append(Point(event.occurred_at, total))
    for points in series.values():
        points.sort(key=lambda p: p.at)
    return dict(sorted(series.items()))
