"""Break-the-glass (42 CFR 2.51 medical emergencies; HIPAA 45 CFR 164.312(a)(2)(ii), emergency
access procedure): a clinician the program allows (domain/break_glass.py) opens the data
classes an emergency needs of one client's record, for a stated emergency and a limited time.

It is recorded as `BreakGlassInvoked`, the grant, with the elements 2.51(c) has the program
document: the person making the disclosure (`disclosed_by`, the clinician of the token), the
recipient by name and affiliation (the clinician, unless the request names someone else), the
date and time (`occurred_at`) and the nature of the emergency (`reason`); and its scope
(`data_classes`) and minutes. It is in the access log, and it raises a review flag for the
program's supervisors in the same batch: a `RiskFlagRaised` with rule `BTG-1` by the system
(actor kind `rule`), which the early-warning views list with every other flag until a
supervisor acknowledges or resolves it. Each read under the grant from another organization is
a `DisclosureMade` naming the grant (`grant_id`), so the accounting links the grant to every
disclosure it enabled (services/app/consent.py `accounting_of`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4, uuid5

from domain.access_policy import Action, Principal
from domain.break_glass import EMERGENCY_DATA_CLASSES, RUNNING_CODE, repeated
from domain.client import decide
from domain.commands import RecordCareEvent
from domain.consent import BreakGlassData, BreakGlassInvoked, EmergencyRecipient
from domain.envelope import Actor
from domain.flags import FlagRaisedData, RiskFlagRaised
from services.app.errors import AccessRefused
from services.app.gatekeeper import AccessRequest, Gatekeeper
from services.app.record import CareRecordHandler

REVIEW_RULE_ID = "BTG-1"
REVIEW_RULE_VERSION = 1


@dataclass(frozen=True, slots=True)
class BreakGlassGranted:
    """The grant as recorded: its event, the review flag it raised, and until when it runs."""

    client_id: UUID
    event_id: UUID
    flag_id: str
    until: datetime
    version: int
    position: int
    minutes: int
    data_classes: tuple[str, ...]
    disclosed_by: str
    recipient_name: str
    recipient_affiliation: str
    accounting: str  # where the grant's accounting entries are read


@dataclass(frozen=True, slots=True)
class EmergencyRequest:
    """What the clinician states: the nature of the emergency, and optionally the recipient
    (when not themselves), the minutes and the data classes (the emergency set otherwise)."""

    reason: str
    minutes: int | None = None
    recipient_name: str | None = None
    recipient_affiliation: str | None = None
    data_classes: frozenset[str] | None = None


def break_the_glass(
    gate: Gatekeeper,
    handler: CareRecordHandler,
    principal: Principal,
    client_id: UUID,
    asked: EmergencyRequest,
    *,
    longest: int,
    default_minutes: int,
    clock: Callable[[], datetime],
    purpose: str,
    correlation_id: str | None,
) -> BreakGlassGranted:
    """Authorize (a role the program allows; logged), refuse a repeat of a running grant's
    emergency, bound the grant to `longest` minutes, and record the grant with its review
    flag; a grant the record refuses leaves no flag behind."""
    gate.check(
        AccessRequest(
            principal,
            Action.BREAK_GLASS,
            client_id,
            purpose=purpose,
            correlation_id=correlation_id,
        )
    )
    minutes = asked.minutes or default_minutes
    if minutes > longest:
        raise AccessRefused(
            "validation_error",
            f"Break-the-glass access lasts at most {longest} minutes.",
            errors=[{"loc": ["body", "minutes"], "msg": f"at most {longest}"}],
        )
    facts = gate.facts(client_id)
    program_org = (facts.program_org if facts else None) or principal.org
    now = clock()
    running = () if facts is None else facts.grants_of(principal.sub, principal.org, now)
    again = repeated(running, asked.reason)
    if again is not None:  # the same emergency extends nothing (domain/break_glass.py)
        raise AccessRefused(
            RUNNING_CODE,
            f"Your grant {again.grant_id} for this emergency runs until "
            f"{again.until.isoformat()}; state a new emergency for a new grant.",
        )
    invoked = _grant(principal, client_id, asked, minutes, now, correlation_id)
    review = _review_flag(invoked, program_org)
    commands = [RecordCareEvent(invoked, now=now), RecordCareEvent(review, now=now)]
    _, state, stored_ids = handler.state_of(client_id)
    decide(commands[0], state, stored_ids)  # a refused break-the-glass leaves no flag behind
    recorded, refused = handler.record_batch(commands)
    if refused:
        raise refused[0].error
    first = next(r for r in recorded if r.event.event_id == invoked.event_id)
    recipient = invoked.data.disclosed_to
    assert recipient is not None
    return BreakGlassGranted(
        client_id=client_id,
        event_id=invoked.event_id,
        flag_id=review.data.flag_id,
        until=now + timedelta(minutes=minutes),
        version=first.version,
        position=first.position,
        minutes=minutes,
        data_classes=tuple(sorted(invoked.data.data_classes or ())),
        disclosed_by=principal.sub,
        recipient_name=recipient.name,
        recipient_affiliation=recipient.affiliation,
        accounting=f"/v1/clients/{client_id}/disclosures?grant_id={invoked.event_id}",
    )


def _grant(
    principal: Principal,
    client_id: UUID,
    asked: EmergencyRequest,
    minutes: int,
    now: datetime,
    correlation_id: str | None,
) -> BreakGlassInvoked:
    """The grant with the elements of 42 CFR 2.51(c): the person making the disclosure (the
    clinician of the token), the recipient (the clinician unless named), the emergency."""
    return BreakGlassInvoked(
        event_id=uuid4(),
        client_id=client_id,
        occurred_at=now,
        actor=principal.as_actor(),
        purpose_of_use="emergency",
        correlation_id=correlation_id,
        data=BreakGlassData(
            reason=asked.reason,
            minutes=minutes,
            disclosed_by=principal.as_actor(),
            disclosed_to=EmergencyRecipient(
                name=asked.recipient_name or principal.sub,
                affiliation=asked.recipient_affiliation or principal.org,
                id=None if asked.recipient_name else principal.sub,
            ),
            data_classes=asked.data_classes or EMERGENCY_DATA_CLASSES,
        ),
    )


def _review_flag(invoked: BreakGlassInvoked, program_org: str) -> RiskFlagRaised:
    """The supervisors' review of a grant: raised by the system, caused by the grant."""
    return RiskFlagRaised(
        event_id=uuid5(invoked.event_id, "break-glass-review"),
        client_id=invoked.client_id,
        occurred_at=invoked.occurred_at,
        actor=Actor(id=REVIEW_RULE_ID, role="rule", org=program_org, kind="rule"),
        purpose_of_use="operations",
        correlation_id=invoked.correlation_id,
        causation_id=str(invoked.event_id),
        data=FlagRaisedData(
            flag_id=f"{REVIEW_RULE_ID}:{invoked.event_id}",
            rule_id=REVIEW_RULE_ID,
            rule_version=REVIEW_RULE_VERSION,
            severity="moderate",
            reason="Break-the-glass access: a supervisor reviews it.",
            evidence_event_ids=(invoked.event_id,),
        ),
    )
