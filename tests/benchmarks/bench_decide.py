"""The decider's cost per write as a client's history grows: `decide` + `evolve` of one more
check-in on a client with 100 recorded events and on one with 20,000, median of 2,000 writes
each, and their ratio (the same run, so the machine's load cancels out).

The command handler keeps the ids of a client's stored events beside its state (the decider's
`recorded`) and grows that set in place; the state no longer holds them, so folding one more
event no longer copies them (issue 13: 8.7 µs at 100 events, 342 µs at 20,000 before).

Run from the repository root: `.venv/bin/python -m tests.benchmarks.bench_decide
[--sizes 100 20000]` (no database).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import timedelta
from uuid import UUID, uuid4

from domain.client import ClientState, decide, evolve, initial_state
from tests.unit import builders as b


def say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def history(events: int) -> tuple[UUID, ClientState, set[UUID]]:
    """A client enrolled with `events` - 1 check-ins, decided and folded as the handler does."""
    client = uuid4()
    state, recorded = initial_state(), set[UUID]()
    first = b.NOW - timedelta(minutes=events)
    sent = [b.enrolled(client_id=client, occurred_at=first)] + [
        b.check_in(client_id=client, event_id=uuid4(), occurred_at=first + timedelta(minutes=i))
        for i in range(1, events)
    ]
    for event in sent:
        for made in decide(b.record(event), state, recorded):
            state = evolve(state, made)
            recorded.add(made.event_id)
    return client, state, recorded


def per_write_us(events: int, writes: int = 2000) -> float:
    client, state, recorded = history(events)
    commands = [b.record(b.check_in(client_id=client, event_id=uuid4())) for _ in range(writes)]
    times = []
    for command in commands:
        started = time.perf_counter()
        after = state
        for made in decide(command, state, recorded):
            after = evolve(after, made)
        times.append((time.perf_counter() - started) * 1e6)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", type=int, nargs=2, default=[100, 20_000])
    small, large = parser.parse_args().sizes
    for _ in range(3):
        a, z = per_write_us(small), per_write_us(large)
        say(
            f"decide+evolve of one check-in: {a:.1f} µs at {small:,} events, "
            f"{z:.1f} µs at {large:,}; ratio {z / a:.2f}"
        )


if __name__ == "__main__":
    main()
