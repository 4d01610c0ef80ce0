"""Which Part 2 consents are in force, and whether one covers a disclosure (42 CFR 2.31, 2.32).

A consent names a recipient organization, a purpose and the data classes it covers (the
catalogue's `data_class` of each event type; `all` stands for every class, as the 2024 rule's
"all of my SUD records"). It stops covering when it is revoked, superseded by a newer consent,
or expires. Revocation is not retroactive: it holds from its `occurred_at` on (R9).

The state as of any past time is a fold of the consent events that happened by then, so "what
had this client agreed to on date X" is answered from the events alone (R11).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.catalogue import CareEvent
from domain.consent import ConsentGranted, ConsentRevoked

ALL_DATA_CLASSES = "all"


@dataclass(frozen=True, slots=True)
class ConsentTerms:
    """One consent as the client granted it."""

    consent_id: str
    recipient_org: str
    purpose: str
    data_classes: frozenset[str]
    expires_at: datetime | None
    granted_at: datetime

    def covers(self, data_class: str) -> bool:
        return ALL_DATA_CLASSES in self.data_classes or data_class in self.data_classes


@dataclass(frozen=True, slots=True)
class ConsentCheck:
    """The consent that covers a disclosure, or the data classes no consent covers."""

    consent: ConsentTerms | None
    uncovered: frozenset[str]

    @property
    def covered(self) -> bool:
        return self.consent is not None


def consents_in_force(events: Iterable[CareEvent], at: datetime) -> tuple[ConsentTerms, ...]:
    """The consents granted by `at`, neither revoked nor superseded by then, and not expired."""
    granted: dict[str, ConsentTerms] = {}
    for event in events:
        if event.occurred_at > at:
            continue
        match event:
            case ConsentGranted():
                if event.data.supersedes is not None:
                    granted.pop(event.data.supersedes, None)
                granted[event.data.consent_id] = ConsentTerms(
                    consent_id=event.data.consent_id,
                    recipient_org=event.data.recipient_org,
                    purpose=event.data.purpose,
                    data_classes=frozenset(event.data.data_classes),
                    expires_at=event.data.expires_at,
                    granted_at=event.occurred_at,
                )
            case ConsentRevoked():
                granted.pop(event.data.consent_id, None)
            case _:
                pass
    return tuple(
        terms for terms in granted.values() if terms.expires_at is None or terms.expires_at > at
    )


def check_consent(
    consents: Iterable[ConsentTerms],
    *,
    recipient_org: str,
    purpose: str,
    data_classes: Iterable[str],
) -> ConsentCheck:
    """The latest consent to this recipient, for this purpose, covering every class asked for.

    One consent must cover the whole disclosure: the disclosure carries a copy (or a clear
    explanation) of that one consent (42 CFR 2.32(b)).
    """
    wanted = frozenset(data_classes)
    matching = [c for c in consents if c.recipient_org == recipient_org and c.purpose == purpose]
    best: ConsentTerms | None = None
    uncovered = wanted
    for terms in matching:
        missing = frozenset(c for c in wanted if not terms.covers(c))
        if not missing and (best is None or terms.granted_at >= best.granted_at):
            best = terms
        if len(missing) < len(uncovered):
            uncovered = missing
    if best is not None:
        return ConsentCheck(consent=best, uncovered=frozenset())
    return ConsentCheck(consent=None, uncovered=uncovered)
