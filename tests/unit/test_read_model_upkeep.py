"""The read models' upkeep asks what autovacuum's default thresholds would: vacuum past
50 + 20 % dead row versions, analyze past 50 + 10 % changed rows, or never analyzed."""

from __future__ import annotations

from projections.upkeep import upkeep_of


def test_a_table_whose_dead_versions_pass_a_fifth_of_its_rows_is_vacuumed() -> None:
    assert upkeep_of(live=1000, dead=251, changed=0, never_analyzed=False) == "vacuum"
    assert upkeep_of(live=1000, dead=250, changed=0, never_analyzed=False) is None


def test_a_table_changed_past_a_tenth_of_its_rows_is_analyzed() -> None:
    assert upkeep_of(live=1000, dead=0, changed=151, never_analyzed=False) == "analyze"
    assert upkeep_of(live=1000, dead=0, changed=150, never_analyzed=False) is None


def test_a_table_never_analyzed_is_analyzed_even_unchanged() -> None:
    assert upkeep_of(live=0, dead=0, changed=0, never_analyzed=True) == "analyze"


def test_vacuuming_wins_over_analyzing_since_it_analyzes_too() -> None:
    assert upkeep_of(live=10, dead=1000, changed=1000, never_analyzed=True) == "vacuum"
