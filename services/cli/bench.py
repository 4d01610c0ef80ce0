"""`carecircle bench [--quick] [--json] [--scale 1m|10m]`: every measure of docs/benchmarks.md
in one run, each beside a baseline of the same run, as one table.

    carecircle bench --quick     a small store and short runs (under a minute): a smoke run
    carecircle bench             a store filled to 1,000,000 events (about 25 minutes)
    carecircle bench --scale 10m a store filled to 10,000,000 events (hours)

It uses CARE_DATABASE_URL's server (or an embedded PostgreSQL) and CARE_KAFKA_BOOTSTRAP (or a
local Tansu broker), creates a fresh database for each part and drops it after. The figures
are min / median / max of three runs; absolute rates move with the machine and its load, so
read the ratio to the baseline beside each.
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import orjson
from pydantic import SecretStr

from infra.embedded import (
    create_database,
    database_url_or_embedded,
    drop_database,
    kafka_bootstrap_or_tansu,
)
from services.bench import api, ingest, scale
from services.bench.http import api_server, bare_server
from services.bench.report import Figure, say, table
from services.settings import Settings
from services.wiring import build_runtime, configure_logging, migrate, tune_garbage_collector

SCALES = {"1m": 1_000_000, "10m": 10_000_000}


def add_bench_command(sub: Any) -> None:
    bench = sub.add_parser("bench", help="every performance measure against its baseline")
    bench.add_argument("--quick", action="store_true", help="a small run, under a minute")
    bench.add_argument("--json", action="store_true", help="print the figures as JSON")
    bench.add_argument("--scale", choices=sorted(SCALES), default="1m", help="events to fill")
    bench.add_argument("--events", type=int, help="fill this many events instead of --scale")
    bench.add_argument(
        "--ingest-clients", type=int, help="simulated clients on the ingest topic (~67 events each)"
    )
    bench.add_argument(
        "--skip",
        action="append",
        default=[],
        choices=["store", "ingest", "http"],
        help="leave out a group of measures, repeatable",
    )
    bench.set_defaults(run=cmd_bench)


def cmd_bench(args: argparse.Namespace, settings: Settings) -> int:
    configure_logging("warning", cache=False)
    tune_garbage_collector()  # as the workers do, so every part compares alike
    started = time.perf_counter()
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="carecircle-bench-") as scratch:
        workdir = Path(scratch)
        with database_url_or_embedded(pgdata=workdir / "pgdata") as server:

            @contextlib.contextmanager
            def fresh_database() -> Iterator[str]:
                name = f"carecircle_bench_{secrets.token_hex(5)}"
                url = create_database(server, name)
                try:
                    yield url
                finally:
                    with contextlib.suppress(Exception):
                        drop_database(server, name)

            if "store" not in args.skip:
                figures += _store_and_http(args, settings, fresh_database)
            if "ingest" not in args.skip:
                with kafka_bootstrap_or_tansu(data_dir=workdir / "tansu") as bootstrap:
                    figures += ingest.measure(
                        bootstrap,
                        fresh_database,
                        clients=args.ingest_clients or (150 if args.quick else 3000),
                        days=20 if args.quick else 30,
                        runs=3,
                        processes=() if args.quick else (1, 2, 3),
                        tag=secrets.token_hex(4),
                    )
    seconds = time.perf_counter() - started
    if args.json:
        document = {
            "seconds": seconds,
            "quick": args.quick,
            "figures": [f.to_dict() for f in figures],
        }
        sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(table(figures) + f"\n\n(whole run: {seconds:,.0f} s)\n")
    return 0


def _store_and_http(
    args: argparse.Namespace, settings: Settings, fresh_database: Any
) -> list[Figure]:
    events = args.events or (20_000 if args.quick else SCALES[args.scale])
    segment = 5_000 if args.quick else 100_000
    secret = "bench-" + secrets.token_hex(16)
    figures: list[Figure] = []
    smaller = _smaller_store(settings, fresh_database, secret, events // 10)
    with fresh_database() as url:
        bench_settings = settings.model_copy(
            update={"database_url": url, "jwt_secret": SecretStr(secret)}
        )
        runtime = build_runtime(bench_settings, url)
        try:
            migrate(runtime)
            filled_at = runtime.clock()
            stored, seconds = scale.fill(runtime, events)
            say(f"filled {stored:,} events in {seconds:.0f} s ({stored / seconds:,.0f}/s)")
            scale.analyze_database(runtime)
            figures.append(
                Figure(
                    "bulk fill through the command handler (5,000 per transaction)",
                    "events/s",
                    [stored / seconds],
                    note=f"{stored:,} simulated events in {seconds:,.0f} s",
                )
            )
            figures += scale.projection_figures(
                runtime, stored, segment, min(stored, segment), smaller
            )
            small, large = uuid4(), uuid4()
            sizes = (100, 1_000 if args.quick else 10_000)
            scale.enroll(runtime, small, sizes[0] - 2)
            scale.enroll(runtime, large, sizes[1] - 2)
            latencies, commits = scale.flag_latency(runtime, 20 if args.quick else 200, 20.0)
            figures.append(
                Figure(
                    "commit -> flag visible, worker following live",
                    "ms p99",
                    [scale.p99(latencies)],
                    target=1000,
                    better="lower",
                    baseline=scale.p99(commits),
                    baseline_label="the single-event commit itself, p99",
                    note=f"{len(latencies)} PHQ-9 item-9 positives at 20/s; "
                    f"p50 {latencies[len(latencies) // 2]:.0f} ms",
                )
            )
            if "http" in args.skip:
                return figures
            scale.analyze_database(runtime)  # the read models and flags the runs above filled
            window = (filled_at, filled_at + timedelta(seconds=30))
            run_seconds = 1.0 if args.quick else 5.0
            with api_server(url, secret) as server, bare_server() as bare:
                figures += api.read_figures(server, bare, secret, run_seconds, window)
                figures.append(api.record_size_figure(server, secret, small, large, sizes))
                figures += api.write_figures(server, bare, secret, 2.0 if args.quick else 10.0)
        finally:
            runtime.close()
    return figures


def _smaller_store(
    settings: Settings, fresh_database: Any, secret: str, events: int
) -> tuple[int, list[float]]:
    """The catch-up rates of a store a tenth the size, filled and dropped before the big one."""
    with fresh_database() as url:
        runtime = build_runtime(
            settings.model_copy(update={"database_url": url, "jwt_secret": SecretStr(secret)}),
            url,
        )
        try:
            migrate(runtime)
            stored, rates = scale.smaller_store_rates(runtime, events)
            caught = ", ".join(f"{rate:,.0f}" for rate in rates)
            say(f"projections: a {stored:,}-event store caught up at {caught} events/s")
            return stored, rates
        finally:
            runtime.close()
