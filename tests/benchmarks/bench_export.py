"""Rate of `carecircle export` (de-identified Parquet and NDJSON) over simulated events, as a
ratio to a baseline measured in the same run: reading the same events from the store (decrypt
and validate each one, nothing else), which every export has to do.

Run: `.venv/bin/python tests/benchmarks/bench_export.py [--clients 640]`
(CARE_DATABASE_URL or an embedded PostgreSQL; a fresh database is created and dropped).
"""

from __future__ import annotations

import argparse
import contextlib
import secrets
import sys
import tempfile
import time
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from demo.simulate import simulate
from domain.commands import RecordCareEvent
from infra.embedded import create_database, database_url_or_embedded, drop_database
from services.adapters.tokens import Principal
from services.app.export import ExportOptions
from services.cli.analysts import run_export
from services.settings import Settings
from services.wiring import Runtime, build_runtime, migrate

ANALYST = Principal("ana-bench", "analyst", "research-unit")


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def record(runtime: Runtime, clients: int) -> int:
    def port(commands: Sequence[RecordCareEvent]) -> int:
        recorded, _refused = runtime.handler.record_batch(commands)
        return len(recorded)

    start = (runtime.clock() - timedelta(days=91)).replace(microsecond=0)
    return simulate(port, clients=clients, days=90, seed=11, start=start, batch_size=2000).events


def read_all(runtime: Runtime) -> tuple[int, float]:
    started = time.perf_counter()
    count, after = 0, 0
    while page := runtime.store.read(after=after, limit=2000):
        count += len(page)
        after = page[-1].position
    return count, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=640)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as scratch,
        database_url_or_embedded(pgdata=Path(scratch) / "pgdata") as server,
    ):
        name = f"carecircle_bench_{secrets.token_hex(4)}"
        url = create_database(server, name)
        runtime = build_runtime(Settings(database_url=url), url)
        try:
            migrate(runtime)
            started = time.perf_counter()
            events = record(runtime, args.clients)
            say(f"recorded {events:,} events in {time.perf_counter() - started:.1f} s")
            count, seconds = read_all(runtime)
            baseline = count / seconds
            say(f"baseline, store read: {count:,} events in {seconds:.1f} s, {baseline:,.0f}/s")
            for fmt in ("parquet", "ndjson"):
                directory = Path(scratch) / fmt
                started = time.perf_counter()
                run_export(
                    runtime,
                    ANALYST,
                    ExportOptions(directory=directory, format=fmt),  # type: ignore[arg-type]
                    deidentify=True,
                    progress=False,
                )
                seconds = time.perf_counter() - started
                rate = count / seconds
                size = sum(p.stat().st_size for p in directory.rglob("*") if p.is_file())
                say(
                    f"export {fmt}, de-identified: {seconds:.1f} s, {rate:,.0f} events/s "
                    f"({rate / baseline:.2f}x the store read), {size / 1e6:.1f} MB"
                )
        finally:
            runtime.close()
            with contextlib.suppress(Exception):
                drop_database(server, name)


if __name__ == "__main__":
    main()
