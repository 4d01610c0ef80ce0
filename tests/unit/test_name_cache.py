"""The names a list shows are decrypted once and kept until the client is erased: no expiry that
makes every list decrypt its clients again, and no name left behind an erasure notice."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID, uuid4

from services.app.clients import ClientName, NameCache


def a_name(client_id: UUID, given: str = "Jordan") -> ClientName:
    return ClientName(
        client_id=client_id,
        given_name=given,
        family_name="Vale",
        program="outpatient",
        program_org="harbor-counseling",
        enrolled_at=datetime(2026, 11, 2, tzinfo=UTC),
    )


def test_a_name_decrypted_once_is_found_again_however_long_after() -> None:
    cache, jordan = NameCache(), uuid4()
    cache.put([a_name(jordan)])
    cache._items[jordan] = (cache._items[jordan][0], -1e9)  # put long, long ago

    found, missing = cache.get([jordan])

    assert found == {jordan: a_name(jordan)}
    assert missing == []


def test_an_erasure_notice_drops_the_clients_name_and_no_other() -> None:
    cache, jordan, morgan = NameCache(), uuid4(), uuid4()
    cache.put([a_name(jordan), a_name(morgan, "Morgan")])

    cache.forget(jordan)

    found, missing = cache.get([jordan, morgan])
    assert list(found) == [morgan]
    assert missing == [jordan]


def test_a_reconnected_listener_drops_every_name() -> None:
    cache, jordan = NameCache(), uuid4()
    cache.put([a_name(jordan)])

    cache.clear()

    assert cache.get([jordan]) == ({}, [jordan])


def test_the_least_recently_shown_name_leaves_first_past_the_size() -> None:
    cache = NameCache(size=2)
    first, second, third = uuid4(), uuid4(), uuid4()
    cache.put([a_name(first), a_name(second)])
    cache.get([first])  # shown again: now the most recent

    cache.put([a_name(third)])

    found, missing = cache.get([first, second, third])
    assert set(found) == {first, third}
    assert missing == [second]


def test_a_bound_in_seconds_still_expires_names_when_set() -> None:
    cache, jordan = NameCache(seconds=30.0), uuid4()
    cache.put([a_name(jordan)])
    cache._items[jordan] = (cache._items[jordan][0], -1e9)

    assert cache.get([jordan]) == ({}, [jordan])
