"""The data keys a store read loads a page at a time stay loaded while the page is decoded."""

from __future__ import annotations

import base64
from uuid import UUID, uuid4

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from services.adapters.crypto import ClientKeys, MasterKeys
from services.adapters.store import open_database
from services.settings import Settings
from services.wiring import Runtime


class CountedKeys(ClientKeys):
    """Client keys that count the fetches made one client at a time."""

    fetched_alone = 0

    def _fetch(self, client_id: UUID, *, create: bool) -> tuple[AESGCM | None, bool]:
        self.fetched_alone += 1
        return super()._fetch(client_id, create=create)


def test_a_page_loads_keys_past_half_their_life_so_none_expires_while_it_is_decoded(
    runtime: Runtime, privacy_db_url: str, settings: Settings
) -> None:
    # given a migrated store (`runtime`), and two clients' keys loaded at second 0 by a
    # process that keeps them 30 seconds
    database = open_database(privacy_db_url, pool_size=1, max_overflow=1)
    now = [0.0]
    keys = CountedKeys(
        database,
        MasterKeys(base64.b64decode(settings.master_key.get_secret_value())),
        cache_seconds=30,
        monotonic=lambda: now[0],
    )
    try:
        clients = [uuid4(), uuid4()]
        for client_id in clients:
            keys.cipher_for(client_id, create=True)
        created = keys.fetched_alone
        # when a page of their events is read at second 20 and decoded until second 35
        now[0] = 20.0
        keys.prefetch(clients)
        now[0] = 35.0
        ciphers = [keys.cipher_for(client_id, create=False) for client_id in clients]
        # then both keys came with the page, and none was fetched on its own while decoding
        assert all(cipher is not None for cipher in ciphers)
        assert keys.fetched_alone == created
        # and a key unused for its whole life is fetched again when next asked
        now[0] = 70.0
        keys.cipher_for(clients[0], create=False)
        assert keys.fetched_alone == created + 1
    finally:
        database.close()
