"""`carecircle bench` prints one row per measure: min / median / max of its runs, the baseline of
the same run, the ratio and whether the target is met (no timing here: the table's arithmetic)."""

from __future__ import annotations

from services.bench.report import Figure, table


def test_a_rate_is_shown_as_min_median_max_beside_its_baseline_and_ratio() -> None:
    # given three runs of an ingest and the consume-only baseline of the same run
    figure = Figure(
        "Kafka ingest, 1 process",
        "events/s",
        [9_000.0, 12_000.0, 10_000.0],
        target=20_000,
        baseline=40_000.0,
        baseline_label="consume + validate",
    )
    # when the table is printed
    row = table([figure]).splitlines()[2]
    # then the row carries min / median / max, the baseline, the ratio and the miss
    assert "9,000 / 10,000 / 12,000" in row
    assert "40,000 (consume + validate)" in row
    assert "0.25x" in row
    assert row.endswith("| NO |")


def test_a_latency_target_is_met_when_the_median_is_under_it() -> None:
    # given p99 latencies where lower is better
    figure = Figure("read p99", "ms", [12.0, 25.0, 15.0], target=20, better="lower")
    # then the median (15 ms) meets the 20 ms target, and the JSON says so too
    assert figure.met is True
    assert figure.to_dict()["median"] == 15.0
    assert table([figure]).splitlines()[2].endswith("| yes |")


def test_a_measure_without_runs_says_it_was_not_measured() -> None:
    figure = Figure("HTTP writes", "commands/s", [], target=2000)
    assert figure.met is None
    assert "not measured" in table([figure])
