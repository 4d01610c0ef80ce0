"""The early-warning signs fold: each client's signs (domain/warning_signs.py) folded over a
batch of events and stored as one JSON document a client, loaded and saved once a batch (or
once a round of backlog batches), and kept in memory for the evaluator that reads them next.

The fold also runs the early-warning projection's statement handlers (the flags and the flag
team) with the same batch, so the projection is this one batch apply.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from uuid import UUID

from psycopg import Connection, Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL
from pydantic import TypeAdapter

from domain.recorded import Recorded
from domain.warning_signs import WarningSigns, no_signs, observe
from projections.engine import Handler, Held, Stored, Tables, ask, dispatch

SIGNS: TypeAdapter[WarningSigns] = TypeAdapter(WarningSigns)

_SIGNS_AT = SQL("SELECT client_id, position FROM {warning_signs} WHERE client_id = ANY(%b)")
_LOAD_SIGNS = SQL(
    "SELECT client_id, signs, position FROM {warning_signs} WHERE client_id = ANY(%b)"
)
_SAVE_SIGNS = SQL(
    "INSERT INTO {warning_signs} (client_id, org, signs, position)"
    " SELECT * FROM unnest(%b::uuid[], %b::text[], %b::text[], %b::bigint[])"
    " ON CONFLICT (client_id) DO UPDATE SET org = EXCLUDED.org, signs = EXCLUDED.signs,"
    " position = EXCLUDED.position"
)


class SignsFold:
    """Folds a batch into each touched client's signs, loading and saving each once.

    Signs folded recently stay in memory with the position they were folded to, and are used
    again only while the stored row still has that position (another writer, or a batch rolled
    back, moves or keeps it elsewhere): a stale entry costs a reload, never a wrong fold.

    Over a round of backlog batches (`hold`), the folded signs are held per client and saved
    once at the round's end (`settle`): a client with events in every batch of a round has
    its document written once, not once per batch.
    """

    def __init__(self, handlers: Mapping[str, Handler] | None = None, size: int = 20_000) -> None:
        self.handlers: Mapping[str, Handler] = handlers or {}
        self.size = size
        self._cache: OrderedDict[tuple[str, UUID], tuple[int, WarningSigns]] = OrderedDict()

    def __call__(self, cur: Cursor[DictRow], tables: Tables, items: Sequence[Stored]) -> None:
        dispatch(cur, tables, items, self.handlers)
        folded = self._fold(cur, tables, items, {})
        self._save(cur, tables, folded)

    def hold(
        self, cur: Cursor[DictRow], tables: Tables, items: Sequence[Stored], held: Held
    ) -> None:
        ask(held.statements, tables, items, self.handlers)
        held.entries.update(self._fold(cur, tables, items, held.entries))

    def settle(self, cur: Cursor[DictRow], tables: Tables, held: Held) -> None:
        held.statements.run(cur, tables)
        self._save(cur, tables, held.entries)
        held.entries.clear()

    def _fold(
        self,
        cur: Cursor[DictRow],
        tables: Tables,
        items: Sequence[Stored],
        holding: Mapping[UUID, tuple[WarningSigns, int]],
    ) -> dict[UUID, tuple[WarningSigns, int]]:
        """Each touched client's signs folded over its events of `items`, from what `holding`
        has of it, or else from its stored row; answers those that changed."""
        by_client: dict[UUID, list[Recorded]] = {}
        for item in items:
            by_client.setdefault(item.recorded.event.client_id, []).append(item.recorded)
        known = self._load(cur, tables, [c for c in by_client if c not in holding])
        changed: dict[UUID, tuple[WarningSigns, int]] = {}
        for client_id, history in by_client.items():
            held = holding.get(client_id)
            signs, position = held or known.get(client_id, (no_signs(client_id), 0))
            for recorded in history:
                if recorded.position <= position:
                    continue  # applied already (replay-safe)
                seen = observe(signs, recorded.event)
                if seen is not signs:
                    signs, position = seen, recorded.position
                    changed[client_id] = (signs, position)
        return changed

    def _save(
        self, cur: Cursor[DictRow], tables: Tables, folded: Mapping[UUID, tuple[WarningSigns, int]]
    ) -> None:
        if not folded:
            return
        where = signs_place(cur.connection, tables)
        ids: list[UUID] = []
        orgs: list[str | None] = []
        documents: list[str] = []
        positions: list[int] = []
        for client_id, (signs, position) in folded.items():
            ids.append(client_id)
            orgs.append(signs.org)
            documents.append(SIGNS.dump_json(signs).decode())
            positions.append(position)
            self._remember((where, client_id), position, signs)
        cur.execute(_SAVE_SIGNS.format(**tables), (ids, orgs, documents, positions))

    def folded(self, where: str, client_id: UUID, position: int) -> WarningSigns | None:
        """The signs this process folded for a client up to `position`, if it still holds them:
        what the stored row at that position says, without parsing its JSON again."""
        cached = self._cache.get((where, client_id))
        return cached[1] if cached is not None and cached[0] == position else None

    def _load(
        self, cur: Cursor[DictRow], tables: Tables, clients: list[UUID]
    ) -> dict[UUID, tuple[WarningSigns, int]]:
        if not clients:  # every client of the batch is held by the round already
            return {}
        where = signs_place(cur.connection, tables)
        cur.execute(_SIGNS_AT.format(**tables), (clients,))
        known: dict[UUID, tuple[WarningSigns, int]] = {}
        missing: list[UUID] = []
        for row in cur.fetchall():
            cached = self._cache.get((where, row["client_id"]))
            if cached is not None and cached[0] == row["position"]:
                self._cache.move_to_end((where, row["client_id"]))
                known[row["client_id"]] = (cached[1], cached[0])
            else:
                missing.append(row["client_id"])
        if missing:
            cur.execute(_LOAD_SIGNS.format(**tables), (missing,))
            for row in cur.fetchall():
                known[row["client_id"]] = (SIGNS.validate_json(row["signs"]), row["position"])
        return known

    def _remember(self, key: tuple[str, UUID], position: int, signs: WarningSigns) -> None:
        self._cache[key] = (position, signs)
        self._cache.move_to_end(key)
        while len(self._cache) > self.size:
            self._cache.popitem(last=False)


def signs_place(conn: Connection[DictRow], tables: Tables) -> str:
    """Which database and table a signs row lives in: the fold's cache key beside the client."""
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}/{tables['warning_signs']!r}"
