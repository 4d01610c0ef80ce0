"""Pure scoring of the clinical instruments the care record accepts; see care-domain.md §5."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from domain.errors import UnknownInstrument
from domain.instruments import audit, audit_c, bam, cssrs_screen, dast10, gad7, phq9
from domain.instruments.scores import Score

_SCORERS: Final[Mapping[str, Callable[[Sequence[int | bool]], Score]]] = {
    module.NAME: module.score for module in (phq9, gad7, audit_c, audit, dast10, cssrs_screen, bam)
}

INSTRUMENTS: Final[frozenset[str]] = frozenset(_SCORERS)


def score(instrument: str, answers: Sequence[int | bool]) -> Score:
    """Total, band and subscales of one administration, by each instrument's published scoring."""
    scorer = _SCORERS.get(instrument) if isinstance(instrument, str) else None
    if scorer is None:
        raise UnknownInstrument(f"Scored instruments are {', '.join(sorted(INSTRUMENTS))}.")
    return scorer(answers)


__all__ = ["INSTRUMENTS", "Score", "score"]
