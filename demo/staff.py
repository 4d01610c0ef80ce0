"""The circle's staff: the organizations, the people in them and the services clients are handed to.

A pool is small enough that every member carries several clients, so caseloads overlap.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

__all__ = [
    "CASE_MANAGEMENT_ORG",
    "COUNSELING_ORG",
    "CRISIS_ORG",
    "DESTINATIONS",
    "PEER_ORG",
    "PRESCRIBER_ORG",
    "Destination",
    "Member",
    "Staff",
    "staff_for",
]


@dataclass(frozen=True, slots=True)
class Member:
    """A member of staff of one organization, in one role."""

    id: str
    role: str
    org: str

    def actor(self) -> dict[str, str]:
        return {"id": self.id, "role": self.role, "org": self.org}


@dataclass(frozen=True, slots=True)
class Destination:
    """An organization a case manager hands clients to, for one service."""

    kind: str
    org: str
    service: str
    reasons: tuple[str, ...]
    data_classes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Staff:
    """The circle's organizations and the people in them."""

    counselors: tuple[Member, ...]
    peers: tuple[Member, ...]
    case_managers: tuple[Member, ...]
    prescribers: tuple[Member, ...]
    crisis_clinicians: tuple[Member, ...]
    receiving: Mapping[str, tuple[Member, ...]]


COUNSELING_ORG: Final = "harbor-counseling"
PEER_ORG: Final = "harbor-peer"
CASE_MANAGEMENT_ORG: Final = "northside-case-mgmt"
PRESCRIBER_ORG: Final = "mercy-prescribers"
CRISIS_ORG: Final = "crisis-line-988"

DESTINATIONS: Final[Mapping[str, Destination]] = {
    d.kind: d
    for d in (
        Destination(
            "moud",
            PRESCRIBER_ORG,
            "medication evaluation",
            ("evaluation for medication for opioid use disorder", "medication for alcohol use"),
            ("assessment", "medication", "care_plan"),
        ),
        Destination(
            "otp",
            "eastside-otp",
            "methadone induction",
            ("opioid treatment program intake after buprenorphine was declined",),
            ("assessment", "medication", "care_plan"),
        ),
        Destination(
            "residential",
            "bayview-residential",
            "residential treatment",
            ("escalating use despite outpatient care", "unsafe living situation and daily use"),
            ("assessment", "care_plan", "session", "medication"),
        ),
        Destination(
            "housing",
            "hearth-housing",
            "housing application support",
            ("currently staying with friends, needs stable housing", "eviction notice received"),
            ("care_plan", "appointment"),
        ),
        Destination(
            "primary_care",
            "lakeside-primary-care",
            "primary care intake",
            ("no primary care provider; untreated hypertension", "chronic pain follow-up"),
            ("assessment", "medication"),
        ),
        Destination(
            "sleep",
            "mercy-sleep-clinic",
            "sleep evaluation",
            ("persistent insomnia under four hours a night",),
            ("check_in", "assessment"),
        ),
    )
}


def staff_for(clients: int) -> Staff:
    """A staff pool small enough that every member carries several of the clients."""

    def pool(prefix: str, role: str, org: str, per: int, low: int, high: int) -> tuple[Member, ...]:
        size = min(high, max(low, math.ceil(clients / per)))
        return tuple(Member(f"{prefix}-{n}", role, org) for n in range(1, size + 1))

    prescribers = pool("prescriber", "prescriber", PRESCRIBER_ORG, 25, 2, 40)
    return Staff(
        counselors=pool("counselor", "counselor", COUNSELING_ORG, 10, 2, 400),
        peers=pool("peer", "peer_specialist", PEER_ORG, 12, 2, 300),
        case_managers=pool("case-manager", "case_manager", CASE_MANAGEMENT_ORG, 15, 2, 300),
        prescribers=prescribers,
        crisis_clinicians=pool("crisis", "crisis_clinician", CRISIS_ORG, 30, 3, 30),
        receiving={
            PRESCRIBER_ORG: prescribers,
            "eastside-otp": (
                Member("eastside-prescriber-1", "prescriber", "eastside-otp"),
                Member("eastside-prescriber-2", "prescriber", "eastside-otp"),
            ),
            "bayview-residential": (
                Member("bayview-intake-1", "case_manager", "bayview-residential"),
                Member("bayview-intake-2", "case_manager", "bayview-residential"),
            ),
            "hearth-housing": (
                Member("hearth-navigator-1", "case_manager", "hearth-housing"),
                Member("hearth-navigator-2", "case_manager", "hearth-housing"),
            ),
            "lakeside-primary-care": (
                Member("lakeside-clinician-1", "prescriber", "lakeside-primary-care"),
            ),
            "mercy-sleep-clinic": (
                Member("sleep-clinician-1", "prescriber", "mercy-sleep-clinic"),
            ),
        },
    )
