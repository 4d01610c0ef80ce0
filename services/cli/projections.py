"""`carecircle projections status|rebuild NAME|retry [NAME...]`; `audit verify|anchor`."""

from __future__ import annotations

import argparse
import sys
import threading
from collections.abc import Callable
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path
from typing import TextIO

from projections.reading import status
from services.app.audit import Anchor, AnchorError, read_anchors, report_lines
from services.settings import Settings
from services.wiring import (
    BY_NAME,
    PROJECTIONS,
    Runtime,
    anchor_audit,
    anchor_sink,
    migrate_read_side,
    parked,
    pool_of,
    rebuild,
    retry_parked,
    topic_anchors,
    verify_audit,
)

RuntimeFor = Callable[[Settings], AbstractContextManager[Runtime]]


def cmd_status(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        rows = status(pool_of(runtime), runtime.store, PROJECTIONS)
        found = parked(runtime)
    out: TextIO = sys.stdout
    out.write(
        f"{'projection':<14}{'live':>6}{'position':>12}{'head':>12}{'lag':>10}{'lag_s':>10}"
        f"{'parked':>8}  building\n"
    )
    counts: dict[str, int] = {}
    for item in found:
        counts[item.name] = counts.get(item.name, 0) + 1
    for row in rows:
        building = (
            f"v{row.building} at {row.building_position}" if row.building is not None else "-"
        )
        out.write(
            f"{row.name:<14}{'v' + str(row.live):>6}{row.position:>12}{row.head:>12}"
            f"{row.lag_events:>10}{row.lag_seconds:>10.1f}{counts.get(row.name, 0):>8}"
            f"  {building}\n"
        )
    for item in found:
        out.write(
            f"parked: {item.name} v{item.version} position {item.position} ({item.event_type})"
            f" {item.reason} at {item.parked_at.isoformat()}\n"
        )
    if found:
        out.write("after a fix: carecircle projections retry\n")
    return 0


def cmd_retry(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    unknown = sorted(set(args.names) - set(BY_NAME))
    if unknown:
        sys.stderr.write(f"carecircle: no projection named {', '.join(unknown)}\n")
        return 2
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        left = retry_parked(runtime, args.names, grace_seconds=args.grace)
    return 1 if left else 0


def cmd_rebuild(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        return rebuild(runtime, args.name, grace_seconds=args.grace, batch_size=args.batch_size)


def cmd_verify(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    anchors: list[Anchor] = []
    for path in args.anchors or ():
        try:
            anchors.extend(read_anchors(Path(path).read_text().splitlines()))
        except (OSError, AnchorError) as error:
            sys.stderr.write(f"cannot read anchors from {path}: {error}\n")
            return 2
    if args.anchors_from_topic:
        if not settings.kafka_bootstrap:
            sys.stderr.write("--anchors-from-topic needs CARE_KAFKA_BOOTSTRAP\n")
            return 2
        try:
            anchors.extend(topic_anchors(settings, settings.kafka_bootstrap))
        except AnchorError as error:
            sys.stderr.write(f"cannot read anchors from {settings.audit_anchor_topic}: {error}\n")
            return 2
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        report = verify_audit(runtime, anchors)
    for line in report_lines(report):
        sys.stdout.write(line + "\n")
    return 0 if report.ok else 1


def cmd_anchor(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    """Sign a checkpoint of both chains; once, or every `--every` seconds until interrupted."""
    if args.topic and not settings.kafka_bootstrap:
        sys.stderr.write("--topic needs CARE_KAFKA_BOOTSTRAP\n")
        return 2
    if not (args.file or args.topic):
        sys.stderr.write("name where anchors go: --file PATH and/or --topic\n")
        return 2
    stop = threading.Event()
    file = Path(args.file) if args.file else None
    with runtime_for(settings) as runtime:
        migrate_read_side(runtime)
        keep, close = anchor_sink(settings, settings.kafka_bootstrap, file=file, topic=args.topic)
        try:
            while True:
                taken = anchor_audit(runtime)
                if taken.refused is not None:
                    for line in report_lines(taken.refused):
                        sys.stdout.write(line + "\n")
                    sys.stdout.write("not anchored: the chains do not verify\n")
                    return 1
                keep(taken.anchors)
                for anchor in taken.anchors:
                    sys.stdout.write(
                        f"anchored {anchor.chain}: {anchor.count} entries up to position"
                        f" {anchor.position}\n"
                    )
                sys.stdout.flush()
                if args.every is None or stop.wait(args.every):
                    return 0
        except KeyboardInterrupt:
            return 0
        finally:
            close()


def add_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], runtime_for: RuntimeFor
) -> None:
    """`carecircle projections status|rebuild NAME` and `carecircle audit verify|anchor`."""
    projections = sub.add_parser("projections", help="read models: status and rebuilds")
    commands = projections.add_subparsers(dest="projections", required=True)
    commands.add_parser("status", help="position, head and lag of each").set_defaults(
        run=partial(cmd_status, runtime_for=runtime_for)
    )
    build = commands.add_parser("rebuild", help="build the next version beside, then swap")
    build.add_argument("name", choices=sorted(BY_NAME), help="the read model to rebuild")
    build.add_argument("--grace", type=float, default=10.0, help="seconds before dropping")
    build.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="events per transaction (default CARE_PROJECTION_BATCH_SIZE)",
    )
    build.set_defaults(run=partial(cmd_rebuild, runtime_for=runtime_for))
    retry = commands.add_parser(
        "retry", help="after a fix: rebuild the projections that parked events (in order)"
    )
    retry.add_argument("names", nargs="*", metavar="NAME", help=", ".join(sorted(BY_NAME)))
    retry.add_argument("--grace", type=float, default=10.0, help="seconds before dropping")
    retry.set_defaults(run=partial(cmd_retry, runtime_for=runtime_for))

    audit = sub.add_parser("audit", help="the audit trail")
    audit_commands = audit.add_subparsers(dest="audit", required=True)
    verify = audit_commands.add_parser(
        "verify",
        help="check both chains (and anchors) against the store; non-zero names the bad place",
    )
    verify.add_argument(
        "--anchors",
        action="append",
        metavar="FILE",
        help="JSON lines written by `audit anchor` (repeatable): the chains must still hold them",
    )
    verify.add_argument(
        "--anchors-from-topic",
        action="store_true",
        help="also every anchor published to CARE_AUDIT_ANCHOR_TOPIC (needs CARE_KAFKA_BOOTSTRAP)",
    )
    verify.set_defaults(run=partial(cmd_verify, runtime_for=runtime_for))
    anchor = audit_commands.add_parser(
        "anchor", help="sign a checkpoint of both chains' heads and keep it outside the database"
    )
    anchor.add_argument("--file", metavar="PATH", help="append the anchors to this JSON-lines file")
    anchor.add_argument(
        "--topic", action="store_true", help="publish them to CARE_AUDIT_ANCHOR_TOPIC too"
    )
    anchor.add_argument(
        "--every", type=float, default=None, metavar="SECONDS", help="keep anchoring"
    )
    anchor.set_defaults(run=partial(cmd_anchor, runtime_for=runtime_for))
