"""Which Part 2 consents are in force, and whether one covers a disclosure (42 CFR 2.31, 2.32).

A consent names its recipients (organizations, persons, or the TPO designation of 2.31(a)(4)(i)
covering whoever treats the patient), its purposes and the data classes it covers (the
catalogue's `data_class` of each event type; `all` stands for every class, as the 2024 rule's
"all of my SUD records"). It stops covering when it is revoked, superseded by a newer consent,
or expires (a date, or discharge: the `EpisodeClosed` event). Revocation is not retroactive: it
holds from its `occurred_at` on (R9).

The state as of any past time is a fold of the consent events that happened by then, so "what
had this client agreed to on date X" is answered from the events alone (R11).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from domain.catalogue import CareEvent
from domain.consent import ConsentData, ConsentGranted, ConsentRevoked
from domain.enrollment import EpisodeClosed

ALL_DATA_CLASSES = "all"
COUNSELING_NOTE_CLASS = "counseling_note"


@dataclass(frozen=True, slots=True)
class ConsentTerms:
    """One consent as the client granted it, reduced to what decides a disclosure."""

    consent_id: str
    recipient_orgs: frozenset[str]  # organizations named as recipients (42 CFR 2.31(a)(4))
    recipient_people: frozenset[tuple[str, str | None]]  # (sub, org) of persons named
    tpo: bool  # the single TPO consent's designation: anyone treating the patient
    purposes: frozenset[str]
    data_classes: frozenset[str]
    expires_at: datetime | None
    expires_on_event: str | None
    granted_at: datetime
    form: ConsentData | None = None

    @property
    def recipient_org(self) -> str:
        """The first organization named (what the older one-recipient views show)."""
        return min(self.recipient_orgs) if self.recipient_orgs else ""

    @property
    def purpose(self) -> str:
        return ",".join(sorted(self.purposes))

    def covers(self, data_class: str) -> bool:
        return ALL_DATA_CLASSES in self.data_classes or data_class in self.data_classes

    def names(self, org: str, sub: str, *, treating: bool) -> bool:
        """Whether this caller is a recipient: their organization, they themselves, or (TPO)
        someone with a treating relationship with the patient."""
        if org in self.recipient_orgs:
            return True
        if (sub, org) in self.recipient_people or (sub, None) in self.recipient_people:
            return True
        return self.tpo and treating

    def allows(self, purpose: str) -> bool:
        return purpose in self.purposes


@dataclass(frozen=True, slots=True)
class ConsentCheck:
    """The consent that covers a disclosure, or the data classes no consent covers."""

    consent: ConsentTerms | None
    uncovered: frozenset[str]

    @property
    def covered(self) -> bool:
        return self.consent is not None


def terms_of(event: ConsentGranted) -> ConsentTerms:
    """The terms of one grant: the 2024 elements, or the older single recipient and purpose."""
    data = event.data
    orgs = {r.id for r in data.recipients if r.kind == "organization"}
    people = {(r.id, r.org) for r in data.recipients if r.kind == "person"}
    if data.recipient_org:
        orgs.add(data.recipient_org)
    purposes: set[str] = set(data.purposes)
    if data.purpose:
        purposes.add(data.purpose)
    return ConsentTerms(
        consent_id=data.consent_id,
        recipient_orgs=frozenset(orgs),
        recipient_people=frozenset(people),
        tpo=data.tpo,
        purposes=frozenset(purposes),
        data_classes=frozenset(data.data_classes),
        expires_at=data.expires_at,
        expires_on_event=data.expires_on_event,
        granted_at=event.occurred_at,
        form=data,
    )


def consents_in_force(events: Iterable[CareEvent], at: datetime) -> tuple[ConsentTerms, ...]:
    """The consents granted by `at`, neither revoked nor superseded by then, not expired, and
    not ended by their expiration event (42 CFR 2.31(a)(7), (c)(1)): a consent that expires on
    discharge ends at the first `EpisodeClosed` after it was granted."""
    granted: dict[str, ConsentTerms] = {}
    for event in events:
        if event.occurred_at > at:
            continue
        match event:
            case ConsentGranted():
                if event.data.supersedes is not None:
                    granted.pop(event.data.supersedes, None)
                granted[event.data.consent_id] = terms_of(event)
            case ConsentRevoked():
                granted.pop(event.data.consent_id, None)
            case EpisodeClosed():
                granted = {
                    cid: terms
                    for cid, terms in granted.items()
                    if terms.expires_on_event != "EpisodeClosed"
                }
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
    recipient_id: str = "",
    treating: bool = False,
) -> ConsentCheck:
    """The latest consent to this recipient, for this purpose, covering every class asked for.

    One consent must cover the whole disclosure: the disclosure carries a copy (or a clear
    explanation) of that one consent (42 CFR 2.32(b)).
    """
    wanted = frozenset(data_classes)
    matching = [
        c
        for c in consents
        if c.names(recipient_org, recipient_id, treating=treating) and c.allows(purpose)
    ]
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


def counseling_notes_consent(
    consents: Iterable[ConsentTerms],
    *,
    recipient_org: str,
    purpose: str,
    recipient_id: str = "",
    treating: bool = False,
) -> ConsentTerms | None:
    """The stand-alone consent naming counseling notes for this recipient and purpose, if any
    (42 CFR 2.31(b)): `all` does not name them."""
    found = [
        c
        for c in consents
        if COUNSELING_NOTE_CLASS in c.data_classes
        and c.names(recipient_org, recipient_id, treating=treating)
        and c.allows(purpose)
    ]
    return max(found, key=lambda c: c.granted_at) if found else None
