"""A Part 2 consent covers a disclosure only for its recipient, purpose and data classes, and
only while it is neither revoked, superseded nor expired; its state as of any date is a fold."""

from __future__ import annotations

from domain.consent_policy import check_consent, consents_in_force
from tests.unit.builders import OTHER_ORG, PEER_ORG, after, consent_granted, consent_revoked


def covered(events, *, at, org=PEER_ORG, purpose="treatment", classes=("check_in",)) -> bool:
    consents = consents_in_force(events, at)
    return check_consent(consents, recipient_org=org, purpose=purpose, data_classes=classes).covered


def test_a_consent_covers_its_recipient_purpose_and_data_classes() -> None:
    history = [consent_granted(data_classes=("check_in", "care_team"), occurred_at=after(days=1))]

    assert covered(history, at=after(days=2), classes=("check_in", "care_team"))


def test_a_consent_for_another_organization_purpose_or_class_covers_nothing() -> None:
    history = [consent_granted(data_classes=("check_in",), occurred_at=after(days=1))]

    assert not covered(history, at=after(days=2), org=OTHER_ORG)
    assert not covered(history, at=after(days=2), purpose="operations")
    assert not covered(history, at=after(days=2), classes=("check_in", "assessment"))


def test_all_covers_every_data_class() -> None:
    history = [consent_granted(data_classes=("all",), occurred_at=after(days=1))]

    assert covered(history, at=after(days=2), classes=("assessment", "demographics", "crisis"))


def test_a_consent_does_not_cover_before_it_was_given() -> None:
    history = [consent_granted(occurred_at=after(days=5))]

    assert not covered(history, at=after(days=4))
    assert covered(history, at=after(days=5))


def test_revocation_holds_from_its_time_on_and_not_before() -> None:
    history = [
        consent_granted(occurred_at=after(days=1)),
        consent_revoked(occurred_at=after(days=10)),
    ]

    assert covered(history, at=after(days=9))
    assert not covered(history, at=after(days=10))


def test_an_expired_consent_covers_nothing_from_its_expiry_on() -> None:
    history = [consent_granted(occurred_at=after(days=1), expires_at=after(days=30))]

    assert covered(history, at=after(days=29, hours=23))
    assert not covered(history, at=after(days=30))


def test_a_superseding_consent_replaces_the_one_it_names() -> None:
    history = [
        consent_granted("c-1", data_classes=("check_in",), occurred_at=after(days=1)),
        consent_granted(
            "c-2", data_classes=("assessment",), supersedes="c-1", occurred_at=after(days=3)
        ),
    ]

    assert covered(history, at=after(days=2), classes=("check_in",))
    assert not covered(history, at=after(days=4), classes=("check_in",))
    assert covered(history, at=after(days=4), classes=("assessment",))


def test_the_latest_covering_consent_is_the_one_relied_on() -> None:
    history = [
        consent_granted("c-1", data_classes=("all",), occurred_at=after(days=1)),
        consent_granted("c-2", data_classes=("check_in",), occurred_at=after(days=2)),
    ]

    check = check_consent(
        consents_in_force(history, after(days=3)),
        recipient_org=PEER_ORG,
        purpose="treatment",
        data_classes=("check_in",),
    )

    assert check.consent is not None
    assert check.consent.consent_id == "c-2"


def test_uncovered_names_what_the_closest_consent_lacks() -> None:
    history = [consent_granted(data_classes=("check_in",), occurred_at=after(days=1))]

    check = check_consent(
        consents_in_force(history, after(days=2)),
        recipient_org=PEER_ORG,
        purpose="treatment",
        data_classes=("check_in", "crisis"),
    )

    assert not check.covered
    assert check.uncovered == frozenset({"crisis"})
