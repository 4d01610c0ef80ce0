"""Pure scoring of the clinical instruments the care record accepts; sources in docs/domain.md."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Final

from domain.errors import UnknownInstrument
from domain.instruments import audit, audit_c, bam, cssrs_screen, dast10, gad7, phq9
from domain.instruments.scores import Score

_SCORERS: Final[Mapping[str, Callable[[Sequence[int | bool | None]], Score]]] = {
    module.NAME: module.score for module in (phq9, gad7, audit, dast10, cssrs_screen, bam)
}

INSTRUMENTS: Final[frozenset[str]] = frozenset({*_SCORERS, audit_c.NAME})

# The highest total and the published cut-points (lowest total of each band) of the instruments
# whose total has severity bands, for charts that draw them; sources in each module's `band`.
_CUT_POINTS: Final[Mapping[str, tuple[int, tuple[tuple[int, str], ...]]]] = {
    phq9.NAME: (27, phq9._BANDS),
    gad7.NAME: (21, gad7._BANDS),
    audit.NAME: (40, audit._ZONES),
    audit_c.NAME: (12, audit_c._BANDS),
    dast10.NAME: (10, dast10._BANDS),
}


def cut_points(instrument: str) -> tuple[int, tuple[tuple[int, str], ...]] | None:
    """(highest total, bands low to high as (lowest total, name)), None for an instrument whose
    total has no severity bands (C-SSRS screener, BAM)."""
    return _CUT_POINTS.get(instrument)


def score(
    instrument: str, answers: Sequence[int | bool | None], *, sex_at_birth: str | None = None
) -> Score:
    """Total, band and subscales of one administration, by each instrument's published scoring;
    AUDIT-C's cut-off depends on the client's sex at birth when the enrollment gave it."""
    if instrument == audit_c.NAME:
        return audit_c.score(answers, sex_at_birth=sex_at_birth)
    scorer = _SCORERS.get(instrument) if isinstance(instrument, str) else None
    if scorer is None:
        raise UnknownInstrument(f"Scored instruments are {', '.join(sorted(INSTRUMENTS))}.")
    return scorer(answers)


__all__ = ["INSTRUMENTS", "Score", "cut_points", "score"]
