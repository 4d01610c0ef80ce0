"""Instruments: screens at intake and every few weeks, answered consistently with the client's
state (the scales and their scoring live in domain/instruments)."""

from __future__ import annotations

import random
from datetime import datetime

from demo.client import MINUTE, ClientBase, clamp
from demo.staff import Member


def _spread(rng: random.Random, total: int, items: int, top: int) -> list[int]:
    """`items` answers of 0-`top` adding up to `total` (capped), spread at random."""
    answers = [0] * items
    for _ in range(min(total, items * top)):
        open_items = [i for i, points in enumerate(answers) if points < top]
        answers[rng.choice(open_items)] += 1
    return answers


class Clinical(ClientBase):
    """Instruments given by the counselor, with the follow-up screens a result calls for."""

    def _assess(self, at: datetime, instrument: str, actor: Member) -> datetime:
        answers = self._answers(instrument)
        at = self._emit(
            at, "AssessmentRecorded", actor, {"instrument": instrument, "answers": answers}
        )
        if instrument == "PHQ-9" and answers[8]:
            at = self._emit(
                at + 15 * MINUTE,
                "AssessmentRecorded",
                actor,
                {"instrument": "C-SSRS-SCREEN", "answers": self._answers("C-SSRS-SCREEN")},
            )
        if instrument == "AUDIT-C" and self.primary == "alcohol" and sum(answers) >= 3:
            at = self._emit(
                at + 8 * MINUTE,
                "AssessmentRecorded",
                actor,
                {"instrument": "AUDIT", "answers": [*answers, *self._audit_rest()]},
            )
        return at

    def _answers(self, instrument: str) -> list[int] | list[bool]:
        """Answers consistent with the client's state (see domain/instruments for the scales)."""
        rng = self.rng
        distress = 10 - self.mood
        recent_use = sum(self.uses) / len(self.uses) if self.uses else 0.3
        match instrument:
            case "PHQ-9":
                total = round(clamp(distress * 2.1 + (self.sleep < 5) * 2 + rng.gauss(0, 2), 0, 24))
                item9 = 0
                if self.mood <= 3.5 and rng.random() < 0.4:
                    item9 = 1 if rng.random() < 0.75 else 2
                return [*_spread(rng, total, 8, 3), item9]
            case "GAD-7":
                anxiety = distress * 1.3 + self.craving * 0.4 + rng.gauss(0, 2)
                return _spread(rng, round(clamp(anxiety, 0, 21)), 7, 3)
            case "AUDIT-C":
                if self.primary == "alcohol":
                    level = 2 + self.craving * 0.8 + recent_use * 3
                elif "alcohol" in self.substances:
                    level = 1 + self.craving * 0.3
                else:
                    level = rng.uniform(0, 2)
                return _spread(rng, round(clamp(level + rng.gauss(0, 1), 0, 12)), 3, 4)
            case "DAST-10":
                if self.primary in ("opioids", "stimulants", "cannabis"):
                    level = 1.5 + self.craving * 0.55 + recent_use * 2
                else:
                    level = rng.uniform(0, 2)
                scored = set(rng.sample(range(10), k=round(clamp(level + rng.gauss(0, 1), 0, 10))))
                # item 3 ("always able to stop?") scores its no
                return [(i in scored) != (i == 2) for i in range(10)]
            case "C-SSRS-SCREEN":
                return self._cssrs()
            case "BAM":
                return self._bam(recent_use)
            case _:
                raise ValueError(instrument)

    def _audit_rest(self) -> list[int]:
        """AUDIT items 4-10 after the three AUDIT-C items; items 9 and 10 score 0, 2 or 4."""
        rng = self.rng
        rest = _spread(rng, round(self.craving * 1.6 + rng.gauss(0, 2)), 5, 4)
        return [*rest, rng.choice((0, 2, 4)), rng.choice((0, 2, 4))]

    def _cssrs(self) -> list[bool]:
        rng = self.rng
        level = "none"
        if self.mood <= 2 or (self.mood <= 3.5 and rng.random() < 0.4):
            level = "high" if rng.random() < 0.35 else "moderate"
        elif self.mood <= 4.5 and rng.random() < 0.4:
            level = "low"
        q1 = level != "none"
        q2 = level in ("moderate", "high") or (q1 and rng.random() < 0.4)
        q3 = level in ("moderate", "high")
        q4 = level == "high"
        q5 = q4 and rng.random() < 0.4
        answers = [q1, q2, q3, q4, q5, self.attempt_history]
        if self.attempt_history:
            answers.append(False)  # the attempt was longer than three months ago
        return answers

    def _bam(self, recent_use: float) -> list[int]:
        rng = self.rng

        def likert(value: float) -> int:
            return round(clamp(value + rng.gauss(0, 0.4), 0, 4))

        distress = (10 - self.mood) / 10
        drinking = recent_use * 4 if "alcohol" in self.substances else 0
        drugs = recent_use * 4 if self.primary != "alcohol" else 0
        sleep_trouble = clamp((7 - self.sleep) * 1.1, 0, 4)
        support = 4 - self.craving / 3 - distress
        return [
            likert(distress * 2.5),  # 1 physical health
            likert(sleep_trouble),  # 2 sleep
            likert(distress * 4),  # 3 mood
            likert(drinking),  # 4 alcohol days
            likert(drinking * 0.6),  # 5 heavy drinking days
            likert(drugs),  # 6 drug days
            likert(drugs * 0.8),  # 7 drug types
            likert(self.craving / 2.5),  # 8 craving
            likert(4 - self.craving / 2.5),  # 9 abstinence confidence
            likert(support),  # 10 self-help meetings
            likert(self.craving / 3),  # 11 risky situations
            likert(rng.uniform(0, 4)),  # 12 spirituality
            likert(support - 1),  # 13 work or school
            4 if likert(support - 0.5) >= 2 else 0,  # 14 income (no 0 / yes 4)
            likert(distress * 3),  # 15 conflict
            likert(support),  # 16 supportive contacts
            likert(4 - distress * 3 - self.craving / 4),  # 17 satisfaction with progress
        ]

    def _assessments_due(self) -> None:
        at = self._at(self.rng.uniform(10, 16))
        for instrument, due in sorted(self.next_assessment.items()):
            if due <= self.day:
                at = self._assess(at + 5 * MINUTE, instrument, self.counselor)
                every = {"PHQ-9": 21, "GAD-7": 21, "BAM": 28}.get(instrument, 30)
                self.next_assessment[instrument] = self.day + every + self.rng.randint(-2, 2)
