"""What the early-warning signs keep of a list of dated evidence: the entries within the
horizon behind the newest, and the last few whatever their age, oldest first. The fold finds
them by bisection; these properties hold it to the rule as written."""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from uuid import uuid4

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import warning_signs as ws
from domain.warning_signs import Mark
from tests.unit import builders as b

# days before or after T0, on a coarse grid so that ties and the horizon itself come up often
offsets = st.lists(st.integers(min_value=-200, max_value=40).map(lambda d: d / 2), max_size=40)


def _marks(days: list[float]) -> tuple[Mark, ...]:
    return tuple(Mark(uuid4(), b.T0 + timedelta(days=d)) for d in days)


@given(days=offsets.filter(bool), keep=st.integers(min_value=0, max_value=20))
@settings(max_examples=300, deadline=None)
def test_given_dated_evidence_when_kept_then_the_recent_ones_and_the_last_few_stay_in_order(
    days: list[float], keep: int
) -> None:
    # given evidence arriving in any order
    marks = _marks(days)

    # when the signs keep it
    kept = ws._recent(marks, keep)

    # then they keep, oldest first (ties in arrival order), what lies within the horizon
    # behind the newest, and the last `keep` of any age
    ordered = sorted(marks, key=lambda m: m.at)
    horizon = ordered[-1].at - timedelta(days=ws.KEEP_DAYS)
    expected = tuple(
        m for n, m in enumerate(ordered) if n >= len(ordered) - keep or m.at >= horizon
    )
    assert kept == expected


@given(days=offsets.filter(bool))
@settings(max_examples=300, deadline=None)
def test_given_check_ins_when_kept_then_the_window_and_the_cap_both_hold(days: list[float]) -> None:
    # given check-ins arriving in any order (marks stand in: only their time matters)
    marks = _marks(days)

    # when the signs keep them
    kept = ws._recent_check_ins(marks)  # type: ignore[arg-type]

    # then the check-in horizon and the last `KEPT` stay, at most `KEEP_CHECK_INS` newest
    ordered = sorted(marks, key=lambda m: m.at)
    horizon = ordered[-1].at - timedelta(days=ws.KEEP_CHECK_IN_DAYS + ws.CORRECTION_REACH_DAYS)
    expected = tuple(
        m for n, m in enumerate(ordered) if n >= len(ordered) - ws.KEPT or m.at >= horizon
    )[-ws.KEEP_CHECK_INS :]
    assert kept == expected


def test_given_signs_when_any_field_changes_then_the_copy_is_what_dataclasses_makes() -> None:
    # given a client's signs with some evidence
    signs = ws.WarningSigns(client_id=b.CLIENT, org="harbor", contacts=_marks([1.0, 2.0]))
    names = [field.name for field in dataclasses.fields(ws.WarningSigns)]

    for name in names:
        # when the fold changes one field
        value = object()
        changed = ws.replace(signs, **{name: value})

        # then the copy has the new value there and every other field as it was, equal to
        # dataclasses' own copy, and the original is untouched
        expected = dataclasses.replace(signs, **{name: value})
        assert [getattr(changed, n) for n in names] == [getattr(expected, n) for n in names]
        assert getattr(changed, name) is value
        assert getattr(signs, name) is not value
    # and other dataclasses still get dataclasses.replace
    mark = _marks([2.0])[0]
    assert ws.replace(mark, at=b.T0) == Mark(mark.event_id, b.T0)
