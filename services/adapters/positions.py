"""Where each tracked upstream got to in the store, and how far the publisher is behind the head.

Read straight from the tracking table (one row per upstream: a Kafka partition as
`kafka:<topic>:<partition>`, the publisher as `publish:<topic>`, projections by their name),
for `carecircle status` and the API's /metrics.
"""

from __future__ import annotations

from dataclasses import dataclass

from psycopg.sql import SQL, Identifier

from services.adapters.store import TRACKING_TABLE, EventStore

_MIGRATION_ROW = "__migration__"  # the library's own row in the tracking table


@dataclass(frozen=True, slots=True)
class Positions:
    """The store's head and every tracked upstream's last position."""

    head: int
    tracked: dict[str, int]

    def publish_lag(self) -> dict[str, int]:
        """Events stored but not yet acknowledged by the broker, per publishing topic."""
        prefix = "publish:"
        return {
            name.removeprefix(prefix): max(0, self.head - position)
            for name, position in self.tracked.items()
            if name.startswith(prefix)
        }


def positions(store: EventStore) -> Positions:
    """Head and tracking rows, read in one session."""
    query = SQL("SELECT application_name, notification_id FROM {}.{} ORDER BY 1").format(
        Identifier(store.database.schema), Identifier(TRACKING_TABLE)
    )
    with store.connection() as conn:
        rows = conn.execute(query).fetchall()
    tracked = {
        str(row["application_name"]): int(row["notification_id"])
        for row in rows
        if row["application_name"] != _MIGRATION_ROW and row["notification_id"] is not None
    }
    return Positions(head=store.head(), tracked=tracked)
