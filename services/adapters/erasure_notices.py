"""Erasure reaches every process at once: PostgreSQL LISTEN/NOTIFY on one channel.

The erasure's transaction (services/app/erasure.py) sends `NOTIFY carecircle_erasures,
'<client id>'`; PostgreSQL delivers it to every listening connection when that transaction
commits. Each long-running process (API workers, projection, publish and ingest workers) keeps
one listening connection on a daemon thread and, for each notice, drops what it cached about the
client: its unwrapped data key, its access facts, its decider state. The next read or write of
the client in that process then finds the key gone and answers as for an erased client, instead
of serving cached data until a cache expiry (the earlier 30 s window).

A notice carries only the client id (no PHI). A process that was not listening (down, or
reconnecting) missed nothing that matters: its caches are empty on start, and a reconnect
clears every cache before listening again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from uuid import UUID

import psycopg
import structlog
from psycopg.sql import SQL, Composed, Identifier, Literal

log = structlog.get_logger(__name__)

CHANNEL = "carecircle_erasures"


def notify_sql(client_id: UUID) -> Composed:
    """The statement to run inside the erasure's transaction (delivered on commit)."""
    return SQL("NOTIFY {}, {}").format(Identifier(CHANNEL), Literal(str(client_id)))


class ErasureListener:
    """One listening connection on a daemon thread, calling `on_erased(client_id)` per notice
    and `on_reconnect()` whenever it (re)connects, before listening."""

    def __init__(
        self,
        database_url: str,
        on_erased: Callable[[UUID], None],
        on_reconnect: Callable[[], None],
        *,
        wait_seconds: float = 1.0,
    ) -> None:
        self._url = database_url
        self._on_erased = on_erased
        self._on_reconnect = on_reconnect
        self._wait = wait_seconds
        self._stop = threading.Event()
        self._listening = threading.Event()
        self._seen: set[UUID] = set()
        self._seen_changed = threading.Condition()
        self._thread = threading.Thread(target=self._run, name="erasure-listener", daemon=True)

    def start(self) -> ErasureListener:
        self._thread.start()
        return self

    def wait_listening(self, timeout: float = 10.0) -> bool:
        """Whether the listener is connected and listening (for start-up and tests)."""
        return self._listening.wait(timeout)

    def wait_seen(self, client_id: UUID, timeout: float = 10.0) -> bool:
        """Whether this process has dropped its caches for the client (for tests)."""
        with self._seen_changed:
            return self._seen_changed.wait_for(lambda: client_id in self._seen, timeout)

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self._listen()
            except psycopg.Error as error:
                self._listening.clear()
                log.warning("erasure_listener.reconnect", error=type(error).__name__)
                self._stop.wait(self._wait)

    def _listen(self) -> None:
        with psycopg.connect(self._url, autocommit=True) as conn:
            conn.execute(SQL("LISTEN {}").format(Identifier(CHANNEL)))
            self._on_reconnect()  # whatever was missed while not listening is forgotten
            self._listening.set()
            while not self._stop.is_set():
                for notice in conn.notifies(timeout=self._wait, stop_after=1):
                    self._handle(notice.payload)

    def _handle(self, payload: str) -> None:
        try:
            client_id = UUID(payload)
        except ValueError:
            return
        self._on_erased(client_id)
        log.info("erasure.forgotten", client_id=str(client_id))
        with self._seen_changed:
            self._seen.add(client_id)
            self._seen_changed.notify_all()
