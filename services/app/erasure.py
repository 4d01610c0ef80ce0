"""Erasing a client (crypto-shredding) takes two people: one asks, another confirms.

`carecircle client erase ID --reason … --request` (a supervisor of the client's program
organization, or an auditor) records a request and prints a one-time confirmation code;
`carecircle client erase ID --confirm CODE` by a *different* authorized person, within
`CARE_ERASURE_CONFIRM_HOURS`, destroys the client's data key (services/adapters/crypto.py)
and records the erasure (`client_erasures`: who asked, who confirmed, why, when). Both steps
are authorized by services/app/gatekeeper.py and appear in the access log (actions `erase`
and `erase_confirm`), so the hash chain keeps the trail. Only a hash of the code is stored.

The confirmation's transaction also deletes every read-model row about the client
(projections/erasure.py) and sends a notice on commit that makes every other process drop its
cached key, access facts and decider state for the client at once
(services/adapters/erasure_notices.py): no process serves the client's data, or takes a new
event for them, after the erasure commits. A write already decided when the erasure commits is
refused by the store's index trigger (`refuse_erased_ddl`): the erasure records itself under the
store's append lock, so every append either committed before it or sees it.

The reason is stored in clear as part of the audit: it must name no PHI (use a ticket number).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from psycopg.sql import SQL, Composed, Identifier, Literal

from projections.erasure import forget_client
from services.adapters.crypto import ClientKeys, is_sealed
from services.adapters.erasure_notices import notify_sql
from services.adapters.store import ERASED_CLIENT_MESSAGE, EVENTS_TABLE, INDEX_TABLE, Database
from services.adapters.tokens import Principal
from services.app.gatekeeper import AccessRequest, Action, Gatekeeper
from services.app.record import CareRecordHandler

REQUESTS_TABLE = "erasure_requests"
ERASURES_TABLE = "client_erasures"


class ErasureRefused(Exception):
    """The erasure cannot go ahead; `code` says why (never any PHI)."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True, slots=True)
class Erasure:
    """A completed erasure: the client, both people, why and when."""

    client_id: UUID
    requested_by: str
    confirmed_by: str
    reason: str
    erased_at: datetime


def erasure_ddl(schema_name: str) -> list[Composed]:
    schema = Identifier(schema_name)
    requests = SQL("{}.{}").format(schema, Identifier(REQUESTS_TABLE))
    erasures = SQL("{}.{}").format(schema, Identifier(ERASURES_TABLE))
    return [
        SQL(
            "CREATE TABLE IF NOT EXISTS {requests} ("
            " request_id uuid PRIMARY KEY,"
            " client_id uuid NOT NULL,"
            " code_hash text NOT NULL,"
            " requested_by text NOT NULL,"
            " requested_role text NOT NULL,"
            " requested_org text NOT NULL,"
            " reason text NOT NULL,"
            " requested_at timestamptz NOT NULL,"
            " expires_at timestamptz NOT NULL,"
            " confirmed_by text,"
            " confirmed_at timestamptz)"
        ).format(requests=requests),
        SQL(
            "CREATE TABLE IF NOT EXISTS {erasures} ("
            " client_id uuid PRIMARY KEY,"
            " request_id uuid NOT NULL,"
            " requested_by text NOT NULL,"
            " confirmed_by text NOT NULL,"
            " reason text NOT NULL,"
            " erased_at timestamptz NOT NULL)"
        ).format(erasures=erasures),
        # the store's head when the erasure committed: no event of the client lies after it
        SQL("ALTER TABLE {erasures} ADD COLUMN IF NOT EXISTS erased_after_position bigint").format(
            erasures=erasures
        ),
        *refuse_erased_ddl(schema_name),
    ]


REFUSE_ERASED_TRIGGER = "care_event_index_refuses_erased"


