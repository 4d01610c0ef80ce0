"""A batch that enrolls many new clients (a Kafka poll, a bulk load) gets every client's data key
in a few statements, not a round trip or three per client: each client still has its own key,
and each client's events open with it."""

from __future__ import annotations

from uuid import uuid4

from domain.commands import RecordCareEvent
from services.wiring import Runtime
from tests.unit import builders


def test_thirty_new_clients_in_one_batch_each_get_their_own_key(runtime: Runtime) -> None:
    # given thirty clients nobody has written for yet
    clients = [uuid4() for _ in range(30)]
    assert runtime.privacy.keys is not None
    # when one batch enrolls them all
    recorded, refused = runtime.handler.record_batch(
        [
            RecordCareEvent(builders.enrolled(c, given_name=f"Batch{n}"), now=builders.NOW)
            for n, c in enumerate(clients)
        ]
    )
    assert refused == []
    assert {r.event.client_id for r in recorded} == set(clients)
    # then each has one key of its own, and its enrollment reads back under it
    with runtime.store.connection() as conn:
        rows = conn.execute(
            "SELECT client_id, wrapped FROM client_keys WHERE client_id = ANY(%s)", (clients,)
        ).fetchall()
    assert {r["client_id"] for r in rows} == set(clients)
    assert len({bytes(r["wrapped"]) for r in rows}) == 30
    for n, client in enumerate(clients):
        first = runtime.store.load(client)[0]
        assert first.event.data.given_name == f"Batch{n}"  # type: ignore[union-attr]
