"""GAD-7 anxiety severity (Spitzer, Kroenke, Williams & Löwe, 2006)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.instruments.answers import ZERO_TO_THREE, scored_items
from domain.instruments.scores import Score, band_of

NAME: Final = "GAD-7"
_SCALES: Final = (ZERO_TO_THREE,) * 7
_BANDS: Final = ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"))


def band(total: int) -> str:
    """Severity band of a GAD-7 total; cut-points 5/10/15 (Spitzer et al., 2006)."""
    return band_of(total, _BANDS)


def score(answers: Sequence[int | bool | None]) -> Score:
    """GAD-7 total 0-21 from seven items scored 0-3 (Spitzer et al., 2006)."""
    total = sum(scored_items(NAME, answers, _SCALES))
    return Score(NAME, total, band(total))
