"""The `carecircle` command: the operating contract (docs/domain.md)."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import structlog

from domain.envelope import Role
from infra.embedded import TansuBroker
from services.cli import instance
from services.cli.analysts import add_analyst_commands
from services.cli.bench import add_bench_command
from services.cli.chaos import add_chaos_command
from services.cli.consumers import add_consumer_commands
from services.cli.database import add_database_commands, positive_float, positive_int
from services.cli.instance import say
from services.cli.kafka import add_kafka_commands
from services.cli.privacy import add_privacy_commands
from services.cli.projections import add_commands as add_read_side_commands
from services.settings import Settings
from services.wiring import (
    KeysRefused,
    Runtime,
    WorkerRole,
    build_api,
    build_runtime,
    configure_logging,
    database,
    development_token,
    migrate,
    roles,
    run_supervised,
    tune_garbage_collector,
)

log = structlog.get_logger("carecircle.cli")

Command = Callable[[argparse.Namespace, Settings], int]


@contextlib.contextmanager
def runtime_for(settings: Settings) -> Iterator[Runtime]:
    """A Runtime on the configured (or embedded) database, closed at the end of the block."""
    with database(settings) as url:
        runtime = build_runtime(settings, url)
        try:
            yield runtime
        finally:
            runtime.close()


@contextlib.contextmanager
def kafka_for(settings: Settings) -> Iterator[str]:
    """`CARE_KAFKA_BOOTSTRAP`, or a local Tansu broker for the block."""
    if settings.kafka_bootstrap:
        yield settings.kafka_bootstrap
        return
    with TansuBroker(settings.data_dir / "tansu") as broker:
        yield broker.bootstrap


def cmd_db_migrate(args: argparse.Namespace, settings: Settings) -> int:
    with runtime_for(settings) as runtime:
        migrate(runtime)
    log.info("db.migrated")
    return 0


def cmd_token(args: argparse.Namespace, settings: Settings) -> int:
    if settings.environment != "development":
        sys.stderr.write("carecircle token: HS256 development tokens only (CARE_ENVIRONMENT)\n")
        return 2
    token = development_token(
        settings, sub=args.sub, role=args.role, org=args.org, hours=args.hours
    )
    sys.stdout.write(token + "\n")
    return 0


def _serve(runtime: Runtime, settings: Settings, ready: Callable[[], None] | None = None) -> None:
    """Serve the API until stopped; `ready` runs once uvicorn listens."""
    import uvicorn

    instance.while_serving()
    app = build_api(runtime)
    config = uvicorn.Config(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    if ready is not None:
        threading.Thread(target=_when_listening, args=(server, ready), daemon=True).start()
    server.run()


def _when_listening(server: Any, ready: Callable[[], None]) -> None:
    while not server.started:
        if server.should_exit:
            return
        time.sleep(0.05)
    ready()


def console_lines(settings: Settings, *, demo: bool) -> list[str]:
    """What `carecircle up` prints once the API listens: where the console is, how to sign in."""
    host = settings.http_host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    base = f"http://{host}:{settings.http_port}"
    lines = [f"CareCircle is up: console {base}/console · API docs {base}/docs"]
    if settings.environment == "development":
        from demo.staff import COUNSELING_ORG

        org = COUNSELING_ORG if demo else "your-org"
        lines.append(
            f"Sign in at {base}/console/sign-in with the development form: who sup-1,"
            f" role supervisor, organization {org} (or an auditor, a counselor, ...)"
        )
    else:
        lines.append(f"Sign in at {base}/console/sign-in with your identity provider's token")
    return lines


def _announce(settings: Settings, *, demo: bool) -> Callable[[], None]:
    def announce() -> None:
        lines = console_lines(settings, demo=demo)
        sys.stdout.write(instance.banner(_api_url(settings), head=lines))
        sys.stdout.flush()

    return announce


def _api_url(settings: Settings) -> str:
    host = settings.http_host
    if host in ("0.0.0.0", "::"):  # noqa: S104 - naming the wildcard, not binding it
        host = "127.0.0.1"
    return f"http://{host}:{settings.http_port}"


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    if args.workers > 1:
        return _serve_processes(settings, args.workers)
    with runtime_for(settings) as runtime:
        _serve(runtime, settings)
    return 0


def _serve_processes(settings: Settings, workers: int) -> int:
    """Several API processes on one port, each with its own pool and group-commit writer."""
    import uvicorn

    with database(settings) as url:
        os.environ["CARE_DATABASE_URL"] = url
        uvicorn.run(
            "services.wiring:api_from_environment",
            factory=True,
            host=settings.http_host,
            port=settings.http_port,
            workers=workers,
            log_config=None,
            access_log=False,
        )
    return 0


def _start_roles(
    selected: Sequence[WorkerRole], runtime: Runtime, bootstrap: str | None, stop: threading.Event
) -> list[threading.Thread]:
    threads = []
    for role in selected:
        thread = threading.Thread(
            target=run_supervised,
            args=(role, runtime, bootstrap, stop),
            name=f"worker-{role.name}",
            daemon=True,
        )
        thread.start()
        log.info("worker.started", worker=role.name)
        threads.append(thread)
    return threads


def cmd_worker(args: argparse.Namespace, settings: Settings) -> int:
    role = roles()[args.role]
    if args.processes > 1:
        return _worker_processes(args, settings)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with runtime_for(settings) as runtime, contextlib.ExitStack() as stack:
        bootstrap = stack.enter_context(kafka_for(settings)) if role.needs_kafka else None
        role.run(runtime, bootstrap, stop)
    return 0


def _worker_processes(args: argparse.Namespace, settings: Settings) -> int:
    """`worker ingest --processes N`: N processes in one consumer group, each with its own
    pool and its own partitions (and their tracking rows); stopped together."""
    import subprocess

    if args.role != "ingest":
        sys.stderr.write("carecircle worker: --processes is for the ingest role only\n")
        return 2
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    with database(settings) as url, kafka_for(settings) as bootstrap:
        env = {**os.environ, "CARE_DATABASE_URL": url, "CARE_KAFKA_BOOTSTRAP": bootstrap}
        argv = [sys.executable, "-m", "services.cli.main", "worker", "ingest"]
        children = [
            subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL)  # noqa: S603 - ourselves
            for _ in range(args.processes)
        ]
        try:
            while not stop.is_set() and all(c.poll() is None for c in children):
                stop.wait(0.5)
        finally:
            for child in children:
                child.terminate()
            codes = [child.wait(timeout=60) for child in children]
    return max((code for code in codes if code > 0), default=0)


def cmd_up(args: argparse.Namespace, settings: Settings) -> int:
    """Everything in one command: database and broker if not configured, API, workers; one
    instance per data directory."""
    try:
        with instance.sole_instance(Path(settings.data_dir).resolve(), _api_url(settings)):
            instance.stop_on_signals()
            _up(args, settings)
    except instance.AlreadyRunning as refusal:
        sys.stderr.write(f"carecircle up: {refusal}\n")
        return 1
    except KeyboardInterrupt:  # Ctrl-C, SIGTERM or SIGHUP while starting: everything unwound
        log.info("up.stopped_while_starting")
    return 0


def _up(args: argparse.Namespace, settings: Settings) -> None:
    """Start in order (database, demo data, broker, workers, API); stop in reverse: the API
    drains, then the workers stop, then the broker, then the database."""
    stop = threading.Event()
    selected = list(roles().values())
    with runtime_for(settings) as runtime, contextlib.ExitStack() as stack:
        migrate(runtime)
        if args.demo and runtime.store.head() == 0:
            say("carecircle up: loading demo data into the empty store…\n")
            _load_demo(runtime, clients=args.demo_clients, days=args.demo_days)
        bootstrap = None
        if any(role.needs_kafka for role in selected):
            bootstrap = stack.enter_context(kafka_for(settings))
        threads = _start_roles(selected, runtime, bootstrap, stop)
        try:
            log.info("api.listening", port=settings.http_port)
            _serve(runtime, settings, ready=_announce(settings, demo=args.demo))
        finally:
            stop.set()
            instance.quiet_kafka_while_stopping()
            for thread in threads:
                thread.join(timeout=30)
                if thread.is_alive():
                    log.warning("worker.still_running", worker=thread.name)
            log.info("workers.stopped", count=len(threads))


def _load_demo(runtime: Runtime, *, clients: int, days: int) -> None:
    from demo.simulate import run_simulation

    start = (runtime.clock() - timedelta(days=days)).replace(microsecond=0)
    summary = run_simulation(runtime.handler, clients=clients, days=days, seed=7, start=start)
    log.info("demo.loaded", count=summary.events)


def cmd_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from demo.simulate import run_simulation

    start = (
        _aware(datetime.fromisoformat(args.start))
        if args.start
        else (datetime.now(UTC) - timedelta(days=args.days)).replace(microsecond=0)
    )
    with runtime_for(settings) as runtime:
        migrate(runtime)
        summary = run_simulation(
            runtime.handler, clients=args.clients, days=args.days, seed=args.seed, start=start
        )
    sys.stdout.write(f"{summary.clients} clients, {summary.events} events recorded\n")
    return 0


def cmd_schema(args: argparse.Namespace, settings: Settings) -> int:
    """Print the inbound care event's JSON Schema, or write every wire schema (docs/schemas/)."""
    from pathlib import Path

    from domain.wire_schema import INBOUND, schema_text, wire_schemas

    schemas = wire_schemas()
    if args.write is None:
        sys.stdout.write(schema_text(schemas[INBOUND]))
        return 0
    folder = Path(args.write)
    folder.mkdir(parents=True, exist_ok=True)
    for name, schema in schemas.items():
        (folder / name).write_text(schema_text(schema))
        sys.stdout.write(f"{folder / name}\n")
    return 0


