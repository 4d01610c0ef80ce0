"""What `care.events` carries as each event's `data` (CARE_PUBLISH_MODE, issue 11).

- **sealed** (the default): the envelope (ids, type, actor, times, purpose, labels, position) in
  clear, `data` null and `sealed_data` the event's data JSON encrypted with AES-256-GCM under the
  client's own data key (a fresh 96-bit nonce first, then the ciphertext; associated data
  `care.events|<client id>|<event id>|<type>`). A consumer of the topic reads no name, note or
  answer. Erasing the client destroys that key (services/adapters/crypto.py), so what was
  published before can no longer be decrypted with any key the system holds; events published
  after the erasure carry `sealed_data: null` and `erased: true`.
- **deidentified**: the row analysts get from the replay (domain/deidentify.py): pseudonymous
  client, staff and event ids (the message key and `event-id` header too), shifted dates, free
  text dropped.
- **clear**: `data` as stored; refused in production unless CARE_PUBLISH_CLEAR_ALLOWED=true
  (services/settings.py), since every consumer of the topic then reads Part 2 records.
"""

from __future__ import annotations

import base64
import json
import os
from typing import Any

from domain.deidentify import Deidentifier
from domain.recorded import Recorded
from services.adapters.crypto import ClientKeys

NONCE_BYTES = 12
SEAL = {"alg": "A256GCM", "key": "client", "aad": "care.events|client_id|event_id|type"}


def publish_aad(client_id: object, event_id: object, type_: str) -> bytes:
    return f"care.events|{client_id}|{event_id}|{type_}".encode()


class SealedPayloads:
    """`data` sealed under the client's data key."""

    mode = "sealed"

    def __init__(self, keys: ClientKeys) -> None:
        self.keys = keys

    def outbound(self, recorded: Recorded, value: dict[str, Any]) -> dict[str, Any]:
        event = recorded.event
        cipher = self.keys.cipher_for(event.client_id, create=False)
        out = {**value, "data": None, "seal": SEAL}
        if cipher is None:  # erased (or never sealed): nothing to carry
            return {**out, "sealed_data": None, "erased": True}
        plain = json.dumps(value.get("data"), sort_keys=True).encode()
        nonce = os.urandom(NONCE_BYTES)
        sealed = cipher.encrypt(
            nonce, plain, publish_aad(event.client_id, event.event_id, event.type)
        )
        return {**out, "sealed_data": base64.b64encode(nonce + sealed).decode()}


class DeidentifiedPayloads:
    """The analysts' de-identified row in place of the event."""

    mode = "deidentified"

    def __init__(self, deidentifier: Deidentifier) -> None:
        self.deidentifier = deidentifier

    def outbound(self, recorded: Recorded, value: dict[str, Any]) -> dict[str, Any]:
        return dict(self.deidentifier.recorded(recorded))
