"""Reading an answer sheet; a refusal names the item and its allowed points, never the answer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from domain.errors import InvalidAnswers


@dataclass(frozen=True, slots=True)
class Points:
    """The points one item of an instrument's response scale may take, as its manual words them."""

    allowed: frozenset[int]
    wording: str


ZERO_TO_THREE = Points(frozenset(range(4)), "0-3")
ZERO_TO_FOUR = Points(frozenset(range(5)), "0-4")
ZERO_TWO_OR_FOUR = Points(frozenset({0, 2, 4}), "0, 2 or 4")
NO_ZERO_YES_FOUR = Points(frozenset({0, 4}), "0 (no) or 4 (yes)")


def answer_sheet(instrument: str, answers: object, *counts: int) -> tuple[object, ...]:
    """The answers in item order, refused unless the sheet holds as many as the instrument asks."""
    if isinstance(answers, str | bytes | bytearray) or not isinstance(answers, Sequence):
        raise InvalidAnswers(f"{instrument} answers must be a list of item answers")
    if len(answers) not in counts:
        expected = " or ".join(str(count) for count in counts)
        raise InvalidAnswers(f"{instrument} takes {expected} answers, got {len(answers)}")
    return tuple(answers)


def scored_items(instrument: str, answers: object, scales: Sequence[Points]) -> tuple[int, ...]:
    """Points of each item of a rating-scale instrument, one scale per item, in item order."""
    sheet = answer_sheet(instrument, answers, len(scales))
    return tuple(
        _points(instrument, item, answer, scale)
        for item, (answer, scale) in enumerate(zip(sheet, scales, strict=True), start=1)
    )


def yes_no_items(instrument: str, answers: Sequence[object]) -> tuple[bool, ...]:
    """Each yes/no answer as a bool; a yes is True or 1 and a no is False or 0, nothing else."""
    return tuple(_yes(instrument, item, answer) for item, answer in enumerate(answers, start=1))


def blank_or_points(
    instrument: str, answers: object, scales: Sequence[Points]
) -> tuple[int | None, ...]:
    """Points of each item, None where the item was left blank."""
    sheet = answer_sheet(instrument, answers, len(scales))
    return tuple(
        None if answer is None else _points(instrument, item, answer, scale)
        for item, (answer, scale) in enumerate(zip(sheet, scales, strict=True), start=1)
    )


def _points(instrument: str, item: int, answer: object, scale: Points) -> int:
    """One item's points; a yes/no is refused because bool passes for int in Python."""
    if isinstance(answer, bool):
        raise InvalidAnswers(f"{instrument} item {item} must be {scale.wording}, not a yes/no")
    if not isinstance(answer, int) or answer not in scale.allowed:
        raise InvalidAnswers(f"{instrument} item {item} must be {scale.wording}")
    return int(answer)


def yes_no_or_skipped(instrument: str, answers: Sequence[object]) -> tuple[bool | None, ...]:
    """Each yes/no answer as a bool, None where the item was skipped."""
    return tuple(
        None if answer is None else _yes(instrument, item, answer)
        for item, answer in enumerate(answers, start=1)
    )


def _yes(instrument: str, item: int, answer: object) -> bool:
    """One yes/no answer; strings such as "yes" or "1" are refused rather than guessed at."""
    if isinstance(answer, bool):
        return answer
    if isinstance(answer, int) and answer in (0, 1):
        return answer == 1
    raise InvalidAnswers(f"{instrument} item {item} must be yes/no (true/false or 1/0)")
