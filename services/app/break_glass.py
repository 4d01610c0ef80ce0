"""Break-the-glass (HIPAA 45 CFR 164.312(a)(2)(ii), emergency access procedure): a crisis
clinician without a relationship opens one client's record for a stated reason and a limited
time.

It is recorded as `BreakGlassInvoked` (the grant: the clinician, until occurred_at + minutes),
it is in the access log, and it raises a review flag for the program's supervisors in the same
batch: a `RiskFlagRaised` with rule `BTG-1` by the system (actor kind `rule`), which the
early-warning views list with every other flag until a supervisor acknowledges or resolves it.
Reads under the grant from another organization are disclosures in a medical emergency
(42 CFR 2.51; domain/access_policy.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4, uuid5

from domain.access_policy import Action, Principal
from domain.client import decide
from domain.commands import RecordCareEvent
from domain.consent import BreakGlassData, BreakGlassInvoked
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


def break_the_glass(
    gate: Gatekeeper,
    handler: CareRecordHandler,
    principal: Principal,
    client_id: UUID,
    *,
    reason: str,
    minutes: int,
    longest: int,
    clock: Callable[[], datetime],
    purpose: str,
    correlation_id: str | None,
) -> BreakGlassGranted:
    """Authorize (a crisis clinician; logged), bound the grant to `longest` minutes, and
    record the grant with its review flag; a grant the record refuses leaves no flag behind."""
    gate.check(
        AccessRequest(
            principal,
            Action.BREAK_GLASS,
            client_id,
            purpose=purpose,
            correlation_id=correlation_id,
        )
    )
    if minutes > longest:
        raise AccessRefused(
            "validation_error",
            f"Break-the-glass access lasts at most {longest} minutes.",
            errors=[{"loc": ["body", "minutes"], "msg": f"at most {longest}"}],
        )
    facts = gate.facts(client_id)
    program_org = (facts.program_org if facts else None) or principal.org
    now = clock()
    invoked = BreakGlassInvoked(
        event_id=uuid4(),
        client_id=client_id,
        occurred_at=now,
        actor=principal.as_actor(),
        purpose_of_use="emergency",
        correlation_id=correlation_id,
        data=BreakGlassData(reason=reason, minutes=minutes),
    )
    review = _review_flag(invoked, program_org)
    commands = [RecordCareEvent(invoked, now=now), RecordCareEvent(review, now=now)]
    _, state = handler.state_of(client_id)
    decide(commands[0], state)  # a refused break-the-glass must not leave its flag behind
    recorded, refused = handler.record_batch(commands)
    if refused:
        raise refused[0].error
    first = next(r for r in recorded if r.event.event_id == invoked.event_id)
    return BreakGlassGranted(
        client_id=client_id,
        event_id=invoked.event_id,
        flag_id=review.data.flag_id,
        until=now + timedelta(minutes=minutes),
        version=first.version,
        position=first.position,
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
