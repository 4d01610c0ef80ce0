"""PHQ-9 depression severity (Kroenke, Spitzer & Williams, 2001; public domain)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.instruments.answers import ZERO_TO_THREE, scored_items
from domain.instruments.scores import Score, band_of

NAME: Final = "PHQ-9"
_SCALES: Final = (ZERO_TO_THREE,) * 9
_BANDS: Final = (
    (0, "minimal"),
    (5, "mild"),
    (10, "moderate"),
    (15, "moderately_severe"),
    (20, "severe"),
)


def band(total: int) -> str:
    """Severity band of a PHQ-9 total; cut-points 5/10/15/20 (Kroenke et al., 2001)."""
    return band_of(total, _BANDS)


def score(answers: Sequence[int | bool]) -> Score:
    """PHQ-9 total 0-27 and item 9, which matters at any score above 0 whatever the total."""
    items = scored_items(NAME, answers, _SCALES)
    total = sum(items)
    return Score(NAME, total, band(total), (("item9", items[8]),))