def refuse_erased_ddl(schema_name: str) -> list[Composed]:
    """A statement trigger on the store's event index: an append that names an erased client
    fails (`client_erased`, DETAIL the ids), in whatever process it was decided. The erasure
    takes the store's append lock before it records itself, so every append either committed
    before the erasure (its data goes with the key) or sees the erasure and stores nothing."""
    schema = Identifier(schema_name)
    index = SQL("{}.{}").format(schema, Identifier(INDEX_TABLE))
    function = SQL("{}.{}").format(schema, Identifier("care_refuse_erased_clients"))
    erasures = SQL("{}.{}").format(schema, Identifier(ERASURES_TABLE))
    return [
        SQL(
            "CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS $fn$"
            " DECLARE erased text;"
            " BEGIN"
            "  SELECT string_agg(DISTINCT n.client_id::text, ',') INTO erased"
            "   FROM new_rows n JOIN {erasures} e ON e.client_id = n.client_id;"
            "  IF erased IS NOT NULL THEN"
            "   RAISE EXCEPTION USING MESSAGE = {message}, DETAIL = erased;"
            "  END IF;"
            "  RETURN NULL;"
            " END $fn$"
        ).format(function=function, erasures=erasures, message=Literal(ERASED_CLIENT_MESSAGE)),
        SQL(
            "DO $do$ BEGIN"
            " IF to_regclass({index_name}) IS NOT NULL THEN"
            "  CREATE OR REPLACE TRIGGER {trigger} AFTER INSERT ON {index}"
            "  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
            "  EXECUTE FUNCTION {function}();"
            " END IF;"
            " END $do$"
        ).format(
            index_name=Literal(f"{schema_name}.{INDEX_TABLE}"),
            trigger=Identifier(REFUSE_ERASED_TRIGGER),
            index=index,
            function=function,
        ),
    ]


def _code_hash(client_id: UUID, code: str) -> str:
    return hashlib.sha256(f"{client_id}\x1f{code.strip().upper()}".encode()).hexdigest()


