"""AUDIT-C alcohol screen (Bush et al., 1998); a total of 8 or more calls for clinician review."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.instruments.answers import ZERO_TO_FOUR, scored_items
from domain.instruments.scores import Score, band_of

NAME: Final = "AUDIT-C"
_SCALES: Final = (ZERO_TO_FOUR,) * 3
_BANDS: Final = ((0, "negative"), (3, "positive"), (8, "high"))


def band(total: int) -> str:
    """Positive from 3, the conservative sex-agnostic cut (≥4 men, ≥3 women; Bradley, 2003)."""
    return band_of(total, _BANDS)


def score(answers: Sequence[int | bool]) -> Score:
    """AUDIT-C total 0-12 from AUDIT questions 1-3 scored 0-4 (Bush et al., 1998)."""
    total = sum(scored_items(NAME, answers, _SCALES))
    return Score(NAME, total, band(total))
