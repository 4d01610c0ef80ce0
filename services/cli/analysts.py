"""`carecircle export` and `carecircle replay`: the stream for analysts, read models as of a moment.

    carecircle export --to DIR [--format parquet|ndjson] [--after N] [--deidentify]
    carecircle replay --as-of TIME --projection NAME [--projection NAME …] --into SCHEMA

`export` is an access to every client's data: it takes the caller's bearer token (`--token` or
`CARE_TOKEN`), asks services/app/gatekeeper.py (action `export`: analysts and auditors), and
logs one access-log row per client for each chunk before its files are written. The rows
are what the role may see: analysts get de-identified rows (domain/deidentify.py, the same
pseudonyms as `GET /v1/replay`); auditors get the audit skeleton (who did what when, no data)
unless they ask for de-identified rows with `--deidentify`.

`replay` rebuilds read models into a review schema (services/app/time_travel.py); like
`projections rebuild` it is an operator's command and reads no client's data out of the
database.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from pathlib import Path
from uuid import UUID

from domain.access_policy import Principal
from services.app.authentication import AuthenticationFailed
from services.app.errors import AccessRefused
from services.app.export import (
    ExportOptions,
    ExportRefused,
    ProgressLine,
    RowKind,
    Rows,
    export_stream,
    summary_lines,
)
from services.app.gatekeeper import AccessRequest, Action, Decision
from services.app.replay import skeleton_row
from services.app.time_travel import TimeTravelRefused, rebuild_as_of
from services.cli.refusals import principal_of, refused, refused_for
from services.settings import Settings
from services.wiring import BY_NAME, Runtime, migrate, migrate_read_side

RuntimeFor = Callable[[Settings], AbstractContextManager[Runtime]]


def rows_for(runtime: Runtime, principal: Principal, *, deidentify: bool) -> tuple[RowKind, Rows]:
    """The rows this caller may export: de-identified for analysts (and on request), else the
    audit skeleton."""
    if runtime.privacy is None:
        raise ExportRefused("privacy_off", "This runtime has no de-identification key.")
    if deidentify or principal.role == "analyst":
        return RowKind.DEIDENTIFIED, runtime.privacy.deidentifier.recorded
    return RowKind.SKELETON, skeleton_row


def key_check(runtime: Runtime, kind: RowKind) -> str | None:
    """A value that changes with the pseudonym key and tells nothing else (the nil UUID's)."""
    if kind is not RowKind.DEIDENTIFIED or runtime.privacy is None:
        return None
    return runtime.privacy.deidentifier.client(UUID(int=0))


def run_export(
    runtime: Runtime,
    principal: Principal,
    options: ExportOptions,
    *,
    deidentify: bool,
    purpose: str = "operations",
    progress: bool = True,
) -> list[str]:
    """Authorize, export, log every page's clients; answers the summary lines."""
    privacy = runtime.privacy
    if privacy is None:
        raise ExportRefused("privacy_off", "This runtime has no privacy parts.")
    decision: Decision = privacy.gate.check(
        AccessRequest(principal, Action.EXPORT, purpose=purpose)
    )
    kind, rows = rows_for(runtime, principal, deidentify=deidentify)

    def log_chunk(shown: Mapping[UUID, frozenset[str]]) -> None:
        privacy.gate.log_reads(
            principal,
            Action.EXPORT,
            dict(shown),
            purpose=purpose,
            basis=decision.basis,
            correlation_id=None,
        )

    summary = export_stream(
        runtime.store,
        rows,
        kind,
        options,
        key_check=key_check(runtime, kind),
        progress=(lambda total: ProgressLine(total)) if progress else None,
        before_write=log_chunk,
        clock=runtime.clock,
    )
    return summary_lines(summary, options.directory)


def cmd_export(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    options = ExportOptions(
        directory=Path(args.to),
        format=args.format,
        after=args.after,
        chunk_events=args.chunk_events,
    )
    try:
        principal = principal_of(args, settings)
        with runtime_for(settings) as runtime:
            migrate(runtime)
            lines = run_export(
                runtime, principal, options, deidentify=args.deidentify, purpose=args.purpose
            )
    except (AuthenticationFailed, AccessRefused, ExportRefused) as error:
        return refused_for(error)
    sys.stdout.write("\n".join(lines) + "\n")
    return 0


def cmd_replay(args: argparse.Namespace, settings: Settings, runtime_for: RuntimeFor) -> int:
    try:
        as_of = datetime.fromisoformat(args.as_of)
    except ValueError:
        return refused("invalid_time", "TIME is ISO 8601 with an offset, e.g. 2026-11-20T23:00Z.")
    names = list(dict.fromkeys(args.projection))
    try:
        with runtime_for(settings) as runtime:
            migrate(runtime)
            migrate_read_side(runtime)
            built = rebuild_as_of(
                runtime.store,
                runtime.database_url,
                as_of=as_of,
                projections=[BY_NAME[name] for name in names],
                schema=args.into,
                replace=args.replace,
                batch_size=args.batch_size,
            )
            first = runtime.store.read(after=0, limit=1)
    except TimeTravelRefused as error:
        return refused_for(error)
    for item in built:
        version = item.projection.version
        tables = ", ".join(f"{args.into}.{base}_v{version}" for base in item.projection.tables)
        sys.stdout.write(
            f"{item.projection.name} v{item.projection.version} as of {as_of.isoformat()}: "
            f"{item.events:,} events up to position {item.position:,} -> {tables}\n"
        )
    if built and all(item.events == 0 for item in built):
        sys.stdout.write(_why_empty(as_of, first[0].recorded_at if first else None))
    return 0


def _why_empty(as_of: datetime, first_recorded: datetime | None) -> str:
    """Time travel goes by when the store recorded an event, not when it happened."""
    if first_recorded is None:
        return "The store holds no event yet, so every read model is empty.\n"
    return (
        f"Nothing was recorded up to {as_of.isoformat()}: the store's first event was recorded "
        f"at {first_recorded.isoformat()}. Time travel goes by recorded time, not occurred_at "
        "(demo data is recorded when it is loaded, though its events happened days before): "
        "pick a moment after that one.\n"
    )


def add_analyst_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], runtime_for: RuntimeFor
) -> None:
    export = sub.add_parser(
        "export", help="the event stream as partitioned Parquet or NDJSON, for analysts"
    )
    export.add_argument("--to", required=True, metavar="DIR", help="export directory")
    export.add_argument(
        "--format",
        choices=("parquet", "ndjson"),
        default="parquet",
        help="parquet (one table per event type) or ndjson (default parquet)",
    )
    export.add_argument(
        "--after", type=int, default=None, metavar="N", help="start after position N (new DIR)"
    )
    export.add_argument(
        "--deidentify", action="store_true", help="de-identified rows (analysts always get them)"
    )
    export.add_argument("--purpose", default="operations", help="purpose of use (access log)")
    export.add_argument("--chunk-events", type=int, default=100_000, help="events per part file")
    export.add_argument("--token", help="bearer token of the caller (default: $CARE_TOKEN)")
    export.set_defaults(run=partial(cmd_export, runtime_for=runtime_for))

    replay = sub.add_parser(
        "replay", help="rebuild read models as they stood at a past moment, into a schema"
    )
    replay.add_argument("--as-of", required=True, metavar="TIME", help="ISO 8601 with offset")
    replay.add_argument(
        "--projection",
        required=True,
        action="append",
        choices=sorted(BY_NAME),
        metavar="NAME",
        help=f"a read model to rebuild, repeatable: {', '.join(sorted(BY_NAME))}",
    )
    replay.add_argument("--into", required=True, metavar="SCHEMA", help="a new schema")
    replay.add_argument("--replace", action="store_true", help="rebuild a schema made before")
    replay.add_argument(
        "--batch-size", type=int, default=2000, help="events per transaction (default 2000)"
    )
    replay.set_defaults(run=partial(cmd_replay, runtime_for=runtime_for))
