"""The accounting of disclosures (42 CFR 2.25; 45 CFR 164.528(b)), the pure half: who received
each disclosure, by name and affiliation, and each entry as the patient reads it.

45 CFR 164.528(b)(2) asks of each entry the date, the name of the entity or person who received
the information (and the address when known), a brief description of the information and a
brief statement of the purpose; 42 CFR 2.25(a) applies it to disclosures made with consent, and
a disclosure in a medical emergency is documented with the elements of 42 CFR 2.51(c).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from domain.consent import BreakGlassInvoked, ConsentData, DisclosureMade

PURPOSE_TEXT: Mapping[str, str] = {
    "treatment": "treatment",
    "payment": "payment",
    "operations": "health care operations",
    "research": "research",
    "emergency": "medical emergency (42 CFR 2.51)",
}


def recipient_named(form: ConsentData | None, org: str, sub: str) -> tuple[str, str]:
    """The recipient's name and affiliation as the consent form names them (a person named on
    it, else the organization named on it); the ids when the form names neither."""
    recipients = () if form is None else form.recipients
    for recipient in recipients:
        if recipient.kind == "person" and recipient.id == sub and recipient.org in (None, org):
            return recipient.name, recipient.org or org
    for recipient in recipients:
        if recipient.kind == "organization" and recipient.id == org:
            return sub, recipient.name
    return sub, org


@dataclass(frozen=True, slots=True)
class Emergency:
    """A break-the-glass grant as the accounting shows it (42 CFR 2.51(c))."""

    grant_id: str
    invoked_at: datetime
    nature: str
    disclosed_by: str
    disclosed_by_org: str
    recipient_name: str
    recipient_affiliation: str
    data_classes: tuple[str, ...] | None
    minutes: int

    @classmethod
    def of(cls, event: BreakGlassInvoked) -> Emergency:
        data = event.data
        person = data.disclosed_by or event.actor
        recipient = data.disclosed_to
        return cls(
            grant_id=str(event.event_id),
            invoked_at=event.occurred_at,
            nature=data.reason,
            disclosed_by=person.id,
            disclosed_by_org=person.org,
            recipient_name=event.actor.id if recipient is None else recipient.name,
            recipient_affiliation=event.actor.org if recipient is None else recipient.affiliation,
            data_classes=None if data.data_classes is None else tuple(sorted(data.data_classes)),
            minutes=data.minutes,
        )


def emergencies(events: Iterable[object]) -> dict[str, Emergency]:
    """Every break-the-glass grant among a client's events, by grant id."""
    return {str(e.event_id): Emergency.of(e) for e in events if isinstance(e, BreakGlassInvoked)}


def grant_of(disclosure: DisclosureMade, grants: Mapping[str, Emergency]) -> Emergency | None:
    """The grant a disclosure in an emergency was made under: the one it names, or (entries
    recorded before they named it) the recipient's latest grant invoked by then."""
    data = disclosure.data
    if not data.break_glass:
        return None
    if data.grant_id is not None:
        return grants.get(data.grant_id)
    earlier = [
        g
        for g in grants.values()
        if (g.disclosed_by, g.disclosed_by_org) == (data.recipient_id, data.recipient_org)
        and g.invoked_at <= disclosure.occurred_at
    ]
    return max(earlier, key=lambda g: g.invoked_at) if earlier else None
