"""`care.events` leaks no Part 2 data (issue 11): a consumer of the topic without a key reads the
envelope only; the raw bytes of every message hold none of a Part 2 client's identifiers, notes
or answers; after the client is erased, what was published no longer decrypts with any key the
system holds. De-identified mode carries pseudonyms; clear is refused in production."""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from datetime import date
from typing import Any
from uuid import uuid4

import pytest
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from consumers.publish import checkpoint_name
from domain.catalogue import parse_event
from domain.commands import RecordCareEvent
from infra.embedded import create_database, drop_database
from services.adapters.publish_payloads import publish_aad
from services.settings import Settings
from services.wiring import Runtime, build_runtime, migrate, run_publish
from tests.integration.kafka_support import in_thread, kafka_settings, read_topic, wait_until
from tests.integration.privacy.support import AUDITOR, SUPERVISOR
from tests.stories import Clock, Enrollee, Story, parent_after_surgery

PARENT = Enrollee("Wilhelmina", "Ostergaard", phone="555-0199", birth_date=date(1984, 2, 29))
NOTE = "Wilhelmina keeps the pills in the glovebox"
SECRETS = (PARENT.given, PARENT.family, PARENT.phone, PARENT.birth_date.isoformat(), "glovebox")


@pytest.fixture
def fresh_database(postgres_server_url: str) -> Iterator[str]:
    name = f"carecircle_sealed_{uuid4().hex[:12]}"
    yield create_database(postgres_server_url, name)
    drop_database(postgres_server_url, name)


def told(runtime: Runtime) -> Story:
    """The Part 2 seed story, recorded through the command handler."""
    story = parent_after_surgery(Story(Clock(), note=NOTE), who=PARENT)
    commands = [
        RecordCareEvent(parse_event(body), now=runtime.clock()) for body in story.on_kafka()
    ]
    _, refused = runtime.handler.record_batch(commands)
    assert refused == []
    return story


def publish_all(runtime: Runtime, bootstrap: str) -> list[Any]:
    name = checkpoint_name(runtime.settings.kafka_events_topic)
    head = runtime.store.head()
    with in_thread(lambda stop: run_publish(runtime, bootstrap, stop)):
        wait_until(lambda: (runtime.store.tracked(name) or 0) >= head, "the publisher at head")
    return read_topic(bootstrap, runtime.settings.kafka_events_topic, expected=head)


def test_a_consumer_without_a_key_reads_no_name_note_or_answer(
    fresh_database: str, kafka_bootstrap: str
) -> None:
    runtime = build_runtime(kafka_settings(fresh_database, kafka_bootstrap), fresh_database)
    try:
        migrate(runtime)
        # given the Part 2 seed story, with PHI in the name and every note
        story = told(runtime)
        assert story.client_id is not None

        # when it is published (the default mode) and the topic is read raw
        records = publish_all(runtime, kafka_bootstrap)

        # then no byte of any message holds the client's identifiers, notes or answers
        raw = b"".join(r.value for r in records)
        for secret in SECRETS:
            assert secret.encode() not in raw, secret
        values = [json.loads(r.value) for r in records]
        assert all(v["data"] is None for v in values)
        assert all(dict(r.headers)["data-mode"] == b"sealed" for r in records)
        assert {v["client_id"] for v in values} == {str(story.client_id)}
        assert all("42CFRPart2" in v["security_labels"] for v in values)

        # and the client's key opens them (a consumer granted the key reads the data)
        keys = runtime.privacy.keys
        assert keys is not None
        cipher = keys.cipher_for(story.client_id, create=False)
        assert cipher is not None
        enrolled = next(v for v in values if v["type"] == "ClientEnrolled")
        opened = json.loads(_open(cipher, enrolled))
        assert opened["given_name"] == PARENT.given

        # when the client is erased
        erasures = runtime.privacy.erasures
        erasures.confirm(
            AUDITOR.principal,
            story.client_id,
            erasures.request(SUPERVISOR.principal, story.client_id, "ticket 11-kafka"),
        )

        # then no key the system holds opens what was published
        assert keys.cipher_for(story.client_id, create=False) is None
        with runtime.store.connection() as conn:
            wrapped = conn.execute(
                "SELECT wrapped FROM client_keys WHERE client_id = %s", (story.client_id,)
            ).fetchone()
        assert wrapped is not None
        assert wrapped["wrapped"] is None
        for other in _every_key_held(runtime):
            with pytest.raises(InvalidTag):
                _open(other, enrolled)
    finally:
        runtime.close()


def _open(cipher: AESGCM, value: dict[str, Any]) -> bytes:
    blob = base64.b64decode(value["sealed_data"])
    aad = publish_aad(value["client_id"], value["event_id"], value["type"])
    return cipher.decrypt(blob[:12], blob[12:], aad)


def _every_key_held(runtime: Runtime) -> list[AESGCM]:
    """Every client data key the database still holds, unwrapped."""
    keys = runtime.privacy.keys
    assert keys is not None
    with runtime.store.connection() as conn:
        rows = conn.execute(
            "SELECT client_id FROM client_keys WHERE wrapped IS NOT NULL"
        ).fetchall()
    held = [keys.cipher_for(row["client_id"], create=False) for row in rows]
    return [cipher for cipher in held if cipher is not None]


def test_deidentified_mode_carries_pseudonyms_only(
    fresh_database: str, kafka_bootstrap: str
) -> None:
    settings = kafka_settings(fresh_database, kafka_bootstrap, publish_mode="deidentified")
    # topics of their own: these rows follow the analysts' format, not the stored event schema
    # that tests/integration/test_wire_contracts.py checks every care.events message against
    settings = settings.model_copy(
        update={
            "kafka_events_topic": f"{settings.kafka_events_topic}.deidentified",
            "kafka_flags_topic": f"{settings.kafka_flags_topic}.deidentified",
        }
    )
    runtime = build_runtime(settings, fresh_database)
    try:
        migrate(runtime)
        story = told(runtime)
        records = publish_all(runtime, kafka_bootstrap)
    finally:
        runtime.close()

    raw = b"".join(r.value + (r.key or b"") for r in records)
    for secret in (*SECRETS, str(story.client_id)):
        assert secret.encode() not in raw, secret
    assert all(json.loads(r.value)["client_id"].startswith("c-") for r in records)


def test_clear_mode_is_refused_in_production_unless_allowed() -> None:
    production = {
        "environment": "production",
        "jwt_public_key": "-----BEGIN PUBLIC KEY-----",
        "master_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "deidentify_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "audit_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        "database_url": "postgresql://db/carecircle",
    }
    with pytest.raises(ValueError, match="CARE_PUBLISH_CLEAR_ALLOWED"):
        Settings(**production, publish_mode="clear")
    allowed = Settings(**production, publish_mode="clear", publish_clear_allowed=True)
    assert allowed.publish_mode == "clear"
    assert Settings(**production).publish_mode == "sealed"
