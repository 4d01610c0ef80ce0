"""The privacy parts of a process, built once from settings (services/wiring.py passes them on).

- `PrivacySchema` creates the privacy tables (access log, client keys, erasures) once, under an
  advisory lock so concurrent processes never race on CREATE; `carecircle db migrate` runs it,
  and each process checks on first use so a store that was migrated by an older build still works.
- `payload_codec` picks the store's codec: encrypting (default) or plain JSON.
- `Privacy` holds the gatekeeper, the access log, the keys, erasures and the de-identifier.
"""

from __future__ import annotations

import base64
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from eventsourcing.postgres import PostgresDatastore
from psycopg.sql import SQL, Composed

from domain.deidentify import Deidentifier
from services.adapters.access_log import ACCESS_LOG_TABLE, AccessLog, access_log_ddl
from services.adapters.crypto import (
    KEYS_TABLE,
    ClientKeys,
    EncryptingCodec,
    MasterKeys,
    client_keys_ddl,
    decode_master_key,
)
from services.adapters.store import EventStore, JsonCodec, PayloadCodec
from services.app.erasure import ERASURES_TABLE, REQUESTS_TABLE, Erasures, erasure_ddl
from services.app.gatekeeper import Gatekeeper
from services.app.record import CareRecordHandler
from services.settings import Settings

SCHEMA_LOCK = 7_425_530_001  # pg_advisory_xact_lock key of the privacy DDL
TABLES = (ACCESS_LOG_TABLE, KEYS_TABLE, REQUESTS_TABLE, ERASURES_TABLE)


class PrivacySchema:
    """The privacy tables: created by `migrate`, or on first use when missing."""

    def __init__(self, datastore: PostgresDatastore) -> None:
        self.datastore = datastore
        self._ready = False
        self._lock = threading.Lock()

    def statements(self) -> list[Composed]:
        schema = self.datastore.schema
        return [*access_log_ddl(schema), *client_keys_ddl(schema), *erasure_ddl(schema)]

    def migrate(self) -> None:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(SQL("SELECT pg_advisory_xact_lock(%s)"), (SCHEMA_LOCK,))
            for statement in self.statements():
                curs.execute(statement)
        self._ready = True

    def ensure(self) -> None:
        """Create the tables if this database lacks any (once per process)."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            names = [f"{self.datastore.schema}.{table}" for table in TABLES]
            with self.datastore.get_connection() as conn:
                found = conn.execute(
                    "SELECT count(to_regclass(name)) AS n FROM unnest(%s::text[]) AS name",
                    (names,),
                ).fetchone()
            if found is None or int(found["n"]) < len(TABLES):
                self.migrate()
            self._ready = True


def master_keys(settings: Settings) -> MasterKeys:
    previous = [
        decode_master_key(text)
        for text in settings.previous_master_keys.get_secret_value().split(",")
        if text.strip()
    ]
    return MasterKeys(decode_master_key(settings.master_key.get_secret_value()), previous)


def client_keys(
    settings: Settings, datastore: PostgresDatastore, schema: PrivacySchema
) -> ClientKeys:
    return ClientKeys(
        datastore,
        master_keys(settings),
        cache_seconds=settings.key_cache_seconds,
        ensure_schema=schema.ensure,
    )


def payload_codec(settings: Settings, keys: ClientKeys | None) -> PayloadCodec:
    """The codec of the event store: encrypting when encryption at rest is on (the default)."""
    if settings.encrypt_at_rest and keys is not None:
        return EncryptingCodec(keys)
    return JsonCodec()


def deidentifier(settings: Settings) -> Deidentifier:
    text = settings.deidentify_key.get_secret_value()
    try:
        key = base64.b64decode(text, validate=True)
    except ValueError:
        key = text.encode()
    return Deidentifier(key)


@dataclass
class Privacy:
    """Authorization, the access log, keys, erasures and de-identification of one process."""

    settings: Settings
    schema: PrivacySchema
    access_log: AccessLog
    gate: Gatekeeper
    keys: ClientKeys | None
    erasures: Erasures
    deidentifier: Deidentifier

    def migrate(self) -> None:
        self.schema.migrate()


def build_privacy(
    settings: Settings,
    store: EventStore,
    handler: CareRecordHandler,
    clock: Callable[[], datetime],
    *,
    keys: ClientKeys | None = None,
    schema: PrivacySchema | None = None,
) -> Privacy:
    datastore = store.datastore
    schema = schema or PrivacySchema(datastore)
    access_log = AccessLog(datastore, ensure_schema=schema.ensure)
    gate = Gatekeeper(
        store,
        handler,
        access_log,
        clock,
        erased=keys.known_erased if keys is not None else lambda _client: False,
    )
    erasures = Erasures(
        datastore,
        keys,
        gate,
        handler,
        clock,
        confirm_within=timedelta(hours=settings.erasure_confirm_hours),
        ensure_schema=schema.ensure,
    )
    return Privacy(
        settings=settings,
        schema=schema,
        access_log=access_log,
        gate=gate,
        keys=keys,
        erasures=erasures,
        deidentifier=deidentifier(settings),
    )
