"""PHQ-9 depression severity (Kroenke, Spitzer & Williams, 2001; public domain)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.instruments.answers import ZERO_TO_THREE, blank_or_points
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


INCOMPLETE: Final = "incomplete"


def score(answers: Sequence[int | bool | None]) -> Score:
    """PHQ-9 total 0-27 and item 9, which matters at any score above 0 whatever the total
    (Simon et al., Psychiatr Serv 2013).

    A sheet with blank items (None) is kept as answered: the total is the sum of the answered
    items and the band is `incomplete`, never a prorated severity (the PHQ manual's wording on
    missing items could not be confirmed; prorating is left to a clinician). Item 9 counts
    whenever it was answered, so a positive item 9 still raises SUI-1.
    """
    items = blank_or_points(NAME, answers, _SCALES)
    answered = [item for item in items if item is not None]
    total = sum(answered)
    subscales: tuple[tuple[str, int], ...] = (("answered", len(answered)),)
    if items[8] is not None:
        subscales = (("item9", items[8]), *subscales)
    complete = len(answered) == len(items)
    return Score(NAME, total, band(total) if complete else INCOMPLETE, subscales)
