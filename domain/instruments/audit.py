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


def score(answers: Sequence[int | bool | None]) -> Score:
    """AUDIT total 0-40; items 1-8 score 0-4, items 9 and 10 only 0, 2 or 4 (Babor et al., 2001).

    The WHO manual's Table 4 footnote: "Provide the next highest level of intervention to
    patients who score 2 or more on Questions 4, 5 and 6, or 4 on Questions 9 or 10." We read
    "2 or more on Questions 4, 5 and 6" per item (any one of them), the common reading; the
    zone moves up one (never beyond IV).
    """
    items = scored_items(NAME, answers, _SCALES)
    total = sum(items)
    zone = band(total)
    if max(items[3:6]) >= 2 or items[8] == 4 or items[9] == 4:
        names = [name for _, name in _ZONES]
        zone = names[min(names.index(zone) + 1, len(names) - 1)]
    return Score(NAME, total, zone)
