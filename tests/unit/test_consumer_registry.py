"""The registry of downstream consumers and what a publish batch discloses to them, pure."""

from __future__ import annotations

from datetime import timedelta

from domain.consumers import RegistryRecord, disclosed, part2_clients, registry
from domain.recorded import Recorded
from tests.unit.builders import CLIENT, HOME_ORG, OTHER_ORG, T0, check_in, disclosure_made

PART2 = frozenset({"42CFRPart2"})


def a_record(action: str, name: str, org: str = OTHER_ORG, minutes: int = 0) -> RegistryRecord:
    return RegistryRecord(
        action,  # type: ignore[arg-type]
        name,
        org,
        "operations",
        "aud-kim",
        "auditor",
        T0 + timedelta(minutes=minutes),
    )


def test_the_registry_is_the_fold_of_grants_and_revocations() -> None:
    records = [
        a_record("grant", "analytics"),
        a_record("grant", "old-feed", minutes=1),
        a_record("revoke", "old-feed", minutes=2),
        a_record("grant", "analytics", org="bayside-2", minutes=3),
    ]

    granted = registry(records)

    assert sorted(granted) == ["analytics"]
    assert granted["analytics"].org == "bayside-2"
    assert granted["analytics"].granted_at == T0 + timedelta(minutes=3)


def test_a_batch_discloses_part2_care_events_to_consumers_of_another_organization() -> None:
    batch = [
        Recorded(check_in(security_labels=PART2), 2, 10, T0),
        Recorded(check_in(security_labels=PART2), 3, 11, T0),
        Recorded(disclosure_made(security_labels=PART2), 4, 12, T0),  # access: not counted
    ]
    clients = part2_clients(batch)
    consumers = registry(
        [a_record("grant", "analytics"), a_record("grant", "warehouse", org=HOME_ORG)]
    ).values()

    made = disclosed(clients, consumers, {CLIENT: HOME_ORG})

    assert [(c.first_position, c.count, c.data_classes) for c in clients] == [
        (10, 2, frozenset({"check_in"}))
    ]
    assert [(d.consumer.name, d.program_org) for d in made] == [("analytics", HOME_ORG)]


def test_a_client_outside_part2_discloses_nothing_through_the_topic() -> None:
    assert part2_clients([Recorded(check_in(), 2, 10, T0)]) == []
