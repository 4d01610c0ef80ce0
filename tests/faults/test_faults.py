"""The fault suite's short form: one round of every fault against the real processes.

`carecircle chaos` (services/cli/chaos.py) runs the same round several times; here it runs
once, on a cluster of its own under the test's temporary directory: an embedded PostgreSQL and
a Tansu broker started for it (never the machine's shared server), the API and the three
workers as processes, a clinical mix of writes and reads running throughout. After each fault
— kill -9 of the API and of each worker at a random instant, a PostgreSQL restart, the event
store locked for seconds while a burst exhausts the API's pool — the load
pauses, the system settles and every check runs.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from services.cli.chaos import FAULTS, fault_run

# A broker restart is left out until the publisher recovers from one: after a restart of the
# memory-only broker it retries its first send forever (KafkaError), and ingest skips messages
# of the recreated topic at offsets it tracked before (docs/reliability.md, "Found").
SURVIVED = tuple(fault for fault in FAULTS if fault != "restart broker")


@pytest.mark.timeout(900)
def test_after_every_fault_each_acknowledged_event_is_stored_once_and_everything_checks_out(
    tmp_path: Path,
) -> None:
    # given the processes running under a clinical load
    report = io.StringIO()

    # when each fault is injected in turn (and once more after the load stops, checked)
    tally = fault_run(tmp_path / "cluster", rounds=1, seed=3, faults=SURVIVED, out=report)

    # then nothing acknowledged was lost or stored twice, the projections equal their rebuild,
    # the audit verifies and care.events holds every event in order per client
    assert sorted(tally.faults) == sorted(SURVIVED)
    assert tally.acknowledged > 0
    assert tally.acknowledged_kafka > 0
    assert tally.lost == 0
    assert tally.duplicated == 0
    assert tally.failures == [], report.getvalue()
