"""An erased client leaves the read models: every row about them goes, in every version.

Crypto-shredding makes the stored events unreadable, but read models hold facts in clear that
were folded before the key went: the caseload's rows (times, appointment and handoff ids, flag
severities), the early-warning signs (craving, sleep, crisis times) and the flags with their
reasons. `forget_client` deletes them inside the erasure's own transaction, so no query answers
with them after the erasure commits; projections skip an erased client's entries from then on
(they decode as `ErasedEntry`). The audit trail keeps its rows: it chains the stored (sealed)
bytes and ids, not the client's data, and must still verify.

Every version of a read model is purged, the live one and any being rebuilt beside it.
"""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from psycopg import Cursor
from psycopg.sql import SQL, Identifier

from projections.audit_trail import AUDIT_TRAIL
from projections.caseload import CASELOAD
from projections.early_warning import EARLY_WARNING

# Base names of the tables with a row per client fact (the audit trail is not one of them).
ERASABLE: frozenset[str] = frozenset((*CASELOAD.tables, *EARLY_WARNING.tables)) - frozenset(
    AUDIT_TRAIL.tables
)
_VERSIONED = re.compile(r"^(?P<base>.+)_v\d+$")


def forget_client(cur: Cursor[Any], client_id: UUID) -> int:
    """Delete the client's rows from every version of every erasable read-model table in the
    current schema; returns how many rows went."""
    rows = cur.execute(
        "SELECT table_name FROM information_schema.columns"
        " WHERE table_schema = current_schema() AND column_name = 'client_id'"
    ).fetchall()
    removed = 0
    for row in rows:
        name = row["table_name"] if isinstance(row, dict) else row[0]
        match = _VERSIONED.match(name)
        if match is None or match["base"] not in ERASABLE:
            continue
        cur.execute(
            SQL("DELETE FROM {} WHERE client_id = %s").format(Identifier(name)), (client_id,)
        )
        removed += max(cur.rowcount, 0)
    return removed
