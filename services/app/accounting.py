"""The accounting of disclosures (42 CFR 2.25; 45 CFR 164.528), as a patient reads it, and the
record of handing it to them.

Each entry is one `DisclosureMade` of the client's history: the date, the recipient by name and
affiliation (45 CFR 164.528(b)(2)(ii)), the data classes disclosed (b)(2)(iii), the purpose and
what the disclosure rested on (b)(2)(iv): the consent (42 CFR 2.31) or the medical emergency
(42 CFR 2.51, with the grant's person, recipient and nature), and the channel it left by (a read
through the API, or `care.events` to a registered consumer). Entries recorded before names were
kept are named from the consent form they relied on (domain/accounting.py), else by ids.

Handing the accounting to the patient or their representative is itself recorded:
`AccountingProvided` with the window, the disclosures listed and a SHA-256 digest of the very
document handed over (45 CFR 164.528(d)(2) has the written accounting provided documented).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from domain.access_policy import Action, Decision, Principal
from domain.accounting import PURPOSE_TEXT, Emergency, emergencies, grant_of, recipient_named
from domain.commands import RecordCareEvent
from domain.consent import AccountingData, AccountingProvided, ConsentGranted, DisclosureMade
from domain.recorded import Recorded
from services.app.errors import AccessRefused
from services.app.gatekeeper import AccessRequest, Gatekeeper
from services.app.ports import ClientHistory
from services.app.record import CareRecordHandler

CSV_COLUMNS = (
    "disclosed_at",
    "recipient_name",
    "recipient_affiliation",
    "recipient_id",
    "purpose",
    "basis",
    "consent_id",
    "emergency",
    "emergency_disclosed_by",
    "emergency_grant_id",
    "data_classes",
    "channel",
    "event_count",
    "event_id",
)
# A spreadsheet runs a cell starting with one of these as a formula (CSV injection, OWASP).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


@dataclass(frozen=True, slots=True)
class AccountingEntry:
    """One disclosure as the accounting lists it."""

    disclosed_at: str
    recipient_name: str
    recipient_affiliation: str
    recipient_id: str
    purpose: str
    purpose_statement: str
    basis: Literal["consent", "emergency", "none"]
    consent_id: str | None
    emergency: dict[str, Any] | None
    data_classes: list[str]
    channel: str
    event_count: int
    event_id: str
    program_org: str
    # the fields the accounting had before names were kept (kept: extend, never rename)
    recorded_at: str
    recipient_org: str
    break_glass: bool

    def csv_row(self) -> list[str]:
        emergency = self.emergency or {}
        return [
            self.disclosed_at,
            self.recipient_name,
            self.recipient_affiliation,
            self.recipient_id,
            self.purpose_statement,
            self.basis,
            self.consent_id or "",
            str(emergency.get("nature", "")),
            str(emergency.get("disclosed_by", "")),
            str(emergency.get("grant_id", "")),
            " ".join(self.data_classes),
            self.channel,
            str(self.event_count),
            self.event_id,
        ]


@dataclass(frozen=True, slots=True)
class Accounting:
    """The accounting of one client over a window, with each emergency grant and the
    disclosures it enabled."""

    client_id: UUID
    since: datetime | None
    until: datetime
    entries: tuple[AccountingEntry, ...]
    grants: tuple[dict[str, Any], ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "client_id": str(self.client_id),
            "since": None if self.since is None else self.since.isoformat(),
            "until": self.until.isoformat(),
            "items": [asdict(e) for e in self.entries],
            "emergencies": list(self.grants),
        }

    def as_csv(self) -> str:
        """One header row, then one row per disclosure; no cell a spreadsheet would run."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for entry in self.entries:
            writer.writerow([safe_cell(cell) for cell in entry.csv_row()])
        return out.getvalue()

    def document(self, format_: Literal["json", "csv"]) -> bytes:
        if format_ == "csv":
            return self.as_csv().encode()
        return json.dumps(self.as_json(), sort_keys=True).encode()


def safe_cell(cell: str) -> str:
    """A cell starting with = + - @ (or a tab or carriage return) is prefixed with a quote, so a
    spreadsheet shows it as text instead of running it as a formula."""
    return "'" + cell if cell.startswith(FORMULA_STARTS) else cell


def accounting_of(
    gate: Gatekeeper,
    store: ClientHistory,
    principal: Principal,
    client_id: UUID,
    *,
    since: datetime | None,
    grant_id: str | None,
    purpose: str,
    correlation_id: str | None,
    decided: dict[UUID, Decision] | None = None,
) -> Accounting:
    """Every disclosure of the client's records since `since` (all when None), oldest first;
    only those one break-the-glass grant enabled when `grant_id` names it. The read's decision
    goes into `decided`: the answer carries the 42 CFR 2.32 notice when it is a disclosure."""
    decision = gate.check(
        AccessRequest(
            principal,
            Action.READ_DISCLOSURES,
            client_id,
            purpose=purpose,
            correlation_id=correlation_id,
        )
    )
    if decided is not None:
        decided[client_id] = decision
    return _accounting(store.load(client_id), client_id, since, grant_id, gate.clock())


