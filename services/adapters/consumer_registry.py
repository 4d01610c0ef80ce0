"""The registry of downstream consumers of `care.events` (domain/consumers.py): an append-only
table of grants and revocations, each with who recorded it and when; the current registry is
their fold. A trigger refuses UPDATE, DELETE and TRUNCATE, as for the access log."""

from __future__ import annotations

from collections.abc import Callable

from psycopg.sql import SQL, Composed, Identifier

from domain.consumers import ConsumerGrant, RegistryRecord, registry
from services.adapters.store import Database

CONSUMERS_TABLE = "consumer_registry"


def consumer_registry_ddl(schema_name: str) -> list[Composed]:
    schema = Identifier(schema_name)
    table = SQL("{}.{}").format(schema, Identifier(CONSUMERS_TABLE))
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {table} ("
            " record_id bigserial PRIMARY KEY,"
            " at timestamptz NOT NULL,"
            " action text NOT NULL CHECK (action IN ('grant', 'revoke')),"
            " name text NOT NULL,"
            " org text NOT NULL,"
            " purpose text NOT NULL,"
            " recorded_by text NOT NULL,"
            " recorded_by_role text NOT NULL)"
        ).format(table=table),
        SQL(
            "CREATE OR REPLACE FUNCTION {schema}.consumer_registry_refuse_change()"
            " RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
            " RAISE EXCEPTION 'consumer_registry is append-only' USING ERRCODE = '42501';"
            " END $$"
        ).format(schema=schema),
        SQL(
            "CREATE OR REPLACE TRIGGER consumer_registry_append_only"
            " BEFORE UPDATE OR DELETE ON {table}"
            " FOR EACH ROW EXECUTE FUNCTION {schema}.consumer_registry_refuse_change()"
        ).format(table=table, schema=schema),
        SQL(
            "CREATE OR REPLACE TRIGGER consumer_registry_no_truncate"
            " BEFORE TRUNCATE ON {table}"
            " FOR EACH STATEMENT EXECUTE FUNCTION {schema}.consumer_registry_refuse_change()"
        ).format(table=table, schema=schema),
    ]


class ConsumerRegistry:
    """Appends grants and revocations; reads them back in order."""

    def __init__(self, database: Database, ensure_schema: Callable[[], None] = lambda: None):
        self.db = database
        self._ensure_schema = ensure_schema
        table = SQL("{}.{}").format(Identifier(database.schema), Identifier(CONSUMERS_TABLE))
        self._insert = SQL(
            "INSERT INTO {table} (at, action, name, org, purpose, recorded_by, recorded_by_role)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s)"
        ).format(table=table)
        self._select = SQL(
            "SELECT at, action, name, org, purpose, recorded_by, recorded_by_role"
            " FROM {table} ORDER BY record_id"
        ).format(table=table)

    def append(self, record: RegistryRecord) -> None:
        self._ensure_schema()
        with self.db.transaction() as curs:
            curs.execute(
                self._insert,
                (
                    record.at,
                    record.action,
                    record.name,
                    record.org,
                    record.purpose,
                    record.by,
                    record.by_role,
                ),
            )

    def records(self) -> list[RegistryRecord]:
        self._ensure_schema()
        with self.db.connection() as conn:
            rows = conn.execute(self._select).fetchall()
        return [
            RegistryRecord(
                action=row["action"],
                name=row["name"],
                org=row["org"],
                purpose=row["purpose"],
                by=row["recorded_by"],
                by_role=row["recorded_by_role"],
                at=row["at"],
            )
            for row in rows
        ]

    def granted(self) -> dict[str, ConsumerGrant]:
        """The consumers granted now, by name."""
        return registry(self.records())