def cmd_openapi(args: argparse.Namespace, settings: Settings) -> int:
    """Print the OpenAPI document (docs/openapi.json) without connecting to anything."""
    import json

    from services.api.app import openapi_document

    sys.stdout.write(json.dumps(openapi_document(), indent=2, sort_keys=True) + "\n")
    return 0


def cmd_rules(args: argparse.Namespace, settings: Settings) -> int:
    """Print docs/early-warning.md, generated from the rule definitions."""
    from domain.early_warning_doc import early_warning_page

    sys.stdout.write(early_warning_page())
    return 0


def _aware(moment: datetime) -> datetime:
    """A time given without an offset is read as UTC."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="carecircle", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_process_commands(sub)
    _add_tool_commands(sub)
    add_privacy_commands(sub, runtime_for)
    add_consumer_commands(sub, runtime_for)
    add_kafka_commands(sub)
    add_read_side_commands(sub, runtime_for)
    add_chaos_command(sub)
    add_analyst_commands(sub, runtime_for)
    add_bench_command(sub)
    return parser


def _add_process_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`db`, `serve`, `worker` and `up`: the commands that run the system."""
    db = sub.add_parser("db", help="the database: migrate, url, shell").add_subparsers(
        dest="db", required=True
    )
    db.add_parser("migrate", help="create or upgrade every table, once").set_defaults(
        run=cmd_db_migrate
    )
    add_database_commands(db, database)

    serve = sub.add_parser("serve", help="the API alone")
    serve.add_argument("--workers", type=positive_int, default=1, help="API processes (default 1)")
    serve.set_defaults(run=cmd_serve)

    worker = sub.add_parser("worker", help="one worker role")
    worker.add_argument(
        "role", choices=sorted(roles()) or ["none"], help="the worker role to run in this process"
    )
    worker.add_argument(
        "--processes",
        type=positive_int,
        default=1,
        help="ingest only: this many processes in one consumer group (scale by partitions)",
    )
    worker.set_defaults(run=cmd_worker)

    up = sub.add_parser("up", help="database, broker, API and workers in one process")
    up.add_argument("--demo", action="store_true", help="load demo data into an empty store")
    up.add_argument(
        "--demo-clients",
        type=positive_int,
        default=40,
        metavar="N",
        help="with --demo: how many simulated clients (default 40)",
    )
    up.add_argument(
        "--demo-days",
        type=positive_int,
        default=30,
        metavar="D",
        help="with --demo: how many days of care, ending now (default 30)",
    )
    up.set_defaults(run=cmd_up)


