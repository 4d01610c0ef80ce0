"""What a client's record says about its own sharing: the consents in force at a time
(42 CFR 2.31), authorized and logged by the gatekeeper like any other read. The accounting of
disclosures is services/app/accounting.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.access_policy import Action, Decision, Principal
from domain.consent import ConsentGranted, ConsentRevoked
from domain.consent_form import consent_form
from domain.consent_policy import ConsentTerms, consents_in_force
from domain.enrollment import ClientEnrolled, EpisodeClosed
from services.app.gatekeeper import AccessRequest, Gatekeeper
from services.app.ports import ClientHistory


@dataclass(frozen=True, slots=True)
class ConsentsAt:
    """The consents in force at `at`, the consent events recorded by then, and the patient's
    name for the forms (42 CFR 2.31(a)(1); None for readers who see no identity: auditors)."""

    at: datetime
    in_force: tuple[ConsentTerms, ...]
    events: tuple[ConsentGranted | ConsentRevoked, ...]
    patient_name: str | None = None

    def forms(self) -> list[dict[str, Any]]:
        """Each consent in force as a person reads the signed form (domain/consent_form.py)."""
        return [
            consent_form(terms.form, patient_name=self.patient_name)
            for terms in self.in_force
            if terms.form is not None
        ]


def consents_of(
    gate: Gatekeeper,
    store: ClientHistory,
    principal: Principal,
    client_id: UUID,
    *,
    at: datetime | None,
    purpose: str,
    correlation_id: str | None,
    decided: dict[UUID, Decision] | None = None,
) -> ConsentsAt:
    """The client's consents in force at `at` (now when None), with the events behind them
    (the read's decision goes into `decided`, as for `disclosures_of`)."""
    decision = gate.check(
        AccessRequest(
            principal,
            Action.READ_CONSENTS,
            client_id,
            purpose=purpose,
            correlation_id=correlation_id,
        )
    )
    if decided is not None:
        decided[client_id] = decision
    history = store.load(client_id)
    moment = at or gate.clock()
    folded = [r.event for r in history if isinstance(r.event, ConsentGranted | ConsentRevoked)]
    with_discharges = [
        r.event
        for r in history
        if isinstance(r.event, ConsentGranted | ConsentRevoked | EpisodeClosed)
    ]
    enrolled = next((r.event for r in history if isinstance(r.event, ClientEnrolled)), None)
    name = None
    if enrolled is not None and principal.role != "auditor":
        name = f"{enrolled.data.given_name} {enrolled.data.family_name}"
    return ConsentsAt(
        at=moment,
        in_force=consents_in_force(with_discharges, moment),
        events=tuple(e for e in folded if e.occurred_at <= moment),
        patient_name=name,
    )
