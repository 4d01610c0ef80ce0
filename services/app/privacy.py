"""The privacy parts of a process, built once by services/wiring/.

- `PrivacySchema` creates the privacy tables (access log, client keys, erasures) once, under an
  advisory lock so concurrent processes never race on CREATE; `carecircle db migrate` runs it,
  and each process checks on first use so a store that was migrated by an older build still works.
- `Privacy` holds the gatekeeper, the access log, the keys, erasures and the de-identifier.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from psycopg.sql import SQL, Composed

from domain.deidentify import Deidentifier
from services.adapters.access_log import ACCESS_LOG_TABLE, AccessLog, access_log_ddl
from services.adapters.consumer_registry import (
    CONSUMERS_TABLE,
    ConsumerRegistry,
    consumer_registry_ddl,
)
from services.adapters.crypto import KEYS_TABLE, ClientKeys, client_keys_ddl
from services.adapters.store import INDEX_TABLE, Database
from services.app.erasure import (
    ERASURES_TABLE,
    REFUSE_ERASED_TRIGGER,
    REQUESTS_TABLE,
    Erasures,
    erasure_ddl,
)
from services.app.gatekeeper import Gatekeeper
from services.settings import Settings

SCHEMA_LOCK = 7_425_530_001  # pg_advisory_xact_lock key of the privacy DDL
TABLES = (ACCESS_LOG_TABLE, KEYS_TABLE, REQUESTS_TABLE, ERASURES_TABLE, CONSUMERS_TABLE)


class PrivacySchema:
    """The privacy tables: created by `migrate`, or on first use when missing."""

    def __init__(self, database: Database) -> None:
        self.db = database
        self._ready = False
        self._lock = threading.Lock()

    def statements(self) -> list[Composed]:
        schema = self.db.schema
        return [
            *access_log_ddl(schema),
            *client_keys_ddl(schema),
            *erasure_ddl(schema),
            *consumer_registry_ddl(schema),
        ]

    def migrate(self) -> None:
        with self.db.transaction() as curs:
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
            names = [f"{self.db.schema}.{table}" for table in TABLES]
            with self.db.connection() as conn:
                found = conn.execute(
                    "SELECT (SELECT count(to_regclass(name)) FROM unnest(%s::text[]) AS name) AS n,"
                    " EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = %s"
                    " AND tgrelid = to_regclass(%s)) AS guarded",
                    (names, REFUSE_ERASED_TRIGGER, f"{self.db.schema}.{INDEX_TABLE}"),
                ).fetchone()
            if found is None or int(found["n"]) < len(TABLES) or not found["guarded"]:
                self.migrate()
            self._ready = True


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
    consumers: ConsumerRegistry

    def migrate(self) -> None:
        self.schema.migrate()
