"""AUDIT alcohol use disorders identification test (WHO; Babor et al., 2001)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.instruments.answers import ZERO_TO_FOUR, ZERO_TWO_OR_FOUR, scored_items
from domain.instruments.scores import Score, band_of

NAME: Final = "AUDIT"
_SCALES: Final = (ZERO_TO_FOUR,) * 8 + (ZERO_TWO_OR_FOUR,) * 2
_ZONES: Final = (
    (0, "low_risk"),
    (8, "hazardous"),
    (16, "harmful"),
    (20, "possible_dependence"),
)


def band(total: int) -> str:
    """WHO risk zone of an AUDIT total; zones I-IV from 8/16/20 (Babor et al., 2001)."""
    return band_of(total, _ZONES)


def score(answers: Sequence[int | bool]) -> Score:
    """AUDIT total 0-40; items 1-8 score 0-4, items 9 and 10 only 0, 2 or 4 (Babor et al., 2001)."""
    total = sum(scored_items(NAME, answers, _SCALES))
    return Score(NAME, total, band(total))
