"""`carecircle projections status|rebuild NAME` and `carecircle audit verify`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from typing import TextIO

from projections.engine import status
from services.app.read_side import verdict_line
from services.settings import Settings
from services.wiring import (
    BY_NAME,
    PROJECTIONS,
    Runtime,
    migrate_read_side,
    pool_of,
    rebuild,
    verify_audit,
)

RuntimeFor = Callable[[Settings], AbstractContextManager[Runtime]]


def cmd_status(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        rows = status(pool_of(runtime), runtime.store, PROJECTIONS)
    out: TextIO = sys.stdout
    out.write(
        f"{'projection':<14}{'live':>6}{'position':>12}{'head':>12}{'lag':>10}{'lag_s':>10}"
        f"  building\n"
    )
    for row in rows:
        building = (
            f"v{row.building} at {row.building_position}" if row.building is not None else "-"
        )
        out.write(
            f"{row.name:<14}{'v' + str(row.live):>6}{row.position:>12}{row.head:>12}"
            f"{row.lag_events:>10}{row.lag_seconds:>10.1f}  {building}\n"
        )
    return 0


def cmd_rebuild(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        return rebuild(runtime, args.name, grace_seconds=args.grace, batch_size=args.batch_size)


def cmd_verify(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        verdict = verify_audit(runtime)
        # the access log's own chain (adapters/access_log.py) is checked by the same command
        access = runtime.privacy.access_log.verify()
    sys.stdout.write(verdict_line(verdict) + "\n")
    sys.stdout.write(access.line() + "\n")
    return 0 if verdict.ok and access.ok else 1


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], runtime_for: RuntimeFor
) -> None:
    """`carecircle projections status|rebuild NAME` and `carecircle audit verify`."""
    projections = sub.add_parser("projections", help="read models: status and rebuilds")
    commands = projections.add_subparsers(dest="projections", required=True)
    commands.add_parser("status", help="position, head and lag of each").set_defaults(
        run=partial(cmd_status, runtime_for=runtime_for)
    )
    build = commands.add_parser("rebuild", help="build the next version beside, then swap")
    build.add_argument("name", choices=sorted(BY_NAME))
    build.add_argument("--grace", type=float, default=10.0, help="seconds before dropping")
    build.add_argument("--batch-size", type=int, default=None)
    build.set_defaults(run=partial(cmd_rebuild, runtime_for=runtime_for))

    audit = sub.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit", required=True)
    audit_commands.add_parser(
        "verify", help="check the hash chain against the store; non-zero names the bad position"
    ).set_defaults(run=partial(cmd_verify, runtime_for=runtime_for))
