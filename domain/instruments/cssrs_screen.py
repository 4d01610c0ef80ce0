"""C-SSRS screener, recent version, triaged by the Columbia guidelines (Posner et al., 2011)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from domain.errors import InvalidAnswers
from domain.instruments.answers import answer_sheet, yes_no_or_skipped
from domain.instruments.scores import Score

NAME: Final = "C-SSRS-SCREEN"
_QUESTIONS: Final = 6
_WITH_RECENCY: Final = 7


def band(
    *, q1: bool, q2: bool, q3: bool, q4: bool, q5: bool, behavior: bool, behavior_recent: bool
) -> str:
    """Columbia triage: Q4, Q5 or behavior in 3 months high; Q3 or older behavior moderate."""
    if q4 or q5 or (behavior and behavior_recent):
        return "high"
    if q3 or behavior:
        return "moderate"
    if q1 or q2:
        return "low"
    return "none"


def _skip_logic(sheet: Sequence[bool | None]) -> None:
    """The screener's skip logic: "If YES to 2, ask questions 3, 4, 5, and 6. If NO to 2, go
    directly to question 6." Q1, Q2 and Q6 are always asked; with Q2 no, Q3-Q5 are skipped
    (None; a no is accepted from senders that fill every box, a yes is refused)."""
    for item in (1, 2, 6):
        if sheet[item - 1] is None:
            raise InvalidAnswers(f"{NAME} item {item} is always asked")
    if not sheet[1]:
        for item in (3, 4, 5):
            if sheet[item - 1]:
                raise InvalidAnswers(f"{NAME} item {item} is skipped when item 2 is no")
    elif any(sheet[item - 1] is None for item in (3, 4, 5)):
        raise InvalidAnswers(f"{NAME} items 3-5 are asked when item 2 is yes")


def score(answers: Sequence[int | bool | None]) -> Score:
    """Yes count of Q1-Q6; an unanswered 6a counts Q6 behavior as recent (Columbia triage)."""
    raw = yes_no_or_skipped(NAME, answer_sheet(NAME, answers, _QUESTIONS, _WITH_RECENCY))
    _skip_logic(raw)
    sheet = tuple(bool(answer) for answer in raw[:_QUESTIONS])
    q1, q2, q3, q4, q5, behavior = sheet
    within_3_months = raw[_QUESTIONS] if len(raw) == _WITH_RECENCY else None
    if within_3_months and not behavior:
        raise InvalidAnswers(f"{NAME} answer 7 (past 3 months) may be yes only if Q6 is yes")
    behavior_recent = behavior and within_3_months is not False
    triage = band(
        q1=q1, q2=q2, q3=q3, q4=q4, q5=q5, behavior=behavior, behavior_recent=behavior_recent
    )
    subscales = (
        ("q3", int(q3)),
        ("q4", int(q4)),
        ("q5", int(q5)),
        ("behavior", int(behavior)),
        ("behavior_recent", int(behavior_recent)),
    )
    return Score(NAME, sum(sheet), triage, subscales)
