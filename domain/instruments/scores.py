"""The result of scoring one administration of an instrument: total, band and named subscales."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Score:
    """A scored instrument; `band` is the published severity band or zone of the total."""

    instrument: str
    total: int
    band: str
    subscales: tuple[tuple[str, int], ...] = ()

    def subscale(self, name: str) -> int | None:
        """The named subscale or clinically flagged item, None if the instrument has none."""
        for subscale_name, value in self.subscales:
            if subscale_name == name:
                return value
        return None


def band_of(total: int, bands: Sequence[tuple[int, str]]) -> str:
    """The band whose lowest total is the highest one at or below `total`; bands run low to high."""
    found = bands[0][1]
    for lowest, name in bands:
        if total >= lowest:
            found = name
    return found
