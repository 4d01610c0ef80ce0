"""The audit trail's catch-up chains each event with `EventChain`, built for speed; `audit
verify` checks every entry against `chain_hash` over the event's `Link`. The two must agree to
the byte, or a trail the catch-up wrote would fail its own verification."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest

from domain.envelope import Actor
from domain.recorded import Recorded
from projections import audit_trail
from projections.audit_trail import (
    DEVELOPMENT_KEY,
    GENESIS,
    EventChain,
    chain_hash,
    event_link,
    payload_digest,
)
from projections.engine import Stored
from tests.unit import builders as b

KEY = b"an-operators-audit-key-of-32-bytes-or-more"


def _stored(history: list[Recorded]) -> list[Stored]:
    return [
        Stored(recorded, recorded.event.type, f"payload {n}".encode())
        for n, recorded in enumerate(history)
    ]


def _chained_both_ways(items: list[Stored], key: bytes) -> tuple[list[bytes], list[bytes]]:
    chain = EventChain(key)
    defined, fast = [], []
    by_link = by_chain = GENESIS
    for item in items:
        by_link = chain_hash(key, by_link, event_link(item))
        by_chain = chain.hash(by_chain, item, payload_digest(item.state))
        defined.append(by_link)
        fast.append(by_chain)
    return defined, fast


def test_given_events_in_other_zones_when_chained_then_each_hash_is_the_one_verify_expects() -> (
    None
):
    # given events told in India's and Pacific time, by a peer, a rule and a service
    india = timezone(timedelta(hours=5, minutes=30))
    pacific = timezone(timedelta(hours=-8))
    history = b.stored(
        b.enrolled(),
        b.check_in(occurred_at=(b.T0 + timedelta(microseconds=123456)).astimezone(india)),
        b.check_in_missed(
            due_at=b.T0,
            occurred_at=(b.T0 + timedelta(hours=1, microseconds=999999)).astimezone(pacific),
        ),
        b.check_in(actor=b.a_service(), occurred_at=b.T0 - timedelta(days=3)),
        b.check_in(actor=Actor(id="Zoë-peer", role="peer_specialist", org="ørg-nord")),
    )
    items = _stored(history)

    # when the catch-up's chain and the definition chain them
    defined, fast = _chained_both_ways(items, KEY)

    # then every hash agrees, under the development key too
    assert fast == defined
    assert len(set(fast)) == len(items)
    defined_dev, fast_dev = _chained_both_ways(items, DEVELOPMENT_KEY)
    assert fast_dev == defined_dev


def test_given_more_actors_than_the_chain_keeps_encoded_when_chained_then_the_hashes_still_agree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # given a chain that keeps the encoding of only one text
    monkeypatch.setattr(audit_trail.EventChain, "_TEXTS_KEPT", 1)
    history = b.stored(
        b.enrolled(),
        *(b.check_in(actor=b.a_peer(f"peer-{n}", org=f"org-{n}")) for n in range(5)),
    )

    # when it chains events of five different actors
    defined, fast = _chained_both_ways(_stored(history), KEY)

    # then the hashes are those verify expects
    assert fast == defined


def test_given_a_time_without_a_zone_when_chained_then_it_is_read_as_before() -> None:
    # given an entry whose recorded time carries no zone (never written by the store, but the
    # definition reads such a time as local time, and the fast chain must not differ)
    history = b.stored(b.enrolled())
    naive = replace(history[0], recorded_at=datetime(2026, 3, 1, 12, 0))

    # when both chain it
    defined, fast = _chained_both_ways(_stored([naive]), KEY)

    # then they agree
    assert fast == defined
