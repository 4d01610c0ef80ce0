"""Corrections reach the rules: for any history, the flags that should be open equal the flags of
the same history with the withdrawn entries left out (property test, with hypothesis), and the
cases a clinician found are shown one by one: a withdrawn safety plan, naloxone distribution,
follow-up session or postvention review stops satisfying its rule.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.catalogue import CareEvent
from domain.early_warning import Thresholds, evaluate
from domain.warning_signs import KEEP_WITHDRAWABLE, KEPT, WarningSigns, no_signs, observe
from tests.unit.builders import (
    CLIENT,
    T0,
    appointment_attended,
    appointment_missed,
    appointment_scheduled,
    assessment,
    check_in,
    check_in_plan_set,
    corrected,
    crisis,
    enrolled,
    entered_in_error,
    medication_stopped,
    naloxone,
    overdose,
    postvention,
    safety_plan_recorded,
    session_held,
    transition,
)

DEFAULTS = Thresholds()
NO, YES = False, True


def folded(*events: CareEvent) -> WarningSigns:
    signs = no_signs(CLIENT)
    for event in (enrolled(occurred_at=T0 - timedelta(days=1)), *events):
        signs = observe(signs, event)
    return signs


def findings(signs: WarningSigns, now: datetime) -> list[tuple[object, ...]]:
    return sorted(
        (f.rule.id, f.severity, f.episode, f.since, f.evidence)
        for f in evaluate(signs, now, DEFAULTS)
    )


# --- the property ---------------------------------------------------------------------------------

Make = Callable[[datetime, int], list[CareEvent]]


def _crisis(level: str, suicidal: bool, danger: bool) -> Make:
    return lambda at, n: [
        crisis(
            f"c{n}",
            risk_level=level,
            suicidality=suicidal,
            overdose_danger=danger,
            occurred_at=at,
        )
    ]


def _appointment(missed: bool) -> Make:
    def make(at: datetime, n: int) -> list[CareEvent]:
        outcome = appointment_missed if missed else appointment_attended
        return [
            appointment_scheduled(f"a{n}", scheduled_for=at, occurred_at=at - timedelta(hours=1)),
            outcome(f"a{n}", scheduled_for=at, occurred_at=at),
        ]

    return make


def _reviewed(at: datetime, n: int) -> list[CareEvent]:
    return [
        crisis(f"c{n}", risk_level="high", occurred_at=at),
        postvention(f"c{n}", occurred_at=at + timedelta(hours=30)),
    ]


KINDS: list[Make] = [
    lambda at, n: [check_in(craving=8, sleep_hours=3, occurred_at=at)],
    lambda at, n: [check_in(craving=1, sleep_hours=8, occurred_at=at)],
    lambda at, n: [check_in(used_since_last=True, substances=("fentanyl",), occurred_at=at)],
    lambda at, n: [assessment("PHQ-9", (1, 1, 1, 1, 1, 1, 1, 1, 2), occurred_at=at)],
    lambda at, n: [assessment("C-SSRS-SCREEN", (YES, YES, YES, YES, NO, NO), occurred_at=at)],
    lambda at, n: [assessment("C-SSRS-SCREEN", (NO,) * 6, occurred_at=at)],
    _crisis("imminent", True, False),
    _crisis("high", True, True),
    _crisis("moderate", False, False),
    _reviewed,
    lambda at, n: [safety_plan_recorded(occurred_at=at)],
    lambda at, n: [naloxone(occurred_at=at)],
    lambda at, n: [session_held(occurred_at=at)],
    lambda at, n: [transition("ed_discharge", occurred_at=at)],
    lambda at, n: [transition("incarceration_release", occurred_at=at)],
    lambda at, n: [overdose(occurred_at=at)],
    lambda at, n: [medication_stopped("methadone", "moud", occurred_at=at)],
    lambda at, n: [check_in_plan_set(24, occurred_at=at)],
    _appointment(missed=True),
    _appointment(missed=False),
]

steps = st.lists(
    st.tuples(st.integers(0, len(KINDS) - 1), st.integers(0, 21 * 24), st.booleans()),
    min_size=1,
    max_size=14,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, later=st.sampled_from([0, 1, 25, 49, 80, 24 * 8, 24 * 20]))
def test_flags_of_a_history_with_withdrawals_equal_the_flags_without_the_withdrawn_entries(
    steps: list[tuple[int, int, bool]], later: int
) -> None:
    history: list[CareEvent] = []
    withdrawn: list[CareEvent] = []
    for n, (kind, hour, withdraw) in enumerate(steps):
        made = KINDS[kind](T0 + timedelta(hours=hour), n)
        history.extend(made)
        if withdraw:
            withdrawn.append(made[-1])
    end = max(e.occurred_at for e in history) + timedelta(hours=1)
    corrections: list[CareEvent] = []
    for i, target in enumerate(withdrawn):
        if i % 2:
            corrections.append(entered_in_error(target.event_id, occurred_at=end))
        else:  # corrected by an entry of no consequence to any rule
            replacement = session_held(occurred_at=end)
            corrections.append(corrected(target.event_id, replacement.event_id, occurred_at=end))
    gone = {e.event_id for e in withdrawn}
    now = end + timedelta(hours=later)

    with_corrections = folded(*history, *corrections)
    without = folded(*(e for e in history if e.event_id not in gone))

    assert findings(with_corrections, now) == findings(without, now)


def test_withdrawing_a_check_in_weeks_later_gives_back_the_run_it_had_pushed_out() -> None:
    """The property's counterexample, kept: five craving-8 check-ins on one morning, a sixth 15
    days later (pruning then dropped the first of the five), withdrawn: CRV-1 and SLP-1 must
    name the same episode as the history that never had the sixth."""
    morning = [check_in(craving=8, sleep_hours=3, occurred_at=T0) for _ in range(5)]
    sixth = check_in(craving=8, sleep_hours=3, occurred_at=T0 + timedelta(hours=361))
    end = sixth.occurred_at + timedelta(hours=1)
    replacement = session_held(occurred_at=end)
    withdrawal = corrected(sixth.event_id, replacement.event_id, occurred_at=end)

    with_withdrawal = findings(folded(*morning, sixth, withdrawal), end)
    never_there = findings(folded(*morning), end)

    assert with_withdrawal == never_there
    assert {f[0] for f in never_there} == {"CRV-1", "SLP-1"}
    assert all(f[2] == str(morning[0].event_id) for f in never_there)


def test_withdrawing_the_five_newest_phq9s_gives_back_the_one_behind_them() -> None:
    """The property's second counterexample, kept: six PHQ-9s with item 9 answered on one night,
    the newest five withdrawn: SUI-1 must stand on the first, as in the history without them."""
    night = [assessment("PHQ-9", (1, 1, 1, 1, 1, 1, 1, 1, 2), occurred_at=T0) for _ in range(6)]
    end = T0 + timedelta(hours=1)
    withdrawals = [entered_in_error(p.event_id, occurred_at=end) for p in night[1:]]

    with_withdrawals = findings(folded(*night, *withdrawals), end)
    never_there = findings(folded(night[0]), end)

    assert with_withdrawals == never_there
    assert {f[0] for f in never_there} >= {"SUI-1"}


# --- the cases a clinician found ------------------------------------------------------------------


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def rules(*events: CareEvent, now: datetime, **_: Any) -> set[str]:
    return {rule_id for rule_id, *_rest in findings(folded(*events), now)}


def test_a_withdrawn_safety_plan_stops_satisfying_sui_3() -> None:
    risk = assessment("C-SSRS-SCREEN", (YES, YES, YES, NO, NO, NO), occurred_at=at(1))
    plan = safety_plan_recorded(occurred_at=at(1.5))
    assert "SUI-3" not in rules(risk, plan, now=at(3))
    assert "SUI-3" in rules(
        risk, plan, entered_in_error(plan.event_id, occurred_at=at(2)), now=at(3)
    )


def test_withdrawn_naloxone_stops_satisfying_od_1() -> None:
    release = transition("incarceration_release", occurred_at=at(1))
    kits = naloxone(occurred_at=at(1.5))
    assert "OD-1" not in rules(release, kits, now=at(2))
    assert "OD-1" in rules(
        release, kits, entered_in_error(kits.event_id, occurred_at=at(2)), now=at(2)
    )


def test_a_withdrawn_follow_up_session_stops_satisfying_crs_2() -> None:
    contact = crisis("c1", risk_level="moderate", suicidality=False, occurred_at=at(1))
    follow_up = session_held(occurred_at=at(2))
    assert "CRS-2" not in rules(contact, follow_up, now=at(9))
    withdrawn = entered_in_error(follow_up.event_id, occurred_at=at(3))
    assert "CRS-2" in rules(contact, follow_up, withdrawn, now=at(9))


def test_a_withdrawn_postvention_review_stops_satisfying_crs_1() -> None:
    contact = crisis("c1", risk_level="low", suicidality=False, occurred_at=at(1))
    review = postvention("c1", occurred_at=at(2))
    assert "CRS-1" not in rules(contact, review, now=at(5))
    withdrawn = entered_in_error(review.event_id, occurred_at=at(3))
    assert "CRS-1" in rules(contact, review, withdrawn, now=at(5))


def test_contacts_keep_the_newest_few_and_answer_every_follow_up_as_the_whole_history_would() -> (
    None
):
    # given forty sessions over two months, one every day and a half
    sessions = [session_held(occurred_at=T0 + timedelta(hours=36 * n)) for n in range(40)]
    moments = [T0 + timedelta(hours=36 * n - 1) for n in range(41)]

    # when they are folded, and folded again with the newest ten withdrawn
    signs = folded(*sessions)
    end = T0 + timedelta(days=70)
    withdrawn = folded(
        *sessions,
        *(entered_in_error(s.event_id, occurred_at=end) for s in sessions[-KEEP_WITHDRAWABLE:]),
    )

    # then the signs keep only the newest few contacts
    assert len(signs.contacts) == KEPT
    assert [c.event_id for c in signs.contacts] == [s.event_id for s in sessions[-KEPT:]]
    # and whether the client was contacted after any moment is what the whole history says,
    # with and without the withdrawn sessions
    kept = sessions[:-KEEP_WITHDRAWABLE]
    for moment in moments:
        assert signs.contacted_after(moment) == any(s.occurred_at > moment for s in sessions)
        assert withdrawn.contacted_after(moment) == any(s.occurred_at > moment for s in kept)
