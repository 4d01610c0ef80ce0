"""Brief Addiction Monitor, Likert scoring of its 17 items (Cacciola et al., 2013)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.instruments.answers import NO_ZERO_YES_FOUR, ZERO_TO_FOUR, scored_items
from domain.instruments.scores import Score

NAME: Final = "BAM"
# Item 14 (enough income from legal sources?) is a yes/no scored No 0, Yes 4 (BAM manual).
_SCALES: Final = (ZERO_TO_FOUR,) * 13 + (NO_ZERO_YES_FOUR,) + (ZERO_TO_FOUR,) * 3
_USE: Final = (4, 5, 6)
_RISK: Final = (1, 2, 3, 8, 11, 15)
_PROTECTIVE: Final = (9, 10, 12, 13, 14, 16)
_USE_SIGNIFICANT: Final = 1
_RISK_SIGNIFICANT: Final = 12
_PROTECTIVE_SIGNIFICANT: Final = 12


def band(*, use: int, risk: int, protective: int) -> str:
    """Attention at use ≥1, risk ≥12 or protective ≤12, Likert cut-offs (Cacciola et al., 2013)."""
    if (
        use >= _USE_SIGNIFICANT
        or risk >= _RISK_SIGNIFICANT
        or protective <= _PROTECTIVE_SIGNIFICANT
    ):
        return "attention"
    return "stable"


def score(answers: Sequence[int | bool | None]) -> Score:
    """Use, risk and protective subscales; total is use + risk, a burden score, ours not BAM's."""
    items = scored_items(NAME, answers, _SCALES)
    use, risk, protective = (
        sum(items[item - 1] for item in subscale) for subscale in (_USE, _RISK, _PROTECTIVE)
    )
    subscales = (("use", use), ("risk", risk), ("protective", protective))
    return Score(NAME, use + risk, band(use=use, risk=risk, protective=protective), subscales)