class Erasures:
    """The two steps of an erasure, on the client's key and the erasure tables."""

    def __init__(
        self,
        database: Database,
        keys: ClientKeys | None,
        gate: Gatekeeper,
        handler: CareRecordHandler,
        clock: Callable[[], datetime],
        *,
        confirm_within: timedelta = timedelta(hours=24),
        ensure_schema: Callable[[], None] = lambda: None,
    ) -> None:
        self.db = database
        self.keys = keys
        self.gate = gate
        self.handler = handler
        self.clock = clock
        self.confirm_within = confirm_within
        self._ensure_schema = ensure_schema
        schema = Identifier(database.schema)
        self._requests = SQL("{}.{}").format(schema, Identifier(REQUESTS_TABLE))
        self._erasures = SQL("{}.{}").format(schema, Identifier(ERASURES_TABLE))
        self._events = SQL("{}.{}").format(schema, Identifier(EVENTS_TABLE))
        # the mode the store's appends lock the events table in (services/adapters/store.py)
        self._lock_appends = SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self._events)

    def request(self, principal: Principal, client_id: UUID, reason: str) -> str:
        """Step one: record the request; returns the code a second person must confirm with."""
        self._authorize(principal, client_id, Action.ERASE)
        self._check_erasable(client_id)
        reason = reason.strip()
        if not reason:
            raise ErasureRefused("reason_required", "An erasure needs a reason.")
        code = "-".join(secrets.token_hex(2).upper() for _ in range(3))
        now = self.clock()
        self._ensure_schema()
        with self.db.connection() as conn:
            conn.execute(
                SQL(
                    "INSERT INTO {requests} (request_id, client_id, code_hash, requested_by,"
                    " requested_role, requested_org, reason, requested_at, expires_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)"
                ).format(requests=self._requests),
                (
                    uuid4(),
                    client_id,
                    _code_hash(client_id, code),
                    principal.sub,
                    principal.role,
                    principal.org,
                    reason,
                    now,
                    now + self.confirm_within,
                ),
            )
        return code

    def confirm(self, principal: Principal, client_id: UUID, code: str) -> Erasure:
        """Step two, by someone else: destroy the client's data key and record the erasure."""
        self._authorize(principal, client_id, Action.ERASE_CONFIRM)
        self._check_erasable(client_id)
        assert self.keys is not None  # _check_erasable refused otherwise
        now = self.clock()
        self._ensure_schema()
        with self.db.transaction() as curs:
            rows = curs.execute(
                SQL(
                    "SELECT request_id, code_hash, requested_by, reason FROM {requests}"
                    " WHERE client_id = %s AND confirmed_at IS NULL AND expires_at > %s"
                    " ORDER BY requested_at FOR UPDATE"
                ).format(requests=self._requests),
                (client_id, now),
            ).fetchall()
            expected = _code_hash(client_id, code)
            match = next((r for r in rows if hmac.compare_digest(r["code_hash"], expected)), None)
            if match is None:
                raise ErasureRefused("unknown_code", "No open erasure request has this code.")
            if match["requested_by"] == principal.sub:
                raise ErasureRefused(
                    "second_person_required", "Another person must confirm this erasure."
                )
            curs.execute(
                SQL(
                    "UPDATE {requests} SET confirmed_by = %s, confirmed_at = %s"
                    " WHERE request_id = %s"
                ).format(requests=self._requests),
                (principal.sub, now, match["request_id"]),
            )
            curs.execute(self.keys.erase_sql, (client_id,))  # the key goes with the records
            forget_client(curs, client_id)  # and the read models' rows about the client
            # Last, under the store's append lock (held to commit): an append decided before
            # now either committed already, or waits and then meets the marker (the trigger).
            curs.execute(self._lock_appends)
            curs.execute(
                SQL(
                    "INSERT INTO {erasures} (client_id, request_id, requested_by, confirmed_by,"
                    " reason, erased_at, erased_after_position)"
                    " SELECT %s, %s, %s, %s, %s, %s, coalesce(max(notification_id), 0)"
                    " FROM {events} ON CONFLICT (client_id) DO NOTHING"
                ).format(erasures=self._erasures, events=self._events),
                (
                    client_id,
                    match["request_id"],
                    match["requested_by"],
                    principal.sub,
                    match["reason"],
                    now,
                ),
            )
            curs.execute(notify_sql(client_id))  # every process drops its caches on commit
        self.keys.forget(client_id)
        self.gate.forget(client_id)
        self.handler.cache.erased(client_id)
        return Erasure(client_id, match["requested_by"], principal.sub, match["reason"], now)

    def erasure_of(self, client_id: UUID) -> Erasure | None:
        self._ensure_schema()
        with self.db.connection() as conn:
            row = conn.execute(
                SQL(
                    "SELECT requested_by, confirmed_by, reason, erased_at FROM {erasures}"
                    " WHERE client_id = %s"
                ).format(erasures=self._erasures),
                (client_id,),
            ).fetchone()
        if row is None:
            return None
        return Erasure(
            client_id, row["requested_by"], row["confirmed_by"], row["reason"], row["erased_at"]
        )

    def _authorize(self, principal: Principal, client_id: UUID, action: Action) -> None:
        self.gate.check(
            AccessRequest(
                principal=principal, action=action, client_id=client_id, purpose="operations"
            )
        )

    def _check_erasable(self, client_id: UUID) -> None:
        """Only sealed data can be shredded: refuse if encryption is off or clear entries exist."""
        if self.keys is None:
            raise ErasureRefused(
                "encryption_off", "Encryption at rest is off: there is no key to destroy."
            )
        with self.db.connection() as conn:
            states = conn.execute(
                SQL("SELECT state FROM {events} WHERE originator_id = %s").format(
                    events=self._events
                ),
                (client_id,),
            ).fetchall()
        if any(not is_sealed(bytes(row["state"])) for row in states):
            raise ErasureRefused(
                "stored_in_clear",
                "Some of this client's entries were stored before encryption was switched on.",
            )
