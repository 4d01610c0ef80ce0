"""AUDIT-C alcohol screen (Bush et al., Arch Intern Med 1998): positive at 4 or more for men and
3 or more for women (Bradley et al., Arch Intern Med 2003; Bradley et al., ACER 2007); 8 or more
is `high` (VA AUDIT-C FAQ). When every point comes from question 1 (questions 2 and 3 are zero)
the person can be assumed to drink within recommended limits and the intake is reviewed (VA /
SAMHSA-HRSA "AUDIT-C - Overview" scoring sheet): band `within_limits_review`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.instruments.answers import ZERO_TO_FOUR, scored_items
from domain.instruments.scores import Score, band_of

NAME: Final = "AUDIT-C"
_SCALES: Final = (ZERO_TO_FOUR,) * 3
HIGH: Final = 8
# The bands when the sex at birth is not known (charts draw these).
_BANDS: Final = ((0, "negative"), (3, "positive"), (HIGH, "high"))
WITHIN_LIMITS: Final = "within_limits_review"


def cut_off(sex_at_birth: str | None) -> int:
    """4 for men, 3 for women; 3 when the sex at birth is not known (the more sensitive cut)."""
    return 4 if sex_at_birth == "male" else 3


def band(total: int, sex_at_birth: str | None = None) -> str:
    """Negative below the cut-off, positive from it, high from 8."""
    return band_of(total, ((0, "negative"), (cut_off(sex_at_birth), "positive"), (HIGH, "high")))


def score(answers: Sequence[int | bool | None], *, sex_at_birth: str | None = None) -> Score:
    """AUDIT-C total 0-12 from AUDIT questions 1-3 scored 0-4 (Bush et al., 1998)."""
    q1, q2, q3 = scored_items(NAME, answers, _SCALES)
    total = q1 + q2 + q3
    found = band(total, sex_at_birth)
    if found == "positive" and q2 == 0 and q3 == 0:
        found = WITHIN_LIMITS
    return Score(NAME, total, found)