def _add_tool_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`schema`, `openapi`, `rules`, `token` and `simulate`: documents, tokens and demo data."""
    schema = sub.add_parser(
        "schema", help="print the inbound care event's JSON Schema (docs/schemas/)"
    )
    schema.add_argument(
        "--write", metavar="DIR", help="write every wire schema into DIR (e.g. docs/schemas)"
    )
    schema.set_defaults(run=cmd_schema)
    sub.add_parser("openapi", help="print the OpenAPI document (docs/openapi.json)").set_defaults(
        run=cmd_openapi
    )
    sub.add_parser(
        "rules", help="print docs/early-warning.md: every early-warning rule and its thresholds"
    ).set_defaults(run=cmd_rules)

    token = sub.add_parser("token", help="print a development token")
    token.add_argument("--sub", required=True, help="who: the person's or service's id")
    token.add_argument(
        "--role",
        required=True,
        choices=sorted(set(get_args(Role)) - {"rule"}),
        help="the role the token grants",
    )
    token.add_argument("--org", required=True, help="the organization the person works for")
    token.add_argument(
        "--hours",
        type=positive_float,
        default=12.0,
        help="how long the token is valid, in hours (positive; default 12)",
    )
    token.set_defaults(run=cmd_token)

    simulate = sub.add_parser("simulate", help="realistic demo data through the command path")
    simulate.add_argument(
        "--clients", type=positive_int, required=True, help="how many clients to simulate"
    )
    simulate.add_argument(
        "--days", type=positive_int, required=True, help="how many days of care to simulate"
    )
    simulate.add_argument(
        "--seed", type=int, default=1, help="the random seed: same seed, same data (default 1)"
    )
    simulate.add_argument("--start", help="ISO time of the first day (default: DAYS ago)")
    simulate.set_defaults(run=cmd_simulate)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not hasattr(args, "psql_args"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if hasattr(args, "psql_args"):
        args.psql_args = extra
    if args.command in {"serve", "worker", "up"}:
        tune_garbage_collector()
    settings = Settings()
    configure_logging(settings.log_level)
    run: Any = args.run
    try:
        result: int = run(args, settings)
    except KeysRefused as refused:
        sys.stderr.write(f"carecircle: refusing to start: {refused}\n")
        return 2
    return result


if __name__ == "__main__":
    raise SystemExit(main())