def _accounting(
    history: Sequence[Recorded],
    client_id: UUID,
    since: datetime | None,
    grant_id: str | None,
    now: datetime,
) -> Accounting:
    events = [r.event for r in history]
    recorded_at = {r.event.event_id: r.recorded_at for r in history}
    grants = emergencies(events)
    forms = {e.data.consent_id: e.data for e in events if isinstance(e, ConsentGranted)}
    entries: list[AccountingEntry] = []
    enabled: dict[str, list[str]] = {g: [] for g in grants}
    for event in events:
        if not isinstance(event, DisclosureMade):
            continue
        grant = grant_of(event, grants)
        if grant is not None:
            enabled[grant.grant_id].append(str(event.event_id))
        if since is not None and event.occurred_at < since:
            continue
        if grant_id is not None and (grant is None or grant.grant_id != grant_id):
            continue
        entries.append(_entry(event, recorded_at[event.event_id], grant, forms))
    shown = [g for g in grants.values() if grant_id in (None, g.grant_id)]
    return Accounting(
        client_id=client_id,
        since=since,
        until=now,
        entries=tuple(entries),
        grants=tuple({**_emergency(g), "disclosure_event_ids": enabled[g.grant_id]} for g in shown),
    )


def _entry(
    event: DisclosureMade, recorded_at: datetime, grant: Emergency | None, forms: dict[str, Any]
) -> AccountingEntry:
    data = event.data
    if data.recipient_name is not None:
        name, affiliation = data.recipient_name, data.recipient_affiliation or data.recipient_org
    elif grant is not None:
        name, affiliation = grant.recipient_name, grant.recipient_affiliation
    else:
        form = None if data.consent_id is None else forms.get(data.consent_id)
        name, affiliation = recipient_named(form, data.recipient_org, data.recipient_id)
    basis: Literal["consent", "emergency", "none"] = (
        "emergency" if data.break_glass else "consent" if data.consent_id else "none"
    )
    return AccountingEntry(
        disclosed_at=event.occurred_at.isoformat(),
        recipient_name=name,
        recipient_affiliation=affiliation,
        recipient_id=data.recipient_id,
        purpose=data.purpose,
        purpose_statement=PURPOSE_TEXT.get(data.purpose, data.purpose),
        basis=basis,
        consent_id=data.consent_id,
        emergency=None if grant is None else _emergency(grant),
        data_classes=sorted(data.data_classes),
        channel=data.channel,
        event_count=data.event_count or 1,
        event_id=str(event.event_id),
        program_org=event.actor.org,
        recorded_at=recorded_at.isoformat(),
        recipient_org=data.recipient_org,
        break_glass=data.break_glass,
    )


def _emergency(grant: Emergency) -> dict[str, Any]:
    """The grant as 42 CFR 2.51(c) documents it."""
    return {
        "grant_id": grant.grant_id,
        "invoked_at": grant.invoked_at.isoformat(),
        "nature": grant.nature,
        "disclosed_by": grant.disclosed_by,
        "disclosed_by_org": grant.disclosed_by_org,
        "recipient_name": grant.recipient_name,
        "recipient_affiliation": grant.recipient_affiliation,
        "scope": None if grant.data_classes is None else list(grant.data_classes),
        "minutes": grant.minutes,
    }


@dataclass(frozen=True, slots=True)
class Handover:
    """Who the accounting is handed to, in which form, over which window."""

    provided_to: Literal["patient", "representative"]
    format: Literal["json", "csv"]
    since: datetime | None = None
    representative_authority: str | None = None


@dataclass(frozen=True, slots=True)
class ProvidedAccounting:
    """The document handed over, and the event that records it."""

    document: bytes
    event_id: UUID
    digest: str
    accounting: Accounting


def provide_accounting(
    gate: Gatekeeper,
    handler: CareRecordHandler,
    principal: Principal,
    client_id: UUID,
    handover: Handover,
    *,
    clock: Callable[[], datetime],
    purpose: str,
    correlation_id: str | None,
) -> ProvidedAccounting:
    """Hand the accounting to the patient (the program does: its staff or an auditor) and
    record it with a digest of the document handed over."""
    accounting = accounting_of(
        gate,
        gate.store,
        principal,
        client_id,
        since=handover.since,
        grant_id=None,
        purpose=purpose,
        correlation_id=correlation_id,
    )
    facts = gate.facts(client_id)
    if principal.role != "auditor" and (facts is None or facts.program_org != principal.org):
        raise AccessRefused("forbidden", "The program that holds the record hands it over.")
    if handover.provided_to == "representative" and not handover.representative_authority:
        raise AccessRefused(
            "validation_error",
            "Name the representative's authority (42 CFR 2.14, 2.15).",
            errors=[{"loc": ["body", "representative_authority"], "msg": "required"}],
        )
    document = accounting.document(handover.format)
    digest = "sha256:" + hashlib.sha256(document).hexdigest()
    now = clock()
    event = AccountingProvided(
        event_id=uuid4(),
        client_id=client_id,
        occurred_at=now,
        actor=principal.as_actor(),
        purpose_of_use="operations",
        correlation_id=correlation_id,
        data=AccountingData(
            provided_to=handover.provided_to,
            representative_authority=handover.representative_authority,
            format=handover.format,
            since=handover.since,
            until=accounting.until,
            entries=len(accounting.entries),
            disclosure_event_ids=tuple(UUID(e.event_id) for e in accounting.entries),
            digest=digest,
        ),
    )
    handler.record(RecordCareEvent(event, now=now))
    return ProvidedAccounting(document, event.event_id, digest, accounting)
