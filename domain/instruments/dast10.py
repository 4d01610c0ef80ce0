"""DAST-10 drug abuse screening test (Skinner, 1982)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.instruments.answers import answer_sheet, yes_no_items
from domain.instruments.scores import Score, band_of

NAME: Final = "DAST-10"
_ITEMS: Final = 10
_ALWAYS_ABLE_TO_STOP: Final = 3
_BANDS: Final = (
    (0, "none"),
    (1, "low"),
    (3, "moderate"),
    (6, "substantial"),
    (9, "severe"),
)


def band(total: int) -> str:
    """Degree of problems of a DAST-10 total; cut-points 1/3/6/9 (Skinner, 1982)."""
    return band_of(total, _BANDS)


def score(answers: Sequence[int | bool | None]) -> Score:
    """One point per yes, but item 3 ("always able to stop?") scores its no (Skinner, 1982)."""
    yeses = yes_no_items(NAME, answer_sheet(NAME, answers, _ITEMS))
    total = sum(
        (not yes) if item == _ALWAYS_ABLE_TO_STOP else yes
        for item, yes in enumerate(yeses, start=1)
    )
    return Score(NAME, total, band(total))
